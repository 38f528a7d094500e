//! `tags.vc` and `<base>.tags.vc`: Vorbis comments, `KEY=value` a line.
//!
//! Keys are case-insensitive (as in Vorbis comments) and kept upper-case. A key may repeat
//! within one file (several ARTIST values); a nearer file replaces every inherited value of a
//! key it names, and `KEY=` with an empty value removes the inherited key.

use std::collections::BTreeMap;
use std::path::Path;

use super::SourceError;

/// Effective tags of a track: key → values, in a stable (sorted) order.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Tags(BTreeMap<String, Vec<String>>);

/// The contents of one `tags.vc` file, before it is merged into the inherited tags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagFile {
    entries: Vec<(String, String)>,
}

impl TagFile {
    /// Parses `text`; `path` only names the file in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Self, SourceError> {
        let mut entries = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim_end_matches('\r');
            if line.trim().is_empty() {
                continue;
            }
            let malformed = |message: String| SourceError::Malformed {
                path: path.to_path_buf(),
                line: i + 1,
                message,
            };
            let Some((key, value)) = line.split_once('=') else {
                return Err(malformed(format!("expected KEY=value, found `{line}`")));
            };
            if key.is_empty() {
                return Err(malformed("empty tag name before `=`".into()));
            }
            // Vorbis comment field names: printable ASCII 0x20..=0x7D without `=`.
            if let Some(c) = key.chars().find(|c| !(' '..='}').contains(c)) {
                return Err(malformed(format!(
                    "tag name `{key}` holds `{}`: names are plain ASCII",
                    c.escape_default()
                )));
            }
            entries.push((key.to_ascii_uppercase(), value.to_string()));
        }
        Ok(TagFile { entries })
    }

    pub fn read(path: &Path) -> Result<Self, SourceError> {
        let text = super::read_text(path)?;
        Self::parse(path, &text)
    }
}

impl Tags {
    /// Lays `file` over these tags: each key it names replaces the inherited values.
    pub fn merge(&mut self, file: &TagFile) {
        let mut fresh: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (key, value) in &file.entries {
            let values = fresh.entry(key.as_str()).or_default();
            if !value.is_empty() {
                values.push(value.clone());
            }
        }
        for (key, values) in fresh {
            if values.is_empty() {
                self.0.remove(key);
            } else {
                self.0.insert(key.to_string(), values);
            }
        }
    }

    /// Sets one key to a single value, replacing what was there.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.0.insert(key.to_ascii_uppercase(), vec![value.into()]);
    }

    /// Adds one value to a key, after those it has (a repeated Vorbis comment).
    pub fn push(&mut self, key: &str, value: impl Into<String>) {
        self.0
            .entry(key.to_ascii_uppercase())
            .or_default()
            .push(value.into());
    }

    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.0.get(&key.to_ascii_uppercase()).map(Vec::as_slice)
    }

    /// The first value of a key.
    pub fn first(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(|v| v.first()).map(String::as_str)
    }

    /// Every `(KEY, value)` pair, keys sorted, values in file order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .flat_map(|(k, vs)| vs.iter().map(move |v| (k.as_str(), v.as_str())))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> TagFile {
        TagFile::parse(Path::new("tags.vc"), text).unwrap()
    }

    #[test]
    fn nearer_values_replace_inherited_ones() {
        let mut tags = Tags::default();
        tags.merge(&file("ARTIST=CCR\nALBUM=Bayou Country\ngenre=Rock\n"));
        tags.merge(&file("ALBUM=Bayou Country (Disc 1)\nDISCNUMBER=1\n"));
        assert_eq!(tags.first("ARTIST"), Some("CCR"));
        assert_eq!(tags.first("ALBUM"), Some("Bayou Country (Disc 1)"));
        assert_eq!(tags.first("GENRE"), Some("Rock"));
        assert_eq!(tags.first("DISCNUMBER"), Some("1"));
    }

    #[test]
    fn repeated_keys_keep_every_value_and_empty_values_clear() {
        let mut tags = Tags::default();
        tags.merge(&file("ARTIST=A\nCOMMENT=x\n"));
        tags.merge(&file("ARTIST=B\nARTIST=C\nCOMMENT=\n"));
        assert_eq!(tags.get("artist").unwrap(), ["B", "C"]);
        assert_eq!(tags.get("COMMENT"), None);
    }

    #[test]
    fn values_keep_equals_signs_and_spaces() {
        let tags = file("TITLE= a = b \n");
        assert_eq!(
            tags.entries,
            vec![("TITLE".to_string(), " a = b ".to_string())]
        );
    }

    #[test]
    fn malformed_lines_name_file_and_line() {
        let err = TagFile::parse(Path::new("x/tags.vc"), "ARTIST=A\n\njust words\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "x/tags.vc:3: expected KEY=value, found `just words`"
        );
        let err = TagFile::parse(Path::new("t.vc"), "=v\n").unwrap_err();
        assert!(err.to_string().starts_with("t.vc:1: empty tag name"));
    }
}
