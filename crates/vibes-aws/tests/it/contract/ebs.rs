//! EBS: a volume made with its tags, a snapshot of it waited for and seen by observe, deletes
//! that converge, and a wait on a snapshot that does not exist.

use super::subject::AZ;
use super::Subject;
use crate::support::tags;
use std::time::Duration;
use vibes_core::cloud::CloudError;
use vibes_core::tags::ADDRESS;

const WAIT: Duration = Duration::from_secs(30);

pub async fn volumes_and_snapshots_made_waited_for_and_deleted(s: &Subject) {
    let cloud = s.cloud();
    let volume = cloud
        .create_volume(10, AZ, &tags("eb", "volume.builds"), "eb-volume-builds-1")
        .await
        .unwrap();
    assert!(volume.starts_with("vol-"), "{volume}");
    let snapshot = cloud
        .create_snapshot(&volume, &tags("eb", "snapshot.builds"))
        .await
        .unwrap();
    assert!(snapshot.starts_with("snap-"), "{snapshot}");
    cloud.wait_snapshot(&snapshot, WAIT).await.unwrap();

    let seen = cloud.observe("eb", None).await.unwrap();
    assert_eq!(seen.volumes[&volume].size_gib, 10);
    assert_eq!(
        seen.volumes[&volume].tags.get(ADDRESS).map(String::as_str),
        Some("volume.builds")
    );
    let snap = &seen.snapshots[&snapshot];
    assert_eq!(snap.volume_id, volume);
    assert_eq!(snap.state.as_str(), "completed");
    assert!(!snap.started.is_empty());
    assert_eq!(
        snap.tags.get(ADDRESS).map(String::as_str),
        Some("snapshot.builds")
    );

    let missing = cloud
        .create_snapshot("vol-0123456789abcdef0", &tags("eb", "snapshot.builds"))
        .await
        .unwrap_err();
    assert!(matches!(missing, CloudError::NotFound { .. }), "{missing}");
    let missing = cloud
        .wait_snapshot("snap-0123456789abcdef0", WAIT)
        .await
        .unwrap_err();
    assert!(matches!(missing, CloudError::NotFound { .. }), "{missing}");

    cloud.delete_snapshot(&snapshot).await.unwrap();
    cloud
        .delete_snapshot(&snapshot)
        .await
        .expect("deleting a gone snapshot succeeds");
    assert!(cloud
        .observe("eb", None)
        .await
        .unwrap()
        .snapshots
        .is_empty());
}

pub async fn a_standing_volume_is_deleted_once(s: &Subject) {
    let cloud = s.cloud();
    let volume = cloud
        .create_volume(10, AZ, &tags("dv", "volume.builds"), "dv-volume-builds-1")
        .await
        .unwrap();
    cloud.delete_volume(&volume).await.unwrap();
    assert!(!cloud
        .observe("dv", None)
        .await
        .unwrap()
        .volumes
        .contains_key(&volume));
    cloud
        .delete_volume(&volume)
        .await
        .expect("deleting a gone volume succeeds");
    cloud
        .delete_volume("vol-0123456789abcdef0")
        .await
        .expect("deleting a volume that never was succeeds");
}
