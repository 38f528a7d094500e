//! Golden plans: what `vibes plan` shows, as text and as JSON, for the accounts a project meets.
//! Each scenario plans a hand-built desired state against a hand-built account and compares
//! both renderings with the reviewed snapshots in `tests/it/snapshots/`.

use crate::support::render_fixtures::*;
use vibes_core::address::Address;
use vibes_core::observed::ObservedKeyPair;
use vibes_core::plan::{self, Plan, PlanOptions};
use vibes_core::render::{self, Style};
use vibes_core::tags::{self, ownership, Tags};
use vibes_core::{Desired, Observed};

fn planned(d: &Desired, o: &Observed) -> Plan {
    plan::plan(d, o, &PlanOptions::default()).expect("a valid plan")
}

/// Snapshots both renderings under `<name>.human` and `<name>.json`.
fn assert_renders(name: &str, plan: &Plan, desired: &Desired) {
    // The compile's `built_from` hashes the engine version too: keep the snapshots about the
    // plan, not about the crate's version number.
    let (built_from, _) = built_from(desired);
    let stable = |s: String| s.replace(&built_from, "[built-from]");
    insta::assert_snapshot!(
        format!("{name}.human"),
        stable(render::human(
            plan,
            &Style {
                color: false,
                full_lists: false
            }
        ))
    );
    insta::assert_snapshot!(format!("{name}.json"), stable(render::json_string(plan)));
}

#[test]
fn empty_account_creates_everything() {
    let d = desired();
    let p = planned(&d, &Observed::default());
    assert!(p.actions.iter().all(|a| a.op != plan::Op::Blocked));
    assert_renders("empty_account", &p, &d);
}

#[test]
fn everything_in_place_means_no_changes() {
    let d = desired();
    let p = planned(&d, &in_place(&d));
    assert!(p.is_empty(), "expected no actions, got {:#?}", p.actions);
    assert_eq!(
        render::human(&p, &Style::default()),
        "No changes. The account matches the config.\n"
    );
    assert_renders("in_place", &p, &d);
}

#[test]
fn a_changed_profile_shows_its_diff_and_what_follows_from_it() {
    let live = desired();
    let o = in_place(&live);
    let mut d = live;
    d.profiles.get_mut("phone").unwrap().text = PHONE_PROFILE.replace("-V 6", "-V 2");
    let p = planned(&d, &o);
    assert_eq!(
        p.find(&Address::profile("phone")).unwrap().op,
        plan::Op::Update
    );
    assert_renders("profile_changed", &p, &d);
}

/// `[snapshots] keep` lowered: retention deletes the older builds snapshot (never the newest, nor
/// one a server serves), and the idle cost after says what that saves.
#[test]
fn a_lowered_retention_deletes_the_older_snapshot_and_the_idle_cost_falls() {
    let live = desired();
    let o = in_place(&live);
    let mut d = live;
    d.snapshots = Some(vibes_core::model::SnapshotsSpec { keep: 1 });
    let p = planned(&d, &o);
    let retention = p.find(&Address::snapshot("builds")).unwrap();
    assert_eq!(retention.op, plan::Op::Run, "{}", retention.reason);
    let cost = p.cost.as_ref().unwrap();
    assert!(
        cost.idle_after_usd_month < cost.idle_before_usd_month,
        "{cost:?}"
    );
    assert_renders("retention_lowered", &p, &d);
}

#[test]
fn resources_removed_from_the_config_are_deleted() {
    let d = desired();
    let mut o = in_place(&d);
    let car = "/vibes/profiles/car";
    o.parameters.insert(
        car.into(),
        parameter(
            car,
            Some("CONFIG_ENCODER=opusenc\nCONFIG_OPUSENC_FLAGS=--bitrate 96\n"),
            false,
            ownership(PROJECT, &Address::profile("car"), "f00df00df00df00d"),
        ),
    );
    let old = ownership(PROJECT, &Address::key("old"), "feedfeedfeedfeed");
    o.key_pairs.insert(
        "vibes-old".into(),
        ObservedKeyPair {
            key_name: "vibes-old".into(),
            key_pair_id: "key-0old".into(),
            tags: old.clone(),
        },
    );
    o.parameters.insert(
        "/vibes/ec2/keys/old".into(),
        parameter("/vibes/ec2/keys/old", None, true, old),
    );
    let p = planned(&d, &o);
    assert_eq!(p.counts().get(&plan::Op::Delete), Some(&2));
    assert_renders("removed_from_config", &p, &d);
}

#[test]
fn compiled_music_is_not_deleted_without_opt_in() {
    let live = desired();
    let mut o = in_place(&live);
    standing_builds_volume(&live, &mut o);
    let mut d = live;
    d.compile = None;
    d.snapshots = None;
    let p = planned(&d, &o);
    assert_eq!(
        p.find(&Address::snapshot("builds")).unwrap().op,
        plan::Op::Blocked
    );
    assert!(
        p.actions.iter().all(|a| a.effects.is_empty()),
        "a blocked plan does nothing: {:#?}",
        p.actions
    );
    assert_renders("data_deletion_blocked", &p, &d);
}

#[test]
fn a_standing_builds_volume_held_by_a_snapshot_is_retired() {
    let d = desired();
    let mut o = in_place(&d);
    standing_builds_volume(&d, &mut o);
    let p = planned(&d, &o);
    let a = p.find(&Address::volume("builds")).unwrap();
    assert_eq!(a.op, plan::Op::Delete);
    assert!(
        a.reason
            .contains(&format!("held by completed snapshot {NEWEST_SNAPSHOT}")),
        "{}",
        a.reason
    );
    assert_eq!(p.actions.len(), 1, "nothing else: {:#?}", p.actions);
    let cost = p.cost.as_ref().unwrap();
    assert!(
        cost.idle_before_usd_month - cost.idle_after_usd_month > 15.0,
        "200 GiB of gp3 saved: {cost:?}"
    );
    assert_renders("standing_volume_retired", &p, &d);
}

#[test]
fn a_standing_builds_volume_no_snapshot_holds_is_snapshotted_then_retired() {
    let live = desired();
    let mut o = in_place(&live);
    standing_builds_volume(&live, &mut o);
    for s in o.snapshots.values_mut() {
        s.volume_id = "vol-0ffffffffffffffff".into();
    }
    let mut d = live;
    d.profiles.get_mut("phone").unwrap().text = PHONE_PROFILE.replace("-V 6", "-V 2");
    let p = planned(&d, &o);
    let a = p.find(&Address::volume("builds")).unwrap();
    assert_eq!(a.op, plan::Op::Delete);
    assert!(
        matches!(
            a.effects.as_slice(),
            [
                plan::Effect::SnapshotVolume { .. },
                plan::Effect::DeleteVolume { .. }
            ]
        ),
        "{:#?}",
        a.effects
    );
    assert_renders("standing_volume_snapshotted_and_retired", &p, &d);
}

#[test]
fn a_hand_built_account_is_adopted_not_duplicated() {
    let d = desired();
    let mut o = in_place(&d);
    // The seed made these by hand with the same names, without vibes tags.
    o.key_pairs.get_mut("vibes-builds").unwrap().tags = Tags::new();
    o.parameters.get_mut("/vibes/ec2/keys/builds").unwrap().tags = Tags::new();
    let phone = o.parameters.get_mut("/vibes/profiles/phone").unwrap();
    phone.tags = Tags::from([("owner".to_string(), "me".to_string())]);
    phone.value = Some(
        PHONE_PROFILE
            .replace("--quiet -V 6", "-V 4")
            .replace("CONFIG_PLAYLISTS=y\n", ""),
    );
    let p = planned(&d, &o);
    // The key pair is adopted by tagging; the profile's text differs from the config, so
    // adopting it would overwrite it: declined, with the diff and the way on (--replace).
    assert_eq!(p.counts().get(&plan::Op::Adopt), Some(&1));
    let phone = p.find(&Address::profile("phone")).unwrap();
    assert_eq!(phone.op, plan::Op::Blocked);
    assert!(phone.effects.is_empty());
    assert!(!o.key_pairs["vibes-builds"].tags.contains_key(tags::PROJECT));
    assert_renders("adopt", &p, &d);
}

#[test]
fn the_same_inputs_render_byte_for_byte_the_same() {
    let render_both = |p: &Plan| {
        (
            render::human(
                p,
                &Style {
                    color: true,
                    full_lists: false,
                },
            ),
            render::json_string(p),
        )
    };
    let first = planned(&desired(), &Observed::default());
    let second = planned(&desired(), &Observed::default());
    assert_eq!(render_both(&first), render_both(&second));
    let live = desired();
    let mut d = desired();
    d.profiles.get_mut("phone").unwrap().text = PHONE_PROFILE.replace("-V 6", "-V 2");
    let first = planned(&d, &in_place(&live));
    let second = planned(&d.clone(), &in_place(&live.clone()));
    assert_eq!(render_both(&first), render_both(&second));
}
