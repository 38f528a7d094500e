//! What the planner (vibes-core) and the compile engine (vibes-build) share, and nothing else:
//! the profile format, the encoders a profile can name, and the cache of file hashes by path, size
//! and modification time. The compile engine runs on the worker, which has no use for the
//! planner, the executor or the config loader: this crate lets it depend on the format alone.

mod encoder;
pub mod hashcache;
mod profile;

pub use encoder::{Encoder, ENCODERS};
pub use profile::{ProfileConfig, ProfileError};
