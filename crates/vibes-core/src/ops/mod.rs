//! The operations the commands are made of, as cargo's `ops`: each takes the [`Cloud`] and
//! whatever must come from a person (a confirmation, an interrupt) as arguments, so that the
//! whole workflow — look, lock, look again, check a saved plan, confirm, run, release — runs
//! the same under the CLI and on the fake cloud in tests. The CLI parses arguments, calls one
//! operation and prints what it returns.
//!
//! [`Cloud`]: crate::cloud::Cloud

mod apply;
mod error;
mod workspace;

pub use apply::{apply, has_work, ApplyOutcome, ApplyRequest, Frontend, Interrupts};
pub use error::OpsError;
pub use workspace::{bucket_hint_file, check_sources, Workspace};
