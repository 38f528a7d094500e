//! `vibes fetch` against a moto server. moto's instances run nothing (no rsync daemon), so the
//! copy itself cannot run here: the rsync arguments are tested in src/commands/fetch.rs, the
//! daemon's modules in tests/rsync_server.rs; this checks what the command says when there is
//! nothing to fetch from.

use crate::support::{cli, moto};
use cli::text;
use moto::Moto;
use std::process::Output;

fn vibes(moto: &Moto, dir: &std::path::Path, args: &[&str]) -> Output {
    std::fs::write(
        dir.join("vibes.toml"),
        "[project]\nname = \"fetchy\"\nregion = \"us-east-1\"\n\n[profiles.phone]\nencoder = \"lame\"\nflags = \"-V 6\"\n",
    )
    .unwrap();
    cli::vibes(&dir.join("vibes.toml"), moto)
        .args(args)
        .output()
        .expect("run vibes")
}

#[test]
fn fetch_without_a_running_server_says_how_to_start_one() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let out = vibes(&moto, dir.path(), &["fetch", "phone", "dest"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("no server runs for project fetchy"),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("set [server] running = true"),
        "{}",
        text(&out)
    );
    assert!(!dir.path().join("dest").exists(), "nothing is written");
}

#[test]
fn fetch_of_a_profile_not_in_the_config_names_the_ones_there_are() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let out = vibes(&moto, dir.path(), &["fetch", "laptop", "dest", "--dry-run"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("there is no profile `laptop` in vibes.toml (profiles: phone)"),
        "{}",
        text(&out)
    );
}
