//! Reading the local sources tree into a [`Manifest`]: every file's size and SHA-256.
//!
//! Hashing a large collection is the slow part of planning a sync, so hashes are cached in a
//! file keyed by relative path, size and modification time: an unchanged tree is re-planned
//! by `stat`ing it, without reading a byte of audio. The cache is the compile engine's too
//! ([`vibes_profile::hashcache`]); here it is keyed by the path relative to the tree.

use crate::model::{FileEntry, Manifest};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use vibes_profile::hashcache::{self, Entry, HashCache};

pub use vibes_profile::hashcache::sha256_file;

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("cannot read the sources tree at {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is a symbolic link that leads outside the sources tree; vibes does not follow it"
    )]
    LinkOutside { path: PathBuf },
    #[error("{path}: file names must be UTF-8 to become S3 keys")]
    NotUtf8 { path: PathBuf },
}

/// What a scan did, for the plan's figures and for benchmarks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ScanStats {
    pub files: usize,
    /// Files whose content was read and hashed (the rest came from the cache).
    pub hashed: usize,
    pub hashed_bytes: u64,
}

/// Scan `root` into a manifest. `cache` is the hash cache file (created or refreshed);
/// `None` hashes everything. Hidden files and directories (a leading `.`) are skipped, and so
/// are the directories of a mustup tree that hold no sources (see [`left_out`]).
pub fn scan(root: &Path, cache: Option<&Path>) -> Result<(Manifest, ScanStats), ScanError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ScanError::Io { path, source }
    };
    let real_root = root.canonicalize().map_err(io(root))?;
    let mut found = Vec::new();
    walk(&real_root, &real_root, String::new(), &mut found)?;
    // A cache that cannot be read, or of another version, is started afresh.
    let hashes: HashCache = cache
        .and_then(|c| std::fs::read(c).ok())
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();

    let mut entries: BTreeMap<String, FileEntry> = BTreeMap::new();
    let mut to_hash = Vec::new();
    for (rel, path, size, mtime) in found {
        match hashes.get(&rel, size, mtime) {
            Some(sha256) => {
                entries.insert(rel, FileEntry { size, sha256 });
            }
            None => to_hash.push((rel, path, size, mtime)),
        }
    }
    let stats = ScanStats {
        files: entries.len() + to_hash.len(),
        hashed: to_hash.len(),
        hashed_bytes: to_hash.iter().map(|t| t.2).sum(),
    };
    let hashed = hash_all(&to_hash)?;
    for ((rel, _, size, mtime), sha) in to_hash.into_iter().zip(hashed) {
        entries.insert(
            rel.clone(),
            FileEntry {
                size,
                sha256: sha.clone(),
            },
        );
        hashes.insert(
            rel,
            Entry {
                size,
                mtime_ns: mtime,
                sha256: sha,
            },
        );
    }
    if let Some(cache) = cache {
        // Cache hits carry over; files gone from the tree drop out.
        hashes.retain(|rel| entries.contains_key(rel));
        if hashes.changed() {
            write_cache(cache, &hashes);
        }
    }
    Ok((Manifest { files: entries }, stats))
}

/// The cache is an optimisation: failing to write it costs time next run, nothing else.
fn write_cache(path: &Path, cache: &HashCache) {
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let tmp = path.with_extension("tmp");
    if std::fs::write(&tmp, serde_json::to_vec(cache).unwrap_or_default()).is_ok() {
        let _ = std::fs::rename(&tmp, path);
    }
}

fn walk(
    root: &Path,
    dir: &Path,
    prefix: String,
    out: &mut Vec<(String, PathBuf, u64, u128)>,
) -> Result<(), ScanError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ScanError::Io { path, source }
    };
    let mut items: Vec<_> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .collect::<Result<_, _>>()
        .map_err(io(dir))?;
    items.sort_by_key(|e| e.file_name());
    for item in items {
        let name = item.file_name();
        let Some(name) = name.to_str() else {
            return Err(ScanError::NotUtf8 { path: item.path() });
        };
        if name.starts_with('.') {
            continue;
        }
        let path = item.path();
        let rel = if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}/{name}")
        };
        let mut meta = std::fs::symlink_metadata(&path).map_err(io(&path))?;
        if meta.file_type().is_symlink() {
            let target = path.canonicalize().map_err(io(&path))?;
            if !target.starts_with(root) {
                return Err(ScanError::LinkOutside { path });
            }
            meta = std::fs::metadata(&target).map_err(io(&path))?;
        }
        if meta.is_dir() {
            if prefix.is_empty() && left_out(root, name, &path) {
                continue;
            }
            walk(root, &path, rel, out)?;
        } else if meta.is_file() {
            let mtime = hashcache::mtime_ns(&meta).unwrap_or(0);
            out.push((rel, path, meta.len(), mtime));
        }
    }
    Ok(())
}

/// Directories at the root of a mustup tree that are not sources: tup's output variants (a
/// directory holding `tup.config`, full of encoded files) and, beside mustup's `Tupfile`,
/// its `utils/` scripts. Their tup.config files are profiles, read by `config =`, not synced.
fn left_out(root: &Path, name: &str, path: &Path) -> bool {
    path.join("tup.config").is_file() || (name == "utils" && root.join("Tupfile").is_file())
}

/// Hash files on all cores.
fn hash_all(to_hash: &[(String, PathBuf, u64, u128)]) -> Result<Vec<String>, ScanError> {
    if to_hash.is_empty() {
        return Ok(Vec::new());
    }
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .min(to_hash.len());
    let next = Mutex::new(0usize);
    let results: Mutex<Vec<Option<Result<String, ScanError>>>> =
        Mutex::new((0..to_hash.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = {
                    let mut n = next.lock().unwrap();
                    let i = *n;
                    *n += 1;
                    i
                };
                let Some((_, path, _, _)) = to_hash.get(i) else {
                    break;
                };
                let r = sha256_file(path).map_err(|source| ScanError::Io {
                    path: path.clone(),
                    source,
                });
                results.lock().unwrap()[i] = Some(r);
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.expect("every file hashed"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn scans_hashes_and_caches() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("music");
        std::fs::create_dir_all(root.join("ccr/bayou_country/1")).unwrap();
        std::fs::write(root.join("ccr/tags.vc"), "ARTIST=CCR\n").unwrap();
        std::fs::write(
            root.join("ccr/bayou_country/1/1-born_on_the_bayou.wav"),
            b"RIFF....",
        )
        .unwrap();
        std::fs::write(root.join(".DS_Store"), b"x").unwrap();
        let cache = dir.path().join("cache.json");
        let (m, stats) = scan(&root, Some(&cache)).unwrap();
        assert_eq!(
            m.files.keys().collect::<Vec<_>>(),
            ["ccr/bayou_country/1/1-born_on_the_bayou.wav", "ccr/tags.vc"]
        );
        assert_eq!(
            m.files["ccr/tags.vc"].sha256,
            hex::encode(Sha256::digest(b"ARTIST=CCR\n"))
        );
        assert_eq!(stats.hashed, 2);
        let written = std::fs::read_to_string(&cache).unwrap();
        assert!(
            written.starts_with(
                r#"{"version":1,"files":{"ccr/bayou_country/1/1-born_on_the_bayou.wav":[8,"#
            ),
            "keyed by relative path, in the format older caches have: {written}"
        );
        let (m2, stats2) = scan(&root, Some(&cache)).unwrap();
        assert_eq!(m, m2);
        assert_eq!(stats2.hashed, 0, "an unchanged tree is read from the cache");
        std::fs::write(root.join("ccr/tags.vc"), "ARTIST=Creedence\n").unwrap();
        let (m3, stats3) = scan(&root, Some(&cache)).unwrap();
        assert_eq!(stats3.hashed, 1);
        assert_ne!(m3.revision(), m.revision());
    }

    #[test]
    fn a_mustup_tree_leaves_out_its_outputs_and_utils() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("music");
        for (rel, text) in [
            ("Tupfile", ""),
            ("a.pl.yaml", "tracks: []\n"),
            ("mustup-metadata.yaml", "---\n"),
            ("sr/ab/mustup-manifest.yaml", "---\n"),
            ("sr/ab/01.wave", "RIFF"),
            ("sr/ab/cover-front.jpeg", "x"),
            ("output-home/tup.config", "CONFIG_ENCODER=flac\n"),
            ("output-home/sr/ab/01.flac", "fLaC"),
            ("utils/export.sh", "#!/bin/sh\n"),
        ] {
            std::fs::create_dir_all(root.join(rel).parent().unwrap()).unwrap();
            std::fs::write(root.join(rel), text).unwrap();
        }
        let (m, _) = scan(&root, None).unwrap();
        assert_eq!(
            m.files.keys().collect::<Vec<_>>(),
            [
                "Tupfile",
                "a.pl.yaml",
                "mustup-metadata.yaml",
                "sr/ab/01.wave",
                "sr/ab/cover-front.jpeg",
                "sr/ab/mustup-manifest.yaml"
            ]
        );
    }

    #[test]
    fn refuses_links_out_of_the_tree() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("music");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(dir.path().join("secret"), "x").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret"), root.join("leak")).unwrap();
        assert!(matches!(
            scan(&root, None),
            Err(ScanError::LinkOutside { .. })
        ));
    }
}
