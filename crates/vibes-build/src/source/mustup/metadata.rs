//! Metadata as mustup inherits it: each `mustup-metadata.yaml` from the root down, then the
//! track's own, each laid over the last key by key (a deep merge: the nearer file wins).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::yaml::{Doc, Metadata};
use crate::source::options::mime_of;
use crate::source::{Picture, SourceError, Tags};

/// Where a key was given: file, line, column.
#[derive(Debug, Clone)]
struct Origin {
    path: PathBuf,
    line: usize,
    column: usize,
}

#[derive(Debug, Clone, Default)]
struct Pic {
    /// Resolved and checked to lie inside the tree when read.
    path: Option<PathBuf>,
    description: Option<String>,
    origin: Option<Origin>,
}

/// The metadata in effect at one level of the tree.
#[derive(Debug, Clone, Default)]
pub struct Layer {
    /// `tags.common`, by Vorbis comment name.
    pub common: BTreeMap<&'static str, Vec<String>>,
    /// `tags.Vorbis`, names upper-cased (Vorbis comment names are case-insensitive).
    pub vorbis: BTreeMap<String, Vec<String>>,
    pictures: BTreeMap<u8, Pic>,
}

impl Layer {
    /// The layer one metadata block gives. `from` is where the block starts in `doc` (faults
    /// are placed at the first match after it); `root` is the canonical sources root.
    pub fn read(m: &Metadata, doc: &Doc, from: usize, root: &Path) -> Result<Layer, SourceError> {
        let mut layer = Layer::default();
        if let Some(tags) = &m.tags {
            if let Some(common) = &tags.common {
                for (name, values) in common.entries() {
                    layer.common.insert(name, values.0.clone());
                }
            }
            for (key, values) in tags.vorbis.iter().flatten() {
                // Vorbis comment field names: printable ASCII 0x20..=0x7D without `=`.
                if key.is_empty() || key.chars().any(|c| !(' '..='}').contains(&c) || c == '=') {
                    return Err(doc.error(
                        key,
                        from,
                        format!("`{key}` cannot name a Vorbis comment: names are printable ASCII without `=`"),
                    ));
                }
                layer
                    .vorbis
                    .insert(key.to_ascii_uppercase(), values.0.clone());
            }
        }
        let dir = doc.path.parent().unwrap_or(Path::new(""));
        let apic = m.pictures.as_ref().and_then(|p| p.apic.as_ref());
        for (&kind, entry) in apic.into_iter().flatten() {
            let (at, line, column) = doc.find(&format!("{kind}:"), from);
            if kind > 20 {
                return Err(doc.error_at(line, column, format!(
                    "picture type {kind} is out of range: ID3 picture types are 0 to 20 (3 front cover, 4 back cover)"
                )));
            }
            let mut pic = Pic {
                description: entry.description.clone(),
                origin: Some(Origin {
                    path: doc.path.clone(),
                    line,
                    column,
                }),
                ..Pic::default()
            };
            if let Some(d) = &entry.description {
                if d.contains('|') {
                    return Err(doc.error(
                        d,
                        at,
                        "a picture description may not hold `|` (flac and opusenc separate picture fields with it)".into(),
                    ));
                }
            }
            if let Some(rel) = &entry.path {
                let here = |message: String| doc.error(rel, at, message);
                let wanted = dir.join(rel);
                let path = wanted
                    .canonicalize()
                    .map_err(|e| here(format!("picture `{rel}` cannot be read: {e}")))?;
                if !path.starts_with(root) {
                    return Err(here(format!("picture `{rel}` leaves the sources tree")));
                }
                if !path.is_file() {
                    return Err(here(format!("picture `{rel}` is not a file")));
                }
                let ext = path
                    .extension()
                    .and_then(|e| e.to_str())
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                if mime_of(&ext).is_none() {
                    return Err(here(format!(
                        "picture `{rel}`: vibes embeds JPEG and PNG pictures (.jpeg, .jpg, .png)"
                    )));
                }
                pic.path = Some(path);
            }
            layer.pictures.insert(kind, pic);
        }
        Ok(layer)
    }

    /// Lays `nearer` over this layer: each key it gives replaces this one's.
    pub fn overlay(&mut self, nearer: &Layer) {
        for (k, v) in &nearer.common {
            self.common.insert(k, v.clone());
        }
        for (k, v) in &nearer.vorbis {
            self.vorbis.insert(k.clone(), v.clone());
        }
        for (kind, pic) in &nearer.pictures {
            let merged = self.pictures.entry(*kind).or_default();
            if pic.path.is_some() {
                merged.path = pic.path.clone();
                merged.origin = pic.origin.clone();
            }
            if pic.description.is_some() {
                merged.description = pic.description.clone();
            }
            if merged.origin.is_none() {
                merged.origin = pic.origin.clone();
            }
        }
    }

    /// The Vorbis comments: the common tags, then the passed-through ones (a name given both
    /// ways keeps both values, as mustup's flac encoder writes them).
    pub fn tags(&self) -> Tags {
        let mut tags = Tags::default();
        for (k, values) in &self.common {
            values.iter().for_each(|v| tags.push(k, v.clone()));
        }
        for (k, values) in &self.vorbis {
            values.iter().for_each(|v| tags.push(k, v.clone()));
        }
        tags
    }

    /// The pictures, by type; a type given without a path anywhere is an error.
    pub fn pictures(&self) -> Result<Vec<Picture>, SourceError> {
        self.pictures
            .iter()
            .map(|(&kind, pic)| {
                let Some(path) = &pic.path else {
                    let o = pic
                        .origin
                        .clone()
                        .expect("every picture records its origin");
                    return Err(SourceError::At {
                        path: o.path,
                        line: o.line,
                        column: o.column,
                        message: format!("picture type {kind} has no `path` here or above"),
                    });
                };
                let ext = path
                    .extension()
                    .and_then(|e| e.to_str())
                    .unwrap_or_default();
                Ok(Picture {
                    kind,
                    mime: mime_of(&ext.to_ascii_lowercase()).expect("checked when read"),
                    path: path.clone(),
                    description: pic.description.clone().unwrap_or_default(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(dir: &Path, text: &str) -> Result<Layer, SourceError> {
        let doc = Doc {
            path: dir.join("mustup-metadata.yaml"),
            text: text.into(),
        };
        let m: Metadata = doc.parse()?.unwrap_or_default();
        Layer::read(&m, &doc, 0, &dir.canonicalize().unwrap())
    }

    #[test]
    fn nearer_keys_win_one_by_one() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().canonicalize().unwrap();
        std::fs::write(dir.join("front.jpeg"), b"x").unwrap();
        let mut l = layer(
            &dir,
            "tags:\n  common: {artist: A, album: B}\n  Vorbis: {GENRE: [Rock, Pop], date: 1999}\npictures:\n  APIC:\n    3: {path: front.jpeg, description: far}\n",
        )
        .unwrap();
        l.overlay(
            &layer(
                &dir,
                "tags:\n  common: {album: C}\n  Vorbis: {GENRE: Jazz}\npictures:\n  APIC:\n    3: {description: near}\n",
            )
            .unwrap(),
        );
        let tags = l.tags();
        let pairs: Vec<_> = tags.pairs().collect();
        assert_eq!(
            pairs,
            [
                ("ALBUM", "C"),
                ("ARTIST", "A"),
                ("DATE", "1999"),
                ("GENRE", "Jazz")
            ]
        );
        let pics = l.pictures().unwrap();
        assert_eq!(pics[0].description, "near");
        assert!(pics[0].path.ends_with("front.jpeg"));
    }

    #[test]
    fn pictures_stay_inside_the_tree() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("src");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(tmp.path().join("out.jpeg"), b"x").unwrap();
        let e = layer(
            &dir,
            "---\npictures:\n  APIC:\n    4:\n      path: ../out.jpeg\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("mustup-metadata.yaml:5:13: picture `../out.jpeg` leaves the sources tree"),
            "{e}"
        );
        let e = layer(&dir, "pictures:\n  APIC:\n    4: {description: x}\n")
            .unwrap()
            .pictures()
            .unwrap_err()
            .to_string();
        assert!(e.contains(":3:5: picture type 4 has no `path`"), "{e}");
    }
}
