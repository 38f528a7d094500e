//! EC2 key pairs: generated and imported with tags at creation, a second create of a name
//! refused as "already exists", a hand-made key tagged for adoption, deletes that converge.

use super::Subject;
use crate::support::tags;
use vibes_core::cloud::CloudError;
use vibes_core::tags::ADDRESS;

const ED25519_PUB: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGsmHwELkxlF2ZG+Ss2Y1g8u9xGvnKqKfQmbHhr0Iu7m vibes@test";

pub async fn created_imported_tagged_and_deleted(s: &Subject) {
    let cloud = s.cloud();
    let private = cloud
        .create_key_pair("kp-builds", &tags("kp", "key.builds"))
        .await
        .unwrap();
    assert!(
        private.expose().starts_with("-----BEGIN"),
        "a generated key pair hands back its private key"
    );
    let again = cloud
        .create_key_pair("kp-builds", &tags("kp", "key.builds"))
        .await
        .unwrap_err();
    assert!(matches!(again, CloudError::AlreadyExists { .. }), "{again}");

    cloud
        .import_key_pair("kp-server", ED25519_PUB, &tags("kp", "key.server"))
        .await
        .unwrap();
    let again = cloud
        .import_key_pair("kp-server", ED25519_PUB, &tags("kp", "key.server"))
        .await
        .unwrap_err();
    assert!(matches!(again, CloudError::AlreadyExists { .. }), "{again}");

    // A key made by hand with the project's prefix is seen untagged, and adopted by tagging.
    s.hand_made_key_pair("kp-worker", ED25519_PUB).await;
    let seen = cloud.observe("kp", None).await.unwrap();
    assert_eq!(
        seen.key_pairs.keys().collect::<Vec<_>>(),
        ["kp-builds", "kp-server", "kp-worker"]
    );
    let address = |o: &vibes_core::Observed, k: &str| o.key_pairs[k].tags.get(ADDRESS).cloned();
    assert_eq!(address(&seen, "kp-builds").as_deref(), Some("key.builds"));
    assert_eq!(address(&seen, "kp-server").as_deref(), Some("key.server"));
    assert!(seen.key_pairs["kp-worker"].tags.is_empty());
    assert!(seen.key_pairs.values().all(|k| !k.key_pair_id.is_empty()));

    cloud
        .tag_key_pair("kp-worker", &tags("kp", "key.worker"))
        .await
        .unwrap();
    let seen = cloud.observe("kp", None).await.unwrap();
    assert_eq!(address(&seen, "kp-worker").as_deref(), Some("key.worker"));
    let missing = cloud
        .tag_key_pair("kp-nothing", &tags("kp", "key.nothing"))
        .await
        .unwrap_err();
    assert!(matches!(missing, CloudError::NotFound { .. }), "{missing}");

    for name in ["kp-builds", "kp-server", "kp-worker"] {
        cloud.delete_key_pair(name).await.unwrap();
    }
    cloud
        .delete_key_pair("kp-builds")
        .await
        .expect("deleting a gone key pair succeeds");
    assert!(cloud
        .observe("kp", None)
        .await
        .unwrap()
        .key_pairs
        .is_empty());
}
