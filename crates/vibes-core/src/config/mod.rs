//! Loading vibes.toml.
