//! Lists every file under the platform directories (`src/dirs.rs`) of the workspace into
//! `OUT_DIR/platform_files.rs`: one `PlatformFile` a file, its bytes taken with `include_bytes!`,
//! sorted by path. Symlinks are followed (the recipes' files link to the scripts under
//! `platform/`): the binary carries what a checkout would upload. Hidden files (editor swap files)
//! are left out.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

include!("src/dirs.rs");

fn main() {
    let manifest_dir = PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    );
    let root = manifest_dir
        .parent()
        .and_then(Path::parent)
        .expect("vibes-platform lives in crates/ of the workspace")
        .to_path_buf();
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rerun-if-changed=src/dirs.rs");
    let mut files = Vec::new();
    for dir in PLATFORM_DIRS {
        let path = root.join(dir);
        // A directory that is watched is scanned for every change beneath it, new files included.
        println!("cargo:rerun-if-changed={}", path.display());
        walk(&root, &path, &mut files)
            .unwrap_or_else(|e| panic!("listing the platform under {}: {e}", path.display()));
    }
    files.sort();
    let mut code = String::from("&[\n");
    for (rel, path) in &files {
        writeln!(
            code,
            "    PlatformFile {{ path: {rel:?}, body: include_bytes!({:?}) }},",
            path.display().to_string()
        )
        .expect("writing to a string");
    }
    code.push_str("]\n");
    std::fs::write(out.join("platform_files.rs"), code).expect("writing the platform list");
}

/// Every file under `dir`, as (path relative to `root` with `/`, path on disk).
fn walk(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name
            .to_str()
            .ok_or_else(|| io::Error::other(format!("{} is not UTF-8", entry.path().display())))?;
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        // `is_dir`/`is_file` follow symlinks: a linked script is carried as the script.
        if path.is_dir() {
            walk(root, &path, files)?;
        } else if path.is_file() {
            let rel = path
                .strip_prefix(root)
                .map_err(io::Error::other)?
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            files.push((rel, path));
        } else {
            return Err(io::Error::other(format!(
                "{} is neither a file nor a directory (a dangling link?)",
                path.display()
            )));
        }
    }
    Ok(())
}
