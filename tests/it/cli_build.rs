//! `vibes build` with the real encoders: without --profile or --profile-file it builds every
//! profile of vibes.toml, and says what to do when there is none to build.

use crate::support::write;
use std::path::Path;
use std::process::{Command, Output};

/// A quarter second of a 440 Hz tone as 16-bit stereo 44.1 kHz WAVE.
fn wav() -> Vec<u8> {
    let samples: Vec<i16> = (0..11_025)
        .flat_map(|i| {
            let v = ((i as f32 * 440.0 * std::f32::consts::TAU / 44_100.0).sin() * 8000.0) as i16;
            [v, v]
        })
        .collect();
    let data_len = (samples.len() * 2) as u32;
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
    for s in samples {
        b.extend(s.to_le_bytes());
    }
    b
}

fn vibes(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vibes"))
        .args(args)
        .current_dir(dir)
        .env_remove("VIBES_CONFIG")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

const CONFIG: &str = r#"[project]
name = "tunes"

[profiles.archive]
config = "archive.config"

[profiles.phone]
encoder = "lame"
flags = "--quiet -V 6"
"#;

#[test]
fn without_a_profile_every_profile_of_the_config_is_built() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "vibes.toml", CONFIG.as_bytes());
    write(
        dir.path(),
        "archive.config",
        b"CONFIG_ENCODER=flac\nCONFIG_FLAC_FLAGS=-s -5\n",
    );
    write(dir.path(), "music/kinks/tags.vc", b"ARTIST=The Kinks\n");
    write(dir.path(), "music/kinks/1-village_green.wav", wav());

    let out = vibes(
        dir.path(),
        &["build", "--sources", "music", "--out", "builds"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("2 tracks: 2 encoded"), "{}", text(&out));
    assert!(dir
        .path()
        .join("builds/archive/kinks/1-village_green.flac")
        .is_file());
    assert!(dir
        .path()
        .join("builds/phone/kinks/1-village_green.mp3")
        .is_file());

    let again = vibes(
        dir.path(),
        &["build", "--sources", "music", "--out", "builds"],
    );
    assert!(again.status.success(), "{}", text(&again));
    assert!(
        text(&again).contains("2 tracks: 0 encoded, 2 up to date"),
        "{}",
        text(&again)
    );
}

#[test]
fn a_config_without_profiles_says_how_to_give_one() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "vibes.toml", b"[project]\nname = \"tunes\"\n");
    std::fs::create_dir_all(dir.path().join("music")).unwrap();
    let out = vibes(
        dir.path(),
        &["build", "--sources", "music", "--out", "builds"],
    );
    assert_eq!(out.status.code(), Some(1));
    let shown = text(&out);
    assert!(
        shown.contains("vibes.toml names no profiles to build"),
        "{shown}"
    );
    assert!(shown.contains("--profile-file FILE"), "{shown}");
}

#[test]
fn without_a_config_the_error_says_what_build_wanted_it_for() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("music")).unwrap();
    let out = vibes(
        dir.path(),
        &["build", "--sources", "music", "--out", "builds"],
    );
    assert_eq!(out.status.code(), Some(1));
    let shown = text(&out);
    assert!(
        shown.contains("vibes build without --profile builds every profile of vibes.toml"),
        "{shown}"
    );
    assert!(shown.contains("no vibes.toml at vibes.toml"), "{shown}");
}

/// A mustup collection as it is: its `output-*/tup.config` files as profiles, `[sources] format`
/// from vibes.toml, and mustup's warning on stderr.
#[test]
fn a_mustup_collection_builds_with_its_own_profiles() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "vibes.toml",
        b"[project]\nname = \"tunes\"\n\n[network]\ncreate = true\n\n[sources]\npath = \"music\"\nformat = \"mustup\"\n\n[profiles.home]\nconfig = \"music/output-home/tup.config\"\n\n[profiles.honor10]\nconfig = \"music/output-honor10/tup.config\"\n",
    );
    write(
        dir.path(),
        "music/output-home/tup.config",
        b"CONFIG_ENCODER=flac\nCONFIG_FLAC_FLAGS=--best\n",
    );
    write(
        dir.path(),
        "music/output-honor10/tup.config",
        b"CONFIG_ENCODER=oggenc\nCONFIG_OGGENC=oggenc\nCONFIG_OGGENC_FLAGS=--quality 5 --resample 44100\n",
    );
    write(
        dir.path(),
        "music/16hp/mustup-metadata.yaml",
        b"---\ntags:\n   common:\n      artist: 16 Horsepower\n",
    );
    write(
        dir.path(),
        "music/16hp/ss/mustup-manifest.yaml",
        b"---\n01-clogger.wave:\n   metadata:\n      tags:\n         common:\n            title: Clogger\n            track number: 2\n",
    );
    write(dir.path(), "music/16hp/ss/01-clogger.wave", wav());
    // A stray vibes file: the tree would be refused as mixed without [sources] format.
    write(dir.path(), "music/16hp/notes.tags.vc", b"X=y\n");

    let out = vibes(
        dir.path(),
        &["build", "--sources", "music", "--out", "builds"],
    );
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("2 tracks: 2 encoded"), "{shown}");
    assert!(
        shown.contains("music/16hp/ss/mustup-manifest.yaml:7:13: warning: `01-clogger.wave`: track number 2 differs from 1"),
        "{shown}"
    );
    assert!(dir
        .path()
        .join("builds/home/16hp/ss/01-clogger.flac")
        .is_file());
    assert!(dir
        .path()
        .join("builds/honor10/16hp/ss/01-clogger.ogg")
        .is_file());

    let mixed = vibes(
        dir.path(),
        &[
            "build",
            "--sources",
            "music",
            "--out",
            "builds",
            "--format",
            "auto",
        ],
    );
    assert!(!mixed.status.success());
    assert!(
        text(&mixed).contains("mixes the vibes format"),
        "{}",
        text(&mixed)
    );
}

/// A vibes.toml for building at home: `[sources]` and `[profiles]`, no network. `vibes build`
/// uses nothing else; `vibes validate` says what the cloud would still need, as a note; `vibes
/// plan` refuses it as before.
#[test]
fn a_config_with_sources_and_profiles_alone_builds_and_validate_notes_what_the_cloud_needs() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "vibes.toml",
        b"[project]\nname = \"tunes\"\n\n[sources]\npath = \"music\"\n\n[profiles.phone]\nencoder = \"lame\"\nflags = \"--quiet -V 6\"\n",
    );
    write(dir.path(), "music/kinks/1-village_green.wav", wav());

    let out = vibes(
        dir.path(),
        &["build", "--sources", "music", "--out", "builds"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(dir
        .path()
        .join("builds/phone/kinks/1-village_green.mp3")
        .is_file());

    let valid = vibes(dir.path(), &["validate"]);
    let shown = text(&valid);
    assert!(valid.status.success(), "{shown}");
    assert!(
        shown.contains("note: vibes.toml:4:2: [sources] needs a network for vibes plan and apply; vibes build goes without"),
        "{shown}"
    );

    let plan = vibes(dir.path(), &["plan"]);
    assert!(!plan.status.success(), "{}", text(&plan));
    assert!(
        text(&plan).contains("[sources] needs a network"),
        "{}",
        text(&plan)
    );
}

/// `vibes validate` reads the sources tree as the compile would: a picture its metadata names
/// under the wrong extension is a fault, with where it is and what was meant.
#[test]
fn validate_names_a_fault_in_the_sources_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "vibes.toml",
        b"[project]\nname = \"tunes\"\n\n[sources]\npath = \"music\"\n\n[profiles.phone]\nencoder = \"lame\"\nflags = \"--quiet -V 6\"\n",
    );
    write(
        dir.path(),
        "music/abba/gold/mustup-metadata.yaml",
        b"---\npictures:\n   APIC:\n      3:\n         path: cover-front.png\n",
    );
    write(dir.path(), "music/abba/gold/cover-front.jpeg", b"jpeg");
    write(
        dir.path(),
        "music/abba/gold/mustup-manifest.yaml",
        b"---\n01-dancing_queen.wav: {}\n",
    );
    write(dir.path(), "music/abba/gold/01-dancing_queen.wav", wav());
    let out = vibes(dir.path(), &["validate"]);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains("fault: abba/gold/01-dancing_queen.wav is left out of a compile: ")
            && shown.contains(
                "abba/gold/mustup-metadata.yaml:5:16: picture `cover-front.png` cannot be read"
            )
            && shown.contains("(did you mean `cover-front.jpeg`?)"),
        "{shown}"
    );
}
