//! Paths in vibes.toml are relative to the file, whatever the working directory: every command
//! that reads a path (validate, plan, apply with its sources sync, a saved plan, build) is run
//! from the config's parent directory with `--config sub/vibes.toml`, against a moto server, and
//! does what it does from the config's own directory.

use crate::support::{cli, moto, write};
use cli::{code, text};
use moto::Moto;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const CONFIG: &str = r#"[project]
name = "paths"
region = "us-east-1"

[network]
create = true

[sources]
path = "music"

[keys.builds]

[profiles.archive]
config = "profiles/archive.config"
"#;

/// A quarter second of silence as 16-bit stereo 44.1 kHz WAVE.
fn wav() -> Vec<u8> {
    let data_len = 11_025u32 * 4;
    let mut b = Vec::new();
    b.extend(b"RIFF");
    b.extend((36 + data_len).to_le_bytes());
    b.extend(b"WAVEfmt ");
    b.extend(16u32.to_le_bytes());
    b.extend(1u16.to_le_bytes());
    b.extend(2u16.to_le_bytes());
    b.extend(44_100u32.to_le_bytes());
    b.extend((44_100u32 * 4).to_le_bytes());
    b.extend(4u16.to_le_bytes());
    b.extend(16u16.to_le_bytes());
    b.extend(b"data");
    b.extend(data_len.to_le_bytes());
    b.extend(std::iter::repeat_n(0u8, data_len as usize));
    b
}

/// `parent/sub/vibes.toml` with its profile file and music tree under `sub/`.
fn parent_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("sub");
    write(&sub, "vibes.toml", CONFIG.as_bytes());
    write(
        &sub,
        "profiles/archive.config",
        b"CONFIG_ENCODER=flac\nCONFIG_FLAC_FLAGS=-s\n",
    );
    write(&sub, "music/kinks/tags.vc", b"ARTIST=The Kinks\n");
    write(&sub, "music/kinks/village/tags.vc", b"ALBUM=Village\n");
    write(&sub, "music/kinks/village/1/01-do.wav", wav());
    write(&sub, "music/kinks/village/1/01-do.tags.vc", b"TITLE=Do\n");
    dir
}

/// `vibes --config sub/vibes.toml ARGS` run in the config's parent directory.
fn vibes(parent: &Path, moto: &Moto, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vibes"));
    cmd.args(["--config", "sub/vibes.toml"])
        .args(args)
        .current_dir(parent)
        .env_remove("AWS_PROFILE")
        .env_remove("VIBES_LOG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    for (k, v) in moto.env() {
        cmd.env(k, v);
    }
    cmd.output().expect("run vibes")
}

#[test]
fn every_command_reads_the_paths_of_a_config_named_from_another_directory() {
    let moto = Moto::start();
    let dir = parent_dir();
    let parent = dir.path();

    let validate = vibes(parent, &moto, &["validate"]);
    assert_eq!(code(&validate), 0, "{}", text(&validate));

    // A saved plan made here is applied here: its sources sync reads sub/music, once joined.
    let plan = vibes(parent, &moto, &["plan", "--out", "saved.plan"]);
    assert_eq!(code(&plan), 0, "{}", text(&plan));
    assert!(text(&plan).contains("4 files to upload"), "{}", text(&plan));
    let apply = vibes(parent, &moto, &["apply", "saved.plan"]);
    assert_eq!(code(&apply), 0, "{}", text(&apply));
    assert!(
        !text(&apply).contains("sub/sub"),
        "the config's directory is joined once: {}",
        text(&apply)
    );

    // The bucket holds the tree, as seen from outside.
    let bucket = moto.aws_json(&["ssm", "get-parameter", "--name", "/paths/sources"])["Parameter"]
        ["Value"]
        .as_str()
        .unwrap()
        .to_string();
    let listing = moto.aws_json(&["s3api", "list-objects-v2", "--bucket", &bucket]);
    let keys: Vec<&str> = listing["Contents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["Key"].as_str().unwrap())
        .collect();
    for key in [
        "kinks/tags.vc",
        "kinks/village/tags.vc",
        "kinks/village/1/01-do.wav",
    ] {
        assert!(keys.contains(&key), "{key} in {keys:?}");
    }

    // Converged, whether planned from here or from the config's own directory.
    let again = vibes(parent, &moto, &["plan", "--detailed-exitcode"]);
    assert_eq!(code(&again), 0, "{}", text(&again));
    let inside = cli::vibes(&parent.join("sub/vibes.toml"), &moto)
        .args(["plan", "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(code(&inside), 0, "{}", text(&inside));

    // build reads the config's profiles from here; its own --sources and --out are the
    // command line's, relative to the working directory.
    let build = vibes(
        parent,
        &moto,
        &["build", "--sources", "sub/music", "--out", "out"],
    );
    assert_eq!(code(&build), 0, "{}", text(&build));
    assert!(
        parent.join("out/archive").is_dir(),
        "the archive profile was built: {}",
        text(&build)
    );
}
