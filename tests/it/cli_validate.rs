//! `vibes --config FILE validate`: a valid config exits 0 with a one-line summary; an invalid
//! one exits 1 and names the file, line and column of every fault.

use crate::support::write;
use assert_cmd::Command;
use predicates::prelude::*;

fn vibes() -> Command {
    let mut cmd = Command::cargo_bin("vibes").unwrap();
    // No AWS is needed to validate; make sure none is reached for.
    cmd.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("NO_COLOR", "1");
    cmd
}

/// A config directory with the files the good config names; the stack templates are built in.
fn project_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "music/ccr/tags.vc",
        "ARTIST=Creedence Clearwater Revival\n",
    );
    write(
        dir.path(),
        "profiles/archive.config",
        "CONFIG_ENCODER=flac\nCONFIG_FLAC_FLAGS=-s --best\n",
    );
    dir
}

const GOOD: &str = r#"[project]
name = "vibes"

[network]
create = true

[sources]
path = "music"

[keys.worker]

[profiles.archive]
config = "profiles/archive.config"

[profiles.phone]
encoder = "lame"
flags = "--quiet -V 6"
"#;

#[test]
fn a_valid_config_exits_0_with_a_summary() {
    let dir = project_dir();
    let config = dir.path().join("vibes.toml");
    write(dir.path(), "vibes.toml", GOOD);
    vibes()
        .arg("--config")
        .arg(&config)
        .arg("validate")
        .assert()
        .code(0)
        .stdout(format!(
            "{} is valid: project vibes, 2 stacks, 1 key pair, 2 profiles, 0 images, sources.\n",
            config.display()
        ))
        .stderr("");
}

#[test]
fn every_fault_is_named_with_file_line_and_column_and_exits_1() {
    let dir = project_dir();
    write(
        dir.path(),
        "bad.toml",
        "[project]\nname = \"Vibes\"\n\n[network]\ncreate = true\n\n[sourcse]\npath = \"music\"\n\n[snapshots]\nkeep = 0\n\n[profiles.car]\nencoder = \"vorbis\"\n",
    );
    let out = vibes()
        .current_dir(dir.path())
        .args(["--config", "bad.toml", "validate"])
        .assert()
        .code(1)
        .stdout("");
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    for (place, what) in [
        ("bad.toml:2:8", "`Vibes` is not a valid project name"),
        ("bad.toml:7:2", "unknown section [sourcse]"),
        ("bad.toml:11:8", "`keep` must be at least 1"),
        ("bad.toml:14:11", "unknown encoder `vorbis`"),
    ] {
        assert!(stderr.contains(place), "{place} is not named in:\n{stderr}");
        assert_eq!(
            stderr.matches(what).count(),
            1,
            "`{what}` should be reported once in:\n{stderr}"
        );
    }
    assert!(stderr.contains("bad.toml has 4 problems"), "{stderr}");
    assert!(stderr.contains("did you mean [sources]?"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "no colour when not on a terminal:\n{stderr}"
    );
}

#[test]
fn a_fault_in_a_profile_file_names_that_file() {
    let dir = project_dir();
    write(
        dir.path(),
        "profiles/archive.config",
        "CONFIG_ENCODER=flac\nCONFIG_FLAC_FLAGS -8\n",
    );
    write(dir.path(), "vibes.toml", GOOD);
    vibes()
        .current_dir(dir.path())
        .args(["--config", "vibes.toml", "validate"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("profiles/archive.config:2:1"))
        .stderr(predicate::str::contains(
            "profile archive: line 2: expected CONFIG_NAME=value",
        ));
}

#[test]
fn a_missing_config_says_where_it_looked() {
    let dir = tempfile::tempdir().unwrap();
    vibes()
        .current_dir(dir.path())
        .args(["--config", "nowhere.toml", "validate"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "no vibes.toml at nowhere.toml: the file does not exist",
        ));
}

#[test]
fn the_documented_vibes_toml_validates() {
    vibes()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["--config", "vibes.toml", "validate"])
        .assert()
        .code(0)
        .stdout("vibes.toml is valid: project vibes, 2 stacks, 3 key pairs, 4 profiles, 2 images, sources, compile, server.\n");
}

#[test]
fn the_full_example_validates_where_it_stands() {
    vibes()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["--config", "examples/full.toml", "validate"])
        .assert()
        .code(0)
        .stdout("examples/full.toml is valid: project music, 2 stacks, 3 key pairs, 4 profiles, 3 images, sources, compile, server.\n")
        .stderr("");
}

#[test]
fn an_image_without_a_built_in_recipe_is_pointed_at() {
    let dir = project_dir();
    write(
        dir.path(),
        "vibes.toml",
        format!("{GOOD}\n[images.builder]\nkeep = 2\n"),
    );
    let out = vibes()
        .current_dir(dir.path())
        .args(["--config", "vibes.toml", "validate"])
        .assert()
        .code(1);
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(stderr.contains("vibes.toml:19:9"), "{stderr}");
    assert!(
        stderr.contains("[images.builder] needs `recipe`: vibes has no built-in builder image"),
        "{stderr}"
    );
    assert!(
        stderr.contains("use one of the built-in images: server, volmgr, worker"),
        "{stderr}"
    );
}
