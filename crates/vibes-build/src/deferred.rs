//! Sources that are listed but not on disk yet. On a worker, the sources bucket's manifest
//! holds every object's size and SHA-256: the tree's small files (tags, options, pictures,
//! playlists) are fetched first, and each audio file stands as an empty placeholder with its
//! hash known. The build decides from those hashes and its records which outputs are stale, and
//! asks for exactly the audio it must encode from: a tag edit or a new album reads that much
//! from S3, not the collection.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Brings listed files onto disk.
pub trait FetchSources: Sync {
    /// Fetch these files (absolute paths under the sources root, each once), replacing their
    /// placeholders. Returns the ones that could not be fetched, each with why.
    fn fetch(&self, paths: &[PathBuf]) -> Vec<(PathBuf, String)>;
}

/// The audio files standing as placeholders, by path relative to the sources root ('/'
/// separated), with the hex SHA-256 of their content, and how to fetch them.
pub struct Deferred<'a> {
    pub hashes: HashMap<String, String>,
    pub fetch: &'a dyn FetchSources,
}

impl Deferred<'_> {
    /// The known hash of the file at `path`, when it is one of the placeholders.
    pub(crate) fn hash_of(&self, root: &Path, path: &Path) -> Option<&String> {
        let rel = path.strip_prefix(root).ok()?;
        self.hashes.get(&crate::relpath::slash(rel))
    }

    /// Fetch the placeholders among `sources`; the map holds the ones that failed, with why.
    pub(crate) fn fetch_needed(
        &self,
        root: &Path,
        sources: impl IntoIterator<Item = PathBuf>,
    ) -> HashMap<PathBuf, String> {
        let mut seen = HashSet::new();
        let needed: Vec<PathBuf> = sources
            .into_iter()
            .filter(|p| self.hash_of(root, p).is_some() && seen.insert(p.clone()))
            .collect();
        if needed.is_empty() {
            return HashMap::new();
        }
        self.fetch
            .fetch(&needed)
            .into_iter()
            .map(|(path, why)| {
                let message = format!("cannot fetch source {}: {why}", path.display());
                (path, message)
            })
            .collect()
    }
}
