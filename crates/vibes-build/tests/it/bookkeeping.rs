//! What a build keeps besides the music: its records live in `<out>/.vibes/`, never in a profile
//! directory (which the rsync server publishes), and a build with nothing to do writes nothing.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::support::*;
use vibes_build::{build, BOOKKEEPING_DIR};

/// Every file and directory under `root`: relative path → (modified time, content; directories
/// have none).
fn snapshot(root: &Path) -> BTreeMap<String, (SystemTime, Option<Vec<u8>>)> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, (SystemTime, Option<Vec<u8>>)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if meta.is_dir() {
                out.insert(rel, (meta.modified().unwrap(), None));
                walk(root, &path, out);
            } else {
                let body = std::fs::read(&path).unwrap();
                out.insert(rel, (meta.modified().unwrap(), Some(body)));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

#[test]
fn a_rebuild_with_nothing_to_do_changes_nothing_under_out() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, out) = (tmp.path().join("src"), tmp.path().join("out"));
    collection(&src);
    build(&options(&src, &out, all_profiles()), &Recorder::default()).unwrap();
    let before = snapshot(&out);
    assert!(before.len() > 12, "{:?}", before.keys());

    // Past the filesystem's timestamp granularity: a rewrite would show in the times.
    std::thread::sleep(Duration::from_millis(50));
    let summary = build(&options(&src, &out, all_profiles()), &Recorder::default()).unwrap();
    assert_eq!((summary.encoded, summary.up_to_date), (0, 12), "{summary}");
    let after = snapshot(&out);
    let changed: Vec<&String> = after
        .iter()
        .filter(|(path, entry)| before.get(*path) != Some(entry))
        .map(|(path, _)| path)
        .chain(before.keys().filter(|p| !after.contains_key(*p)))
        .collect();
    assert!(changed.is_empty(), "a no-op rebuild touched {changed:?}");
}

#[test]
fn no_profile_directory_holds_bookkeeping() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, out) = (tmp.path().join("src"), tmp.path().join("out"));
    collection(&src);
    build(&options(&src, &out, all_profiles()), &Recorder::default()).unwrap();

    for (profile, _) in all_profiles() {
        let published = snapshot(&out.join(&profile));
        let not_music: Vec<&String> = published
            .iter()
            .filter(|(_, (_, body))| body.is_some())
            .map(|(path, _)| path)
            .filter(|path| {
                ![".flac", ".mp3", ".ogg", ".opus", ".m3u"]
                    .iter()
                    .any(|ext| path.ends_with(ext))
            })
            .collect();
        assert!(not_music.is_empty(), "{profile} publishes {not_music:?}");
        assert!(
            published
                .keys()
                .all(|p| !p.contains("/.") && !p.starts_with('.')),
            "{profile} holds a hidden file: {:?}",
            published.keys()
        );
        assert!(
            out.join(BOOKKEEPING_DIR)
                .join(format!("build/{profile}.json"))
                .is_file(),
            "{profile}'s record is kept at the output root"
        );
    }
    assert!(out.join(BOOKKEEPING_DIR).join("hashes.json").is_file());
    // Nothing else at the root: the server would publish any other directory as a profile.
    let mut top: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    assert_eq!(top, [BOOKKEEPING_DIR, "archive", "laptop", "ogg", "phone"]);
}

#[test]
fn records_an_older_vibes_kept_in_profile_directories_are_used_and_moved_out() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, out) = (tmp.path().join("src"), tmp.path().join("out"));
    collection(&src);
    let profiles = vec![("phone".to_string(), MP3.to_string())];
    build(&options(&src, &out, profiles.clone()), &Recorder::default()).unwrap();
    // Where an older vibes kept them.
    let records = out.join(BOOKKEEPING_DIR);
    std::fs::rename(
        records.join("build/phone.json"),
        out.join("phone/.vibes-build.json"),
    )
    .unwrap();
    std::fs::rename(records.join("hashes.json"), out.join(".vibes-hashes.json")).unwrap();

    let rec = Recorder::default();
    let summary = build(&options(&src, &out, profiles), &rec).unwrap();
    assert_eq!(
        (summary.encoded, summary.up_to_date),
        (0, 3),
        "the old records still say what is built: {summary}"
    );
    assert!(rec.touched().is_empty());
    assert!(!out.join("phone/.vibes-build.json").exists());
    assert!(!out.join(".vibes-hashes.json").exists());
    assert!(records.join("build/phone.json").is_file());
    assert!(records.join("hashes.json").is_file());
}
