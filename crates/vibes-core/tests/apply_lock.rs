//! One apply at a time per project.

use std::sync::Arc;
use vibes_core::apply::{acquire, break_lock, release, LockError};
use vibes_core::cloud::fake::FakeCloud;
use vibes_core::cloud::Cloud;

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
