//! What the integration tests share: running the binary ([`cli`]), a moto server ([`moto`]),
//! the rsync daemon of the server image ([`rsync_daemon`]), and writing fixture files.

#![allow(dead_code)]

pub mod cli;
pub mod moto;
pub mod rsync_daemon;

use std::path::Path;

/// Writes `body` to `dir/rel`, making the directories on the way.
pub fn write(dir: &Path, rel: &str, body: impl AsRef<[u8]>) {
    write_file(&dir.join(rel), body);
}

/// Writes `body` to `path`, making the directories on the way.
pub fn write_file(path: &Path, body: impl AsRef<[u8]>) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
}
