//! Content hashes of files, remembered by key, size and modification time: a file whose size and
//! mtime match its entry is not read again. The sources scan before a sync (vibes-core, keyed by
//! path relative to the sources tree) and the compile engine (vibes-build, keyed by the path it
//! reads) both keep one; each decides where the file lives and when it is written.
//!
//! On disk (JSON, through serde): `{"version":1,"files":{"KEY":[size,mtime_ns,"sha256"]}}`. A
//! cache of another version does not deserialize, and is rebuilt: it is only a shortcut.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::sync::Mutex;
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// The format of the cache file. Bump it when an entry's meaning changes: an old file is then
/// ignored instead of misread.
pub const VERSION: u32 = 1;

/// What the cache knows of one file. Stored as `[size, mtime_ns, sha256]`: a collection has tens
/// of thousands of files, and the cache is read on every plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "(u64, u128, String)", into = "(u64, u128, String)")]
pub struct Entry {
    pub size: u64,
    /// Modification time in nanoseconds since the Unix epoch.
    pub mtime_ns: u128,
    /// Hex SHA-256 of the content.
    pub sha256: String,
}

impl From<(u64, u128, String)> for Entry {
    fn from((size, mtime_ns, sha256): (u64, u128, String)) -> Self {
        Entry {
            size,
            mtime_ns,
            sha256,
        }
    }
}

impl From<Entry> for (u64, u128, String) {
    fn from(e: Entry) -> Self {
        (e.size, e.mtime_ns, e.sha256)
    }
}

/// A hash cache. Shared between threads that hash files in parallel, hence the lock.
#[derive(Debug, Default)]
pub struct HashCache {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    files: BTreeMap<String, Entry>,
    /// Whether anything was added, replaced or dropped since the cache was read: an unchanged
    /// cache need not be written.
    changed: bool,
}

impl HashCache {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A thread that panicked mid-insert leaves a map that is still a valid cache.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The hash of `key` if its entry has this size and mtime.
    pub fn get(&self, key: &str, size: u64, mtime_ns: u128) -> Option<String> {
        self.inner()
            .files
            .get(key)
            .filter(|e| e.size == size && e.mtime_ns == mtime_ns)
            .map(|e| e.sha256.clone())
    }

    /// Records what `key` holds now.
    pub fn insert(&self, key: String, entry: Entry) {
        let mut inner = self.inner();
        if inner.files.get(&key) != Some(&entry) {
            inner.files.insert(key, entry);
            inner.changed = true;
        }
    }

    /// Keeps only the entries `keep` accepts, so that files gone are forgotten.
    pub fn retain(&self, mut keep: impl FnMut(&str) -> bool) {
        let mut inner = self.inner();
        let before = inner.files.len();
        inner.files.retain(|k, _| keep(k));
        if inner.files.len() != before {
            inner.changed = true;
        }
    }

    /// Whether the cache differs from what was read.
    pub fn changed(&self) -> bool {
        self.inner().changed
    }

    pub fn len(&self) -> usize {
        self.inner().files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The SHA-256 of the file at `path`, cached under `key`: from the cache when the file's size
    /// and mtime are unchanged, else read and remembered.
    pub fn hash(&self, key: &str, path: &Path) -> std::io::Result<String> {
        let meta = std::fs::metadata(path)?;
        let mtime_ns = mtime_ns(&meta)?;
        if let Some(sha256) = self.get(key, meta.len(), mtime_ns) {
            return Ok(sha256);
        }
        // Read without the lock: other threads hash other files meanwhile.
        let sha256 = sha256_file(path)?;
        self.insert(
            key.to_string(),
            Entry {
                size: meta.len(),
                mtime_ns,
                sha256: sha256.clone(),
            },
        );
        Ok(sha256)
    }
}

/// Borrowed form of the file, to write it without copying every entry.
#[derive(Serialize)]
struct OnDiskRef<'a> {
    version: u32,
    files: &'a BTreeMap<String, Entry>,
}

#[derive(Deserialize)]
struct OnDisk {
    version: u32,
    files: BTreeMap<String, Entry>,
}

impl Serialize for HashCache {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let inner = self.inner();
        OnDiskRef {
            version: VERSION,
            files: &inner.files,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for HashCache {
    /// Refuses a cache of another version: callers start from an empty one instead.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let on_disk = OnDisk::deserialize(deserializer)?;
        if on_disk.version != VERSION {
            return Err(serde::de::Error::custom(format!(
                "hash cache version {}, expected {VERSION}",
                on_disk.version
            )));
        }
        Ok(HashCache {
            inner: Mutex::new(Inner {
                files: on_disk.files,
                changed: false,
            }),
        })
    }
}

/// A file's modification time in nanoseconds since the Unix epoch; 0 before it.
pub fn mtime_ns(meta: &std::fs::Metadata) -> std::io::Result<u128> {
    Ok(meta
        .modified()?
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0))
}

/// Hex SHA-256 of a file's content.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_file_is_hashed_again() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("a.wav");
        std::fs::write(&f, b"one").unwrap();
        let cache = HashCache::default();
        let first = cache.hash("a.wav", &f).unwrap();
        assert_eq!(first, hex::encode(Sha256::digest(b"one")));
        assert!(cache.changed());
        assert_eq!(cache.hash("a.wav", &f).unwrap(), first);
        std::fs::write(&f, b"two!").unwrap();
        assert_ne!(cache.hash("a.wav", &f).unwrap(), first);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn reads_back_what_it_wrote_and_nothing_else() {
        let cache = HashCache::default();
        let entry = Entry {
            size: 4,
            mtime_ns: 1_700_000_000_123_456_789,
            sha256: "ab".into(),
        };
        cache.insert("ccr/tags.vc".into(), entry.clone());
        let json = serde_json::to_string(&cache).unwrap();
        // The format the sources scan has always written: its caches stay warm.
        assert_eq!(
            json,
            r#"{"version":1,"files":{"ccr/tags.vc":[4,1700000000123456789,"ab"]}}"#
        );
        let again: HashCache = serde_json::from_str(&json).unwrap();
        assert!(!again.changed(), "as read");
        assert_eq!(
            again.get("ccr/tags.vc", 4, entry.mtime_ns).as_deref(),
            Some("ab")
        );
        assert_eq!(again.get("ccr/tags.vc", 5, entry.mtime_ns), None);
        again.insert("ccr/tags.vc".into(), entry);
        assert!(!again.changed(), "the same entry again");
        again.retain(|k| k != "ccr/tags.vc");
        assert!(again.changed() && again.is_empty());

        assert!(serde_json::from_str::<HashCache>(&json.replace(":1,", ":2,")).is_err());
        assert!(serde_json::from_str::<HashCache>(r#"{"/x":{"size":1}}"#).is_err());
    }
}
