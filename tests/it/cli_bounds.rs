//! The `vibes` binary on a real account's edges, against a moto server: endless or oversized
//! inputs are refused quickly with their limit named, `plan --out` writes only where a plan may
//! go, and `vibes destroy`
//! reports a destroy.

use crate::support::{cli, moto, write};
use cli::{code, text};
use moto::Moto;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const CONFIG: &str = r#"[project]
name = "edges"
region = "us-east-1"

[network]
create = true

[sources]
path = "music"

[keys.builds]
"#;

fn config_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "vibes.toml", CONFIG.as_bytes());
    write(dir.path(), "music/kinks/tags.vc", b"ARTIST=The Kinks\n");
    dir
}

/// `vibes ARGS` in `dir`, with no AWS reachable but 127.0.0.1.
fn offline(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vibes"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn endless_inputs_are_refused_quickly_naming_the_limit() {
    let dir = config_dir();
    let started = Instant::now();
    let validate = offline(dir.path(), &["--config", "/dev/zero", "validate"]);
    assert_eq!(code(&validate), 1, "{}", text(&validate));
    assert!(text(&validate).contains("1.0 MiB"), "{}", text(&validate));
    let show = offline(dir.path(), &["show", "/dev/urandom"]);
    assert_eq!(code(&show), 1, "{}", text(&show));
    assert!(text(&show).contains("64.0 MiB"), "{}", text(&show));
    assert!(text(&show).contains("vibes plan --out"), "{}", text(&show));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "nothing read past its limit"
    );
}

#[test]
fn plan_out_never_overwrites_the_config_or_a_file_that_is_not_a_plan() {
    let dir = config_dir();
    let plan = offline(dir.path(), &["plan", "--out", "vibes.toml"]);
    assert_eq!(code(&plan), 1, "{}", text(&plan));
    assert!(text(&plan).contains("is the config"), "{}", text(&plan));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("vibes.toml")).unwrap(),
        CONFIG
    );
    write(dir.path(), "notes.txt", b"mine\n");
    let plan = offline(dir.path(), &["plan", "--out", "notes.txt"]);
    assert_eq!(code(&plan), 1, "{}", text(&plan));
    assert!(
        text(&plan).contains("is not a vibes plan"),
        "{}",
        text(&plan)
    );
    assert!(text(&plan).contains("another name"), "{}", text(&plan));
    assert_eq!(
        std::fs::read(dir.path().join("notes.txt")).unwrap(),
        b"mine\n"
    );
    std::os::unix::fs::symlink(dir.path().join("notes.txt"), dir.path().join("l.plan")).unwrap();
    let plan = offline(dir.path(), &["plan", "--out", "l.plan"]);
    assert_eq!(code(&plan), 1, "{}", text(&plan));
    assert!(text(&plan).contains("symbolic link"), "{}", text(&plan));
}

#[test]
fn destroy_says_destroy_complete() {
    let moto = Moto::start();
    // Keys and profiles only: moto cannot delete the VPC stack it made (DependencyViolation).
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "vibes.toml",
        b"[project]\nname = \"gone\"\nregion = \"us-east-1\"\n\n[keys.builds]\n\n[profiles.phone]\nencoder = \"lame\"\n",
    );
    let config = dir.path().join("vibes.toml");
    let run = |args: &[&str]| {
        cli::vibes(&config, &moto)
            .env("NO_COLOR", "1")
            .args(args)
            .output()
            .unwrap()
    };
    let apply = run(&["apply", "--auto-approve"]);
    assert_eq!(code(&apply), 0, "{}", text(&apply));
    let destroy = run(&["destroy", "--auto-approve", "--include-data"]);
    assert_eq!(code(&destroy), 0, "{}", text(&destroy));
    assert!(
        text(&destroy).contains("Destroy complete"),
        "{}",
        text(&destroy)
    );
    assert!(
        !text(&destroy).contains("Apply complete"),
        "{}",
        text(&destroy)
    );
    let again = run(&["destroy", "--auto-approve"]);
    assert_eq!(code(&again), 0, "{}", text(&again));
    assert!(
        text(&again).contains("Destroy complete"),
        "{}",
        text(&again)
    );
    assert!(
        !text(&again).contains("matches the config"),
        "{}",
        text(&again)
    );
}
