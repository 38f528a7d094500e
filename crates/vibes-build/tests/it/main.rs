//! The integration tests of the compile engine, as one test binary: each module was a test
//! binary of its own. What they share is in [`support`]: small generated collections (tones
//! written as WAVE, AIFF and FLAC, a tiny JPEG cover) and a build's options and progress.
//!
//! Run one module with `cargo test -p vibes-build --test it mustup`. The memory test is not
//! here: it measures its process's peak resident memory, so it stays alone in its own binary
//! (`tests/memory.rs`).
//!
//! Every module runs in this one process, in parallel with the others: each test builds in a
//! temporary directory of its own, and the one that kills a build does so to a child process
//! (`vibes-compile`) it started.

mod support;

mod bookkeeping;
mod compile;
mod deferred;
mod empty_sources;
mod interrupt;
mod mustup;
