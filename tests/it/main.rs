//! The integration tests of the `vibes` binary, as one test binary: each module was a test
//! binary of its own, and each linked the AWS SDK again. Shared fixtures are in [`support`].
//!
//! Run one module with `cargo test -p vibes --test it cli_sources`, one test with its full
//! name (`cli_sources::the_bucket_holds_exactly_the_tree_and_follows_its_changes`).
//!
//! Every module runs in this one process, in parallel with the others: a test never changes
//! the process environment or working directory, it gives the child processes it starts
//! their own (see [`support::cli::vibes`]), and servers are started on free ports.

mod support;

mod ci_example;
mod cli_anywhere;
mod cli_bounds;
mod cli_build;
mod cli_crash;
mod cli_fetch;
mod cli_help;
mod cli_moto;
mod cli_ownership;
mod cli_paths;
mod cli_saved_plan;
mod cli_secrets;
mod cli_server;
mod cli_signals;
mod cli_sources;
mod cli_validate;
mod rsync_server;
mod worker_boot;
