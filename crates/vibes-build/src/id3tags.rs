//! ID3v2.4 tags for MP3 outputs, from the tree's Vorbis comment names; ID3v2.3 where a profile
//! asks for it, its frames made as v2.3 defines them.

use std::path::Path;

use id3::frame::{Comment, ExtendedText, Picture, PictureType};
use id3::{Frame, TagLike, Version};

use crate::picture::LoadedPicture;
use crate::profile::Id3Version;
use crate::source::Tags;

/// Vorbis comment name → ID3v2.4 text frame; the first name of a frame wins when two map to
/// it (PUBLISHER before LABEL). Anything else goes in a TXXX frame named after it. The table
/// is documented in docs/source-formats.md: keep the two in step.
const TEXT_FRAMES: [(&str, &str); 24] = [
    ("TITLE", "TIT2"),
    ("SUBTITLE", "TIT3"),
    ("ARTIST", "TPE1"),
    ("ALBUM", "TALB"),
    ("ALBUMARTIST", "TPE2"),
    ("DATE", "TDRC"),
    ("ORIGINALDATE", "TDOR"),
    ("GENRE", "TCON"),
    ("COMPOSER", "TCOM"),
    ("CONDUCTOR", "TPE3"),
    ("PERFORMER", "TPE3"),
    ("REMIXER", "TPE4"),
    ("LYRICIST", "TEXT"),
    ("PUBLISHER", "TPUB"),
    ("LABEL", "TPUB"),
    ("ORGANIZATION", "TPUB"),
    ("ISRC", "TSRC"),
    ("COPYRIGHT", "TCOP"),
    ("BPM", "TBPM"),
    ("LANGUAGE", "TLAN"),
    ("MOOD", "TMOO"),
    ("ENCODEDBY", "TENC"),
    ("ALBUMSORT", "TSOA"),
    ("ARTISTSORT", "TSOP"),
];

/// Builds the ID3v2.4 tag for `tags` (multiple values are NUL-separated, as v2.4 allows).
pub fn tag_for(tags: &Tags, pictures: &[LoadedPicture]) -> id3::Tag {
    let mut tag = id3::Tag::new();
    let joined = |key: &str| tags.get(key).map(|v| v.join("\0"));
    let numbered = |n: &str, total: &str| {
        let n = tags.first(n)?;
        Some(match tags.first(total) {
            Some(t) => format!("{n}/{t}"),
            None => n.to_string(),
        })
    };
    for (key, id) in TEXT_FRAMES {
        if let (Some(text), None) = (joined(key), tag.get(id)) {
            tag.add_frame(Frame::text(id, text));
        }
    }
    for (key, values) in tags
        .pairs()
        .fold(Vec::<(&str, Vec<&str>)>::new(), |mut acc, (k, v)| {
            match acc.last_mut() {
                Some((last, vs)) if *last == k => vs.push(v),
                _ => acc.push((k, vec![v])),
            }
            acc
        })
    {
        if TEXT_FRAMES.iter().any(|(name, _)| *name == key) {
            continue;
        }
        match key {
            "TRACKNUMBER" | "TRACKTOTAL" | "TOTALTRACKS" => {}
            "DISCNUMBER" | "DISCTOTAL" | "TOTALDISCS" => {}
            "COMMENT" | "DESCRIPTION" => {
                tag.add_frame(Comment {
                    lang: "eng".into(),
                    description: String::new(),
                    text: values.join("\n"),
                });
            }
            _ => {
                tag.add_frame(ExtendedText {
                    description: key.to_string(),
                    value: values.join("\0"),
                });
            }
        }
    }
    if let Some(trck) =
        numbered("TRACKNUMBER", "TRACKTOTAL").or_else(|| numbered("TRACKNUMBER", "TOTALTRACKS"))
    {
        tag.add_frame(Frame::text("TRCK", trck));
    }
    if let Some(tpos) =
        numbered("DISCNUMBER", "DISCTOTAL").or_else(|| numbered("DISCNUMBER", "TOTALDISCS"))
    {
        tag.add_frame(Frame::text("TPOS", tpos));
    }
    for p in pictures {
        tag.add_frame(Picture {
            mime_type: p.mime.to_string(),
            picture_type: picture_type(p.kind),
            description: p.description.clone(),
            data: p.data.to_vec(),
        });
    }
    tag
}

/// Replaces whatever ID3 tag `path` has (lame writes a v2.3 one of its own) with ours.
pub fn write(
    tags: &Tags,
    pictures: &[LoadedPicture],
    version: Id3Version,
    path: &Path,
) -> Result<(), id3::Error> {
    let _ = id3::Tag::remove_from_path(path)?;
    let mut tag = tag_for(tags, pictures);
    match version {
        Id3Version::V24 => tag.write_to_path(path, Version::Id3v24),
        Id3Version::V23 => {
            as_v23(&mut tag);
            tag.write_to_path(path, Version::Id3v23)
        }
    }
}

/// A v2.4 tag's frames as ID3v2.3 has them (https://id3.org/id3v2.3.0): the recording date
/// `TDRC` becomes `TYER` (year) and `TDAT` (DDMM), the original date `TDOR` becomes `TORY`,
/// the mood `TMOO` (v2.4 only) a `TXXX:MOOD`; several values of one frame, NUL-separated in
/// v2.4, are joined with `/`, as v2.3 separates artists. Text is written as UTF-16 (v2.3 has
/// no UTF-8).
fn as_v23(tag: &mut id3::Tag) {
    let text = |tag: &id3::Tag, id: &str| {
        tag.get(id)
            .and_then(|f| f.content().text())
            .map(str::to_string)
    };
    if let Some(date) = text(tag, "TDRC") {
        tag.remove("TDRC");
        tag.add_frame(Frame::text(
            "TYER",
            date.chars().take(4).collect::<String>(),
        ));
        // YYYY-MM-DD → DDMM
        if let (Some(month), Some(day)) = (date.get(5..7), date.get(8..10)) {
            tag.add_frame(Frame::text("TDAT", format!("{day}{month}")));
        }
    }
    if let Some(date) = text(tag, "TDOR") {
        tag.remove("TDOR");
        tag.add_frame(Frame::text(
            "TORY",
            date.chars().take(4).collect::<String>(),
        ));
    }
    if let Some(mood) = text(tag, "TMOO") {
        tag.remove("TMOO");
        tag.add_frame(ExtendedText {
            description: "MOOD".into(),
            value: mood,
        });
    }
    let joined: Vec<Frame> = tag
        .frames()
        .filter_map(|f| match f.content() {
            id3::Content::Text(t) if t.contains('\0') => Some(Frame::text(
                f.id(),
                t.split('\0').collect::<Vec<_>>().join("/"),
            )),
            id3::Content::ExtendedText(x) if x.value.contains('\0') => Some(
                ExtendedText {
                    description: x.description.clone(),
                    value: x.value.split('\0').collect::<Vec<_>>().join("/"),
                }
                .into(),
            ),
            _ => None,
        })
        .collect();
    for frame in joined {
        tag.add_frame(frame);
    }
}

fn picture_type(kind: u8) -> PictureType {
    use PictureType::*;
    const TYPES: [PictureType; 21] = [
        Other,
        Icon,
        OtherIcon,
        CoverFront,
        CoverBack,
        Leaflet,
        Media,
        LeadArtist,
        Artist,
        Conductor,
        Band,
        Composer,
        Lyricist,
        RecordingLocation,
        DuringRecording,
        DuringPerformance,
        ScreenCapture,
        BrightFish,
        Illustration,
        BandLogo,
        PublisherLogo,
    ];
    TYPES
        .get(usize::from(kind))
        .copied()
        .unwrap_or(Undefined(kind))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::tags::TagFile;

    #[test]
    fn a_v23_tag_has_v23_frames_dates_and_separators() {
        let mut tags = Tags::default();
        let file = TagFile::parse(
            Path::new("t"),
            "TITLE=Svefn-g-englar\nARTIST=Jónsi\nARTIST=Georg Hólm\nDATE=1999-06-12\nORIGINALDATE=1998\nMOOD=calm\nCATALOG=a\nCATALOG=b\n",
        )
        .unwrap();
        tags.merge(&file);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.mp3");
        std::fs::write(&path, b"").unwrap();
        write(&tags, &[], Id3Version::V23, &path).unwrap();
        let tag = id3::Tag::read_from_path(&path).unwrap();
        assert_eq!(tag.version(), Version::Id3v23);
        let text = |id: &str| {
            tag.get(id)
                .and_then(|f| f.content().text())
                .map(str::to_string)
        };
        assert_eq!(text("TYER").as_deref(), Some("1999"));
        assert_eq!(text("TDAT").as_deref(), Some("1206"));
        assert_eq!(text("TORY").as_deref(), Some("1998"));
        assert_eq!(text("TDRC"), None);
        assert_eq!(text("TMOO"), None);
        // On disk "Jónsi/Georg Hólm" in UTF-16 (v2.3 has no UTF-8); the reader splits at "/".
        let utf16: Vec<u8> = "Jónsi/Georg Hólm"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.windows(utf16.len()).any(|w| w == utf16.as_slice()));
        assert_eq!(text("TPE1").as_deref(), Some("Jónsi\0Georg Hólm"));
        assert_eq!(text("TIT2").as_deref(), Some("Svefn-g-englar"));
        let extended: Vec<(String, String)> = tag
            .extended_texts()
            .map(|x| (x.description.clone(), x.value.clone()))
            .collect();
        assert!(
            extended.contains(&("MOOD".into(), "calm".into())),
            "{extended:?}"
        );
        assert!(
            extended.contains(&("CATALOG".into(), "a/b".into())),
            "{extended:?}"
        );
        assert_eq!(extended.len(), 2, "{extended:?}");
    }

    #[test]
    fn vorbis_names_map_to_id3_frames() {
        let mut tags = Tags::default();
        let file = TagFile::parse(Path::new("t"), "TITLE=Proud Mary\nARTIST=CCR\nTRACKNUMBER=3\nTRACKTOTAL=9\nDISCNUMBER=1\nCATALOG=x1\nCOMMENT=first take\nLABEL=Fantasy\nISRC=USFI16900001\n").unwrap();
        tags.merge(&file);
        let tag = tag_for(&tags, &[]);
        assert_eq!(tag.title(), Some("Proud Mary"));
        assert_eq!(tag.artist(), Some("CCR"));
        assert_eq!(tag.track(), Some(3));
        assert_eq!(tag.total_tracks(), Some(9));
        assert_eq!(tag.disc(), Some(1));
        assert_eq!(
            tag.extended_texts()
                .find(|t| t.description == "CATALOG")
                .unwrap()
                .value,
            "x1"
        );
        assert_eq!(tag.get("TPUB").unwrap().content().text(), Some("Fantasy"));
        assert_eq!(
            tag.get("TSRC").unwrap().content().text(),
            Some("USFI16900001")
        );
        assert_eq!(tag.comments().next().unwrap().text, "first take");
        assert_eq!(picture_type(3), PictureType::CoverFront);
    }
}
