//! A build over a tree whose audio stands as empty placeholders with known hashes, as on a
//! worker reading the sources bucket: only the audio an output is encoded from is fetched, each
//! file once; an unchanged tree fetches nothing; a tag edit fetches at most the audio of the
//! edited track; a new album fetches that album.

use crate::support::*;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use vibes_build::{build, build_with, Deferred, FetchSources};

fn is_audio(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("wav" | "aiff" | "flac")
    )
}

/// Copies `original` to `worker`, every audio file an empty placeholder; returns the
/// placeholders' hashes by relative path.
fn placeholders(original: &Path, worker: &Path) -> HashMap<String, String> {
    let _ = std::fs::remove_dir_all(worker);
    let mut hashes = HashMap::new();
    for rel in files(original) {
        let from = original.join(&rel);
        let to = worker.join(&rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        if is_audio(&from) {
            let body = std::fs::read(&from).unwrap();
            hashes.insert(rel.clone(), hex::encode(Sha256::digest(&body)));
            std::fs::write(&to, b"").unwrap();
        } else {
            std::fs::copy(&from, &to).unwrap();
        }
    }
    hashes
}

/// Fetches by copying from the original tree, recording what it was asked for.
struct CopyFrom {
    original: PathBuf,
    root: PathBuf,
    asked: Mutex<Vec<String>>,
    broken: Option<String>,
}

impl CopyFrom {
    fn new(original: &Path, worker: &Path) -> CopyFrom {
        CopyFrom {
            original: original.to_path_buf(),
            root: worker.canonicalize().unwrap(),
            asked: Mutex::default(),
            broken: None,
        }
    }

    fn asked(&self) -> Vec<String> {
        let mut v = self.asked.lock().unwrap().clone();
        v.sort();
        v
    }
}

impl FetchSources for CopyFrom {
    fn fetch(&self, paths: &[PathBuf]) -> Vec<(PathBuf, String)> {
        let mut failed = Vec::new();
        for path in paths {
            let rel = path.strip_prefix(&self.root).unwrap().to_string_lossy();
            self.asked.lock().unwrap().push(rel.to_string());
            if self.broken.as_deref() == Some(&rel) {
                failed.push((path.clone(), "connection reset".to_string()));
                continue;
            }
            std::fs::copy(self.original.join(&*rel), path).unwrap();
        }
        failed
    }
}

fn build_over_placeholders(
    original: &Path,
    worker: &Path,
    out: &Path,
    broken: Option<&str>,
) -> (vibes_build::BuildSummary, Vec<String>) {
    let hashes = placeholders(original, worker);
    let mut fetch = CopyFrom::new(original, worker);
    fetch.broken = broken.map(str::to_string);
    let deferred = Deferred {
        hashes,
        fetch: &fetch,
    };
    let summary = build_with(
        &options(worker, out, all_profiles()),
        &Recorder::default(),
        Some(&deferred),
    )
    .unwrap();
    (summary, fetch.asked())
}

/// The collection in a stand-in bucket, and where the worker's tree and the outputs go.
fn trees() -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let [original, worker, out] = ["bucket", "worker", "out"].map(|d| tmp.path().join(d));
    collection(&original);
    (tmp, original, worker, out)
}

const AUDIO: [&str; 3] = [
    "ccr/bayou_country/1/01-born_on_the_bayou.wav",
    "ccr/bayou_country/1/02-bootleg.aiff",
    "kinks/village_green/01-village_green.flac",
];

#[test]
fn the_first_build_fetches_each_audio_file_it_encodes_once_and_makes_what_a_full_tree_makes() {
    let (tmp, original, worker, out) = trees();
    let (summary, asked) = build_over_placeholders(&original, &worker, &out, None);
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);
    // The skipped outtake (`encode-`) is never fetched; every other audio file once, for all
    // four profiles.
    assert_eq!(asked, AUDIO);
    let full = tmp.path().join("full");
    let reference = build(
        &options(&original, &full, all_profiles()),
        &Recorder::default(),
    )
    .unwrap();
    assert_eq!(summary.encoded, reference.encoded);
    assert_eq!(files(&out), files(&full));
}

#[test]
fn an_unchanged_tree_fetches_nothing_a_tag_edit_at_most_its_track_and_a_new_album_that_album() {
    let (_tmp, original, worker, out) = trees();
    build_over_placeholders(&original, &worker, &out, None);

    // A new worker, the same builds: nothing to fetch, nothing to do.
    let (summary, asked) = build_over_placeholders(&original, &worker, &out, None);
    assert!(asked.is_empty(), "fetched {asked:?}");
    assert_eq!(summary.encoded + summary.retagged, 0);

    // One tag edited: the formats that retag in place fetch nothing; the others re-encode
    // that one track, and nothing else is read.
    write(
        &original.join("kinks/village_green/01-village_green.tags.vc"),
        "TITLE=The Village Green Preservation Society\n",
    );
    let (summary, asked) = build_over_placeholders(&original, &worker, &out, None);
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);
    assert!(summary.retagged > 0, "{summary}");
    assert!(
        asked.is_empty() || asked == ["kinks/village_green/01-village_green.flac"],
        "fetched {asked:?}"
    );

    // A new album: exactly its audio.
    write(
        &original.join("kinks/arthur/tags.vc"),
        "ARTIST=The Kinks\nALBUM=Arthur\n",
    );
    write_wav(&original.join("kinks/arthur/01-victoria.wav"), 0.3, 520.0);
    let (summary, asked) = build_over_placeholders(&original, &worker, &out, None);
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);
    assert_eq!(asked, ["kinks/arthur/01-victoria.wav"]);
}

#[test]
fn a_source_that_cannot_be_fetched_fails_its_outputs_only_and_says_why() {
    let (_tmp, original, worker, out) = trees();
    let broken = "ccr/bayou_country/1/02-bootleg.aiff";
    let (summary, _) = build_over_placeholders(&original, &worker, &out, Some(broken));
    assert_eq!(
        summary.failed.len(),
        all_profiles().len(),
        "{:?}",
        summary.failed
    );
    for f in &summary.failed {
        assert!(f.source.ends_with("02-bootleg.aiff"), "{f:?}");
        assert!(f.message.contains("cannot fetch source"), "{}", f.message);
        assert!(f.message.contains("connection reset"), "{}", f.message);
    }
    // The failed outputs are not recorded: the next build (fetch working) makes them.
    let (summary, asked) = build_over_placeholders(&original, &worker, &out, None);
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);
    assert_eq!(asked, [broken]);
}
