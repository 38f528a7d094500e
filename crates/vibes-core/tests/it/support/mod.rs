//! What the modules of the test binary share.

pub mod apply;
pub mod config;
pub mod render_fixtures;
pub mod template_yaml;
