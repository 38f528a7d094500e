//! The integration tests of vibes-core, as one test binary: each module was a test binary of
//! its own, and each linked the library again. What they share is in [`support`]: a desired
//! state over a temporary tree for plan and apply on the fake cloud ([`support::apply`]), a
//! config directory ([`support::config`]), and the hand-built project of the golden plans
//! ([`support::render_fixtures`]).
//!
//! Run one module with `cargo test -p vibes-core --test it plan_rules`, one test with its full
//! name (`render_snapshots::empty_account_creates_everything`). The golden plans are in `snapshots/`,
//! named after the module path (`it__render_snapshots__<name>.snap`).
//!
//! Every module runs in this one process, in parallel with the others: a test never changes
//! the process environment or working directory, and each runs on a fake cloud of its own.

mod support;

mod apply_builtin_recipe;
mod apply_compile;
mod apply_converge;
mod apply_executor;
mod apply_image_source;
mod apply_lock;
mod apply_outage;
mod apply_ownership;
mod apply_relaunch;
mod apply_server;
mod apply_target;
mod config_bounds;
mod config_errors;
mod config_report;
mod config_resolve;
mod crash_fake;
mod fault_transient;
mod iam_policies;
mod main_template;
mod ops_apply;
mod plan_arch;
mod plan_guards;
mod plan_ownership;
mod plan_rules;
mod plan_source_faults;
mod plan_stack_changes;
mod plan_target;
mod plan_zone;
mod render_json_fields;
mod render_snapshots;
