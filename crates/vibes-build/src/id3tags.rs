//! ID3v2.4 tags for MP3 outputs, from the tree's Vorbis comment names.

use std::path::Path;

use id3::frame::{Comment, ExtendedText, Picture, PictureType};
use id3::{Frame, TagLike, Version};

use crate::picture::LoadedPicture;
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
pub fn write(tags: &Tags, pictures: &[LoadedPicture], path: &Path) -> Result<(), id3::Error> {
    let _ = id3::Tag::remove_from_path(path)?;
    tag_for(tags, pictures).write_to_path(path, Version::Id3v24)
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
