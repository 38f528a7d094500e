//! Which format a sources tree is in, from the files that only one format has.

use std::path::{Path, PathBuf};

use super::SourceError;

/// The format of a sources tree, or `Auto`: whichever its files say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SourceFormat {
    #[default]
    Auto,
    Vibes,
    Mustup,
}

impl std::str::FromStr for SourceFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(SourceFormat::Auto),
            "vibes" => Ok(SourceFormat::Vibes),
            "mustup" => Ok(SourceFormat::Mustup),
            other => Err(format!(
                "unknown sources format `{other}`: one of auto, vibes, mustup"
            )),
        }
    }
}

impl std::fmt::Display for SourceFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SourceFormat::Auto => "auto",
            SourceFormat::Vibes => "vibes",
            SourceFormat::Mustup => "mustup",
        })
    }
}

fn is_mustup(name: &str) -> bool {
    matches!(name, "mustup-manifest.yaml" | "mustup-metadata.yaml") || name.ends_with(".pl.yaml")
}

fn is_vibes(name: &str) -> bool {
    matches!(name, "tags.vc" | "vibes.txt")
        || name.ends_with(".tags.vc")
        || name.ends_with(".vibes.txt")
}

/// Mustup when the tree holds a mustup file, vibes otherwise (a tree of bare audio files is a
/// vibes tree); both is an error naming one file of each. Symlinked directories are not
/// followed here: the scan that follows checks them.
pub fn detect(root: &Path) -> Result<SourceFormat, SourceError> {
    let mut vibes: Option<PathBuf> = None;
    let mut mustup: Option<PathBuf> = None;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let read = std::fs::read_dir(&dir).map_err(|source| SourceError::Io {
            path: dir.clone(),
            source,
        })?;
        let mut entries: Vec<_> = read.filter_map(Result::ok).collect();
        entries.sort_by_key(|e| std::cmp::Reverse(e.file_name()));
        for entry in entries {
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                stack.push(entry.path());
            } else if vibes.is_none() && is_vibes(&name) {
                vibes = Some(entry.path());
            } else if mustup.is_none() && is_mustup(&name) {
                mustup = Some(entry.path());
            }
        }
        if vibes.is_some() && mustup.is_some() {
            break;
        }
    }
    match (vibes, mustup) {
        (Some(vibes), Some(mustup)) => Err(SourceError::Mixed { vibes, mustup }),
        (None, Some(_)) => Ok(SourceFormat::Mustup),
        _ => Ok(SourceFormat::Vibes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn the_files_tell_the_format() {
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path();
        fs::create_dir_all(r.join("a/b")).unwrap();
        fs::write(r.join("a/b/01-x.wav"), b"").unwrap();
        assert_eq!(detect(r).unwrap(), SourceFormat::Vibes);
        fs::write(r.join("a/b/mustup-manifest.yaml"), b"").unwrap();
        assert_eq!(detect(r).unwrap(), SourceFormat::Mustup);
        fs::write(r.join("a/tags.vc"), b"").unwrap();
        let err = detect(r).unwrap_err().to_string();
        assert!(
            err.contains("a/tags.vc") && err.contains("mustup-manifest.yaml"),
            "{err}"
        );
        assert_eq!("mustup".parse(), Ok(SourceFormat::Mustup));
        assert!("tup".parse::<SourceFormat>().is_err());
    }
}
