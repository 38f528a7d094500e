//! What AWS does and moto does not show, so only the fake (which models it) can run it.
//!
//! moto stores a ClientToken and ignores it — the same token launches a second instance — and
//! every read sees every create at once. The fake follows the EC2 documentation it quotes in
//! `vibes_fake::{tokens, lag}`; these cases pin that behaviour down for the core,
//! whose launches (`vibes_core::apply::launch`) depend on it.

use super::subject::AZ;
use super::Subject;
use crate::support::tags;
use std::collections::BTreeMap;
use std::time::Duration;
use vibes_core::cloud::{CloudError, InstanceRequest};

const WAIT: Duration = Duration::from_secs(5);

async fn request(s: &Subject, token: &str) -> InstanceRequest {
    InstanceRequest {
        launch_template: s.launch_template("tk-template").await,
        image_id: s.launchable_image().await,
        instance_type: "t3.small".into(),
        tags: tags("tk", "compile"),
        client_token: token.into(),
        volumes: BTreeMap::new(),
        volume_sizes: Default::default(),
        empty_volumes: Default::default(),
        spot: false,
    }
}

/// Same token, same parameters: the same instance, also once terminated (then told apart as
/// ended); same token, other parameters: IdempotentParameterMismatch.
pub async fn launch_tokens(s: &Subject) {
    let cloud = s.cloud();
    let req = request(s, "tk-compile-1").await;
    let first = cloud.run_instance(&req).await.unwrap();
    assert_eq!(cloud.run_instance(&req).await.unwrap(), first, "a retry");
    cloud.terminate_instance(&first).await.unwrap();
    match cloud.run_instance(&req).await.unwrap_err() {
        CloudError::InstanceEnded {
            instance_id, state, ..
        } => {
            assert_eq!(instance_id, first);
            assert_eq!(state, "terminated");
        }
        other => panic!("{other}"),
    }
    let mut bigger = req.clone();
    bigger.instance_type = "c6i.large".into();
    let mismatch = cloud.run_instance(&bigger).await.unwrap_err();
    assert!(
        matches!(mismatch, CloudError::IdempotentParameterMismatch { .. }),
        "{mismatch}"
    );
    let mut renewed = req.clone();
    renewed.client_token = "tk-compile-2".into();
    let second = cloud.run_instance(&renewed).await.unwrap();
    assert_ne!(second, first, "a new token launches a new instance");
}

pub async fn volume_tokens(s: &Subject) {
    let cloud = s.cloud();
    let t = tags("vt", "volume.builds");
    let first = cloud.create_volume(10, AZ, &t, "vt-1").await.unwrap();
    assert_eq!(
        cloud.create_volume(10, AZ, &t, "vt-1").await.unwrap(),
        first
    );
    let mismatch = cloud.create_volume(20, AZ, &t, "vt-1").await.unwrap_err();
    assert!(
        matches!(mismatch, CloudError::IdempotentParameterMismatch { .. }),
        "{mismatch}"
    );
}

/// For a while after a launch, reads answer "not found", observe leaves the instance out, and
/// a terminate does not reach it; then all is as usual.
pub async fn reads_lag_a_launch(s: &Subject) {
    let fake = s.as_fake();
    let cloud = s.cloud();
    fake.set_read_lag(Duration::from_millis(300));
    let id = cloud
        .run_instance(&request(s, "lag-1").await)
        .await
        .unwrap();
    let unknown = cloud
        .wait_instance(&id, &["running"], WAIT)
        .await
        .unwrap_err();
    assert!(matches!(unknown, CloudError::NotFound { .. }), "{unknown}");
    assert!(cloud
        .observe("tk", None)
        .await
        .unwrap()
        .instances
        .is_empty());
    cloud
        .terminate_instance(&id)
        .await
        .expect("EC2's not found reads as already gone");
    tokio::time::sleep(Duration::from_millis(350)).await;
    let running = cloud.wait_instance(&id, &["running"], WAIT).await.unwrap();
    assert_eq!(
        running.state.as_str(),
        "running",
        "the early terminate did not reach it"
    );
    assert!(cloud
        .observe("tk", None)
        .await
        .unwrap()
        .instances
        .contains_key(&id));
    cloud.terminate_instance(&id).await.unwrap();
    assert_eq!(fake.instance(&id).unwrap().state.as_str(), "terminated");
}
