//! The vibes compile engine: a tree in the vibes source format, compiled into every profile
//! (FLAC, MP3, Ogg Vorbis, Opus) by the real encoders, fully tagged, incrementally and in
//! parallel.
//!
//! ```text
//! <out>/<profile>/<same relative dir>/<base>.<ext>     one output per track and profile
//! <out>/<profile>/.vibes-build.json                    what each output was built from
//! <out>/.vibes-hashes.json                             source hashes by path, size and mtime
//! ```

mod atomic;
mod build;
mod encode;
mod hashcache;
mod id3tags;
mod manifest;
mod picture;
mod playlist;
mod pool;
pub mod profile;
pub mod source;

pub use build::{
    build, BuildError, BuildOptions, BuildSummary, Failure, Outcome, Progress, TrackEvent,
};
pub use manifest::FILE_NAME as MANIFEST_FILE;
pub use pool::cores;
