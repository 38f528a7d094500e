//! The mustup YAML files as typed documents. Unknown keys are refused (a misspelt key would
//! otherwise be silently ignored), and every fault carries its file, line and column.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;

use crate::source::SourceError;

/// `mustup-metadata.yaml`, and the `metadata` of a track in a manifest.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    pub tags: Option<TagSpec>,
    pub pictures: Option<PictureSpec>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagSpec {
    pub common: Option<Common>,
    /// Passed through as Vorbis comments: a list is the comment repeated.
    #[serde(rename = "Vorbis")]
    pub vorbis: Option<BTreeMap<String, Values>>,
}

/// The tags mustup names itself, each with its Vorbis comment name.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Common {
    pub album: Option<Values>,
    pub artist: Option<Values>,
    pub title: Option<Values>,
    #[serde(rename = "track number")]
    pub track_number: Option<Values>,
    #[serde(rename = "disc number")]
    pub disc_number: Option<Values>,
}

impl Common {
    /// (Vorbis comment name, values) of the keys given.
    pub fn entries(&self) -> Vec<(&'static str, &Values)> {
        [
            ("ALBUM", &self.album),
            ("ARTIST", &self.artist),
            ("TITLE", &self.title),
            ("TRACKNUMBER", &self.track_number),
            ("DISCNUMBER", &self.disc_number),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
        .collect()
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PictureSpec {
    /// By ID3 picture type (3 front cover, 4 back cover, …).
    #[serde(rename = "APIC")]
    pub apic: Option<BTreeMap<u8, PictureEntry>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PictureEntry {
    /// Relative to the directory of the YAML file that names it.
    pub path: Option<String>,
    pub description: Option<String>,
}

/// A track of `mustup-manifest.yaml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub metadata: Option<Metadata>,
    pub transformations: Option<Transformations>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transformations {
    pub trim: Option<TrimSpec>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrimSpec {
    pub start: Option<TimeSpec>,
    pub duration: Option<TimeSpec>,
    pub end: Option<TimeSpec>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeSpec {
    pub minutes: Option<u64>,
    pub seconds: Option<u64>,
    /// The digits after the decimal point, as mustup pastes them after `seconds.`.
    pub second_fractions: Option<Digits>,
}

/// `<name>.pl.yaml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaylistSpec {
    pub title: Option<String>,
    pub tracks: Vec<String>,
}

/// One value or a list of them; numbers and booleans are kept as YAML wrote them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Values(pub Vec<String>);

/// A string of decimal digits (from a YAML number or string).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digits(pub String);

struct ScalarVisitor;

impl Visitor<'_> for ScalarVisitor {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string, number or boolean")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }
}

struct Scalar(String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor).map(Scalar)
    }
}

struct ValuesVisitor;

impl<'de> Visitor<'de> for ValuesVisitor {
    type Value = Values;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a value or a list of values")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Values, E> {
        Ok(Values(vec![v.to_string()]))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Values, E> {
        Ok(Values(vec![v.to_string()]))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Values, E> {
        Ok(Values(vec![v.to_string()]))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Values, E> {
        Ok(Values(vec![v.to_string()]))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Values, E> {
        Ok(Values(vec![v.to_string()]))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Values, A::Error> {
        let mut values = Vec::new();
        while let Some(Scalar(v)) = seq.next_element()? {
            values.push(v);
        }
        Ok(Values(values))
    }
}

impl<'de> Deserialize<'de> for Values {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValuesVisitor)
    }
}

impl<'de> Deserialize<'de> for Digits {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = d.deserialize_any(ScalarVisitor)?;
        if text.is_empty() || text.len() > 9 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(de::Error::custom(format!(
                "second_fractions must be 1 to 9 decimal digits, found `{text}`"
            )));
        }
        Ok(Digits(text))
    }
}

/// The message without its ` at line L column C`: the `path:line:column:` prefix says it.
fn without_location(message: &str) -> String {
    let mut out = message.to_string();
    while let Some(i) = out.find(" at line ") {
        let rest = &out[i + " at line ".len()..];
        let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
        let n = digits(rest);
        let Some(after) = rest[n..].strip_prefix(" column ") else {
            break;
        };
        let m = digits(after);
        let end = i + " at line ".len() + n + " column ".len() + m;
        out.replace_range(i..end, "");
    }
    out
}

/// A YAML file's text, kept to place faults found after parsing.
pub struct Doc {
    pub path: PathBuf,
    pub text: String,
}

impl Doc {
    /// Reads a YAML file of the tree, refused before it is parsed when it passes the bounds
    /// ([`super::bounds`]): its size (checked before it is read), its aliases' expansion, its
    /// nesting.
    pub fn read(path: &Path) -> Result<Self, SourceError> {
        let size = std::fs::metadata(path)
            .map_err(|source| SourceError::Io {
                path: path.to_path_buf(),
                source,
            })?
            .len();
        let doc = |text: String| Doc {
            path: path.to_path_buf(),
            text,
        };
        if size > super::bounds::SIZE_LIMIT as u64 {
            return Err(doc(String::new()).error_at(
                1,
                1,
                format!(
                    "the file is {size} bytes; a YAML file of the tree may hold at most {}",
                    super::bounds::SIZE_LIMIT
                ),
            ));
        }
        let doc = doc(crate::source::read_text(path)?);
        if let Err(r) = super::bounds::check(&doc.text) {
            return Err(doc.error_at(r.line, r.column, r.message));
        }
        Ok(doc)
    }

    /// Parses the document as `T`; an empty document is `None`.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<Option<T>, SourceError> {
        serde_yaml_ng::from_str::<Option<T>>(&self.text).map_err(|e| {
            let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
            self.error_at(line, column, without_location(&e.to_string()))
        })
    }

    /// Where the top-level key `name` is (at the start of a line, bare or quoted), else the
    /// first `name` anywhere.
    pub fn find_key(&self, name: &str) -> (usize, usize, usize) {
        for pattern in [
            format!("\n{name}:"),
            format!("\n'{name}':"),
            format!("\n\"{name}\":"),
        ] {
            let text = format!("\n{}", self.text);
            if let Some(i) = text.find(&pattern) {
                return self.find(name, i);
            }
        }
        self.find(name, 0)
    }

    /// Line and column (1-based) of the first `needle` at or after byte `from`, or of `from`.
    pub fn find(&self, needle: &str, from: usize) -> (usize, usize, usize) {
        let from = from.min(self.text.len());
        let at = self.text[from..].find(needle).map_or(from, |i| from + i);
        let before = &self.text[..at];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        (at, line, column)
    }

    pub fn error_at(&self, line: usize, column: usize, message: String) -> SourceError {
        SourceError::At {
            path: self.path.clone(),
            line,
            column,
            message,
        }
    }

    /// An error at the first `needle` at or after byte `from`.
    pub fn error(&self, needle: &str, from: usize, message: String) -> SourceError {
        let (_, line, column) = self.find(needle, from);
        self.error_at(line, column, message)
    }

    pub fn warning(&self, needle: &str, from: usize, message: &str) -> String {
        let (_, line, column) = self.find(needle, from);
        format!("{}:{line}:{column}: {message}", self.path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Doc {
        Doc {
            path: "m.yaml".into(),
            text: text.into(),
        }
    }

    #[test]
    fn values_are_one_or_many_and_keep_their_text() {
        let m: Metadata = doc("tags:\n  Vorbis:\n    DATE: 2014\n    GENRE: [Rock, Pop]\n")
            .parse()
            .unwrap()
            .unwrap();
        let v = m.tags.unwrap().vorbis.unwrap();
        assert_eq!(v["DATE"], Values(vec!["2014".into()]));
        assert_eq!(v["GENRE"].0, ["Rock", "Pop"]);
        assert!(doc("---\n").parse::<Metadata>().unwrap().is_none());
    }

    #[test]
    fn faults_carry_line_and_column() {
        let e = doc("tags:\n  common:\n    albun: X\n")
            .parse::<Metadata>()
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("m.yaml:3:5: "), "{e}");
        assert!(e.contains("unknown field `albun`"), "{e}");
        let e = doc("tags:\n  common:\n    album: 'x\n")
            .parse::<Metadata>()
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "m.yaml:4:1: found unexpected end of stream, while scanning a quoted scalar"
        );
        let d = doc("a: 1\nb: x\n");
        assert_eq!(d.find("x", 0), (8, 2, 4));
        let d = doc("101.wave: {}\n'01.wave': {}\n");
        assert_eq!(d.find_key("01.wave"), (14, 2, 2));
        assert_eq!(d.find_key("101.wave"), (0, 1, 1));
    }
}
