//! Applying plans: a ready-queue over the plan's DAG that runs each action's effects against
//! the [`Cloud`](crate::cloud::Cloud), in parallel where the graph allows.
//!
//! - [`executor`]: the queue (`apply`), its options and its report.
//! - [`effects`]: what each [`Effect`](crate::plan::Effect) does against the cloud.
//! - [`launch`]: launch tokens, waits through EC2's read lag, the worker's guard.
//! - [`compile`]: a compile run on a worker.
//! - [`outputs`]: values known only after apply (stack outputs, volume and snapshot ids).
//! - [`retry`]: backoff for transient cloud errors.
//! - [`lock`]: one apply at a time per project.
//! - [`reporter`]: progress, which only the CLI shows.

mod compile;
pub mod effects;
pub mod executor;
pub mod launch;
pub mod lock;
pub mod outputs;
pub mod reporter;
pub mod retry;

pub use effects::SourceArchive;
pub use executor::{apply, ApplyOptions, ApplyReport, Outcome, Timeouts};
pub use lock::{
    acquire, acquire_with_lease, break_lock, keep_renewed, release, LockError, LockGuard, LockInfo,
};
pub use outputs::Outputs;
pub use reporter::{NullReporter, RecordingReporter, Reporter, ReporterEvent};
pub use retry::RetryPolicy;
