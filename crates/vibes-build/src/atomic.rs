//! Outputs appear whole or not at all: every file is written under a temporary name in its
//! final directory and renamed into place. A killed build leaves only temporary names, which
//! the next build removes before it starts.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Every temporary name holds this marker (and starts with a dot, so it is hidden).
pub const TEMP_MARKER: &str = ".vibes-tmp-";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh temporary path beside `path`, keeping its extension (encoders look at it).
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let ext = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    path.with_file_name(format!(
        ".{name}{TEMP_MARKER}{}-{n}{ext}",
        std::process::id()
    ))
}

pub fn is_temp(name: &str) -> bool {
    name.starts_with('.') && name.contains(TEMP_MARKER)
}

/// Writes `bytes` to `path` through a temporary file.
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = temp_path(path);
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
}

/// Removes every temporary file left under `dir` by an interrupted build; returns how many.
pub fn clean_temps(dir: &Path) -> std::io::Result<usize> {
    let mut removed = 0;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(0);
    };
    for entry in entries {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            removed += clean_temps(&entry.path())?;
        } else if is_temp(&entry.file_name().to_string_lossy()) {
            std::fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Removes `path`, then each parent left empty, up to (not including) `stop`.
pub fn remove_with_empty_parents(path: &Path, stop: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d == stop || !d.starts_with(stop) || std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_are_hidden_keep_the_extension_and_are_cleaned() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("a/b/01-x.flac");
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        let t = temp_path(&out);
        assert!(is_temp(&t.file_name().unwrap().to_string_lossy()));
        assert_eq!(t.extension().unwrap(), "flac");
        std::fs::write(&t, b"half").unwrap();
        write(&out, b"whole").unwrap();
        assert_eq!(clean_temps(tmp.path()).unwrap(), 1);
        assert_eq!(std::fs::read(&out).unwrap(), b"whole");
        remove_with_empty_parents(&out, tmp.path()).unwrap();
        assert!(!tmp.path().join("a").exists());
        assert!(tmp.path().exists());
    }
}
