//! What the planner (vibes-core) and the compile engine (vibes-build) share, and nothing else:
//! the profile format and the encoders a profile can name. The compile engine runs on the
//! worker, which has no use for the planner, the executor or the config loader: this crate lets
//! it depend on the format alone.

mod encoder;
mod profile;

pub use encoder::{Encoder, ENCODERS};
pub use profile::{ProfileConfig, ProfileError};
