//! SSM parameters: put and overwrite, SecureStrings, the exclusive create the apply lock
//! relies on, reads of missing ones, deletes that converge, and tags.

use super::Subject;
use crate::support::tags;
use vibes_core::cloud::prelude::*;
use vibes_core::cloud::CloudError;
use vibes_core::tags::{Tags, ADDRESS, PROJECT};
use vibes_core::Secret;

pub async fn put_overwritten_locked_read_and_deleted(s: &Subject) {
    let cloud = s.cloud();
    let t = tags("pm", "profile.phone");
    cloud
        .put_parameter("/pm/profiles/phone", "CONFIG_ENCODER=lame\n", &t)
        .await
        .unwrap();
    cloud
        .put_parameter("/pm/profiles/phone", "CONFIG_ENCODER=opusenc\n", &t)
        .await
        .unwrap();
    assert_eq!(
        cloud
            .get_parameter("/pm/profiles/phone")
            .await
            .unwrap()
            .as_deref(),
        Some("CONFIG_ENCODER=opusenc\n"),
        "put overwrites"
    );

    let secret = Secret::new("-----BEGIN OPENSSH PRIVATE KEY-----\nx\n".to_string());
    cloud
        .put_secure_parameter("/pm/ec2/keys/builds", &secret, &t, false)
        .await
        .unwrap();
    let refused = cloud
        .put_secure_parameter("/pm/ec2/keys/builds", &secret, &t, false)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, CloudError::AlreadyExists { .. }),
        "{refused}"
    );
    cloud
        .put_secure_parameter("/pm/ec2/keys/builds", &secret, &t, true)
        .await
        .expect("with overwrite a SecureString is replaced");
    let refused = cloud
        .get_parameter("/pm/ec2/keys/builds")
        .await
        .expect_err("a SecureString is never read as plain text");
    assert!(!refused.to_string().contains("PRIVATE"), "{refused}");

    cloud
        .create_parameter_exclusive("/pm/lock", "held by me", &t)
        .await
        .unwrap();
    let held = cloud
        .create_parameter_exclusive("/pm/lock", "held by another", &t)
        .await
        .unwrap_err();
    assert!(matches!(held, CloudError::AlreadyExists { .. }), "{held}");
    assert_eq!(
        cloud.get_parameter("/pm/lock").await.unwrap().as_deref(),
        Some("held by me")
    );

    assert_eq!(cloud.get_parameter("/pm/nothing").await.unwrap(), None);
    let seen = cloud.observe("pm", None).await.unwrap();
    assert_eq!(
        seen.parameters.keys().collect::<Vec<_>>(),
        ["/pm/ec2/keys/builds", "/pm/lock", "/pm/profiles/phone"]
    );
    assert!(seen.parameters["/pm/ec2/keys/builds"].secure);
    assert_eq!(
        seen.parameters["/pm/ec2/keys/builds"].value, None,
        "observe never reads a SecureString's value"
    );
    assert_eq!(
        seen.parameters["/pm/profiles/phone"].value.as_deref(),
        Some("CONFIG_ENCODER=opusenc\n")
    );

    for name in ["/pm/lock", "/pm/profiles/phone", "/pm/ec2/keys/builds"] {
        cloud.delete_parameter(name).await.unwrap();
    }
    cloud
        .delete_parameter("/pm/lock")
        .await
        .expect("deleting a gone parameter succeeds: a rerun after a crash converges");
    assert_eq!(cloud.get_parameter("/pm/lock").await.unwrap(), None);
    assert!(cloud
        .observe("pm", None)
        .await
        .unwrap()
        .parameters
        .is_empty());
}

pub async fn tagged_when_new_and_on_request(s: &Subject) {
    let cloud = s.cloud();
    cloud
        .put_parameter("/pt/sources", "rev-1", &tags("pt", "sources"))
        .await
        .unwrap();
    // Tags go with a new parameter only: an overwrite keeps the ones it has.
    cloud
        .put_parameter("/pt/sources", "rev-2", &tags("pt", "profile.other"))
        .await
        .unwrap();
    let seen = cloud.observe("pt", None).await.unwrap();
    let p = &seen.parameters["/pt/sources"];
    assert_eq!(p.tags.get(ADDRESS).map(String::as_str), Some("sources"));
    assert_eq!(p.tags.get(PROJECT).map(String::as_str), Some("pt"));

    // A parameter made by hand (no tags) is adopted by tagging it.
    cloud
        .put_parameter(
            "/pt/profiles/laptop",
            "CONFIG_ENCODER=opusenc\n",
            &Default::default(),
        )
        .await
        .unwrap();
    cloud
        .tag_parameter("/pt/profiles/laptop", &tags("pt", "profile.laptop"))
        .await
        .unwrap();
    let seen = cloud.observe("pt", None).await.unwrap();
    assert_eq!(
        seen.parameters["/pt/profiles/laptop"]
            .tags
            .get(ADDRESS)
            .map(String::as_str),
        Some("profile.laptop")
    );
    let missing = cloud
        .tag_parameter("/pt/nothing", &tags("pt", "profile.nothing"))
        .await
        .unwrap_err();
    assert!(matches!(missing, CloudError::NotFound { .. }), "{missing}");
}

/// SSM refuses a parameter name prefixed with `aws` or `ssm` (case-insensitive), on the
/// hierarchy's first level too; the config refuses such a project name before anything runs.
pub async fn reserved_names_are_refused(s: &Subject) {
    let cloud = s.cloud();
    for name in ["/awsmusic/profiles/phone", "/SSM-music/profiles/phone"] {
        let refused = cloud
            .put_parameter(name, "CONFIG_ENCODER=flac\n", &Tags::new())
            .await;
        assert!(refused.is_err(), "{name} was accepted");
    }
    cloud
        .put_parameter(
            "/music/profiles/phone",
            "CONFIG_ENCODER=flac\n",
            &Tags::new(),
        )
        .await
        .unwrap();
}

/// A Standard parameter holds 4096 characters at most (SSM's PutParameter); moto takes more,
/// so the fake models it.
pub async fn a_standard_parameter_holds_4096_characters(s: &Subject) {
    let cloud = s.as_fake();
    cloud
        .put_parameter("/music/compile/status", &"x".repeat(4096), &Tags::new())
        .await
        .unwrap();
    let refused = cloud
        .put_parameter("/music/compile/status", &"x".repeat(4097), &Tags::new())
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("at most 4096"), "{refused}");
}
