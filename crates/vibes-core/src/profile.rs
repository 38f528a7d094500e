//! Profiles in tup.config form and the encoders they name. They live in the `vibes-profile`
//! crate, which the compile engine shares without depending on the rest of vibes-core; this
//! module keeps their paths under `vibes_core::profile`.

pub use vibes_profile::{Encoder, ProfileConfig, ProfileError, ENCODERS};
