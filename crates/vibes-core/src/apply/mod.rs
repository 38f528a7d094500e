//! Applying plans: a ready-queue over the plan's DAG that runs each action's effects against
//! the [`Cloud`](crate::cloud::Cloud), in parallel where the graph allows.
//!
//! - [`executor`]: the queue (`apply`).
//! - `options` and `report`: what an apply is told ([`ApplyOptions`]) and what it tells
//!   ([`ApplyReport`]), shared by the queue, the effects and the reporter.
//! - [`effects`]: what each [`Effect`](crate::plan::Effect) does against the cloud, a module
//!   per kind, and a compile run on a worker.
//! - [`launch`] (part of the effects): launch tokens, waits through EC2's read lag, the
//!   worker's guard.
//! - [`outputs`]: values known only after apply (stack outputs, volume and snapshot ids).
//! - [`retry`]: backoff for transient cloud errors.
//! - [`lock`]: one apply at a time per project.
//! - [`reporter`]: progress, which only the CLI shows.

pub mod effects;
pub mod executor;
pub mod lock;
mod options;
pub mod outputs;
mod report;
pub mod reporter;
pub mod retry;

pub use effects::launch;
pub use executor::apply;
pub use lock::{
    acquire, acquire_with_lease, break_lock, keep_renewed, release, LockError, LockGuard, LockInfo,
};
pub use options::{ApplyOptions, SourceArchive, Timeouts};
pub use outputs::Outputs;
pub use report::{ApplyReport, Outcome};
pub use reporter::{NullReporter, RecordingReporter, Reporter, ReporterEvent};
pub use retry::RetryPolicy;
