//! `vibes.txt` (per directory, inherited) and `<base>.vibes.txt` (per track): one option a
//! line, `key+`, `key-` or `key=value`. Blank lines and `#` comments are allowed.
//!
//! Options vibes knows:
//! - `encode+` / `encode-`: compile (the default) or skip the tracks it covers;
//! - `playlist+` / `playlist-`: write an m3u of the tracks at and beneath a directory;
//! - `apic=TYPE:FORMAT:DIR`: embed `DIR/picture-<TYPE as two digits>.<FORMAT>` as an
//!   ID3/FLAC picture of TYPE (3 is the front cover); DIR is relative to the directory holding
//!   the option file and may not leave the sources tree; `apic-` drops inherited pictures.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::SourceError;

/// One parsed line of an option file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setting {
    Encode(bool),
    Playlist(bool),
    Picture {
        kind: u8,
        format: String,
        dir: String,
    },
    NoPictures,
}

/// The contents of one option file, with the line each setting came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OptionFile {
    pub settings: Vec<(usize, Setting)>,
}

/// A picture to embed, resolved to a file inside the sources tree.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Picture {
    /// ID3v2 / FLAC picture type (0..=20; 3 = front cover).
    pub kind: u8,
    pub mime: &'static str,
    pub path: PathBuf,
    /// Embedded with the picture (the vibes format gives none; mustup may).
    pub description: String,
}

/// The options in effect for a directory or a track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub encode: bool,
    pub playlist: bool,
    /// By picture type: a nearer `apic` of the same type replaces the inherited one.
    pub pictures: BTreeMap<u8, Picture>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            encode: true,
            playlist: false,
            pictures: BTreeMap::new(),
        }
    }
}

const KNOWN: [&str; 3] = ["encode", "playlist", "apic"];

impl OptionFile {
    pub fn parse(path: &Path, text: &str) -> Result<Self, SourceError> {
        let mut settings = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let malformed = |message: String| SourceError::Malformed {
                path: path.to_path_buf(),
                line: i + 1,
                message,
            };
            let (key, op) = if let Some((k, v)) = line.split_once('=') {
                (k.trim(), Op::Value(v.trim()))
            } else if let Some(k) = line.strip_suffix('+') {
                (k.trim(), Op::On)
            } else if let Some(k) = line.strip_suffix('-') {
                (k.trim(), Op::Off)
            } else {
                return Err(malformed(format!(
                    "expected `key+`, `key-` or `key=value`, found `{line}`"
                )));
            };
            let setting = match (key, op) {
                ("encode", Op::On) => Setting::Encode(true),
                ("encode", Op::Off) => Setting::Encode(false),
                ("playlist", Op::On) => Setting::Playlist(true),
                ("playlist", Op::Off) => Setting::Playlist(false),
                ("apic", Op::Off) => Setting::NoPictures,
                ("apic", Op::Value(v)) => parse_apic(v).map_err(malformed)?,
                ("apic", Op::On) => {
                    return Err(malformed(
                        "apic takes a value: apic=TYPE:FORMAT:DIR, e.g. apic=3:jpeg:..".into(),
                    ))
                }
                ("encode" | "playlist", Op::Value(_)) => {
                    return Err(malformed(format!(
                        "{key} is switched with `{key}+` or `{key}-`"
                    )))
                }
                (other, _) => {
                    let hint = KNOWN
                        .iter()
                        .find(|k| strsim_close(k, other))
                        .map(|k| format!(" (did you mean `{k}`?)"))
                        .unwrap_or_default();
                    return Err(malformed(format!(
                        "unknown option `{other}`{hint}: vibes knows encode, playlist and apic"
                    )));
                }
            };
            settings.push((i + 1, setting));
        }
        Ok(OptionFile { settings })
    }

    pub fn read(path: &Path) -> Result<Self, SourceError> {
        let text = super::read_text(path)?;
        Self::parse(path, &text)
    }
}

enum Op<'a> {
    On,
    Off,
    Value(&'a str),
}

fn parse_apic(value: &str) -> Result<Setting, String> {
    let usage =
        || format!("expected apic=TYPE:FORMAT:DIR (e.g. apic=3:jpeg:..), found `apic={value}`");
    let mut parts = value.splitn(3, ':');
    let (Some(kind), Some(format), Some(dir)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(usage());
    };
    let kind: u8 = kind.parse().map_err(|_| usage())?;
    if kind > 20 {
        return Err(format!("picture type {kind} is out of range: ID3 picture types are 0 to 20 (3 is the front cover)"));
    }
    if mime_of(format).is_none() {
        return Err(format!(
            "picture format `{format}` is not one of jpeg, jpg, png"
        ));
    }
    if dir.is_empty() {
        return Err(usage());
    }
    Ok(Setting::Picture {
        kind,
        format: format.to_string(),
        dir: dir.to_string(),
    })
}

pub(crate) fn mime_of(format: &str) -> Option<&'static str> {
    match format {
        "jpeg" | "jpg" => Some("image/jpeg"),
        "png" => Some("image/png"),
        _ => None,
    }
}

/// Close enough to be a typo of a known option: one edit apart, or a prefix.
fn strsim_close(known: &str, got: &str) -> bool {
    got.len() >= 3
        && (known.starts_with(got) || got.starts_with(known) || edit_distance(known, got) <= 2)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

impl Options {
    /// Lays `file` (found in directory `dir`) over these options. `root` is the canonical
    /// sources root: pictures must resolve inside it.
    pub fn merge(
        &mut self,
        file: &OptionFile,
        file_path: &Path,
        dir: &Path,
        root: &Path,
    ) -> Result<(), SourceError> {
        for (line, setting) in &file.settings {
            match setting {
                Setting::Encode(on) => self.encode = *on,
                Setting::Playlist(on) => self.playlist = *on,
                Setting::NoPictures => self.pictures.clear(),
                Setting::Picture {
                    kind,
                    format,
                    dir: rel,
                } => {
                    let err = |message: String| SourceError::Malformed {
                        path: file_path.to_path_buf(),
                        line: *line,
                        message,
                    };
                    let name = format!("picture-{kind:02}.{format}");
                    let wanted = dir.join(rel).join(&name);
                    let path = wanted.canonicalize().map_err(|e| {
                        err(format!("picture {} cannot be read: {e}", wanted.display()))
                    })?;
                    if !path.starts_with(root) {
                        return Err(err(format!(
                            "picture directory `{rel}` leads outside the sources tree"
                        )));
                    }
                    if !path.is_file() {
                        return Err(err(format!("picture {} is not a file", wanted.display())));
                    }
                    let mime = mime_of(format).expect("checked when parsed");
                    self.pictures.insert(
                        *kind,
                        Picture {
                            kind: *kind,
                            mime,
                            path,
                            description: String::new(),
                        },
                    );
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<OptionFile, SourceError> {
        OptionFile::parse(Path::new("vibes.txt"), text)
    }

    #[test]
    fn reads_switches_and_values() {
        let f = parse("# album options\nencode-\nplaylist+\napic=3:jpeg:..\napic-\n").unwrap();
        let s: Vec<_> = f.settings.into_iter().map(|(_, s)| s).collect();
        assert_eq!(
            s,
            vec![
                Setting::Encode(false),
                Setting::Playlist(true),
                Setting::Picture {
                    kind: 3,
                    format: "jpeg".into(),
                    dir: "..".into()
                },
                Setting::NoPictures,
            ]
        );
    }

    #[test]
    fn errors_name_file_line_and_suggest() {
        let e = parse("playlist+\nencdoe-\n").unwrap_err().to_string();
        assert_eq!(e, "vibes.txt:2: unknown option `encdoe` (did you mean `encode`?): vibes knows encode, playlist and apic");
        assert!(parse("apic=3:gif:.")
            .unwrap_err()
            .to_string()
            .contains("`gif` is not one of"));
        assert!(parse("apic=33:jpeg:.")
            .unwrap_err()
            .to_string()
            .contains("0 to 20"));
        assert!(parse("apic=front")
            .unwrap_err()
            .to_string()
            .starts_with("vibes.txt:1: expected apic=TYPE:FORMAT:DIR"));
        assert!(parse("encode=yes")
            .unwrap_err()
            .to_string()
            .contains("`encode+` or `encode-`"));
        assert!(parse("loud")
            .unwrap_err()
            .to_string()
            .contains("expected `key+`"));
    }

    #[test]
    fn pictures_resolve_relative_to_the_option_file_and_stay_inside_the_tree() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("src");
        std::fs::create_dir_all(root.join("artist/album")).unwrap();
        std::fs::write(root.join("artist/picture-03.jpeg"), b"jpeg").unwrap();
        std::fs::write(tmp.path().join("picture-03.jpeg"), b"outside").unwrap();
        let root = root.canonicalize().unwrap();
        let album = root.join("artist/album");

        let mut o = Options::default();
        o.merge(
            &parse("apic=3:jpeg:..").unwrap(),
            &album.join("vibes.txt"),
            &album,
            &root,
        )
        .unwrap();
        assert_eq!(o.pictures[&3].path, root.join("artist/picture-03.jpeg"));
        assert_eq!(o.pictures[&3].mime, "image/jpeg");

        let e = o
            .merge(
                &parse("apic=3:jpeg:../../..").unwrap(),
                &album.join("vibes.txt"),
                &album,
                &root,
            )
            .unwrap_err();
        assert!(
            e.to_string().contains("leads outside the sources tree"),
            "{e}"
        );
        let e = o
            .merge(
                &parse("\napic=4:png:.").unwrap(),
                &album.join("vibes.txt"),
                &album,
                &root,
            )
            .unwrap_err();
        assert!(e.to_string().contains(":2: picture"), "{e}");
    }
}
