//! One apply at a time per project.

use std::sync::Arc;
use vibes_core::apply::{acquire, break_lock, release, LockError};
use vibes_core::cloud::prelude::*;
use vibes_fake::FakeCloud;

#[tokio::test]
async fn the_lock_is_exclusive_and_says_who_holds_it() {
    let cloud = Arc::new(FakeCloud::new());
    let first = acquire(cloud.as_ref(), "tunes", "apply").await.unwrap();
    let err = acquire(cloud.as_ref(), "tunes", "apply").await.unwrap_err();
    match &err {
        LockError::Held { id, holder, .. } => {
            assert_eq!(id, &first.info.id);
            assert_eq!(holder, &first.info.holder);
        }
        other => panic!("{other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.starts_with("another vibes apply holds the lock (id "),
        "{msg}"
    );
    assert!(
        msg.contains(&format!(
            "run `vibes unlock {}` if it crashed",
            first.info.id
        )),
        "{msg}"
    );

    // Another project has its own lock.
    let other = acquire(cloud.as_ref(), "other", "apply").await.unwrap();
    release(cloud.as_ref(), other).await.unwrap();

    release(cloud.as_ref(), first).await.unwrap();
    let again = acquire(cloud.as_ref(), "tunes", "destroy").await.unwrap();
    assert_eq!(again.info.command, "destroy");
}

#[tokio::test]
async fn breaking_a_lock_needs_its_id() {
    let cloud = Arc::new(FakeCloud::new());
    let held = acquire(cloud.as_ref(), "tunes", "apply").await.unwrap();
    let wrong = break_lock(cloud.as_ref(), "tunes", "not-the-id")
        .await
        .unwrap_err();
    assert!(matches!(wrong, LockError::WrongId { .. }), "{wrong}");
    assert!(
        cloud.get_parameter("/tunes/lock").await.unwrap().is_some(),
        "a wrong id breaks nothing"
    );
    let broken = break_lock(cloud.as_ref(), "tunes", &held.info.id)
        .await
        .unwrap();
    assert_eq!(broken, held.info);
    assert!(matches!(
        break_lock(cloud.as_ref(), "tunes", &held.info.id).await,
        Err(LockError::NotHeld { .. })
    ));
    let _held_again = acquire(cloud.as_ref(), "tunes", "apply").await.unwrap();
}

/// Writes a lock as another holder would have left it.
async fn plant(cloud: &FakeCloud, project: &str, info: &vibes_core::apply::LockInfo) {
    cloud
        .create_parameter_exclusive(
            &format!("/{project}/lock"),
            &serde_json::to_string(info).unwrap(),
            &Default::default(),
        )
        .await
        .unwrap();
}

fn left_by(holder: &str, pid: u32, renewed: u64, lease: u64) -> vibes_core::apply::LockInfo {
    vibes_core::apply::LockInfo {
        id: "0123456789ab".into(),
        holder: holder.into(),
        pid,
        since: renewed,
        command: "apply".into(),
        renewed,
        lease,
    }
}

#[tokio::test]
async fn a_lock_whose_lease_lapsed_is_taken_over_and_the_guard_says_why() {
    let cloud = FakeCloud::new();
    let now = vibes_core::apply::lock::unix_now();
    // Another host (its process cannot be checked from here), renewed 5 minutes ago, 90 s lease.
    plant(
        &cloud,
        "tunes",
        &left_by("ann@elsewhere", 4242, now - 300, 90),
    )
    .await;
    let guard = acquire(&cloud, "tunes", "apply").await.unwrap();
    let (previous, why) = guard.took_over.clone().expect("taken over");
    assert_eq!(previous.holder, "ann@elsewhere");
    assert!(why.starts_with("its lease lapsed 3m 30s ago"), "{why}");
    release(&cloud, guard).await.unwrap();
    assert!(cloud.get_parameter("/tunes/lock").await.unwrap().is_none());
}

#[tokio::test]
async fn a_lock_of_a_process_gone_from_this_host_is_taken_over_at_once() {
    let cloud = FakeCloud::new();
    let now = vibes_core::apply::lock::unix_now();
    let host = vibes_core::apply::lock::holder();
    // Freshly renewed, but its pid runs nothing here (pids top out far below this).
    plant(&cloud, "tunes", &left_by(&host, 999_999_999, now, 90)).await;
    let guard = acquire(&cloud, "tunes", "apply").await.unwrap();
    let (_, why) = guard.took_over.clone().expect("taken over");
    assert!(
        why.contains("999999999") && why.contains("is gone"),
        "{why}"
    );
}

#[tokio::test]
async fn a_live_holder_keeps_its_lock() {
    let cloud = FakeCloud::new();
    let now = vibes_core::apply::lock::unix_now();
    // This very process, on this host, renewed now: alive in every way.
    let me = left_by(
        &vibes_core::apply::lock::holder(),
        std::process::id(),
        now,
        90,
    );
    plant(&cloud, "tunes", &me).await;
    assert!(matches!(
        acquire(&cloud, "tunes", "apply").await,
        Err(LockError::Held { .. })
    ));
    // And a lock written before leases, by another host, never lapses by itself.
    let cloud = FakeCloud::new();
    plant(
        &cloud,
        "tunes",
        &left_by("bob@elsewhere", 1, now - 86_400, 0),
    )
    .await;
    assert!(matches!(
        acquire(&cloud, "tunes", "apply").await,
        Err(LockError::Held { .. })
    ));
}

#[tokio::test]
async fn a_retried_lock_write_whose_answer_was_lost_is_recognised_as_ours() {
    // The SDK retries a PutParameter whose answer was lost; the retry finds what the first
    // attempt wrote and answers ParameterAlreadyExists. The lock holds our own id: it is ours.
    let cloud = FakeCloud::new();
    let info = vibes_core::apply::LockInfo::new("apply", std::time::Duration::from_secs(90));
    plant(&cloud, "tunes", &info).await;
    let guard = vibes_core::apply::lock::acquire_as(&cloud, "tunes", info.clone())
        .await
        .unwrap();
    assert!(guard.took_over.is_none());
    assert_eq!(guard.info, info);
    release(&cloud, guard).await.unwrap();
    assert!(cloud.get_parameter("/tunes/lock").await.unwrap().is_none());
}

#[tokio::test(start_paused = true)]
async fn the_holder_renews_its_lease_while_it_works() {
    let cloud: Arc<FakeCloud> = Arc::new(FakeCloud::new());
    let guard = vibes_core::apply::acquire_with_lease(
        cloud.as_ref(),
        "tunes",
        "apply",
        std::time::Duration::from_secs(30),
    )
    .await
    .unwrap();
    let renewal = vibes_core::apply::keep_renewed(cloud.clone(), &guard);
    let puts = || {
        cloud
            .calls()
            .iter()
            .filter(|c| c.op == "put_parameter")
            .count()
    };
    tokio::time::sleep(std::time::Duration::from_secs(35)).await;
    assert_eq!(puts(), 3, "renewed every 10 s of a 30 s lease");
    renewal.abort();
    release(cloud.as_ref(), guard).await.unwrap();
}
