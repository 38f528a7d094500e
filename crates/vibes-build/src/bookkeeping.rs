//! Where a build keeps its records: `<out>/.vibes/`, a hidden directory at the root of the output
//! tree, beside the profile directories and inside none of them. The rsync server publishes each
//! top-level directory of the builds volume as a profile and its glob matches no dot-directory, so
//! what a user fetches holds music only.
//!
//! A record is written only when it changed, through a temporary file: a rebuild with nothing to
//! do leaves every file and directory under `<out>` as it was. Records an older vibes kept inside
//! the profile directories (`<profile>/.vibes-build.json`, `<out>/.vibes-hashes.json`) are read
//! when there is no record here yet, and removed once the record is written here.

use std::io;
use std::path::{Path, PathBuf};

/// The bookkeeping directory, relative to the output root.
pub const DIR: &str = ".vibes";
/// The manifest an older vibes kept in each profile directory.
const LEGACY_MANIFEST: &str = ".vibes-build.json";
/// The hash cache an older vibes kept at the output root.
const LEGACY_HASHES: &str = ".vibes-hashes.json";

/// What each output of `profile` was built from.
pub fn manifest_path(out: &Path, profile: &str) -> PathBuf {
    out.join(DIR).join("build").join(format!("{profile}.json"))
}

pub fn legacy_manifest_path(out: &Path, profile: &str) -> PathBuf {
    out.join(profile).join(LEGACY_MANIFEST)
}

/// Source hashes by path, size and mtime.
pub fn hashes_path(out: &Path) -> PathBuf {
    out.join(DIR).join("hashes.json")
}

pub fn legacy_hashes_path(out: &Path) -> PathBuf {
    out.join(LEGACY_HASHES)
}

/// One record file: its bytes as last read or written, so that it is written again only when
/// they change, and the file an older vibes kept, to remove once this one is written.
#[derive(Debug)]
pub struct Record {
    path: PathBuf,
    /// The bytes at `path`, when known to be there.
    saved: Option<Vec<u8>>,
    legacy: Option<PathBuf>,
}

impl Record {
    /// Reads the record at `path`, else the one an older vibes left at `legacy`. Returns the
    /// bytes read (from either), or `None` when there is neither.
    pub fn open(path: PathBuf, legacy: PathBuf) -> (Record, Option<Vec<u8>>) {
        let saved = std::fs::read(&path).ok();
        let legacy = legacy.is_file().then_some(legacy);
        let bytes = match (&saved, &legacy) {
            (Some(bytes), _) => Some(bytes.clone()),
            (None, Some(old)) => std::fs::read(old).ok(),
            (None, None) => None,
        };
        (
            Record {
                path,
                saved,
                legacy,
            },
            bytes,
        )
    }

    /// Writes `bytes` unless they are what the file holds already; then removes the file an
    /// older vibes kept. Returns whether anything was written.
    pub fn save(&mut self, bytes: Vec<u8>) -> io::Result<bool> {
        let unchanged = self.saved.as_deref() == Some(bytes.as_slice());
        if unchanged && self.legacy.is_none() {
            return Ok(false);
        }
        if !unchanged {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            crate::atomic::write(&self.path, &bytes)?;
            self.saved = Some(bytes);
        }
        if let Some(old) = self.legacy.take() {
            match std::fs::remove_file(&old) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(!unchanged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_written_only_when_it_changes() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path();
        let (mut r, bytes) = Record::open(
            manifest_path(out, "phone"),
            legacy_manifest_path(out, "phone"),
        );
        assert_eq!(bytes, None);
        assert!(r.save(b"one".to_vec()).unwrap());
        assert!(!r.save(b"one".to_vec()).unwrap(), "the same bytes again");
        let (mut r, bytes) = Record::open(
            manifest_path(out, "phone"),
            legacy_manifest_path(out, "phone"),
        );
        assert_eq!(bytes.as_deref(), Some(&b"one"[..]));
        assert!(!r.save(b"one".to_vec()).unwrap(), "as read");
        assert!(r.save(b"two".to_vec()).unwrap());
        assert_eq!(std::fs::read(manifest_path(out, "phone")).unwrap(), b"two");
    }

    #[test]
    fn a_record_left_in_a_profile_directory_is_read_then_moved_out() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path();
        let old = legacy_manifest_path(out, "phone");
        std::fs::create_dir_all(old.parent().unwrap()).unwrap();
        std::fs::write(&old, b"old").unwrap();
        let (mut r, bytes) = Record::open(manifest_path(out, "phone"), old.clone());
        assert_eq!(bytes.as_deref(), Some(&b"old"[..]));
        assert!(
            r.save(b"old".to_vec()).unwrap(),
            "moved even when unchanged"
        );
        assert!(!old.exists(), "the profile directory keeps no record");
        assert_eq!(std::fs::read(manifest_path(out, "phone")).unwrap(), b"old");
        assert!(manifest_path(out, "phone").starts_with(out.join(DIR)));
    }
}
