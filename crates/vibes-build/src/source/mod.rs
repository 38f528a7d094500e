//! Reading a sources tree, in either format vibes knows (docs/source-formats.md):
//! - the vibes format: artist/album/disc directories holding audio files, inherited `tags.vc`
//!   and `vibes.txt` files, and per-track `<base>.tags.vc` / `<base>.vibes.txt`;
//! - the mustup format: `mustup-manifest.yaml` listing a directory's tracks, inherited
//!   `mustup-metadata.yaml`, and `<name>.pl.yaml` playlists at the root.

pub mod detect;
pub mod hint;
pub mod mustup;
pub mod options;
pub mod scan;
pub mod tags;
pub mod trim;

use std::path::{Path, PathBuf};

pub use detect::SourceFormat;
pub use options::{Options, Picture};
pub use scan::{Broken, Playlist, SourceTree, Track};
pub use tags::Tags;
pub use trim::Trim;

/// Reads the tree under `root` in `format` (`Auto`: as its files say).
pub fn scan_as(root: &Path, format: SourceFormat) -> Result<SourceTree, SourceError> {
    let format = match format {
        SourceFormat::Auto => detect::detect(root)?,
        chosen => chosen,
    };
    match format {
        SourceFormat::Mustup => mustup::scan(root),
        _ => scan::scan(root),
    }
}

/// Reads the tree under `root`, in the format its files say.
pub fn scan(root: &Path) -> Result<SourceTree, SourceError> {
    scan_as(root, SourceFormat::Auto)
}

/// Why a sources tree cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{path}:{line}: {message}", path = .path.display())]
    Malformed {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// A fault at a place in a YAML file (1-based line and column).
    #[error("{path}:{line}:{column}: {message}", path = .path.display())]
    At {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("the sources tree mixes the vibes format ({vibes}) and the mustup format ({mustup}): keep one, or choose one with [sources] format", vibes = .vibes.display(), mustup = .mustup.display())]
    Mixed { vibes: PathBuf, mustup: PathBuf },
    #[error("{path}: {source}", path = .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: symlink leads outside the sources tree (to {target})", path = .path.display(), target = .target.display())]
    Escape { path: PathBuf, target: PathBuf },
    #[error("{path}: symlink loop (this directory is already being read)", path = .path.display())]
    Loop { path: PathBuf },
    #[error("{first} and {second} would both compile to `{base}`", first = .first.display(), second = .second.display())]
    SameBase {
        first: PathBuf,
        second: PathBuf,
        base: String,
    },
}

/// The audio formats vibes reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum InputFormat {
    Wave,
    Aiff,
    Flac,
}

impl InputFormat {
    /// By file extension, case-insensitively.
    pub fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "wav" | "wave" => Some(InputFormat::Wave),
            "aif" | "aiff" => Some(InputFormat::Aiff),
            "flac" => Some(InputFormat::Flac),
            _ => None,
        }
    }
}

pub(crate) fn read_text(path: &Path) -> Result<String, SourceError> {
    let bytes = std::fs::read(path).map_err(|source| SourceError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|e| {
        let line = e.as_bytes()[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        SourceError::Malformed {
            path: path.to_path_buf(),
            line,
            message: "not valid UTF-8".into(),
        }
    })
}
