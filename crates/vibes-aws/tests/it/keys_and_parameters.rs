//! Key pairs and SSM parameters against a moto server: what `vibes apply` creates shows up
//! tagged in the next observe, private keys live only in SecureStrings, and no secret ever
//! appears in an error.

use crate::support::{cloud, sdk, tags, Moto};
use vibes_core::cloud::prelude::*;
use vibes_core::cloud::CloudError;
use vibes_core::tags::{ADDRESS, PROJECT};
use vibes_core::Secret;

const ED25519_PUB: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGsmHwELkxlF2ZG+Ss2Y1g8u9xGvnKqKfQmbHhr0Iu7m vibes@test";

#[tokio::test(flavor = "multi_thread")]
async fn a_generated_key_is_tagged_and_its_private_key_kept_as_a_secure_string() {
    let moto = Moto::start();
    let aws = cloud(&moto).await;
    let t = tags("keys", "key.builds");

    let private = aws.create_key_pair("keys-builds", &t).await.unwrap();
    assert_eq!(format!("{private:?}"), "(sensitive)");
    aws.put_secure_parameter("/keys/ec2/keys/builds", &private, &t, false)
        .await
        .unwrap();

    let seen = aws.observe("keys", None).await.unwrap();
    let pair = &seen.key_pairs["keys-builds"];
    assert_eq!(pair.tags.get(PROJECT).map(String::as_str), Some("keys"));
    assert_eq!(
        pair.tags.get(ADDRESS).map(String::as_str),
        Some("key.builds")
    );
    let param = &seen.parameters["/keys/ec2/keys/builds"];
    assert!(param.secure);
    assert_eq!(
        param.value, None,
        "observe never reads a SecureString's value"
    );
    assert_eq!(
        param.tags,
        ownership_tags(&t),
        "observe reports a parameter's ownership tags"
    );

    // Read back with the SDK itself, decrypting: the stored value is the private key.
    let ssm = aws_sdk_ssm::Client::new(&sdk(&moto).await);
    let stored = ssm
        .get_parameter()
        .name("/keys/ec2/keys/builds")
        .with_decryption(true)
        .send()
        .await
        .unwrap();
    let value = stored.parameter().and_then(|p| p.value()).unwrap();
    assert!(
        value.starts_with("-----BEGIN"),
        "private key material expected"
    );
    assert_eq!(value, private.expose());

    // And from outside, with the real aws CLI: the key pair's tags and the parameter's type.
    let pairs = moto.aws_json(&["ec2", "describe-key-pairs", "--key-names", "keys-builds"]);
    let cli_tags = pairs["KeyPairs"][0]["Tags"].as_array().unwrap();
    assert!(
        cli_tags
            .iter()
            .any(|t| t["Key"] == PROJECT && t["Value"] == "keys"),
        "{pairs}"
    );
    let described = moto.aws_json(&["ssm", "get-parameter", "--name", "/keys/ec2/keys/builds"]);
    assert_eq!(described["Parameter"]["Type"], "SecureString");

    // A second create of the same name is a fact, not a crash.
    let again = aws.create_key_pair("keys-builds", &t).await.unwrap_err();
    assert!(matches!(again, CloudError::AlreadyExists { .. }), "{again}");

    aws.delete_key_pair("keys-builds").await.unwrap();
    aws.delete_key_pair("keys-builds")
        .await
        .expect("deleting a gone key pair succeeds");
    aws.delete_parameter("/keys/ec2/keys/builds").await.unwrap();
    let after = aws.observe("keys", None).await.unwrap();
    assert!(
        after.key_pairs.is_empty() && after.parameters.is_empty(),
        "{after:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn imported_and_hand_made_keys_are_seen_and_adopted() {
    let moto = Moto::start();
    let aws = cloud(&moto).await;
    aws.import_key_pair("adopt-server", ED25519_PUB, &tags("adopt", "key.server"))
        .await
        .unwrap();

    // A key made by hand with the seed's name and no tags is seen, so it can be adopted.
    let ec2 = aws_sdk_ec2::Client::new(&sdk(&moto).await);
    ec2.import_key_pair()
        .key_name("adopt-worker")
        .public_key_material(aws_sdk_ec2::primitives::Blob::new(ED25519_PUB))
        .send()
        .await
        .unwrap();
    ec2.import_key_pair()
        .key_name("elsewhere-worker")
        .public_key_material(aws_sdk_ec2::primitives::Blob::new(ED25519_PUB))
        .send()
        .await
        .unwrap();
    // Another project's key under this project's name is seen too: the plan must not take
    // it for "not found".
    aws.import_key_pair("adopt-builds", ED25519_PUB, &tags("other", "key.builds"))
        .await
        .unwrap();

    let seen = aws.observe("adopt", None).await.unwrap();
    assert_eq!(
        seen.key_pairs.keys().collect::<Vec<_>>(),
        ["adopt-builds", "adopt-server", "adopt-worker"]
    );
    assert_eq!(
        seen.key_pairs["adopt-builds"]
            .tags
            .get(PROJECT)
            .map(String::as_str),
        Some("other")
    );
    assert!(seen.key_pairs["adopt-worker"].tags.is_empty());
    assert_eq!(
        seen.key_pairs["adopt-server"]
            .tags
            .get(ADDRESS)
            .map(String::as_str),
        Some("key.server")
    );

    aws.tag_key_pair("adopt-worker", &tags("adopt", "key.worker"))
        .await
        .unwrap();
    let seen = aws.observe("adopt", None).await.unwrap();
    assert_eq!(
        seen.key_pairs["adopt-worker"]
            .tags
            .get(ADDRESS)
            .map(String::as_str),
        Some("key.worker")
    );

    let missing = aws
        .tag_key_pair("adopt-nothing", &tags("adopt", "key.nothing"))
        .await
        .unwrap_err();
    assert!(matches!(missing, CloudError::NotFound { .. }), "{missing}");
}

#[tokio::test(flavor = "multi_thread")]
async fn parameters_round_trip_and_the_lock_is_exclusive() {
    let moto = Moto::start();
    let aws = cloud(&moto).await;
    let t = tags("params", "profile.phone");

    aws.put_parameter("/params/profiles/phone", "CONFIG_ENCODER=lame\n", &t)
        .await
        .unwrap();
    assert_eq!(
        aws.get_parameter("/params/profiles/phone")
            .await
            .unwrap()
            .as_deref(),
        Some("CONFIG_ENCODER=lame\n")
    );
    // Overwriting keeps the tags given at creation (PutParameter cannot send both).
    aws.put_parameter("/params/profiles/phone", "CONFIG_ENCODER=opusenc\n", &t)
        .await
        .unwrap();
    let seen = aws.observe("params", None).await.unwrap();
    let p = &seen.parameters["/params/profiles/phone"];
    assert_eq!(p.value.as_deref(), Some("CONFIG_ENCODER=opusenc\n"));
    assert_eq!(p.version, 2);
    assert_eq!(p.tags, ownership_tags(&t));
    assert!(!p.secure);

    assert_eq!(aws.get_parameter("/params/nothing").await.unwrap(), None);

    let lock = tags("params", "profile.lock");
    aws.create_parameter_exclusive("/params/lock", "me at 12:00", &lock)
        .await
        .unwrap();
    let second = aws
        .create_parameter_exclusive("/params/lock", "you at 12:01", &lock)
        .await
        .unwrap_err();
    assert!(
        matches!(second, CloudError::AlreadyExists { .. }),
        "{second}"
    );
    assert_eq!(
        aws.get_parameter("/params/lock").await.unwrap().as_deref(),
        Some("me at 12:00")
    );

    // A parameter made by hand is tagged afterwards.
    let ssm = aws_sdk_ssm::Client::new(&sdk(&moto).await);
    ssm.put_parameter()
        .name("/params/sources")
        .value("my-bucket")
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .unwrap();
    aws.tag_parameter("/params/sources", &tags("params", "sources"))
        .await
        .unwrap();
    let seen = aws.observe("params", None).await.unwrap();
    assert_eq!(
        seen.parameters["/params/sources"]
            .tags
            .get(ADDRESS)
            .map(String::as_str),
        Some("sources")
    );

    // A secure parameter is not overwritten unless asked, and is never read as plain text.
    let secret = Secret::new("first");
    aws.put_secure_parameter("/params/secret", &secret, &t, false)
        .await
        .unwrap();
    let refused = aws
        .put_secure_parameter("/params/secret", &Secret::new("second"), &t, false)
        .await
        .unwrap_err();
    assert!(matches!(refused, CloudError::AlreadyExists { .. }));
    aws.put_secure_parameter("/params/secret", &Secret::new("second"), &t, true)
        .await
        .unwrap();
    assert!(aws.get_parameter("/params/secret").await.is_err());

    for name in [
        "/params/profiles/phone",
        "/params/lock",
        "/params/sources",
        "/params/secret",
    ] {
        aws.delete_parameter(name).await.unwrap();
    }
    aws.delete_parameter("/params/lock")
        .await
        .expect("deleting a gone parameter succeeds");
    assert!(aws
        .observe("params", None)
        .await
        .unwrap()
        .parameters
        .is_empty());
}

/// An SSM endpoint that refuses every request with a message quoting the value it was sent,
/// as AWS validation messages do for some inputs (moto never quotes a value, so it cannot
/// show this): the adapter must not pass the secret on.
async fn echoing_ssm() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                let body_start = loop {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..body_start]).to_ascii_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                while buf.len() < body_start + len {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let request: serde_json::Value =
                    serde_json::from_slice(&buf[body_start..]).unwrap_or_default();
                let value = request["Value"].as_str().unwrap_or_default();
                let message = format!("1 validation error detected: Value '{value}' at 'value' failed to satisfy constraint");
                let body = serde_json::json!({"__type": "ValidationException", "message": message})
                    .to_string();
                let response = format!(
                    "HTTP/1.1 400 Bad Request\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(response.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_quoted_back_by_aws_never_appears_in_the_error() {
    let endpoint = echoing_ssm().await;
    crate::support::dummy_credentials();
    let opts = vibes_aws::ConnectOptions {
        region: Some("us-east-1".into()),
        endpoint_url: Some(endpoint),
        profile: None,
    };
    let aws = vibes_aws::connect(&opts).await.unwrap();
    let body = "c2VjcmV0LWtleS1tYXRlcmlhbA".repeat(20);
    let secret = Secret::new(format!(
        "-----BEGIN OPENSSH PRIVATE KEY-----\n{body}\n-----END OPENSSH PRIVATE KEY-----\n"
    ));
    for overwrite in [false, true] {
        let err = aws
            .put_secure_parameter(
                "/leak/ec2/keys/builds",
                &secret,
                &tags("leak", "key.builds"),
                overwrite,
            )
            .await
            .unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(
            !shown.contains("c2VjcmV0LWtleS1tYXRlcmlhbA"),
            "secret leaked: {shown}"
        );
        assert!(
            !shown.contains("OPENSSH PRIVATE KEY"),
            "secret leaked: {shown}"
        );
        assert!(
            shown.contains("/leak/ec2/keys/builds") && shown.contains("ValidationException"),
            "the error still says what failed: {shown}"
        );
    }
    // The same endpoint quotes plain values as they are: the scrubbing is for secrets only.
    let plain = aws
        .put_parameter(
            "/leak/profiles/x",
            "CONFIG_ENCODER=flac",
            &tags("leak", "profile.x"),
        )
        .await
        .unwrap_err();
    assert!(plain.to_string().contains("CONFIG_ENCODER=flac"), "{plain}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_project_is_observed_in_nine_calls() {
    let moto = Moto::start();
    let aws = cloud(&moto).await;
    let before = aws.calls();
    let seen = aws.observe("empty", None).await.unwrap();
    assert_eq!(seen, vibes_core::Observed::default());
    // key pairs, parameters by path, parameters by tag, stacks, images, volumes, snapshots, instances.
    assert_eq!(aws.calls() - before, 9);
}

/// What observe reports of a parameter's tags: who owns it and what it is.
fn ownership_tags(t: &vibes_core::tags::Tags) -> vibes_core::tags::Tags {
    t.iter()
        .filter(|(k, _)| *k == PROJECT || *k == ADDRESS)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Puts `n` tagged profiles and returns the calls one observe of the project then costs.
async fn observe_calls_with_profiles(moto: &Moto, project: &str, n: usize) -> u64 {
    let aws = cloud(moto).await;
    for i in 0..n {
        let name = format!("p{i:03}");
        aws.put_parameter(
            &format!("/{project}/profiles/{name}"),
            "CONFIG_ENCODER=lame\n",
            &tags(project, &format!("profile.{name}")),
        )
        .await
        .unwrap();
    }
    let before = aws.calls();
    let seen = aws.observe(project, None).await.unwrap();
    let calls = aws.calls() - before;
    assert_eq!(seen.parameters.len(), n);
    for (i, p) in seen.parameters.values().enumerate() {
        assert_eq!(
            p.tags.get(ADDRESS),
            Some(&format!("profile.p{i:03}")),
            "{}",
            p.name
        );
        assert_eq!(p.tags.get(PROJECT).map(String::as_str), Some(project));
    }
    calls
}

#[tokio::test(flavor = "multi_thread")]
async fn observing_parameters_costs_calls_per_page_not_per_parameter() {
    let moto = Moto::start();
    let few = observe_calls_with_profiles(&moto, "few", 30).await;
    let many = observe_calls_with_profiles(&moto, "many", 300).await;
    eprintln!("observe calls: 30 profiles {few}, 300 profiles {many}");
    // 7 EC2/CloudFormation calls, then SSM pages and no ListTagsForResource. On AWS that is
    // ceil(n/10) GetParametersByPath + ceil(n/50) DescribeParameters; moto pages
    // DescribeParameters by 10 whatever MaxResults says, and ends both listings with an empty
    // page, hence at most 7 + 2 * (n/10 + 1) here: 15 for 30 profiles, 69 for 300.
    let bound = |n: u64| 7 + 2 * (n / 10 + 1);
    assert!(few <= bound(30), "{few} calls for 30 profiles");
    assert!(many <= bound(300), "{many} calls for 300 profiles");
    assert!(many < 300 / 4, "calls grow with pages, not with parameters");
}

#[tokio::test(flavor = "multi_thread")]
async fn untagged_and_foreign_parameters_under_the_project_path_are_read_with_their_tags() {
    let moto = Moto::start();
    let aws = cloud(&moto).await;
    let ssm = aws_sdk_ssm::Client::new(&sdk(&moto).await);
    aws.put_parameter("/mix/profiles/ours", "a", &tags("mix", "profile.ours"))
        .await
        .unwrap();
    // Made by hand from the seed, untagged: observed untagged, so the plan adopts it.
    ssm.put_parameter()
        .name("/mix/profiles/hand")
        .value("b")
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .unwrap();
    // Another project's parameter under this project's path: its real owner is reported.
    aws.put_parameter(
        "/mix/profiles/theirs",
        "c",
        &tags("other", "profile.theirs"),
    )
    .await
    .unwrap();
    // Ours, at a path vibes does not name: its tags are read, not guessed.
    aws.put_parameter("/mix/odd/place", "d", &tags("mix", "profile.odd"))
        .await
        .unwrap();

    let before = aws.calls();
    let seen = aws.observe("mix", None).await.unwrap();
    assert_eq!(
        seen.parameters["/mix/profiles/ours"].tags,
        ownership_tags(&tags("mix", "profile.ours"))
    );
    assert!(seen.parameters["/mix/profiles/hand"].tags.is_empty());
    assert_eq!(
        seen.parameters["/mix/profiles/theirs"].tags,
        tags("other", "profile.theirs")
    );
    assert_eq!(
        seen.parameters["/mix/odd/place"].tags,
        tags("mix", "profile.odd")
    );
    // 8 for the reads, 3 ListTagsForResource for the three parameters the tag filter cannot vouch for.
    assert_eq!(aws.calls() - before, 9 + 3);
}
