//! Profiles in tup.config form: one `CONFIG_NAME=value` a line, `#` comments, and tup's
//! `# CONFIG_NAME is not set`. Both the config loader (which stores a profile in SSM) and the
//! compile engine (which reads it back on the worker) go through this one parser.

use std::collections::BTreeMap;

use crate::Encoder;

/// A parsed profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileConfig {
    /// Every `CONFIG_*` value, with the `CONFIG_` prefix kept.
    pub values: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ProfileError {
    /// 1-based.
    pub line: usize,
    /// Byte offset of the start of the faulty line in the text.
    pub offset: usize,
    /// Length of the faulty line.
    pub len: usize,
    pub message: String,
}

impl ProfileConfig {
    pub fn parse(text: &str) -> Result<Self, ProfileError> {
        let mut values = BTreeMap::new();
        let mut offset = 0;
        for (i, raw) in text.split_inclusive('\n').enumerate() {
            let line = raw.trim_end_matches(['\n', '\r']);
            let err = |message: String| ProfileError {
                line: i + 1,
                offset,
                len: line.len(),
                message,
            };
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                offset += raw.len();
                continue;
            }
            let Some((key, value)) = trimmed.split_once('=') else {
                return Err(err(format!(
                    "expected CONFIG_NAME=value, found `{trimmed}`"
                )));
            };
            let key = key.trim();
            if !key.starts_with("CONFIG_")
                || key.len() == "CONFIG_".len()
                || !key
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            {
                return Err(err(format!("`{key}` is not a profile key: keys are CONFIG_ followed by capitals, digits and _")));
            }
            let value = unquote(value.trim());
            if values.insert(key.to_string(), value).is_some() {
                return Err(err(format!("{key} is set twice")));
            }
            offset += raw.len();
        }
        let profile = ProfileConfig { values };
        match profile.values.get("CONFIG_ENCODER") {
            None => Err(ProfileError {
                line: 1,
                offset: 0,
                len: 0,
                message: "CONFIG_ENCODER is not set (one of flac, lame, oggenc, opusenc)".into(),
            }),
            Some(e) if Encoder::from_program(e).is_none() => {
                let (line, offset, len) = locate(text, "CONFIG_ENCODER");
                Err(ProfileError {
                    line,
                    offset,
                    len,
                    message: format!(
                        "unknown encoder `{e}`: vibes knows flac, lame, oggenc and opusenc"
                    ),
                })
            }
            Some(_) => Ok(profile),
        }
    }

    pub fn encoder(&self) -> &str {
        self.values
            .get("CONFIG_ENCODER")
            .map(String::as_str)
            .unwrap_or_default()
    }

    /// The encoder's flags (`CONFIG_LAME_FLAGS` for lame, …), empty when unset.
    pub fn flags(&self) -> &str {
        Encoder::from_program(self.encoder())
            .and_then(|e| self.values.get(e.flags_key()))
            .map(String::as_str)
            .unwrap_or_default()
    }

    /// The extension of this profile's outputs.
    pub fn extension(&self) -> &'static str {
        Encoder::from_program(self.encoder())
            .map(Encoder::extension)
            .unwrap_or("bin")
    }

    /// A `y`/`n` option such as `CONFIG_PLAYLIST=y`.
    pub fn enabled(&self, key: &str) -> bool {
        matches!(
            self.values.get(key).map(String::as_str),
            Some("y" | "yes" | "1" | "true")
        )
    }

    /// The canonical text: `CONFIG_ENCODER` first, then the rest sorted, one a line. Reading
    /// it back gives the same values: a value the reader would trim or unquote is quoted.
    pub fn to_text(&self) -> String {
        let mut s = format!("CONFIG_ENCODER={}\n", quote(self.encoder()));
        for (k, v) in &self.values {
            if k != "CONFIG_ENCODER" {
                s.push_str(&format!("{k}={}\n", quote(v)));
            }
        }
        s
    }
}

fn quote(v: &str) -> String {
    let would_change = v != v.trim() || (v.len() >= 2 && v.starts_with('"') && v.ends_with('"'));
    if would_change {
        format!("\"{v}\"")
    } else {
        v.to_string()
    }
}

fn unquote(v: &str) -> String {
    if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        v[1..v.len() - 1].to_string()
    } else {
        v.to_string()
    }
}

fn locate(text: &str, key: &str) -> (usize, usize, usize) {
    let mut offset = 0;
    for (i, raw) in text.split_inclusive('\n').enumerate() {
        if raw.trim_start().starts_with(key) {
            return (i + 1, offset, raw.trim_end().len());
        }
        offset += raw.len();
    }
    (1, 0, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_tup_config() {
        let p = ProfileConfig::parse("# phone\nCONFIG_ENCODER=lame\nCONFIG_LAME_FLAGS=\"--quiet -V 6\"\n# CONFIG_PLAYLIST is not set\n").unwrap();
        assert_eq!(p.encoder(), "lame");
        assert_eq!(p.flags(), "--quiet -V 6");
        assert_eq!(p.extension(), "mp3");
        assert!(!p.enabled("CONFIG_PLAYLIST"));
        assert_eq!(
            p.to_text(),
            "CONFIG_ENCODER=lame\nCONFIG_LAME_FLAGS=--quiet -V 6\n"
        );
    }

    #[test]
    fn writing_and_reading_back_keeps_every_value() {
        for v in [
            "plain",
            "  padded\t",
            "\"quoted\"",
            "",
            "-V 6 --preset \"x y\"",
        ] {
            let mut p = ProfileConfig::parse("CONFIG_ENCODER=lame\n").unwrap();
            p.values.insert("CONFIG_LAME_FLAGS".into(), v.to_string());
            let again = ProfileConfig::parse(&p.to_text()).unwrap();
            assert_eq!(again.values["CONFIG_LAME_FLAGS"], v, "{:?}", p.to_text());
            assert_eq!(again.to_text(), p.to_text());
        }
    }

    #[test]
    fn points_at_the_faulty_line() {
        let e = ProfileConfig::parse("CONFIG_ENCODER=flac\nnonsense\n").unwrap_err();
        assert_eq!((e.line, e.offset, e.len), (2, 20, 8));
        let e = ProfileConfig::parse("CONFIG_FLAC_FLAGS=-8\nCONFIG_ENCODER=wavpack\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("unknown encoder `wavpack`"));
        assert!(ProfileConfig::parse("CONFIG_FLAC_FLAGS=-8\n")
            .unwrap_err()
            .message
            .contains("CONFIG_ENCODER is not set"));
    }
}
