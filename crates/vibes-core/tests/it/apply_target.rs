//! `vibes apply --target ADDR` on the fake cloud: only the target and what it depends on act;
//! everything else is left as it is, and a full apply afterwards finishes the job.

use crate::support::apply::*;
use std::collections::BTreeSet;
use std::sync::Arc;
use vibes_core::{Address, Plan, PlanOptions};
use vibes_fake::FakeCloud;

async fn targeted(
    d: &vibes_core::Desired,
    cloud: &FakeCloud,
    targets: &[Address],
) -> (Plan, vibes_core::Observed) {
    let o = observe(cloud).await;
    let p = vibes_core::plan(
        d,
        &o,
        &PlanOptions {
            targets: targets.to_vec(),
            ..Default::default()
        },
    )
    .unwrap();
    (p, o)
}

/// The operations that changed something, as `op target`.
fn writes(cloud: &FakeCloud) -> BTreeSet<String> {
    cloud
        .calls()
        .into_iter()
        .filter(|c| {
            c.ok && !(c.op.starts_with("describe")
                || c.op.starts_with("list")
                || c.op.starts_with("get")
                || c.op.starts_with("observe"))
        })
        .map(|c| format!("{} {}", c.op, c.target))
        .collect()
}

#[tokio::test]
async fn a_targeted_profile_is_the_only_thing_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = full_desired(dir.path());
    let cloud = Arc::new(FakeCloud::new());
    let (p, o) = targeted(&d, &cloud, &[Address::profile("phone")]).await;
    assert!(
        p.notes.iter().any(|n| n.contains("partial")),
        "{:?}",
        p.notes
    );
    let (report, _) = run(&p, &o, &cloud, &options(dir.path())).await;
    assert!(report.succeeded(), "{}", failures(&p, &report));

    assert_eq!(
        cloud.parameter("/tunes/profiles/phone").as_deref(),
        Some("CONFIG_ENCODER=lame\nCONFIG_LAME_FLAGS=--quiet -V 6\n")
    );
    assert_eq!(
        cloud.parameter("/tunes/profiles/archive"),
        None,
        "the other profile is not written"
    );
    let w = writes(&cloud);
    assert!(
        !w.is_empty() && w.iter().all(|c| c.ends_with("/tunes/profiles/phone")),
        "only the phone profile was written: {w:?}"
    );

    // The rest is still to do, and the phone profile is not part of it.
    let (full, _) = plan(&d, &cloud).await;
    assert!(
        full.find(&Address::profile("phone")).is_none(),
        "{}",
        summary(&full)
    );
    assert!(
        full.find(&Address::profile("archive")).is_some()
            && full.find(&Address::stack("main")).is_some()
    );
}

#[tokio::test]
async fn a_targeted_image_builds_with_its_dependencies_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let d = full_desired(dir.path());
    let cloud = Arc::new(FakeCloud::new());
    let (p, o) = targeted(&d, &cloud, &[Address::image("worker")]).await;
    let acted: Vec<String> = p.actions.iter().map(|a| a.address.to_string()).collect();
    assert_eq!(
        acted,
        ["stack.vpc", "stack.main", "key.builds", "image.worker"]
    );
    let (report, _) = run(&p, &o, &cloud, &options(dir.path())).await;
    assert!(report.succeeded(), "{}", failures(&p, &report));

    let after = observe(&cloud).await;
    assert_eq!(after.stacks.len(), 2);
    let keys: Vec<&String> = after.key_pairs.keys().collect();
    assert_eq!(keys, ["tunes-builds"], "only the key the image build needs");
    assert_eq!(after.images.len(), 1);
    assert!(after.parameters.contains_key("/tunes/ami/worker"));
    assert!(
        !after.parameters.contains_key("/tunes/profiles/phone")
            && !after.parameters.contains_key("/tunes/sources")
    );
    assert!(
        after.instances.is_empty() && after.snapshots.is_empty(),
        "no compile, no server"
    );

    // A second targeted plan has nothing to do; the full plan does the rest and converges.
    let (again, _) = targeted(&d, &cloud, &[Address::image("worker")]).await;
    assert!(again.is_empty(), "{}", summary(&again));
    let (full, o) = plan(&d, &cloud).await;
    for done in ["stack.vpc", "stack.main", "key.builds", "image.worker"] {
        assert!(
            full.find(&done.parse().unwrap()).is_none(),
            "{done} is done: {}",
            summary(&full)
        );
    }
    let (report, _) = run(&full, &o, &cloud, &options(dir.path())).await;
    assert!(report.succeeded(), "{}", failures(&full, &report));
}

#[tokio::test]
async fn a_targeted_apply_leaves_drift_elsewhere_alone() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = full_desired(dir.path());
    d.stacks.clear();
    d.images.clear();
    d.sources = None;
    d.compile = None;
    d.snapshots = None;
    d.server = None;
    let cloud = Arc::new(FakeCloud::new());
    let (p, o) = plan(&d, &cloud).await;
    let (report, _) = run(&p, &o, &cloud, &options(dir.path())).await;
    assert!(report.succeeded(), "{}", failures(&p, &report));

    // Both profiles change in the config; only one is targeted.
    for (name, text) in [
        ("phone", "CONFIG_ENCODER=lame\nCONFIG_LAME_FLAGS=-V 2\n"),
        ("archive", "CONFIG_ENCODER=flac\nCONFIG_FLAC_FLAGS=-8\n"),
    ] {
        d.profiles.get_mut(name).unwrap().text = text.into();
    }
    let (p, o) = targeted(&d, &cloud, &[Address::profile("archive")]).await;
    assert_eq!(p.actions.len(), 1, "{}", summary(&p));
    let (report, _) = run(&p, &o, &cloud, &options(dir.path())).await;
    assert!(report.succeeded(), "{}", failures(&p, &report));
    assert_eq!(
        cloud.parameter("/tunes/profiles/archive").as_deref(),
        Some("CONFIG_ENCODER=flac\nCONFIG_FLAC_FLAGS=-8\n")
    );
    assert_eq!(
        cloud.parameter("/tunes/profiles/phone").as_deref(),
        Some("CONFIG_ENCODER=lame\nCONFIG_LAME_FLAGS=--quiet -V 6\n"),
        "not targeted, not touched"
    );

    let (full, _) = plan(&d, &cloud).await;
    let left: Vec<String> = full.actions.iter().map(|a| a.address.to_string()).collect();
    assert_eq!(left, ["profile.phone"]);
}
