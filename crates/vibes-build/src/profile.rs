//! A profile ready to build: its parsed tup.config, its encoder and the encoder's flags.

use vibes_profile::{ProfileConfig, ProfileError};

/// The encoders vibes drives: the table is shared with the config loader, which checks profiles
/// against it before they reach a worker.
pub use vibes_profile::Encoder;

#[derive(Debug, thiserror::Error)]
pub enum ProfileSetupError {
    #[error("profile `{name}`: {source}")]
    Config { name: String, source: ProfileError },
    #[error("profile `{name}`: {key} cannot be split into arguments: {message}")]
    Flags {
        name: String,
        key: String,
        message: String,
    },
    #[error(
        "profile name `{0}` cannot name an output directory: use letters, digits, `-`, `_` and `.`"
    )]
    Name(String),
    #[error("profile `{name}`: CONFIG_ID3_VERSION={value}: {why}")]
    Id3Version {
        name: String,
        value: String,
        why: &'static str,
    },
}

/// The ID3v2 version of an MP3 profile's tags (`CONFIG_ID3_VERSION`): 2.4 unless the profile
/// asks for 2.3, which MP3 players that do not read v2.4 need (docs/source-formats.md says what
/// changes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Id3Version {
    V23,
    #[default]
    V24,
}

#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    pub config: ProfileConfig,
    pub encoder: Encoder,
    /// The encoder flags, split with shell-words rules (quotes, backslashes; no expansion).
    pub flags: Vec<String>,
    pub id3_version: Id3Version,
}

impl Profile {
    pub fn parse(name: &str, text: &str) -> Result<Self, ProfileSetupError> {
        let valid_name = !name.is_empty()
            && !name.starts_with('.')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !valid_name {
            return Err(ProfileSetupError::Name(name.to_string()));
        }
        let config = ProfileConfig::parse(text).map_err(|source| ProfileSetupError::Config {
            name: name.to_string(),
            source,
        })?;
        let encoder = Encoder::from_program(config.encoder())
            .expect("ProfileConfig accepts only known encoders");
        let flags = shell_words::split(config.flags()).map_err(|e| ProfileSetupError::Flags {
            name: name.to_string(),
            key: encoder.flags_key().to_string(),
            message: e.to_string(),
        })?;
        let id3_version = match config.values.get("CONFIG_ID3_VERSION").map(String::as_str) {
            None => Id3Version::V24,
            Some(_) if encoder != Encoder::Lame => {
                return Err(ProfileSetupError::Id3Version {
                    name: name.to_string(),
                    value: config.values["CONFIG_ID3_VERSION"].clone(),
                    why: "only MP3 (lame) profiles carry ID3 tags",
                })
            }
            Some("2.4") => Id3Version::V24,
            Some("2.3") => Id3Version::V23,
            Some(other) => {
                return Err(ProfileSetupError::Id3Version {
                    name: name.to_string(),
                    value: other.to_string(),
                    why: "vibes writes ID3v2 2.4 (the default) or 2.3",
                })
            }
        };
        Ok(Profile {
            name: name.to_string(),
            config,
            encoder,
            flags,
            id3_version,
        })
    }

    pub fn extension(&self) -> &'static str {
        self.config.extension()
    }

    /// Playlists are written unless the profile says `CONFIG_PLAYLIST=n`.
    pub fn playlists(&self) -> bool {
        !matches!(
            self.config
                .values
                .get("CONFIG_PLAYLIST")
                .map(String::as_str),
            Some("n" | "no" | "0" | "false")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_split_like_a_shell_without_one() {
        let p = Profile::parse(
            "phone",
            "CONFIG_ENCODER=lame\nCONFIG_LAME_FLAGS=--quiet -V 6 --tc 'a b'\n",
        )
        .unwrap();
        assert_eq!(p.encoder, Encoder::Lame);
        assert_eq!(p.flags, ["--quiet", "-V", "6", "--tc", "a b"]);
        assert_eq!(p.extension(), "mp3");
    }

    #[test]
    fn bad_profiles_say_which_and_why() {
        let e =
            Profile::parse("x", "CONFIG_ENCODER=flac\nCONFIG_FLAC_FLAGS=-8 'open\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("profile `x`: CONFIG_FLAC_FLAGS cannot be split"),
            "{e}"
        );
        let e = Profile::parse("x", "CONFIG_ENCODER=mp3\n").unwrap_err();
        assert!(e.to_string().contains("unknown encoder `mp3`"), "{e}");
        assert!(Profile::parse("../up", "CONFIG_ENCODER=flac\n").is_err());
    }
}
