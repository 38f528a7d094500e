//! What a profile's outputs were built from: `<out>/.vibes/build/<profile>.json`, one record per
//! output with the keys it was built from. An output whose keys still match is up to date.

use crate::bookkeeping::{self, Record};
use std::collections::BTreeMap;
use std::path::Path;

const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub version: u32,
    /// Output path (relative to the profile directory, `/`-separated) → its record.
    pub outputs: BTreeMap<String, OutputRecord>,
    /// Playlist path → hash of its text.
    pub playlists: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OutputRecord {
    /// The source audio file, relative to the sources root.
    pub source: String,
    /// Hash of the input audio, the profile text and the encoder's version.
    pub audio: String,
    /// Hash of the effective tags and pictures.
    pub tags: String,
}

impl Default for Manifest {
    fn default() -> Self {
        Manifest {
            version: VERSION,
            outputs: BTreeMap::new(),
            playlists: BTreeMap::new(),
        }
    }
}

/// A profile's manifest with the file it is kept in.
#[derive(Debug)]
pub struct StoredManifest {
    pub manifest: Manifest,
    record: Record,
}

impl StoredManifest {
    /// Reads the manifest of `profile` under the output root `out`. A missing or unreadable one
    /// (damaged, or of another format) is an empty one: every output is then built again, never
    /// trusted.
    pub fn load(out: &Path, profile: &str) -> Self {
        let (record, bytes) = Record::open(
            bookkeeping::manifest_path(out, profile),
            bookkeeping::legacy_manifest_path(out, profile),
        );
        let manifest = bytes
            .and_then(|bytes| serde_json::from_slice::<Manifest>(&bytes).ok())
            .filter(|m| m.version == VERSION)
            .unwrap_or_default();
        StoredManifest { manifest, record }
    }

    /// Writes the manifest if it changed since it was read or last written.
    pub fn save(&mut self) -> std::io::Result<bool> {
        let bytes = serde_json::to_vec_pretty(&self.manifest).map_err(std::io::Error::other)?;
        self.record.save(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_forgets_damaged_files() {
        let tmp = tempfile::tempdir().unwrap();
        let mut m = StoredManifest::load(tmp.path(), "phone");
        assert!(m.manifest.outputs.is_empty());
        m.manifest.outputs.insert(
            "a/1-x.mp3".into(),
            OutputRecord {
                source: "a/1-x.wav".into(),
                audio: "1".into(),
                tags: "2".into(),
            },
        );
        assert!(m.save().unwrap());
        assert!(!m.save().unwrap(), "unchanged: not written again");
        assert_eq!(
            StoredManifest::load(tmp.path(), "phone").manifest,
            m.manifest
        );
        std::fs::write(bookkeeping::manifest_path(tmp.path(), "phone"), b"{ half").unwrap();
        assert!(StoredManifest::load(tmp.path(), "phone")
            .manifest
            .outputs
            .is_empty());
    }
}
