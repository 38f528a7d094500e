//! What a worker says of its compile: the report it writes to `/<project>/compile/status` when it
//! finishes (with the build's figures), and the progress it publishes while it builds. The
//! executor waits for them, `vibes status` shows them, and the plan prices the next compile at
//! the pace the last one recorded.

use crate::observed::Observed;
use serde::Serialize;

/// What the worker wrote to `/<project>/compile/status` when it finished.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct CompileReport {
    pub status: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub finished: String,
    #[serde(default)]
    pub built_from: String,
    /// What the build did and how long it took (`vibes build --summary-file`); absent in the
    /// report of a worker that failed before building, or of an earlier vibes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<BuildFigures>,
}

/// A build's figures, as `vibes build --summary-file` writes them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct BuildFigures {
    pub encoded: usize,
    pub retagged: usize,
    pub up_to_date: usize,
    pub failed: usize,
    /// Wall time of the build, fetching included.
    pub seconds: f64,
    /// Sources read from the bucket.
    #[serde(default)]
    pub read_files: usize,
    #[serde(default)]
    pub read_bytes: u64,
}

impl BuildFigures {
    /// Seconds per output encoded, when the build encoded enough for the figure to mean
    /// something (a handful of outputs is mostly start-up).
    pub fn seconds_per_output(&self) -> Option<f64> {
        (self.encoded >= 20 && self.seconds > 0.0).then(|| self.seconds / self.encoded as f64)
    }
}

/// The last compile's report, as the worker wrote it.
pub fn last_compile(project: &str, observed: &Observed) -> Option<CompileReport> {
    observed
        .parameters
        .get(&compile_report_parameter(project))
        .and_then(|p| p.value.as_deref())
        .and_then(|v| serde_json::from_str::<CompileReport>(v).ok())
}

/// The SSM parameter a worker writes its [`CompileReport`] to before it stops itself.
pub fn compile_report_parameter(project: &str) -> String {
    format!("/{project}/compile/status")
}

/// The SSM parameter a worker publishes its [`CompileProgress`] to while it builds.
pub fn compile_progress_parameter(project: &str) -> String {
    format!("/{project}/compile/progress")
}

/// What a worker publishes while it builds: how many of the outputs that need work are done.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct CompileProgress {
    pub built_from: String,
    pub progress: Counts,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct Counts {
    pub done: u64,
    pub total: u64,
}
