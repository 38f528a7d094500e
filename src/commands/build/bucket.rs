//! `vibes build --sources-bucket`: the worker's sources tree, read from the sources bucket as
//! the compile needs it. The bucket's listing (through its manifest: one read, every object's
//! size and SHA-256) says what the tree holds. Small files (tags, options, pictures, playlists)
//! are fetched at once; each audio file stands as an empty placeholder whose hash is known, and
//! the compile fetches only the audio it encodes from (`vibes_build::Deferred`). Every download
//! is checked against the manifest's SHA-256 before it takes its place. Files the bucket no
//! longer holds are removed from the local tree, as `aws s3 sync --delete` did.

use miette::{miette, IntoDiagnostic, Result, WrapErr};
use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use vibes_aws::AwsCloud;
use vibes_build::source::InputFormat;
use vibes_build::{relative_key as slash, FetchSources};
use vibes_core::cloud::prelude::*;
use vibes_core::observed::ObservedObject;

/// Downloads at once: S3 serves each connection at a fraction of an instance's bandwidth.
const CONCURRENCY: usize = 16;
/// Attempts per object when the connection drops or the content arrives damaged.
const ATTEMPTS: u32 = 4;

/// The sources bucket as a tree on this machine, for one build.
pub struct BucketTree {
    runtime: tokio::runtime::Runtime,
    cloud: AwsCloud,
    bucket: String,
    prefix: String,
    /// The local tree, canonical (the compile's paths are).
    root: PathBuf,
    /// Relative path → the object, for every file of the tree.
    objects: BTreeMap<String, ObservedObject>,
    /// Placeholders: relative path → SHA-256.
    deferred: HashMap<String, String>,
    files_read: AtomicUsize,
    bytes_read: AtomicU64,
}

impl BucketTree {
    /// List the bucket and bring `dir` to its tree: small files fetched, audio as placeholders.
    pub fn open(bucket: &str, prefix: &str, dir: &Path) -> Result<BucketTree> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .into_diagnostic()?;
        let cloud = runtime.block_on(vibes_aws::connect(&Default::default()))?;
        let listing = runtime
            .block_on(cloud.list_bucket(bucket))
            .map_err(|e| miette!("listing the sources bucket {bucket}: {e}"))?
            .ok_or_else(|| miette!("there is no sources bucket {bucket}"))?;
        let mut objects = BTreeMap::new();
        for (key, object) in listing.objects {
            let Some(rel) = key.strip_prefix(prefix) else {
                continue;
            };
            if vibes_core::bucket_manifest::is_bookkeeping(rel) {
                continue;
            }
            if !is_plain_relative(rel) {
                return Err(miette!(
                    help = "rename the file in the sources tree and run vibes apply again",
                    "the sources bucket holds {key}, which is not a plain relative path"
                ));
            }
            objects.insert(rel.to_string(), object);
        }
        std::fs::create_dir_all(dir)
            .into_diagnostic()
            .wrap_err_with(|| format!("creating {}", dir.display()))?;
        let root = dir.canonicalize().into_diagnostic()?;
        let mut tree = BucketTree {
            runtime,
            cloud,
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            root,
            objects,
            deferred: HashMap::new(),
            files_read: AtomicUsize::new(0),
            bytes_read: AtomicU64::new(0),
        };
        tree.remove_unlisted()?;
        let mut now = Vec::new();
        for (rel, object) in &tree.objects {
            let local = tree.root.join(rel);
            if holds(&local, object) {
                continue;
            }
            match (&object.sha256, InputFormat::from_path(Path::new(rel))) {
                // Audio whose hash is known waits for the compile to ask for it.
                (Some(sha), Some(_)) => {
                    write_placeholder(&local)?;
                    tree.deferred.insert(rel.clone(), sha.clone());
                }
                _ => now.push(local),
            }
        }
        let failed = tree.fetch(&now);
        if let Some((path, why)) = failed.first() {
            return Err(miette!(
                "fetching {} (and {} more) from the sources bucket: {why}",
                path.display(),
                failed.len() - 1
            ));
        }
        Ok(tree)
    }

    /// The placeholders and their hashes, for the compile.
    pub fn deferred(&self) -> HashMap<String, String> {
        self.deferred.clone()
    }

    /// Files and bytes read from the bucket so far.
    pub fn read(&self) -> (usize, u64) {
        (
            self.files_read.load(Ordering::Relaxed),
            self.bytes_read.load(Ordering::Relaxed),
        )
    }

    /// What was read from the bucket, for the closing line.
    pub fn summary(&self) -> String {
        let total: u64 = self.objects.values().map(|o| o.size).sum();
        format!(
            "Read {} of {} files ({} of {}) from s3://{}/{}",
            self.files_read.load(Ordering::Relaxed),
            self.objects.len(),
            vibes_core::units::human_bytes(self.bytes_read.load(Ordering::Relaxed)),
            vibes_core::units::human_bytes(total),
            self.bucket,
            self.prefix
        )
    }

    /// Files under the root the bucket does not hold (and downloads a killed run left) go;
    /// `.vibes/` at the root is vibes' own.
    fn remove_unlisted(&self) -> Result<()> {
        let mut stack = vec![self.root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).into_diagnostic()? {
                let path = entry.into_diagnostic()?.path();
                let rel = path.strip_prefix(&self.root).unwrap_or(&path);
                if rel == Path::new(vibes_build::BOOKKEEPING_DIR) {
                    continue;
                }
                let meta = std::fs::symlink_metadata(&path).into_diagnostic()?;
                if meta.is_dir() {
                    stack.push(path);
                } else if !self.objects.contains_key(&slash(rel)) {
                    std::fs::remove_file(&path)
                        .into_diagnostic()
                        .wrap_err_with(|| format!("removing {}", path.display()))?;
                }
            }
        }
        Ok(())
    }

    async fn download(&self, path: &Path) -> std::result::Result<(), String> {
        let rel = slash(path.strip_prefix(&self.root).map_err(|e| e.to_string())?);
        let object = self.objects.get(&rel).ok_or("not in the sources bucket")?;
        let key = format!("{}{rel}", self.prefix);
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| e.to_string())?;
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self
                .cloud
                .download_object(&self.bucket, &key, path, object.sha256.as_deref())
                .await
            {
                Ok(bytes) => {
                    self.files_read.fetch_add(1, Ordering::Relaxed);
                    self.bytes_read.fetch_add(bytes, Ordering::Relaxed);
                    return Ok(());
                }
                Err(e) if e.is_transient() && attempt < ATTEMPTS => {
                    tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
                }
                Err(e) => return Err(e.to_string()),
            }
        }
    }
}

impl FetchSources for BucketTree {
    fn fetch(&self, paths: &[PathBuf]) -> Vec<(PathBuf, String)> {
        use futures_util::stream::{self, StreamExt};
        self.runtime.block_on(async {
            stream::iter(paths)
                .map(|p| async move { self.download(p).await.err().map(|e| (p.clone(), e)) })
                .buffer_unordered(CONCURRENCY)
                .filter_map(|failed| async move { failed })
                .collect()
                .await
        })
    }
}

/// Whether the local file is already the object (same size and content): a sources tree kept
/// on a volume between compiles is not fetched again.
fn holds(local: &Path, object: &ObservedObject) -> bool {
    let Ok(meta) = std::fs::metadata(local) else {
        return false;
    };
    let Some(want) = &object.sha256 else {
        return false;
    };
    if meta.len() != object.size || !meta.is_file() {
        return false;
    }
    vibes_profile::hashcache::sha256_file(local).is_ok_and(|have| &have == want)
}

fn write_placeholder(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).into_diagnostic()?;
    }
    std::fs::write(path, b"")
        .into_diagnostic()
        .wrap_err_with(|| format!("writing {}", path.display()))
}

/// A key the tree can hold: relative, no `..`, no empty or `.` parts.
fn is_plain_relative(rel: &str) -> bool {
    !rel.is_empty()
        && !rel
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..")
        && Path::new(rel)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_keys_make_files() {
        for ok in ["a.flac", "artist/album/1/01-x.wav", "a b/c"] {
            assert!(is_plain_relative(ok), "{ok}");
        }
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "a//b", "./a", "a/."] {
            assert!(!is_plain_relative(bad), "{bad}");
        }
    }
}
