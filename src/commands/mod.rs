//! One module per command; each is a thin wrapper over the core's operations.

pub mod apply;
pub mod build;
pub mod completions;
pub mod fetch;
pub mod man;
pub mod plan;
pub mod show;
pub mod status;
pub mod unlock;
pub mod validate;

/// Exit codes scripts rely on.
pub mod exit {
    pub const OK: i32 = 0;
    pub const ERROR: i32 = 1;
    /// `plan --detailed-exitcode` with changes present.
    pub const CHANGES: i32 = 2;
}

/// A saved plan for `show` and `apply`, with what to do when the file is not one.
pub fn load_saved(path: &std::path::Path) -> miette::Result<vibes_core::saved::SavedPlan> {
    vibes_core::saved::SavedPlan::load(path).map_err(|e| {
        miette::miette!(
            help = "a saved plan is the file `vibes plan --out FILE` writes: make it again",
            "{e}"
        )
    })
}
