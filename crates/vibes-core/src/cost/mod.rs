//! What a plan costs: each action's one-off cost (a compile from its tracks, an image build
//! from its minutes, a sync from its requests) and the project's monthly idle cost before and
//! after the plan (standing volumes, snapshots, the sources bucket, the server and its address;
//! the compile's builds volume exists only while it runs, so it is in the compile's cost), from
//! the shipped [`prices`] table. Made after the plan, from the same desired and observed state:
//! pure, so a golden plan shows it.

mod budget;
pub mod prices;

pub use prices::{Prices, HOURS_PER_MONTH, PRICES_DATE};

use crate::model::Desired;
use crate::observed::Observed;
use crate::plan::{Attribute, Effect, Plan};
use crate::tags;

use std::collections::BTreeSet;

/// A compile's pace when no compile has recorded one: seconds of worker time per track and
/// profile (a 4-minute WAVE at `flac --best` or `lame -V 2` on 4 vCPUs, 4 at a time).
pub const DEFAULT_SECONDS_PER_TRACK: f64 = 3.0;
/// What a compile costs besides encoding: boot, the sources download, the snapshot.
pub const COMPILE_OVERHEAD_MINUTES: f64 = 8.0;
/// An image build: CodeBuild running Packer, and the instance Packer builds on.
pub const IMAGE_BUILD_MINUTES: f64 = 15.0;
/// The instance Packer builds an image on, of the image's architecture (the recipes' defaults).
fn image_builder(arch: crate::arch::Arch) -> &'static str {
    match arch {
        crate::arch::Arch::Arm64 => "t4g.small",
        crate::arch::Arch::X86_64 => "t3.small",
    }
}

const GIB: f64 = (1u64 << 30) as f64;

pub use crate::plan::PlanCost;

/// Adds a `cost` attribute to each action that costs something once, and the plan's
/// [`PlanCost`].
pub fn annotate(plan: &mut Plan, desired: &Desired, observed: &Observed, destroy: bool) {
    // Without a region in vibes.toml the SDK's is used; prices are then us-east-1's.
    let prices = Prices::for_desired(desired);
    let project = desired.project.name.as_str();
    let mut costs = Vec::with_capacity(plan.actions.len());
    for action in &mut plan.actions {
        let mut lines = Vec::new();
        let mut cost = 0.0;
        for effect in &action.effects {
            if let Some((usd, why)) = one_off(effect, desired, observed, &prices) {
                cost += usd.unwrap_or(0.0);
                lines.push(match usd {
                    Some(usd) => format!("{} once: {why}", usd_text(usd)),
                    None => format!("unknown, the price table has no such instance type: {why}"),
                });
            }
        }
        if !lines.is_empty() {
            action
                .attributes
                .push(Attribute::new("cost", lines.join("; ")));
        }
        let retired_gib: u32 = action
            .effects
            .iter()
            .filter_map(|e| match e {
                Effect::DeleteVolume { size_gib, .. } => Some(*size_gib),
                _ => None,
            })
            .sum();
        if retired_gib > 0 {
            action.attributes.push(Attribute::new(
                "saves",
                format!(
                    "~{}/month idle: {retired_gib} GiB of gp3 no longer standing",
                    usd_text(f64::from(retired_gib) * prices.gp3_gib_month)
                ),
            ));
        }
        costs.push(cost);
    }
    let before = idle_now(project, desired, observed, &prices);
    let mut after = idle_after(plan, desired, observed, &prices, destroy);
    if let Some(budget) = &desired.budget {
        if budget::enforce(plan, budget, &costs, before, after) {
            after = idle_after(plan, desired, observed, &prices, destroy);
        }
    }
    let once: f64 = plan
        .actions
        .iter()
        .zip(&costs)
        .filter(|(a, _)| a.op != crate::plan::Op::Blocked)
        // A fold from 0.0: an empty f64 sum is -0.0, which would print as "$-0.00".
        .fold(0.0, |total, (_, c)| total + c);
    plan.cost = Some(PlanCost {
        once_usd: cents(once),
        idle_before_usd_month: cents(before),
        idle_after_usd_month: cents(after),
        prices: prices.source(),
    });
}

/// One effect's one-off cost and how it was reckoned; `None` for effects that cost nothing
/// worth showing. The cost is `None` when the table has no price for what it runs on.
fn one_off(
    effect: &Effect,
    desired: &Desired,
    observed: &Observed,
    prices: &Prices,
) -> Option<(Option<f64>, String)> {
    match effect {
        Effect::RunCompile {
            instance_type,
            builds_volume_gib,
            spot,
            ..
        } => {
            let tracks = stale_tracks(desired, observed);
            let profiles = desired.profiles.len().max(1);
            // The pace the last compile recorded, else a typical one.
            let recorded = crate::compile_report::last_compile(&desired.project.name, observed)
                .and_then(|r| r.build)
                .and_then(|b| b.seconds_per_output());
            let pace = recorded.unwrap_or(DEFAULT_SECONDS_PER_TRACK);
            let minutes = COMPILE_OVERHEAD_MINUTES + (tracks * profiles) as f64 * pace / 60.0;
            // The builds volume lives only for the run: billed per second while it exists.
            let volume = f64::from(*builds_volume_gib) * prices.gp3_gib_month * minutes
                / 60.0
                / HOURS_PER_MONTH;
            let mut why = format!(
                "~{} of {instance_type} and a {builds_volume_gib} GiB builds volume for {} × {}",
                minutes_text(minutes),
                count(tracks, "track", "tracks"),
                count(profiles, "profile", "profiles")
            );
            if recorded.is_some() {
                why.push_str(&format!(" at the last compile's {pace:.1} s each"));
            }
            if *spot {
                // Spot prices move with the market and are below on-demand's.
                why.push_str("; on Spot, priced at on-demand as a ceiling");
            }
            Some((
                prices
                    .hourly(instance_type)
                    .map(|h| h * minutes / 60.0 + volume),
                why,
            ))
        }
        Effect::BuildImage { arch, .. } => {
            let builder = image_builder(*arch);
            let usd = prices.codebuild_minute * IMAGE_BUILD_MINUTES
                + prices.hourly(builder).unwrap_or(0.0) * IMAGE_BUILD_MINUTES / 60.0;
            Some((
                Some(usd),
                format!(
                    "~{} of CodeBuild and of a {builder} for Packer",
                    minutes_text(IMAGE_BUILD_MINUTES)
                ),
            ))
        }
        Effect::SyncSources { upload, delete, .. } if !upload.is_empty() || !delete.is_empty() => {
            let requests = upload.len() + delete.len().div_ceil(1000) + 2;
            Some((
                Some(requests as f64 / 1000.0 * prices.s3_put_per_1000),
                format!("{} to S3", count(requests, "request", "requests")),
            ))
        }
        _ => None,
    }
}

/// The tracks a compile now would encode: every track the first time (or when no file
/// changed, so that profiles, engine or image did), else the tracks at or under a directory
/// holding a changed file (tags and options are inherited down the tree).
fn stale_tracks(desired: &Desired, observed: &Observed) -> usize {
    let Some(manifest) = desired.sources.as_ref().and_then(|s| s.manifest.as_ref()) else {
        return 0;
    };
    let tracks: Vec<&String> = manifest.files.keys().filter(|p| is_audio(p)).collect();
    let remote = observed.sources_bucket.as_ref();
    let changed: BTreeSet<&str> = manifest
        .files
        .iter()
        .filter(|(p, f)| {
            remote
                .and_then(|b| b.objects.get(*p))
                .is_none_or(|r| r.sha256.as_deref() != Some(f.sha256.as_str()))
        })
        .map(|(p, _)| p.rsplit_once('/').map_or("", |(dir, _)| dir))
        .collect();
    if changed.is_empty() || changed.len() * 2 > manifest.files.len() {
        return tracks.len();
    }
    tracks
        .into_iter()
        .filter(|t| {
            changed
                .iter()
                .any(|d| d.is_empty() || t.starts_with(&format!("{d}/")))
        })
        .count()
}

fn is_audio(path: &str) -> bool {
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    matches!(
        ext.as_deref(),
        Some("wav" | "wave" | "aif" | "aiff" | "flac")
    )
}

/// The project's idle cost now, in USD a month, and where the prices come from (`vibes status`).
pub fn idle_cost(desired: &Desired, observed: &Observed) -> (f64, String) {
    let prices = Prices::for_desired(desired);
    (
        cents(idle_now(&desired.project.name, desired, observed, &prices)),
        prices.source(),
    )
}

/// The project's monthly idle cost as observed.
fn idle_now(project: &str, desired: &Desired, observed: &Observed, prices: &Prices) -> f64 {
    let ours = |t: &tags::Tags| t.get(tags::PROJECT).map(String::as_str) == Some(project);
    let volumes: f64 = observed
        .volumes
        .values()
        .filter(|v| ours(&v.tags))
        .map(|v| v.size_gib as f64 * prices.gp3_gib_month)
        .sum();
    // Between compiles there is no builds volume to size snapshots by: the configured size is.
    let snapshot_gib = builds_gib(
        observed,
        desired.compile.as_ref().map(|c| c.builds_volume_gib as f64),
    );
    let snapshots = observed
        .snapshots
        .values()
        .filter(|s| ours(&s.tags))
        .count() as f64
        * snapshot_gib
        * prices.snapshot_gib_month;
    let bucket = observed
        .sources_bucket
        .as_ref()
        .map_or(0.0, |b| b.held().1 as f64 / GIB * prices.s3_gib_month);
    let servers: f64 = observed
        .instances
        .values()
        .filter(|i| ours(&i.tags) && i.state == crate::states::InstanceState::Running)
        .filter(|i| i.tags.get(tags::ADDRESS).map(String::as_str) == Some("server"))
        .map(|i| {
            let ip = if i.public_ip.is_some() {
                prices.public_ipv4_hour
            } else {
                0.0
            };
            (prices.hourly(server_type(desired)).unwrap_or(0.0) + ip) * HOURS_PER_MONTH
        })
        .sum();
    // An Elastic IP is the address of the server it is associated with (counted above); one
    // that is not costs the same on its own.
    let running: BTreeSet<&str> = observed
        .instances
        .values()
        .filter(|i| i.state == crate::states::InstanceState::Running)
        .map(|i| i.instance_id.as_str())
        .collect();
    let spare_addresses = observed
        .addresses
        .values()
        .filter(|e| ours(&e.tags))
        .filter(|e| {
            !e.instance_id
                .as_deref()
                .is_some_and(|i| running.contains(i))
        })
        .count() as f64
        * prices.public_ipv4_hour
        * HOURS_PER_MONTH;
    volumes + snapshots + bucket + servers + spare_addresses
}

/// The project's monthly idle cost once `plan` is applied: what is there now, plus what the
/// plan's actions make, less what they delete (blocked actions make and delete nothing).
fn idle_after(
    plan: &Plan,
    desired: &Desired,
    observed: &Observed,
    prices: &Prices,
    destroy: bool,
) -> f64 {
    let effects = || {
        plan.actions
            .iter()
            .filter(|a| a.op != crate::plan::Op::Blocked)
            .flat_map(|a| a.effects.iter())
    };
    let compiles = effects().any(|e| matches!(e, Effect::RunCompile { .. }));
    let deleted_snapshots = effects()
        .filter(|e| matches!(e, Effect::DeleteSnapshot { .. }))
        .count();
    let bucket_deleted = effects().any(|e| matches!(e, Effect::DeleteBucket { .. }));
    let launches = effects().any(|e| matches!(e, Effect::LaunchServer { .. }));
    let terminated: BTreeSet<&str> = effects()
        .filter_map(|e| match e {
            Effect::TerminateInstance { instance_id } => Some(instance_id.as_str()),
            _ => None,
        })
        .collect();
    let project = desired.project.name.as_str();
    let ours = |t: &tags::Tags| t.get(tags::PROJECT).map(String::as_str) == Some(project);
    // Volumes stay unless the plan deletes them: the compile's builds volume goes with its
    // worker, so a compile adds none.
    let deleted_volumes: BTreeSet<&str> = effects()
        .filter_map(|e| match e {
            Effect::DeleteVolume { volume_id, .. } => Some(volume_id.as_str()),
            _ => None,
        })
        .collect();
    let held_gib: f64 = observed
        .volumes
        .values()
        .filter(|v| ours(&v.tags) && !deleted_volumes.contains(v.volume_id.as_str()))
        .map(|v| v.size_gib as f64)
        .sum();
    let volumes = held_gib * prices.gp3_gib_month;
    let held = observed
        .snapshots
        .values()
        .filter(|s| ours(&s.tags))
        .count()
        + effects()
            .filter(|e| matches!(e, Effect::SnapshotVolume { .. }))
            .count();
    let volume_gib = desired.compile.as_ref().map(|c| c.builds_volume_gib as f64);
    let snapshots = (held + usize::from(compiles)).saturating_sub(deleted_snapshots) as f64
        * builds_gib(observed, volume_gib)
        * prices.snapshot_gib_month;
    let bucket = match desired.sources.as_ref().and_then(|s| s.manifest.as_ref()) {
        Some(m) if !destroy => bucket_gib(m.files.values().map(|f| f.size)) * prices.s3_gib_month,
        _ if bucket_deleted => 0.0,
        _ => observed
            .sources_bucket
            .as_ref()
            .map_or(0.0, |b| b.held().1 as f64 / GIB * prices.s3_gib_month),
    };
    let stays = observed.instances.values().any(|i| {
        ours(&i.tags)
            && i.state == crate::states::InstanceState::Running
            && i.tags.get(tags::ADDRESS).map(String::as_str) == Some("server")
            && !terminated.contains(i.instance_id.as_str())
    });
    let server = if launches || stays {
        (prices.hourly(server_type(desired)).unwrap_or(0.0) + prices.public_ipv4_hour)
            * HOURS_PER_MONTH
    } else {
        0.0
    };
    // Elastic IPs held after: the running server's is its address (counted above).
    let released = effects()
        .filter(|e| matches!(e, Effect::ReleaseAddress { .. }))
        .count();
    let allocated = effects()
        .filter(|e| matches!(e, Effect::AllocateAddress { .. }))
        .count();
    let held_addresses = (observed
        .addresses
        .values()
        .filter(|e| ours(&e.tags))
        .count()
        + allocated)
        .saturating_sub(released)
        .saturating_sub(usize::from(launches || stays));
    let addresses = held_addresses as f64 * prices.public_ipv4_hour * HOURS_PER_MONTH;
    volumes + snapshots + bucket + server + addresses
}

/// A builds snapshot's size, at most: the configured builds volume's, else the largest volume
/// seen (EBS bills a snapshot's used blocks, which vibes cannot read).
fn builds_gib(observed: &Observed, configured: Option<f64>) -> f64 {
    configured.unwrap_or_else(|| {
        observed
            .volumes
            .values()
            .map(|v| v.size_gib as f64)
            .fold(0.0, f64::max)
    })
}

fn bucket_gib(sizes: impl Iterator<Item = u64>) -> f64 {
    sizes.sum::<u64>() as f64 / GIB
}

/// The server's instance type: the config's, else the default (observe does not read it).
fn server_type(desired: &Desired) -> &str {
    desired
        .server
        .as_ref()
        .map_or(crate::config::DEFAULT_SERVER_INSTANCE, |s| {
            s.instance_type.as_str()
        })
}

fn cents(v: f64) -> f64 {
    // `+ 0.0` turns a -0.0 (an empty f64 sum) into 0.0.
    (v * 100.0).round() / 100.0 + 0.0
}

/// `$0.42`, `$12.40`, `< $0.01`.
pub fn usd_text(v: f64) -> String {
    if v > 0.0 && v < 0.005 {
        "< $0.01".into()
    } else {
        format!("${v:.2}")
    }
}

fn minutes_text(m: f64) -> String {
    if m >= 90.0 {
        format!("{:.1} h", m / 60.0)
    } else {
        format!("{} min", m.round() as u64)
    }
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!(
        "{} {}",
        crate::units::thousands(n as u64),
        if n == 1 { one } else { many }
    )
}
