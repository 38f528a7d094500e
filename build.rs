//! Packs vibes' own source into `OUT_DIR/vibes-src.tar.gz`, which the binary carries
//! (`src/source_archive.rs`) and uploads next to the worker image's recipe: the worker image builds
//! the vibes binary it runs from exactly the source of the vibes that planned it.
//!
//! The archive holds what `cargo build --locked --bin vibes` needs and nothing else: the manifests,
//! the lock file, this script, the `src` trees of the root package and of every crate under
//! `crates/`, and the platform directories that `vibes-platform` carries into the binary
//! (`cfn/`, `packer/`, `platform/`; symlinks stored as the files they point to). No tests,
//! benches, fuzz targets, build output or virtualenvs. It is deterministic —
//! entries sorted, mtime 0, owner 0:0, mode 0644 or 0755, gzip without a timestamp or a name — so
//! the same source always gives the same bytes, and the worker image's identity (which includes
//! the archive's SHA-256) changes only when the source does.

use flate2::write::GzEncoder;
use flate2::{Compression, GzBuilder};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

// PLATFORM_DIRS: the directories vibes-platform embeds, named once, there.
include!("crates/vibes-platform/src/dirs.rs");

/// The archive's file name in OUT_DIR, and the name the worker recipe reads it by.
pub const ARCHIVE_NAME: &str = "vibes-src.tar.gz";

fn main() {
    let root = PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    );
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    for watched in watched_paths(&root).expect("listing vibes' source") {
        println!("cargo:rerun-if-changed={}", watched.display());
    }
    let archive = pack(&root).expect("packing vibes' source");
    std::fs::write(out.join(ARCHIVE_NAME), archive).expect("writing the source archive");
}

/// The crates of the workspace besides the root package: each directory of `crates/` with a
/// manifest, sorted.
fn member_crates(root: &Path) -> io::Result<Vec<PathBuf>> {
    let mut crates = Vec::new();
    let dir = root.join("crates");
    if dir.is_dir() {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.join("Cargo.toml").is_file() {
                crates.push(path);
            }
        }
    }
    crates.sort();
    Ok(crates)
}

/// The files and directories whose change changes the archive. Cargo scans a directory named
/// here for any change beneath it. Only paths that exist: cargo reruns a build script on every
/// build while a path it watches is missing.
fn watched_paths(root: &Path) -> io::Result<Vec<PathBuf>> {
    let mut paths = vec![
        root.join("Cargo.toml"),
        root.join("Cargo.lock"),
        root.join("build.rs"),
        root.join("src"),
    ];
    paths.extend(PLATFORM_DIRS.iter().map(|dir| root.join(dir)));
    for krate in member_crates(root)? {
        paths.extend([
            krate.join("Cargo.toml"),
            krate.join("build.rs"),
            krate.join("src"),
        ]);
    }
    paths.retain(|p| p.exists());
    Ok(paths)
}

/// Every file that goes into the archive: (path in the archive, path on disk), sorted by the
/// former. Missing optional files (a `build.rs` a crate does not have) are left out.
fn source_files(root: &Path) -> io::Result<Vec<(String, PathBuf)>> {
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    dirs.extend(member_crates(root)?);
    for dir in dirs {
        for name in ["Cargo.toml", "Cargo.lock", "build.rs"] {
            let path = dir.join(name);
            if path.is_file() && (name != "Cargo.lock" || dir == root) {
                files.push((archive_path(root, &path)?, path));
            }
        }
        let src = dir.join("src");
        if src.is_dir() {
            walk(root, &src, &mut files)?;
        }
    }
    for dir in PLATFORM_DIRS {
        let dir = root.join(dir);
        if dir.is_dir() {
            walk(root, &dir, &mut files)?;
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files.dedup_by(|a, b| a.0 == b.0);
    Ok(files)
}

/// The files under `dir`, skipping hidden entries (editor swap files, `.DS_Store`).
fn walk(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            walk(root, &path, files)?;
        } else if path.is_file() {
            files.push((archive_path(root, &path)?, path));
        }
    }
    Ok(())
}

/// `path` relative to `root`, `/`-separated: the archive unpacks into the directory it is built in.
fn archive_path(root: &Path, path: &Path) -> io::Result<String> {
    let rel = path.strip_prefix(root).map_err(|_| {
        io::Error::other(format!("{} is outside {}", path.display(), root.display()))
    })?;
    let parts = rel
        .components()
        .map(|c| {
            c.as_os_str()
                .to_str()
                .ok_or_else(|| io::Error::other(format!("{} is not a UTF-8 path", path.display())))
        })
        .collect::<io::Result<Vec<_>>>()?;
    Ok(parts.join("/"))
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &std::fs::Metadata) -> bool {
    false
}

/// The gzipped tar of vibes' source under `root`. The same files with the same contents give the
/// same bytes, whatever their timestamps, owners or the order the filesystem lists them in.
pub fn pack(root: &Path) -> io::Result<Vec<u8>> {
    // No name and mtime 0 in the gzip header; the OS byte is fixed by the builder.
    let gz: GzEncoder<Vec<u8>> = GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), Compression::default());
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    for (name, path) in source_files(root)? {
        let body = std::fs::read(&path)?;
        let meta = std::fs::metadata(&path)?;
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(body.len() as u64);
        header.set_mode(if is_executable(&meta) { 0o755 } else { 0o644 });
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        tar.append_data(&mut header, &name, body.as_slice())?;
    }
    let mut gz = tar.into_inner()?;
    gz.flush()?;
    gz.finish()
}
