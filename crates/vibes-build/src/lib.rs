//! The vibes compile engine: a tree in the vibes or the mustup source format, compiled into every profile
//! (FLAC, MP3, Ogg Vorbis, Opus) by the real encoders, fully tagged, incrementally and in
//! parallel.
//!
//! ```text
//! <out>/<profile>/<same relative dir>/<base>.<ext>     one output per track and profile
//! <out>/.vibes/build/<profile>.json                    what each output was built from
//! <out>/.vibes/hashes.json                             source hashes by path, size and mtime
//! ```
//!
//! A profile directory holds music and playlists only: it is what the rsync server publishes.
//! A build with nothing to do writes nothing.

mod atomic;
mod bookkeeping;
mod build;
mod deferred;
mod encode;
mod hashcache;
mod id3tags;
mod manifest;
mod picture;
mod picture_cache;
mod playlist;
mod pool;
mod probe;
pub mod profile;
mod relpath;
mod report;
pub mod source;
mod wavecut;

pub use bookkeeping::DIR as BOOKKEEPING_DIR;
pub use build::{build, build_with, BuildError, BuildOptions};
pub use deferred::{Deferred, FetchSources};
pub use pool::cores;
pub use relpath::slash as relative_key;
pub use report::{BuildSummary, Failure, Outcome, Progress, TrackEvent};
pub use source::SourceFormat;
