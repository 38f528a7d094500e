//! The mustup source format (docs/source-formats.md), read as mustup's own tools read it:
//! a directory's `mustup-manifest.yaml` lists its tracks, each `mustup-metadata.yaml` from the
//! root down gives metadata inherited below it, and `<name>.pl.yaml` files at the root are
//! playlists. Directories without a manifest hold no tracks; a directory at the root holding a
//! `tup.config` is one of mustup's output variants and is not read at all.

pub mod bounds;
mod metadata;
mod playlists;
pub mod yaml;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::scan::{entries, Entry as DirEntry};
use super::trim::{End, Time, Trim};
use super::{Broken, InputFormat, SourceError, SourceTree, Track};
use metadata::Layer;
use yaml::{Doc, Entry, Metadata, TimeSpec};

pub const MANIFEST: &str = "mustup-manifest.yaml";
pub const METADATA: &str = "mustup-metadata.yaml";

/// Reads the mustup tree under `root`.
pub fn scan(root: &Path) -> Result<SourceTree, SourceError> {
    let root = root.canonicalize().map_err(|source| SourceError::Io {
        path: root.to_path_buf(),
        source,
    })?;
    let mut tree = SourceTree::default();
    let mut walker = Walker {
        root: &root,
        tree: &mut tree,
        open: Vec::new(),
    };
    walker.visit(&root, Path::new(""), &Layer::default(), None)?;
    playlists::read(&root, &mut tree)?;
    Ok(tree)
}

struct Walker<'a> {
    root: &'a Path,
    tree: &'a mut SourceTree,
    /// Canonical directories being read, to catch symlink loops.
    open: Vec<PathBuf>,
}

impl Walker<'_> {
    /// Reads `dir` and below. A fault in a directory's metadata or manifest leaves out the
    /// tracks it concerns (each named, with the fault) and the walk goes on: one album's typo
    /// does not hold back the rest of the collection. `fault` is one inherited from above.
    fn visit(
        &mut self,
        dir: &Path,
        rel: &Path,
        inherited: &Layer,
        fault: Option<&str>,
    ) -> Result<(), SourceError> {
        let canonical = dir.canonicalize().map_err(|source| SourceError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        if self.open.contains(&canonical) {
            return Err(SourceError::Loop {
                path: dir.to_path_buf(),
            });
        }
        self.open.push(canonical);
        let listing = entries(self.root, dir)?;
        let has = |name: &str| {
            listing
                .iter()
                .any(|e| matches!(e, DirEntry::File(n) if n == name))
        };
        let mut layer = inherited.clone();
        let mut fault = fault.map(str::to_string);
        if has(METADATA) && fault.is_none() {
            match self.metadata(dir, &listing) {
                Ok(Some(own)) => layer.overlay(&own),
                Ok(None) => {}
                Err(e) => fault = Some(e.to_string()),
            }
        }
        if has(MANIFEST) {
            if let Err(e) = self.manifest(dir, rel, &layer, &listing, fault.as_deref()) {
                self.tree.broken.push(Broken {
                    rel: rel.to_path_buf(),
                    base: None,
                    fault: e.to_string(),
                });
            }
        }
        for entry in &listing {
            if let DirEntry::Dir(name) = entry {
                let sub = dir.join(name);
                if rel.as_os_str().is_empty() && sub.join("tup.config").is_file() {
                    continue;
                }
                self.visit(&sub, &rel.join(name), &layer, fault.as_deref())?;
            }
        }
        self.open.pop();
        Ok(())
    }

    /// The layer a directory's own `mustup-metadata.yaml` gives.
    fn metadata(&self, dir: &Path, listing: &[DirEntry]) -> Result<Option<Layer>, SourceError> {
        let doc = Doc::read(&dir.join(METADATA))?;
        let Some(m) = doc.parse::<Metadata>()? else {
            return Ok(None);
        };
        Layer::read(&m, &doc, 0, self.root)
            .map(Some)
            .map_err(|e| hinted(e, listing))
    }

    /// The tracks `dir`'s manifest lists: each compiled, or left out with its fault (or with
    /// the directory's `fault`). Err: the manifest itself cannot be read.
    fn manifest(
        &mut self,
        dir: &Path,
        rel: &Path,
        layer: &Layer,
        listing: &[DirEntry],
        fault: Option<&str>,
    ) -> Result<(), SourceError> {
        let doc = Doc::read(&dir.join(MANIFEST))?;
        let tracks: BTreeMap<String, Option<Entry>> = doc.parse()?.unwrap_or_default();
        let mut bases: HashMap<String, String> = HashMap::new();
        for (name, entry) in tracks {
            let base = Path::new(&name)
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or(&name)
                .to_string();
            let read = match fault {
                Some(f) => Err(f.to_string()),
                None => self
                    .track(dir, rel, layer, listing, &doc, &name, &base, entry)
                    .map_err(|e| hinted(e, listing).to_string()),
            };
            let read = read.and_then(|track| match bases.insert(base.clone(), name.clone()) {
                Some(first) => Err(SourceError::SameBase {
                    first: dir.join(first),
                    second: dir.join(&name),
                    base: base.clone(),
                }
                .to_string()),
                None => Ok(track),
            });
            match read {
                Ok(track) => self.tree.tracks.push(track),
                Err(fault) => self.tree.broken.push(Broken {
                    rel: rel.join(&name),
                    base: Some(base),
                    fault,
                }),
            }
        }
        Ok(())
    }

    /// One track of a manifest, with everything it names checked.
    #[allow(clippy::too_many_arguments)]
    fn track(
        &mut self,
        dir: &Path,
        rel: &Path,
        layer: &Layer,
        listing: &[DirEntry],
        doc: &Doc,
        name: &str,
        base: &str,
        entry: Option<Entry>,
    ) -> Result<Track, SourceError> {
        let entry = entry.unwrap_or_default();
        let (at, line, column) = doc.find_key(name);
        let here = |message: String| doc.error_at(line, column, message);
        let exists = listing
            .iter()
            .any(|e| matches!(e, DirEntry::File(n) if n == name));
        if !exists {
            return Err(here(format!(
                "`{name}` names no file of this directory ({})",
                dir.display()
            )));
        }
        let path = dir.join(name);
        let Some(format) = InputFormat::from_path(&path) else {
            return Err(here(format!(
                "`{name}` is not an audio file vibes reads (.wave/.wav, .aiff/.aif, .flac)"
            )));
        };
        let mut own = layer.clone();
        if let Some(m) = &entry.metadata {
            own.overlay(&Layer::read(m, doc, at, self.root)?);
        }
        // mustup takes the track number from the file name unless the metadata gives one,
        // and warns when the two disagree.
        match (own.common.get("TRACKNUMBER"), file_track_number(name)) {
            (None, Some(n)) => {
                own.common.insert("TRACKNUMBER", vec![n.to_string()]);
            }
            (Some(given), Some(n)) if given.len() != 1 || given[0].parse::<u32>() != Ok(n) => {
                self.tree.warnings.push(doc.warning(
                    "track number",
                    at,
                    &format!(
                        "warning: `{name}`: track number {} differs from {n}, the one its file name gives",
                        given.join(", ")
                    ),
                ));
            }
            _ => {}
        }
        let trim = match entry.transformations.as_ref().and_then(|t| t.trim.as_ref()) {
            None => None,
            Some(spec) => {
                let (_, l, c) = doc.find("trim", at);
                let end = match (&spec.duration, &spec.end) {
                    (Some(_), Some(_)) => {
                        return Err(doc.error_at(
                            l,
                            c,
                            "a trim takes `duration` or `end`, not both".into(),
                        ));
                    }
                    (Some(d), None) => Some(End::After(time(d))),
                    (None, Some(e)) => Some(End::At(time(e))),
                    (None, None) => None,
                };
                let trim = Trim {
                    start: spec.start.as_ref().map(time),
                    end,
                };
                if let Some(why) = trim.fault() {
                    return Err(doc.error_at(l, c, why));
                }
                Some(trim)
            }
        };
        Ok(Track {
            rel: rel.join(name),
            path,
            format,
            base: base.to_string(),
            tags: own.tags(),
            pictures: own.pictures()?,
            trim,
        })
    }
}

/// A fault about a file that names nothing, with the nearest file of the directory as a hint.
fn hinted(e: SourceError, listing: &[DirEntry]) -> SourceError {
    let SourceError::At {
        path,
        line,
        column,
        message,
    } = e
    else {
        return e;
    };
    // The name in backticks a "cannot be read" or "names no file" fault quotes.
    let missing = (message.contains("cannot be read") || message.contains("names no file"))
        .then(|| message.split('`').nth(1))
        .flatten();
    let message = match missing {
        Some(wanted) => {
            let wanted = Path::new(wanted)
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or(wanted);
            let files = listing.iter().filter_map(|e| match e {
                DirEntry::File(n) => Some(n.as_str()),
                _ => None,
            });
            super::hint::with_hint(message.clone(), wanted, files)
        }
        None => message,
    };
    SourceError::At {
        path,
        line,
        column,
        message,
    }
}

fn time(t: &TimeSpec) -> Time {
    Time {
        minutes: t.minutes.unwrap_or(0),
        seconds: t.seconds.unwrap_or(0),
        fraction: t
            .second_fractions
            .as_ref()
            .map(|d| d.0.clone())
            .unwrap_or_default(),
    }
}

/// mustup's `^0*(\d+)(-.+)?\..+$`: `07-name.wave` and `07.wave` → 7.
fn file_track_number(name: &str) -> Option<u32> {
    let digits = name.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let rest = &name[digits..];
    let ok = match rest.as_bytes().first() {
        Some(b'.') => rest.len() > 1,
        Some(b'-') => rest[1..]
            .rfind('.')
            .is_some_and(|i| i >= 1 && i + 1 < rest.len() - 1),
        _ => false,
    };
    if !ok {
        return None;
    }
    name[..digits].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn track_numbers_follow_mustup_s_pattern() {
        assert_eq!(file_track_number("07-born.wave"), Some(7));
        assert_eq!(file_track_number("01.wave"), Some(1));
        assert_eq!(file_track_number("00.wave"), Some(0));
        assert_eq!(file_track_number("12-x-y.wave"), Some(12));
        assert_eq!(file_track_number("intro.wave"), None);
        assert_eq!(file_track_number("3-.wave"), None);
        assert_eq!(file_track_number("3"), None);
        assert_eq!(file_track_number("3-a."), None);
    }
}
