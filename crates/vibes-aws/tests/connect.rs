//! Connecting: with an endpoint and no credentials the error is immediate and says what to
//! do (no seconds lost probing instance metadata); a missing region is named as such.
//! One test function in its own binary, because it changes the process environment.

use std::time::{Duration, Instant};
use vibes_aws::{connect, ConnectError, ConnectOptions};

#[tokio::test(flavor = "multi_thread")]
async fn missing_credentials_and_region_are_clear_and_immediate() {
    let empty = tempfile::tempdir().unwrap();
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_EC2_METADATA_DISABLED",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ] {
        std::env::remove_var(var);
    }
    std::env::set_var("AWS_CONFIG_FILE", empty.path().join("config"));
    std::env::set_var(
        "AWS_SHARED_CREDENTIALS_FILE",
        empty.path().join("credentials"),
    );

    let opts = ConnectOptions {
        region: Some("eu-west-1".into()),
        endpoint_url: Some("http://127.0.0.1:9".into()),
        profile: None,
    };
    let started = Instant::now();
    let err = connect(&opts).await.unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, ConnectError::NoCredentials { .. }), "{err}");
    assert!(
        err.to_string().contains("AWS_PROFILE") && err.to_string().contains("AWS_ACCESS_KEY_ID"),
        "{err}"
    );
    assert!(took < Duration::from_secs(2), "took {took:?}");

    let err = connect(&ConnectOptions {
        region: Some("eu-west-1".into()),
        endpoint_url: Some("localhost:5000".into()),
        profile: None,
    })
    .await
    .unwrap_err();
    assert!(matches!(err, ConnectError::BadEndpoint(_)), "{err}");

    // AWS_ENDPOINT_URL counts as an endpoint too, and no region anywhere is its own error.
    std::env::set_var("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    let started = Instant::now();
    let err = connect(&ConnectOptions::default()).await.unwrap_err();
    assert!(matches!(err, ConnectError::NoRegion), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );

    std::env::set_var("AWS_REGION", "eu-west-1");
    let aws = connect(&ConnectOptions::default()).await.unwrap();
    assert_eq!(aws.region(), Some("eu-west-1"));
    assert_eq!(aws.calls(), 0, "connecting makes no AWS call");
}
