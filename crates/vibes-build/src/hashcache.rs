//! Content hashes of source files, remembered by path, size and modification time so that a
//! rebuild of an unchanged collection reads no audio. Stored in `<out>/.vibes/hashes.json`.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::sync::Mutex;
use std::time::UNIX_EPOCH;

use sha2::{Digest, Sha256};

use crate::bookkeeping::{self, Record};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Entry {
    size: u64,
    mtime_ns: u128,
    sha256: String,
}

#[derive(Debug)]
pub struct HashCache {
    entries: Mutex<BTreeMap<String, Entry>>,
    record: Mutex<Record>,
}

impl HashCache {
    pub fn load(out: &Path) -> Self {
        let (record, bytes) = Record::open(
            bookkeeping::hashes_path(out),
            bookkeeping::legacy_hashes_path(out),
        );
        let entries = bytes
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        HashCache {
            entries: Mutex::new(entries),
            record: Mutex::new(record),
        }
    }

    /// Keeps only the entries for `paths` (so removed sources are forgotten) and saves them if
    /// they changed.
    pub fn save(&self, keep: &std::collections::HashSet<String>) -> std::io::Result<bool> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|k, _| keep.contains(k));
        let bytes = serde_json::to_vec(&*entries).map_err(std::io::Error::other)?;
        self.record
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .save(bytes)
    }

    /// The SHA-256 of the file at `path`, from the cache when its size and mtime are unchanged.
    pub fn hash(&self, path: &Path) -> std::io::Result<String> {
        let meta = std::fs::metadata(path)?;
        let mtime_ns = meta
            .modified()?
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let key = path.to_string_lossy().into_owned();
        if let Some(e) = self
            .entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            if e.size == meta.len() && e.mtime_ns == mtime_ns {
                return Ok(e.sha256.clone());
            }
        }
        let mut file = std::fs::File::open(path)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        let sha256 = hex::encode(hasher.finalize());
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                key,
                Entry {
                    size: meta.len(),
                    mtime_ns,
                    sha256: sha256.clone(),
                },
            );
        Ok(sha256)
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
}
