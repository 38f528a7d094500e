//! Relative paths as vibes keys them, in the build's records and in the sources bucket:
//! `/`-separated whatever the platform.

use std::path::Path;

/// A relative path as its key: its parts joined with `/`.
pub fn slash(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}
