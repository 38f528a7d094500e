//! Connecting: with an endpoint and no credentials the error is immediate and says what to
//! do (no seconds lost probing instance metadata); a missing region is named as such.
//!
//! The test reads credentials, region and endpoint from the process environment, and changes
//! it as it goes: the other modules of this binary run in the same process and want their own
//! (dummy credentials). So it runs again in a child process of this test binary, started with
//! only this test selected and an environment of its own; the parent checks the child passed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vibes_aws::{connect, ConnectError, ConnectOptions};
use vibes_core::cloud::prelude::*;

/// Set in the child process: the test there runs its body instead of starting another child.
const IN_CHILD: &str = "VIBES_AWS_TEST_CONNECT_CHILD";

/// What the environment would give the SDK that the test wants absent.
const CLEARED: [&str; 12] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
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

/// A server on 127.0.0.1 that answers every request 403 (an error no SDK retries) and keeps
/// each request line (`PUT /bucket/key HTTP/1.1`), to tell which endpoint a call went to.
struct Recorder {
    url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    fn start() -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                // Read the headers and the body, so the client is not cut off mid-request.
                let mut length = 0usize;
                let mut header = String::new();
                while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                    if let Some((name, value)) = header.split_once(':') {
                        if name.eq_ignore_ascii_case("content-length") {
                            length = value.trim().parse().unwrap_or(0);
                        }
                    }
                    header.clear();
                }
                let mut body = vec![0u8; length];
                let _ = reader.read_exact(&mut body);
                log.lock().unwrap().push(line.trim_end().to_string());
                let _ = conn.write_all(
                    b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        Recorder { url, seen }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_s3_endpoint_variable_sends_s3_alone_elsewhere_unless_the_flag_is_given() {
    if std::env::var_os(IN_CHILD).is_none() {
        in_a_process_of_its_own(
            "the_s3_endpoint_variable_sends_s3_alone_elsewhere_unless_the_flag_is_given",
        );
        return;
    }
    let (general, s3) = (Recorder::start(), Recorder::start());
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    std::env::set_var("AWS_REGION", "us-east-1");
    std::env::set_var("AWS_ENDPOINT_URL", &general.url);

    let err = connect(&ConnectOptions::default())
        .await
        .unwrap()
        .put_object("bkt", "one", b"x".to_vec())
        .await;
    assert!(err.is_err(), "the recorder refuses every request");
    assert!(
        general.seen().iter().any(|l| l.starts_with("PUT /bkt/one")),
        "without AWS_ENDPOINT_URL_S3, S3 goes to AWS_ENDPOINT_URL: {:?}",
        general.seen()
    );

    std::env::set_var("AWS_ENDPOINT_URL_S3", "localhost:5000");
    let err = connect(&ConnectOptions::default()).await.unwrap_err();
    assert!(matches!(err, ConnectError::BadEndpoint(_)), "{err}");

    std::env::set_var("AWS_ENDPOINT_URL_S3", &s3.url);
    let aws = connect(&ConnectOptions::default()).await.unwrap();
    assert!(aws.put_object("bkt", "two", b"x".to_vec()).await.is_err());
    assert!(aws.get_parameter("/vibes/p").await.is_err());
    let (to_general, to_s3) = (general.seen(), s3.seen());
    assert!(
        to_s3.iter().any(|l| l.starts_with("PUT /bkt/two")),
        "S3 goes (path-style) to AWS_ENDPOINT_URL_S3: {to_s3:?}"
    );
    assert!(
        to_s3.iter().all(|l| l.starts_with("PUT /bkt/")),
        "nothing but S3 goes there: {to_s3:?}"
    );
    assert!(
        to_general.iter().any(|l| l.starts_with("POST / ")),
        "SSM stays on AWS_ENDPOINT_URL: {to_general:?}"
    );
    assert!(
        !to_general.iter().any(|l| l.contains("/bkt/two")),
        "{to_general:?}"
    );

    // The flag names one endpoint for everything: it beats the service's variable too.
    let aws = connect(&ConnectOptions {
        endpoint_url: Some(general.url.clone()),
        ..ConnectOptions::default()
    })
    .await
    .unwrap();
    assert!(aws.put_object("bkt", "three", b"x".to_vec()).await.is_err());
    assert!(
        general
            .seen()
            .iter()
            .any(|l| l.starts_with("PUT /bkt/three")),
        "{:?}",
        general.seen()
    );
    assert!(
        !s3.seen().iter().any(|l| l.contains("three")),
        "{:?}",
        s3.seen()
    );
}
