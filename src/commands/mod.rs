//! One module per command; each is a thin wrapper over the core's operations.

pub mod apply;
pub mod build;
pub mod completions;
pub mod fetch;
pub mod man;
pub mod plan;
pub mod show;
pub mod unlock;
pub mod validate;

/// Exit codes scripts rely on.
pub mod exit {
    pub const OK: i32 = 0;
    pub const ERROR: i32 = 1;
    /// `plan --detailed-exitcode` with changes present.
    pub const CHANGES: i32 = 2;
}
