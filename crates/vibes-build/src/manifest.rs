//! What a profile directory holds: `<out>/<profile>/.vibes-build.json`, one record per output
//! with the keys it was built from. An output whose keys still match is up to date.

use std::collections::BTreeMap;
use std::path::Path;

pub const FILE_NAME: &str = ".vibes-build.json";
const VERSION: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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

impl Manifest {
    /// Reads the manifest of a profile directory. A missing or unreadable one (from an older
    /// vibes, or damaged) is an empty one: every output is then built again, never trusted.
    pub fn load(dir: &Path) -> Self {
        std::fs::read(dir.join(FILE_NAME))
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Manifest>(&bytes).ok())
            .filter(|m| m.version == VERSION)
            .unwrap_or(Manifest {
                version: VERSION,
                ..Default::default()
            })
    }

    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        crate::atomic::write(&dir.join(FILE_NAME), &bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_forgets_damaged_files() {
        let tmp = tempfile::tempdir().unwrap();
        let mut m = Manifest::load(tmp.path());
        assert!(m.outputs.is_empty());
        m.outputs.insert(
            "a/1-x.mp3".into(),
            OutputRecord {
                source: "a/1-x.wav".into(),
                audio: "1".into(),
                tags: "2".into(),
            },
        );
        m.save(tmp.path()).unwrap();
        assert_eq!(Manifest::load(tmp.path()), m);
        std::fs::write(tmp.path().join(FILE_NAME), b"{ half").unwrap();
        assert!(Manifest::load(tmp.path()).outputs.is_empty());
    }
}
