//! Connecting: with an endpoint and no credentials the error is immediate and says what to
//! do (no seconds lost probing instance metadata); a missing region is named as such.
//!
//! The test reads credentials, region and endpoint from the process environment, and changes
//! it as it goes: the other modules of this binary run in the same process and want their own
//! (dummy credentials). So it runs again in a child process of this test binary, started with
//! only this test selected and an environment of its own; the parent checks the child passed.

use std::process::Command;
use std::time::{Duration, Instant};
use vibes_aws::{connect, ConnectError, ConnectOptions};

/// Set in the child process: the test there runs its body instead of starting another child.
const IN_CHILD: &str = "VIBES_AWS_TEST_CONNECT_CHILD";

/// What the environment would give the SDK that the test wants absent.
const CLEARED: [&str; 11] = [
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
];

/// Runs the test named `name` (in this module) alone, in a child process of this test binary
/// with the variables of [`CLEARED`] unset and no AWS config or credentials file, and fails
/// unless it ran and passed.
fn in_a_process_of_its_own(name: &str) {
    let empty = tempfile::tempdir().unwrap();
    // `it::connect` → `connect::NAME`, the name libtest knows the test by.
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    let test = format!("{module}::{name}");
    let mut cmd = Command::new(std::env::current_exe().expect("the test binary"));
    cmd.args([test.as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .env(IN_CHILD, "1")
        .env("AWS_CONFIG_FILE", empty.path().join("config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            empty.path().join("credentials"),
        );
    for var in CLEARED {
        cmd.env_remove(var);
    }
    let out = cmd.output().expect("run the test binary");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{test} failed in its process:\n{printed}"
    );
    assert!(
        printed.contains("1 passed"),
        "{test} did not run in its process:\n{printed}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_credentials_and_region_are_clear_and_immediate() {
    if std::env::var_os(IN_CHILD).is_none() {
        in_a_process_of_its_own("missing_credentials_and_region_are_clear_and_immediate");
        return;
    }

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
