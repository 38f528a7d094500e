//! A vibes.toml anywhere: in a music directory of its own, far from any checkout of vibes. The
//! platform (stack templates, image recipes and their files) is built into the binary, so the
//! config validates, plans and applies as it does in the repository — here against a moto server,
//! with the network, sources, keys and profiles (image builds and compiles need CodeBuild and EC2
//! to run something, which moto does not; the fake cloud covers them).

use crate::support::{cli, moto, write};
use cli::{code, text};
use moto::Moto;
use std::path::PathBuf;

const ARCHIVE: &str = "# lossless, for keeping\nCONFIG_ENCODER=flac\nCONFIG_FLAC_FLAGS=-s --best\n";

const CONFIG: &str = r#"[project]
name = "anywhere"
region = "us-east-1"

[network]
create = true

[sources]
path = "collection"

[keys.builds]
[keys.worker]
[keys.server]

[profiles.archive]
config = "archive.config"

[profiles.phone]
encoder = "lame"
flags = "--quiet -V 6"
"#;

/// A music directory with its own small collection, a profile file and vibes.toml: nothing else.
fn music_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    assert!(
        !dir.path().starts_with(&repo),
        "the directory must lie outside the repository"
    );
    write(
        dir.path(),
        "collection/kinks/tags.vc",
        b"ARTIST=The Kinks\n",
    );
    write(
        dir.path(),
        "collection/kinks/village_green/1-village_green.wav",
        [3u8; 2048],
    );
    write(
        dir.path(),
        "collection/kinks/village_green/1-village_green.tags.vc",
        b"TITLE=Village Green\n",
    );
    write(dir.path(), "archive.config", ARCHIVE.as_bytes());
    write(dir.path(), "vibes.toml", CONFIG.as_bytes());
    dir
}

#[test]
fn a_config_outside_the_repository_validates_plans_and_applies() {
    let dir = music_dir();
    let config = dir.path().join("vibes.toml");
    let moto = Moto::start();
    let vibes = |args: &[&str]| cli::vibes(&config, &moto).args(args).output().unwrap();

    let validate = vibes(&["validate"]);
    assert_eq!(code(&validate), 0, "{}", text(&validate));
    assert!(
        text(&validate).contains(
            "is valid: project anywhere, 2 stacks, 3 key pairs, 2 profiles, 0 images, sources."
        ),
        "{}",
        text(&validate)
    );

    let plan = vibes(&["plan", "--detailed-exitcode"]);
    assert_eq!(code(&plan), 2, "{}", text(&plan));
    for shown in ["(built in) cfn/vpc.yaml", "(built in) cfn/main.yaml"] {
        assert!(text(&plan).contains(shown), "{shown} in:\n{}", text(&plan));
    }

    let apply = vibes(&["apply", "--auto-approve"]);
    assert_eq!(code(&apply), 0, "{}", text(&apply));

    // The stacks are made from the templates the binary carries.
    for (stack, template) in [
        ("anywhere-vpc", "cfn/vpc.yaml"),
        ("anywhere-main", "cfn/main.yaml"),
    ] {
        let d = moto.aws_json(&["cloudformation", "describe-stacks", "--stack-name", stack]);
        assert_eq!(d["Stacks"][0]["StackStatus"], "CREATE_COMPLETE", "{stack}");
        let t = moto.aws_json(&["cloudformation", "get-template", "--stack-name", stack]);
        let body =
            std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(template))
                .unwrap();
        assert_eq!(t["TemplateBody"].as_str(), Some(body.as_str()), "{stack}");
    }
    let archive = moto.aws_json(&[
        "ssm",
        "get-parameter",
        "--name",
        "/anywhere/profiles/archive",
    ]);
    assert_eq!(archive["Parameter"]["Value"], ARCHIVE);
    let keys = moto.aws_json(&["ec2", "describe-key-pairs"]);
    let mut names: Vec<&str> = keys["KeyPairs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["KeyName"].as_str())
        .filter(|n| n.starts_with("anywhere-"))
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["anywhere-builds", "anywhere-server", "anywhere-worker"]
    );
    let bucket = moto.aws_json(&["ssm", "get-parameter", "--name", "/anywhere/sources"])
        ["Parameter"]["Value"]
        .as_str()
        .unwrap()
        .to_string();
    let listing = moto.aws_json(&["s3api", "list-objects-v2", "--bucket", &bucket]);
    let objects: Vec<&str> = listing["Contents"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["Key"].as_str())
        .collect();
    assert!(
        objects.contains(&"kinks/village_green/1-village_green.wav"),
        "{objects:?}"
    );

    let again = vibes(&["plan", "--detailed-exitcode"]);
    assert_eq!(code(&again), 0, "converged: {}", text(&again));
    assert!(
        !dir.path().join("cfn").exists() && !dir.path().join("packer").exists(),
        "nothing of the platform was put beside the config"
    );
}
