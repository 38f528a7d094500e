//! The encoders vibes knows: the one table of their programs, the profile key that holds each
//! one's flags and the extension of its outputs. The config loader checks profiles against it and
//! the compile engine runs from it.

/// An encoder, run as a program without a shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Encoder {
    Flac,
    Lame,
    Oggenc,
    Opusenc,
}

impl Encoder {
    pub const ALL: [Encoder; 4] = [
        Encoder::Flac,
        Encoder::Lame,
        Encoder::Oggenc,
        Encoder::Opusenc,
    ];

    /// The program, which is also the encoder's name in a profile (`CONFIG_ENCODER=lame`).
    pub const fn program(self) -> &'static str {
        match self {
            Encoder::Flac => "flac",
            Encoder::Lame => "lame",
            Encoder::Oggenc => "oggenc",
            Encoder::Opusenc => "opusenc",
        }
    }

    /// The profile key that holds this encoder's flags.
    pub const fn flags_key(self) -> &'static str {
        match self {
            Encoder::Flac => "CONFIG_FLAC_FLAGS",
            Encoder::Lame => "CONFIG_LAME_FLAGS",
            Encoder::Oggenc => "CONFIG_OGGENC_FLAGS",
            Encoder::Opusenc => "CONFIG_OPUSENC_FLAGS",
        }
    }

    /// The extension of this encoder's outputs.
    pub const fn extension(self) -> &'static str {
        match self {
            Encoder::Flac => "flac",
            Encoder::Lame => "mp3",
            Encoder::Oggenc => "ogg",
            Encoder::Opusenc => "opus",
        }
    }

    /// Whether this format's tags can be rewritten in place (metaflac, an ID3v2.4 writer,
    /// vorbiscomment): a changed tag then costs a copy and a rewrite instead of an encode.
    /// Opus has no such tool among the Debian packages, so its tracks are encoded again.
    pub const fn can_retag(self) -> bool {
        !matches!(self, Encoder::Opusenc)
    }

    /// The encoder a profile names, by its program.
    pub fn from_program(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.program() == name)
    }
}

/// The same table as (program, flags key, extension), the shape the config loader reads it in.
/// Built from [`Encoder`], so the two cannot disagree.
pub const ENCODERS: [(&str, &str, &str); 4] = {
    let mut table = [("", "", ""); 4];
    let mut i = 0;
    while i < Encoder::ALL.len() {
        let e = Encoder::ALL[i];
        table[i] = (e.program(), e.flags_key(), e.extension());
        i += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_names_each_encoder_once() {
        assert_eq!(
            ENCODERS,
            [
                ("flac", "CONFIG_FLAC_FLAGS", "flac"),
                ("lame", "CONFIG_LAME_FLAGS", "mp3"),
                ("oggenc", "CONFIG_OGGENC_FLAGS", "ogg"),
                ("opusenc", "CONFIG_OPUSENC_FLAGS", "opus"),
            ]
        );
        for e in Encoder::ALL {
            assert_eq!(Encoder::from_program(e.program()), Some(e));
            assert_eq!(
                e.flags_key(),
                format!("CONFIG_{}_FLAGS", e.program().to_ascii_uppercase())
            );
        }
        assert_eq!(Encoder::from_program("mp3"), None);
    }
}
