//! The sources bucket's manifest: one object, written by vibes after each sync, that records
//! each object's size, SHA-256 and ETag. S3 listings carry sizes and ETags but no content
//! hash; with the manifest, reading a bucket costs one listing per 1000 objects plus one read
//! of the manifest, instead of one HeadObject per object. An entry is trusted only while the
//! listing shows the same size and ETag, so an object changed behind vibes' back is read again.

use crate::observed::ObservedObject;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use crate::observed::{is_bookkeeping, MANIFEST_KEY};

/// The manifest's format version, so a later vibes can change the format and ignore old ones.
pub const MANIFEST_FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BucketManifest {
    pub format: u32,
    /// The sources revision the bucket held when the manifest was written.
    pub revision: String,
    /// Key → what vibes knows of the object.
    pub objects: BTreeMap<String, ManifestEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    pub size: u64,
    /// Hex SHA-256 of the content.
    pub sha256: String,
    /// The ETag S3 listed for the object when the manifest was written (quotes included, as S3
    /// gives it). `None` when the writer could not know it: such entries are never trusted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

/// Why a manifest could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{MANIFEST_KEY} is not a vibes manifest: {0}")]
    Parse(#[from] serde_json::Error),
    #[error("{MANIFEST_KEY} has format {found}; this vibes reads format {MANIFEST_FORMAT}")]
    Format { found: u32 },
}

impl BucketManifest {
    pub fn new(revision: impl Into<String>) -> Self {
        BucketManifest {
            format: MANIFEST_FORMAT,
            revision: revision.into(),
            objects: BTreeMap::new(),
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a manifest serializes")
    }

    pub fn from_json(bytes: &[u8]) -> Result<Self, ManifestError> {
        let m: BucketManifest = serde_json::from_slice(bytes)?;
        if m.format != MANIFEST_FORMAT {
            return Err(ManifestError::Format { found: m.format });
        }
        Ok(m)
    }

    /// The object's SHA-256 if the manifest vouches for it: the listing shows the size and
    /// ETag recorded when the manifest was written.
    pub fn trusted_sha256(&self, key: &str, size: u64, etag: Option<&str>) -> Option<&str> {
        let e = self.objects.get(key)?;
        let recorded = e.etag.as_deref()?;
        (e.size == size && Some(recorded) == etag).then_some(e.sha256.as_str())
    }
}

/// What a sync knows of the objects it uploaded: key → size and SHA-256.
pub type Uploaded = BTreeMap<String, ObservedObject>;

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> BucketManifest {
        let mut m = BucketManifest::new("r1");
        m.objects.insert(
            "a/1.flac".into(),
            ManifestEntry {
                size: 3,
                sha256: "ab".repeat(32),
                etag: Some("\"e1\"".into()),
            },
        );
        m.objects.insert(
            "a/2.flac".into(),
            ManifestEntry {
                size: 3,
                sha256: "cd".repeat(32),
                etag: None,
            },
        );
        m
    }

    #[test]
    fn an_entry_is_trusted_only_while_size_and_etag_match_the_listing() {
        let m = manifest();
        assert_eq!(
            m.trusted_sha256("a/1.flac", 3, Some("\"e1\"")),
            Some("ab".repeat(32).as_str())
        );
        assert_eq!(
            m.trusted_sha256("a/1.flac", 4, Some("\"e1\"")),
            None,
            "size changed"
        );
        assert_eq!(
            m.trusted_sha256("a/1.flac", 3, Some("\"e2\"")),
            None,
            "object rewritten"
        );
        assert_eq!(
            m.trusted_sha256("a/2.flac", 3, Some("\"e1\"")),
            None,
            "no recorded ETag"
        );
        assert_eq!(m.trusted_sha256("missing", 3, Some("\"e1\"")), None);
    }

    #[test]
    fn manifests_round_trip_and_other_formats_are_refused() {
        let m = manifest();
        assert_eq!(BucketManifest::from_json(&m.to_json()).unwrap(), m);
        let mut future = m.clone();
        future.format = 2;
        assert!(matches!(
            BucketManifest::from_json(&future.to_json()),
            Err(ManifestError::Format { found: 2 })
        ));
        assert!(BucketManifest::from_json(b"not json").is_err());
    }
}
