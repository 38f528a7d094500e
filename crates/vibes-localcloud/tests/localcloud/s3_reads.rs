//! The runner counts what S3 serves: GetObject requests and the body bytes sent, per client,
//! at `GET /_localcloud/stats`, which moto never sees.

use crate::support::{write, LocalCloud};

#[test]
fn get_object_bodies_are_counted_per_client_ranges_included() {
    let cloud = LocalCloud::start();
    let empty = cloud.s3_stats();
    assert_eq!(empty["s3_get_objects"], 0, "{empty}");
    assert_eq!(empty["s3_get_bytes"], 0, "{empty}");

    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("up/a/one.wav"), vec![1u8; 1000]);
    write(&dir.path().join("up/b/two.flac"), vec![2u8; 3000]);
    let up = dir.path().join("up");
    cloud.aws_as("t-upload", &["s3api", "create-bucket", "--bucket", "reads"]);
    cloud.aws_as(
        "t-upload",
        &[
            "s3",
            "sync",
            up.to_str().unwrap(),
            "s3://reads/",
            "--only-show-errors",
        ],
    );
    // Uploads, listings, heads and sub-resources are not reads of an object's body.
    cloud.aws_as(
        "t-upload",
        &["s3api", "list-objects-v2", "--bucket", "reads"],
    );
    cloud.aws_as(
        "t-upload",
        &[
            "s3api",
            "head-object",
            "--bucket",
            "reads",
            "--key",
            "a/one.wav",
        ],
    );
    cloud.aws_as(
        "t-upload",
        &[
            "s3api",
            "get-object-tagging",
            "--bucket",
            "reads",
            "--key",
            "a/one.wav",
        ],
    );
    let after_upload = cloud.s3_stats();
    assert_eq!(after_upload["s3_get_objects"], 0, "{after_upload}");

    // The whole bucket, as the previous worker read it: both objects, every byte.
    let down = dir.path().join("down");
    cloud.aws_as(
        "t-sync",
        &[
            "s3",
            "sync",
            "s3://reads/",
            down.to_str().unwrap(),
            "--only-show-errors",
        ],
    );
    assert_eq!(std::fs::read(down.join("b/two.flac")).unwrap().len(), 3000);
    // A range: the bytes sent, not the object's size.
    let part = dir.path().join("part");
    cloud.aws_as(
        "t-range",
        &[
            "s3api",
            "get-object",
            "--bucket",
            "reads",
            "--key",
            "b/two.flac",
            "--range",
            "bytes=0-99",
            part.to_str().unwrap(),
        ],
    );
    assert_eq!(std::fs::read(&part).unwrap().len(), 100);
    // A missing key is an error, not a read.
    let missing = std::process::Command::new(crate::support::repo_root().join(".venv/bin/aws"))
        .envs(cloud.env.iter().map(|(k, v)| (k, v)))
        .env_remove("AWS_PROFILE")
        .args(["s3", "cp", "s3://reads/nope", "-"])
        .output()
        .unwrap();
    assert!(!missing.status.success());

    let stats = cloud.s3_stats();
    assert_eq!(stats["s3_get_objects"], 3, "{stats}");
    assert_eq!(stats["s3_get_bytes"], 4100, "{stats}");
    assert_eq!(stats["clients"]["t-sync"]["s3_get_objects"], 2, "{stats}");
    assert_eq!(stats["clients"]["t-sync"]["s3_get_bytes"], 4000, "{stats}");
    assert_eq!(stats["clients"]["t-range"]["s3_get_bytes"], 100, "{stats}");
    assert!(stats["clients"].get("t-upload").is_none(), "{stats}");
}
