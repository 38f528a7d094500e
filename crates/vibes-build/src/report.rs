//! What a build reports: per output as it goes ([`Progress`]), and in sum when done.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// What happened to one output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Encoded,
    /// Only the tags changed and the format allows rewriting them in place.
    Retagged,
    UpToDate,
    /// The encoder's (or tagger's) error, stderr included.
    Failed(String),
}

#[derive(Debug, Clone, Copy)]
pub struct TrackEvent<'a> {
    pub profile: &'a str,
    /// Relative to the profile directory.
    pub output: &'a Path,
    /// Relative to the sources root.
    pub source: &'a Path,
    pub outcome: &'a Outcome,
}

/// How a build reports as it goes; the CLI implements it (a bar on a TTY, lines otherwise).
pub trait Progress: Sync {
    /// Before any work: `outputs` in all, of which `work` need encoding or retagging.
    fn start(&self, outputs: usize, work: usize);
    /// After each output that needed work, in completion order.
    fn track(&self, event: &TrackEvent<'_>);
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub profile: String,
    pub source: PathBuf,
    pub output: PathBuf,
    pub message: String,
}

#[derive(Debug, Clone, Default)]
pub struct BuildSummary {
    /// Outputs wanted: tracks × profiles.
    pub tracks: usize,
    pub encoded: usize,
    pub retagged: usize,
    pub up_to_date: usize,
    /// Outputs and playlists removed because their source is gone or now skipped.
    pub removed: usize,
    /// Tracks the tree leaves out with `encode-`.
    pub skipped: usize,
    pub playlists_written: usize,
    pub failed: Vec<Failure>,
    /// Tracks (or directories) of the tree left out for a fault in the sources: their outputs
    /// stay as they were. The build went on without them.
    pub left_out: Vec<crate::source::Broken>,
    /// Faults in the sources that did not stop the build (`path:line:column: warning: …`).
    pub warnings: Vec<String>,
    pub elapsed: Duration,
}

impl BuildSummary {
    /// Whether every track of the tree was built: nothing failed, nothing left out.
    pub fn complete(&self) -> bool {
        self.failed.is_empty() && self.left_out.is_empty()
    }
}

impl std::fmt::Display for BuildSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} tracks: {} encoded, ", self.tracks, self.encoded)?;
        if self.retagged > 0 {
            write!(f, "{} retagged, ", self.retagged)?;
        }
        write!(
            f,
            "{} up to date, {} failed",
            self.up_to_date,
            self.failed.len()
        )?;
        if self.removed > 0 {
            write!(f, ", {} removed", self.removed)?;
        }
        if !self.left_out.is_empty() {
            write!(
                f,
                ", {} left out for faults in the sources",
                self.left_out.len()
            )?;
        }
        write!(f, " in {:.1} s", self.elapsed.as_secs_f64())
    }
}
