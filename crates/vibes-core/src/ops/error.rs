//! What an operation can fail with, each with what to do about it.

use crate::apply::lock::LockError;
use crate::cloud::CloudError;
use crate::plan::PlanError;
use crate::saved::Moved;
use crate::scan::ScanError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum OpsError {
    #[error("reading AWS: {0}")]
    #[diagnostic(help(
        "check the credentials, the region and --endpoint-url; nothing was changed"
    ))]
    Observe(#[source] CloudError),
    #[error("reading the sources bucket: {0}")]
    #[diagnostic(help("the main stack names the bucket; nothing was changed"))]
    ListBucket(#[source] CloudError),
    #[error("reading the sources tree named by [sources] path: {0}")]
    #[diagnostic(help("check [sources] path in vibes.toml and the files' permissions"))]
    Scan(#[source] ScanError),
    #[error("the sources tree could not be read: {0}")]
    ScanTask(String),
    #[error("planning: {0}")]
    Plan(#[source] PlanError),
    #[error(transparent)]
    #[diagnostic(help("`vibes status` shows who holds the lock and since when"))]
    Lock(#[from] LockError),
    #[error("the saved plan {} is stale: what it relied on has moved\n{}", path.display(), moved_lines(moved))]
    #[diagnostic(help("run `vibes plan --out {}` again, review it, and apply the new plan", path.display()))]
    StaleSavedPlan { path: PathBuf, moved: Vec<Moved> },
    /// The confirmation could not be asked (e.g. standard input is not a terminal).
    #[error("refusing to {verb} without confirmation: {why}")]
    #[diagnostic(help(
        "review the plan, then run again with --auto-approve (or save it with `vibes plan --out FILE` and `vibes apply FILE`)"
    ))]
    NoConfirmation { verb: &'static str, why: String },
}

fn moved_lines(moved: &[Moved]) -> String {
    moved
        .iter()
        .map(|m| format!("  {}: {}", m.address, m.what))
        .collect::<Vec<_>>()
        .join("\n")
}
