//! A sources tree without any track (a disk that is not mounted, a sync gone wrong) never
//! removes every output: the build is refused, unless `--allow-empty` asks for it.

use crate::support::*;
use vibes_build::{build, BuildError};

fn emptied(src: &std::path::Path) {
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            std::fs::remove_dir_all(&path).unwrap();
        } else {
            std::fs::remove_file(&path).unwrap();
        }
    }
}

#[test]
fn an_empty_sources_tree_does_not_remove_every_output() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, out) = (tmp.path().join("src"), tmp.path().join("out"));
    collection(&src);
    let profiles = vec![("phone".to_string(), MP3.to_string())];
    build(&options(&src, &out, profiles.clone()), &Recorder::default()).unwrap();
    let before = files(&out.join("phone"));
    assert!(!before.is_empty());

    emptied(&src);
    let err = build(&options(&src, &out, profiles.clone()), &Recorder::default())
        .expect_err("an empty tree over built outputs is refused");
    assert!(matches!(err, BuildError::EmptySources { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains("has no track"), "{message}");
    assert!(message.contains("--allow-empty"), "{message}");
    assert_eq!(files(&out.join("phone")), before, "nothing was removed");

    // Asked for, the outputs go.
    let mut opts = options(&src, &out, profiles);
    opts.allow_empty = true;
    let summary = build(&opts, &Recorder::default()).unwrap();
    assert!(summary.removed > 0, "{summary}");
    assert!(files(&out.join("phone")).is_empty());
}

#[test]
fn an_empty_sources_tree_with_nothing_built_is_no_error() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, out) = (tmp.path().join("src"), tmp.path().join("out"));
    std::fs::create_dir_all(&src).unwrap();
    let profiles = vec![("phone".to_string(), MP3.to_string())];
    let summary = build(&options(&src, &out, profiles), &Recorder::default()).unwrap();
    assert_eq!(summary.tracks, 0);
}
