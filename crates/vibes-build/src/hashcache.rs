//! Content hashes of source files, remembered by path, size and modification time so that a
//! rebuild of an unchanged collection reads no audio. Stored in `<out>/.vibes/hashes.json`.
//!
//! The cache itself is [`vibes_profile::hashcache`], the one the sources scan keeps too; this
//! module decides where it lives and writes it as a bookkeeping record (only when it changed).

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Mutex;

use vibes_profile::hashcache::{self, Entry};

use crate::bookkeeping::{self, Record};

#[derive(Debug)]
pub struct HashCache {
    cache: hashcache::HashCache,
    record: Mutex<Record>,
}

/// An entry of the file before the cache was shared: a bare map of path → this, no version.
/// Still read, so that the first build after an upgrade does not read the whole collection again.
#[derive(serde::Deserialize)]
struct UnversionedEntry {
    size: u64,
    mtime_ns: u128,
    sha256: String,
}

fn parse(bytes: &[u8]) -> Option<hashcache::HashCache> {
    if let Ok(cache) = serde_json::from_slice(bytes) {
        return Some(cache);
    }
    let old: BTreeMap<String, UnversionedEntry> = serde_json::from_slice(bytes).ok()?;
    let cache = hashcache::HashCache::default();
    for (path, e) in old {
        cache.insert(
            path,
            Entry {
                size: e.size,
                mtime_ns: e.mtime_ns,
                sha256: e.sha256,
            },
        );
    }
    Some(cache)
}

impl HashCache {
    pub fn load(out: &Path) -> Self {
        let (record, bytes) = Record::open(
            bookkeeping::hashes_path(out),
            bookkeeping::legacy_hashes_path(out),
        );
        HashCache {
            cache: bytes.and_then(|b| parse(&b)).unwrap_or_default(),
            record: Mutex::new(record),
        }
    }

    /// Keeps only the entries for `paths` (so removed sources are forgotten) and saves them if
    /// they changed.
    pub fn save(&self, keep: &HashSet<String>) -> std::io::Result<bool> {
        self.cache.retain(|k| keep.contains(k));
        let bytes = serde_json::to_vec(&self.cache).map_err(std::io::Error::other)?;
        self.record
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .save(bytes)
    }

    /// The SHA-256 of the file at `path`, from the cache when its size and mtime are unchanged.
    pub fn hash(&self, path: &Path) -> std::io::Result<String> {
        self.cache.hash(&path.to_string_lossy(), path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_file_is_hashed_again() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("a.wav");
        std::fs::write(&f, b"one").unwrap();
        let cache = HashCache::load(tmp.path());
        let first = cache.hash(&f).unwrap();
        assert_eq!(cache.hash(&f).unwrap(), first);
        std::fs::write(&f, b"two!").unwrap();
        assert_ne!(cache.hash(&f).unwrap(), first);
        let keep = [f.to_string_lossy().into_owned()].into_iter().collect();
        assert!(cache.save(&keep).unwrap());
        let again = HashCache::load(tmp.path());
        assert_eq!(again.hash(&f).unwrap(), cache.hash(&f).unwrap());
        assert!(!again.save(&keep).unwrap(), "nothing new: nothing written");
    }

    #[test]
    fn a_cache_from_before_the_version_is_still_read() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("a.wav");
        std::fs::write(&f, b"one").unwrap();
        let meta = std::fs::metadata(&f).unwrap();
        let key = f.to_string_lossy().into_owned();
        let old = serde_json::json!({ key.clone(): {
            "size": meta.len(),
            "mtime_ns": hashcache::mtime_ns(&meta).unwrap(),
            "sha256": "remembered",
        }});
        let path = bookkeeping::hashes_path(tmp.path());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, serde_json::to_vec(&old).unwrap()).unwrap();
        let cache = HashCache::load(tmp.path());
        assert_eq!(cache.hash(&f).unwrap(), "remembered", "not read again");
        assert!(cache.save(&[key].into_iter().collect()).unwrap());
        let written = std::fs::read_to_string(&path).unwrap();
        assert!(written.starts_with(r#"{"version":1,"#), "{written}");
    }
}
