//! `vibes status`: where the music is and what the platform is doing, from one observe — the
//! server and the address to fetch from, the snapshot it serves and what that was built from,
//! the builds snapshots, the last compile's report, the images in use, the sources bucket and
//! the lock holder. Pure: made from what was observed, so it is tested without a cloud.

use crate::address::Address;
use crate::apply::lock::LockInfo;
pub use crate::compile_report::{
    compile_progress_parameter, compile_report_parameter, last_compile, BuildFigures,
    CompileProgress, CompileReport, Counts,
};
use crate::observed::{Observed, ObservedSnapshot};
use crate::tags;
use serde::Serialize;
use std::collections::BTreeMap;

/// The tag a server carries naming the snapshot it serves.
pub const SERVED_SNAPSHOT_TAG: &str = "vibes:snapshot";

/// The format of `vibes status --json`; bumped when a field changes meaning or goes.
pub const STATUS_FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    pub format_version: u32,
    pub project: String,
    pub server: Option<Server>,
    /// Builds snapshots of the project, newest first.
    pub snapshots: Vec<Snapshot>,
    pub last_compile: Option<CompileReport>,
    /// Image name (`worker`, `server`, …) → the image in use.
    pub images: BTreeMap<String, Image>,
    pub sources: Option<Sources>,
    pub lock: Option<Lock>,
    /// What the project costs idle, in USD a month, with the prices' region and date; set by
    /// [`Status::with_idle_cost`].
    pub idle_usd_month: Option<f64>,
    pub prices: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Server {
    pub instance_id: String,
    pub state: String,
    /// `rsync://HOST/`, each profile a module under it; `None` while it has no address.
    pub rsync_url: Option<String>,
    /// The snapshot it serves (its `vibes:snapshot` tag).
    pub snapshot: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    pub snapshot_id: String,
    pub state: String,
    pub started: String,
    /// The compile fingerprint it was built from (sources, profiles, engine, worker image).
    pub built_from: Option<String>,
    pub sources_revision: Option<String>,
    /// Whether the server serves it.
    pub served: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Image {
    pub parameter: String,
    pub image_id: String,
    /// When it was registered, if the image is still there.
    pub created: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sources {
    pub bucket: String,
    pub objects: usize,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lock {
    pub holder: String,
    pub command: String,
    /// RFC 3339.
    pub since: String,
}

/// The status of `project` as `observed` shows it, with the lock as read.
pub fn status(project: &str, observed: &Observed, lock: Option<&LockInfo>) -> Status {
    let ours = |t: &tags::Tags| t.get(tags::PROJECT).map(String::as_str) == Some(project);
    let address_is = |t: &tags::Tags, a: &Address| {
        ours(t) && t.get(tags::ADDRESS).map(String::as_str) == Some(a.to_string().as_str())
    };
    let server = observed.server(project).map(|i| Server {
        instance_id: i.instance_id.clone(),
        state: i.state.to_string(),
        rsync_url: i
            .public_ip
            .as_ref()
            .or(i.private_ip.as_ref())
            .map(|ip| format!("rsync://{ip}/")),
        snapshot: i.tags.get(SERVED_SNAPSHOT_TAG).cloned(),
    });
    let served = server.as_ref().and_then(|s| s.snapshot.clone());
    let mut snaps: Vec<&ObservedSnapshot> = observed
        .snapshots
        .values()
        .filter(|s| address_is(&s.tags, &Address::snapshot("builds")))
        .collect();
    snaps.sort_by(|a, b| (&b.started, &b.snapshot_id).cmp(&(&a.started, &a.snapshot_id)));
    let snapshots = snaps
        .into_iter()
        .map(|s| Snapshot {
            snapshot_id: s.snapshot_id.clone(),
            state: s.state.to_string(),
            started: s.started.clone(),
            built_from: s.tags.get(tags::BUILT_FROM).cloned(),
            sources_revision: s.tags.get(tags::SOURCES_REVISION).cloned(),
            served: served.as_deref() == Some(s.snapshot_id.as_str()),
        })
        .collect();
    let last_compile = last_compile(project, observed);
    let prefix = format!("/{project}/ami/");
    let images = observed
        .parameters
        .values()
        .filter(|p| p.name.starts_with(&prefix) && ours(&p.tags))
        .filter_map(|p| {
            let image_id = p.value.clone()?;
            Some((
                p.name[prefix.len()..].to_string(),
                Image {
                    parameter: p.name.clone(),
                    created: observed.images.get(&image_id).map(|i| i.created.clone()),
                    image_id,
                },
            ))
        })
        .collect();
    let sources = observed.sources_bucket.as_ref().map(|b| {
        let (objects, bytes) = b.held();
        Sources {
            bucket: b.bucket.clone(),
            objects,
            bytes,
        }
    });
    let lock = lock.map(|l| Lock {
        holder: l.holder.clone(),
        command: l.command.clone(),
        since: crate::apply::lock::rfc3339(l.since),
    });
    Status {
        format_version: STATUS_FORMAT_VERSION,
        project: project.to_string(),
        server,
        snapshots,
        last_compile,
        images,
        sources,
        lock,
        idle_usd_month: None,
        prices: None,
    }
}

impl Status {
    /// With the project's idle cost from the shipped price table ([`crate::cost`]).
    pub fn with_idle_cost(mut self, desired: &crate::model::Desired, observed: &Observed) -> Self {
        let (usd, prices) = crate::cost::idle_cost(desired, observed);
        self.idle_usd_month = Some(usd);
        self.prices = Some(prices);
        self
    }

    /// The status for people: one line a fact, what is missing said as such.
    pub fn human(&self) -> String {
        use std::fmt::Write;
        let mut out = format!("Project {}\n", self.project);
        match &self.server {
            Some(s) => {
                let _ = writeln!(
                    out,
                    "  server     {} ({}){}",
                    s.instance_id,
                    s.state,
                    s.rsync_url
                        .as_ref()
                        .map(|u| format!(", fetch from {u}PROFILE/"))
                        .unwrap_or_else(|| ", no address yet".into())
                );
                if let Some(snap) = &s.snapshot {
                    let _ = writeln!(out, "  serves     {snap}");
                }
            }
            None => out.push_str("  server     none running\n"),
        }
        if self.snapshots.is_empty() {
            out.push_str("  snapshots  none\n");
        }
        for s in &self.snapshots {
            let _ = writeln!(
                out,
                "  snapshot   {} {} {}{}{}",
                s.snapshot_id,
                s.state,
                s.started,
                s.sources_revision
                    .as_ref()
                    .map(|r| format!(", sources {r}"))
                    .unwrap_or_default(),
                if s.served { ", served" } else { "" }
            );
        }
        match &self.last_compile {
            Some(c) => {
                let _ = writeln!(
                    out,
                    "  compile    {} at {}{}",
                    c.status,
                    c.finished,
                    if c.message.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", crate::render::printable(&c.message))
                    }
                );
            }
            None => out.push_str("  compile    none recorded\n"),
        }
        for (name, i) in &self.images {
            let _ = writeln!(
                out,
                "  image      {name}: {}{}",
                i.image_id,
                i.created
                    .as_ref()
                    .map(|c| format!(" (registered {c})"))
                    .unwrap_or_else(|| " (no longer registered)".into())
            );
        }
        match &self.sources {
            Some(s) => {
                let _ = writeln!(
                    out,
                    "  sources    s3://{}: {} objects, {}",
                    s.bucket,
                    s.objects,
                    crate::units::human_bytes(s.bytes)
                );
            }
            None => out.push_str("  sources    no bucket\n"),
        }
        match &self.lock {
            Some(l) => {
                let _ = writeln!(
                    out,
                    "  lock       held by {} ({}) since {}",
                    l.holder, l.command, l.since
                );
            }
            None => out.push_str("  lock       free\n"),
        }
        if let (Some(usd), Some(prices)) = (self.idle_usd_month, &self.prices) {
            let _ = writeln!(
                out,
                "  idle cost  ~{}/month ({prices})",
                crate::cost::usd_text(usd)
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observed::{ObservedInstance, ObservedParameter};

    fn ours(address: &str) -> tags::Tags {
        tags::Tags::from([
            (tags::PROJECT.to_string(), "tunes".to_string()),
            (tags::ADDRESS.to_string(), address.to_string()),
        ])
    }

    #[test]
    fn the_server_its_snapshot_and_the_last_compile_are_told_and_another_projects_are_not() {
        let mut o = Observed::default();
        for (id, started, rev) in [
            ("snap-old", "2026-11-01T00:00:00Z", "r1"),
            ("snap-new", "2026-11-02T00:00:00Z", "r2"),
        ] {
            let mut t = ours("snapshot.builds");
            t.insert(tags::SOURCES_REVISION.into(), rev.into());
            o.snapshots.insert(
                id.into(),
                ObservedSnapshot {
                    snapshot_id: id.into(),
                    volume_id: "vol-1".into(),
                    state: "completed".into(),
                    started: started.into(),
                    tags: t,
                },
            );
        }
        let mut t = ours("server");
        t.insert(SERVED_SNAPSHOT_TAG.into(), "snap-new".into());
        o.instances.insert(
            "i-1".into(),
            ObservedInstance {
                instance_id: "i-1".into(),
                state: "running".into(),
                public_ip: Some("203.0.113.7".into()),
                private_ip: None,
                tags: t,
                volumes: Default::default(),
                state_reason: None,
            },
        );
        let mut other = ours("server");
        other.insert(tags::PROJECT.into(), "other".into());
        o.instances.insert(
            "i-0".into(),
            ObservedInstance {
                instance_id: "i-0".into(),
                state: "running".into(),
                public_ip: Some("198.51.100.1".into()),
                private_ip: None,
                tags: other,
                volumes: Default::default(),
                state_reason: None,
            },
        );
        o.parameters.insert(
            "/tunes/compile/status".into(),
            ObservedParameter {
                name: "/tunes/compile/status".into(),
                secure: false,
                value: Some(r#"{"built_from":"abc","status":"succeeded","message":"4158 tracks","finished":"2026-11-02T01:00:00Z"}"#.into()),
                tags: tags::Tags::new(),
                version: 1,
            },
        );
        let s = status("tunes", &o, None);
        let server = s.server.as_ref().unwrap();
        assert_eq!(server.instance_id, "i-1");
        assert_eq!(server.rsync_url.as_deref(), Some("rsync://203.0.113.7/"));
        assert_eq!(
            s.snapshots
                .iter()
                .map(|s| (s.snapshot_id.as_str(), s.served))
                .collect::<Vec<_>>(),
            [("snap-new", true), ("snap-old", false)]
        );
        assert_eq!(s.last_compile.as_ref().unwrap().status, "succeeded");
        let text = s.human();
        assert!(
            text.contains("fetch from rsync://203.0.113.7/PROFILE/"),
            "{text}"
        );
        assert!(
            text.contains("compile    succeeded at 2026-11-02T01:00:00Z: 4158 tracks"),
            "{text}"
        );
        assert!(text.contains("lock       free"), "{text}");
        assert!(!text.contains("198.51.100.1"), "{text}");
    }

    #[test]
    fn an_empty_account_says_what_is_missing() {
        let text = status("tunes", &Observed::default(), None).human();
        for line in [
            "server     none running",
            "snapshots  none",
            "compile    none recorded",
            "sources    no bucket",
        ] {
            assert!(text.contains(line), "{text}");
        }
    }
}
