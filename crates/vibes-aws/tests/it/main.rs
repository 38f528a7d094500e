//! The integration tests of the AWS adapter, as one test binary: each module was a test binary
//! of its own, and each linked the AWS SDK again. What they share is in [`support`]: the moto
//! server harness and a connected [`vibes_aws::AwsCloud`].
//!
//! Run one module with `cargo test -p vibes-aws --test it objects`, or the contract suite with
//! `cargo test -p vibes-aws --test it contract::`.
//!
//! Every module runs in this one process, in parallel with the others: the process environment
//! holds the same dummy credentials for all of them ([`support::dummy_credentials`]), and the
//! one test that needs another environment runs in a child process of its own
//! ([`connect`]).

mod support;

mod compute;
mod connect;
mod contract;
mod keys_and_parameters;
mod objects;
mod stacks;
