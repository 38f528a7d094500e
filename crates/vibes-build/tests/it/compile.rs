//! A generated collection compiled to FLAC, MP3, Ogg Vorbis and Opus by the real encoders, with
//! the tags read back by an independent reader.

use std::path::Path;

use crate::support::*;
use lofty::file::TaggedFileExt;
use lofty::picture::PictureType;
use lofty::tag::{Accessor, ItemKey, Tag};
use vibes_build::build;

fn tag_of(path: &Path) -> Tag {
    let file = lofty::read_from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    file.primary_tag()
        .unwrap_or_else(|| panic!("{} has no tag", path.display()))
        .clone()
}

fn text(tag: &Tag, key: ItemKey) -> Option<String> {
    tag.get_string(&key).map(str::to_string)
}

#[test]
fn a_collection_compiles_to_four_profiles_tagged_as_the_tree_says() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, out) = (tmp.path().join("src"), tmp.path().join("out"));
    collection(&src);

    let summary = build(&options(&src, &out, all_profiles()), &Recorder::default()).unwrap();
    assert_eq!(
        (
            summary.tracks,
            summary.encoded,
            summary.up_to_date,
            summary.skipped
        ),
        (12, 12, 0, 1),
        "{summary}"
    );
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);

    for (profile, ext) in [
        ("archive", "flac"),
        ("phone", "mp3"),
        ("ogg", "ogg"),
        ("laptop", "opus"),
    ] {
        let dir = out.join(profile);
        let born = tag_of(&dir.join(format!("ccr/bayou_country/1/01-born_on_the_bayou.{ext}")));
        assert_eq!(
            born.title().as_deref(),
            Some("Born on the Bayou"),
            "{profile}"
        );
        assert_eq!(
            born.artist().as_deref(),
            Some("Creedence Clearwater Revival"),
            "{profile}"
        );
        assert_eq!(born.album().as_deref(), Some("Bayou Country"), "{profile}");
        assert_eq!(
            text(&born, ItemKey::AlbumArtist).as_deref(),
            Some("Creedence Clearwater Revival"),
            "{profile}"
        );
        assert_eq!(
            born.genre().as_deref(),
            Some("Swamp Rock"),
            "{profile}: the nearer tags.vc wins"
        );
        assert_eq!(
            text(&born, ItemKey::RecordingDate).as_deref(),
            Some("1969"),
            "{profile}"
        );
        assert_eq!((born.track(), born.disk()), (Some(1), Some(1)), "{profile}");
        let cover = born
            .pictures()
            .iter()
            .find(|p| p.pic_type() == PictureType::CoverFront)
            .unwrap_or_else(|| panic!("{profile}: no front cover"));
        assert_eq!(cover.data(), tiny_jpeg().as_slice(), "{profile}");

        let bootleg = tag_of(&dir.join(format!("ccr/bayou_country/1/02-bootleg.{ext}")));
        assert_eq!(
            bootleg.title().as_deref(),
            Some("Bootleg"),
            "{profile}: AIFF input"
        );
        assert_eq!(bootleg.track(), Some(2), "{profile}");
        assert_eq!(bootleg.comment().as_deref(), Some("live take"), "{profile}");

        let green = tag_of(&dir.join(format!("kinks/village_green/01-village_green.{ext}")));
        assert_eq!(
            green.title().as_deref(),
            Some("Village Green"),
            "{profile}: FLAC input"
        );
        assert_eq!(green.artist().as_deref(), Some("The Kinks"), "{profile}");
        assert_eq!(
            green.genre().as_deref(),
            Some("Rock"),
            "{profile}: inherited from the root"
        );
        assert!(
            green.pictures().is_empty(),
            "{profile}: no apic above the Kinks"
        );
        assert!(
            green
                .items()
                .all(|i| i.value().text() != Some("from the source file")),
            "{profile}: a tag of the input file leaked into the output"
        );

        assert!(
            !dir.join(format!("ccr/bayou_country/1/03-outtake.{ext}"))
                .exists(),
            "{profile}: encode- is skipped"
        );
        let playlist =
            std::fs::read_to_string(dir.join("ccr/bayou_country/bayou_country.m3u")).unwrap();
        assert_eq!(
            playlist,
            format!(
                "#EXTM3U\n#EXTINF:-1,Creedence Clearwater Revival - Born on the Bayou\n1/01-born_on_the_bayou.{ext}\n\
                 #EXTINF:-1,Creedence Clearwater Revival - Bootleg\n1/02-bootleg.{ext}\n"
            )
        );
        assert!(
            dir.join("ccr/bayou_country/1/1.m3u").is_file(),
            "playlist+ is inherited by the disc"
        );
        assert!(!dir.join("kinks/village_green/village_green.m3u").exists());
    }

    let mp3 =
        id3::Tag::read_from_path(out.join("phone/ccr/bayou_country/1/01-born_on_the_bayou.mp3"))
            .unwrap();
    assert_eq!(mp3.version(), id3::Version::Id3v24);

    let again = Recorder::default();
    let summary = build(&options(&src, &out, all_profiles()), &again).unwrap();
    assert_eq!(
        (summary.encoded, summary.retagged, summary.up_to_date),
        (0, 0, 12),
        "{summary}"
    );
    assert!(again.touched().is_empty());
}

#[test]
fn a_changed_tags_vc_redoes_only_the_tracks_beneath_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, out) = (tmp.path().join("src"), tmp.path().join("out"));
    collection(&src);
    build(&options(&src, &out, all_profiles()), &Recorder::default()).unwrap();

    write(
        &src.join("ccr/bayou_country/1/tags.vc"),
        "DISCNUMBER=2\nGENRE=Swamp Rock\n",
    );
    let rec = Recorder::default();
    let summary = build(&options(&src, &out, all_profiles()), &rec).unwrap();
    // FLAC, MP3 and Vorbis tags are rewritten in place; Opus is encoded again.
    assert_eq!(
        (summary.encoded, summary.retagged, summary.up_to_date),
        (2, 6, 4),
        "{summary}"
    );
    let mut expected: Vec<String> = [
        "archive/{}.flac",
        "phone/{}.mp3",
        "ogg/{}.ogg",
        "laptop/{}.opus",
    ]
    .iter()
    .flat_map(|p| {
        ["01-born_on_the_bayou", "02-bootleg"]
            .map(|t| p.replace("{}", &format!("ccr/bayou_country/1/{t}")))
    })
    .collect();
    expected.sort();
    assert_eq!(rec.touched(), expected);
    for (profile, ext) in [
        ("archive", "flac"),
        ("phone", "mp3"),
        ("ogg", "ogg"),
        ("laptop", "opus"),
    ] {
        let tag = tag_of(&out.join(format!("{profile}/ccr/bayou_country/1/02-bootleg.{ext}")));
        assert_eq!(tag.disk(), Some(2), "{profile}");
        assert_eq!(tag.title().as_deref(), Some("Bootleg"), "{profile}");
        assert_eq!(
            tag.pictures().len(),
            1,
            "{profile}: a retag keeps exactly the tree's pictures"
        );
    }
}

#[test]
fn a_rebuild_encodes_every_output_again_whatever_the_records_say() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, out) = (tmp.path().join("src"), tmp.path().join("out"));
    collection(&src);
    let first = build(&options(&src, &out, all_profiles()), &Recorder::default()).unwrap();
    let mut opts = options(&src, &out, all_profiles());
    opts.rebuild = true;
    let again = build(&opts, &Recorder::default()).unwrap();
    assert_eq!(
        (again.encoded, again.retagged, again.up_to_date),
        (first.encoded, 0, 0),
        "{again}"
    );
    // And without it, the records hold again: nothing to do.
    let after = build(&options(&src, &out, all_profiles()), &Recorder::default()).unwrap();
    assert_eq!(after.encoded + after.retagged, 0, "{after}");
}

#[test]
fn a_removed_source_removes_its_outputs_and_empty_directories() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, out) = (tmp.path().join("src"), tmp.path().join("out"));
    collection(&src);
    let profiles = vec![("phone".to_string(), MP3.to_string())];
    build(&options(&src, &out, profiles.clone()), &Recorder::default()).unwrap();
    assert!(out
        .join("phone/kinks/village_green/01-village_green.mp3")
        .is_file());

    std::fs::remove_dir_all(src.join("kinks")).unwrap();
    std::fs::remove_file(src.join("ccr/bayou_country/1/02-bootleg.aiff")).unwrap();
    let summary = build(&options(&src, &out, profiles), &Recorder::default()).unwrap();
    assert_eq!(summary.removed, 2, "{summary}");
    assert!(!out.join("phone/kinks").exists());
    assert_eq!(
        files(&out.join("phone")),
        [
            "ccr/bayou_country/1/01-born_on_the_bayou.mp3",
            "ccr/bayou_country/1/1.m3u",
            "ccr/bayou_country/bayou_country.m3u"
        ]
    );
    let playlist =
        std::fs::read_to_string(out.join("phone/ccr/bayou_country/bayou_country.m3u")).unwrap();
    assert!(!playlist.contains("bootleg"), "{playlist}");
}

#[test]
fn a_failing_track_is_reported_with_the_encoder_error_and_the_rest_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, out) = (tmp.path().join("src"), tmp.path().join("out"));
    collection(&src);
    // Well-formed WAVE that flac does not take: 32-bit float samples (format type 3).
    let samples: Vec<u8> = (0..8820).flat_map(|_| 0.1f32.to_le_bytes()).collect();
    let float = wave(3, 32, &samples);
    write(&src.join("kinks/village_green/02-broken.wav"), float);
    let rec = Recorder::default();
    let summary = build(
        &options(&src, &out, vec![("archive".into(), FLAC.into())]),
        &rec,
    )
    .unwrap();
    assert_eq!((summary.encoded, summary.failed.len()), (3, 1), "{summary}");
    let f = &summary.failed[0];
    assert_eq!(f.source, Path::new("kinks/village_green/02-broken.wav"));
    assert!(f.message.contains("`flac` failed"), "{}", f.message);
    assert!(
        f.message.contains("unsupported format type 3"),
        "{}",
        f.message
    );
    assert!(
        f.message.lines().count() > 1,
        "the encoder's stderr is part of the report: {}",
        f.message
    );
    assert!(!out
        .join("archive/kinks/village_green/02-broken.flac")
        .exists());
    assert!(
        files(&out.join("archive"))
            .iter()
            .all(|f| !f.contains(".vibes-tmp-")),
        "no temporary file is left"
    );

    // Still failing the next time: a failure is never recorded as done.
    let summary = build(
        &options(&src, &out, vec![("archive".into(), FLAC.into())]),
        &Recorder::default(),
    )
    .unwrap();
    assert_eq!(
        (summary.encoded, summary.up_to_date, summary.failed.len()),
        (0, 3, 1)
    );
}

/// Every profile, stopping at the first fault in the sources.
fn fail_fast(src: &Path, out: &Path) -> vibes_build::BuildOptions {
    let mut opts = options(src, out, all_profiles());
    opts.fail_fast = true;
    opts
}

#[test]
fn with_fail_fast_a_fault_in_the_tree_stops_the_build_naming_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, out) = (tmp.path().join("src"), tmp.path().join("out"));
    collection(&src);
    write(
        &src.join("kinks/village_green/tags.vc"),
        "ARTIST=The Kinks\nthis is no tag\n",
    );
    let err = build(&fail_fast(&src, &out), &Recorder::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("kinks/village_green/tags.vc:2: expected KEY=value, found `this is no tag`"),
        "{err}"
    );

    collection(&src);
    write(&src.join("kinks/vibes.txt"), "apic=3:jpeg:../..\n");
    write(&tmp.path().join("picture-03.jpeg"), tiny_jpeg());
    let err = build(&fail_fast(&src, &out), &Recorder::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("kinks/vibes.txt:1: picture directory `../..` leads outside the sources tree"),
        "{err}"
    );
}

/// Sources that are not audio, or hold none, fail their outputs in every profile alike, named,
/// before any encoder runs: lame would make a tags-only MP3 of a header-only WAVE, oggenc an
/// empty stream. So does a trim past the end of its source, which flac refuses and the WAVE cut
/// would clamp.
#[test]
fn a_source_that_is_not_audio_fails_in_every_profile_alike() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, out) = (tmp.path().join("src"), tmp.path().join("out"));
    let album = src.join("noise/tapes");
    write_wav(&album.join("01-good.wav"), 0.2, 440.0);
    let random: Vec<u8> = (0..5000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    write(&album.join("02-random.wav"), random);
    write(
        &album.join("03-truncated.wav"),
        b"RIFF\x24\x00\x00\x00WAVEfmt ",
    );
    write(&album.join("04-empty.wav"), b"");
    // A whole header, and no sample.
    let header_only = wave(1, 16, &[]);
    write(&album.join("05-header_only.wav"), header_only);
    let profiles = vec![
        ("archive".to_string(), FLAC.to_string()),
        ("phone".to_string(), MP3.to_string()),
        ("ogg".to_string(), OGG.to_string()),
    ];
    let summary = build(&options(&src, &out, profiles), &Recorder::default()).unwrap();
    assert_eq!(
        summary.encoded, 3,
        "the good track in three profiles: {summary}"
    );
    assert_eq!(summary.failed.len(), 12, "{:#?}", summary.failed);
    for f in &summary.failed {
        let name = f.source.file_name().unwrap().to_string_lossy().into_owned();
        // lofty reads a data chunk of no bytes as no data chunk at all.
        assert!(
            f.message.contains("is not well-formed audio") || f.message.contains("holds no audio"),
            "{name} in {}: {}",
            f.profile,
            f.message
        );
        assert!(
            !f.message.contains("` failed"),
            "no encoder ran: {}",
            f.message
        );
    }
    for profile in ["archive", "phone", "ogg"] {
        assert_eq!(
            files(&out.join(profile)).len(),
            1,
            "{profile}: {:?}",
            files(&out.join(profile))
        );
    }
}

/// `CONFIG_ID3_VERSION=2.3` in an MP3 profile: its outputs carry ID3v2.3 tags, for players that
/// do not read v2.4, on encode and on a retag alike; any other value, or the key in a profile
/// that makes no MP3, is refused naming the profile.
#[test]
fn an_mp3_profile_may_ask_for_id3v2_3() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, out) = (tmp.path().join("src"), tmp.path().join("out"));
    collection(&src);
    let v23 = format!("{MP3}CONFIG_ID3_VERSION=2.3\n");
    let profiles = || {
        vec![
            ("old".to_string(), v23.clone()),
            ("phone".to_string(), MP3.to_string()),
        ]
    };
    build(&options(&src, &out, profiles()), &Recorder::default()).unwrap();
    let version = |p: &Path| id3::Tag::read_from_path(p).unwrap().version();
    let old = out.join("old/ccr/bayou_country/1/01-born_on_the_bayou.mp3");
    assert_eq!(version(&old), id3::Version::Id3v23);
    assert_eq!(
        version(&out.join("phone/ccr/bayou_country/1/01-born_on_the_bayou.mp3")),
        id3::Version::Id3v24
    );
    // A tag edit is a retag: still v2.3.
    write(
        &src.join("ccr/bayou_country/1/01-born_on_the_bayou.tags.vc"),
        "TITLE=Born on the Bayou (live)\n",
    );
    let again = build(&options(&src, &out, profiles()), &Recorder::default()).unwrap();
    assert!(again.retagged >= 1, "{again}");
    assert_eq!(version(&old), id3::Version::Id3v23);

    for (text, says) in [
        (
            format!("{MP3}CONFIG_ID3_VERSION=2.2\n"),
            "vibes writes ID3v2 2.4 (the default) or 2.3",
        ),
        (
            format!("{FLAC}CONFIG_ID3_VERSION=2.3\n"),
            "only MP3 (lame) profiles carry ID3 tags",
        ),
    ] {
        let e = build(
            &options(&src, &out, vec![("x".into(), text)]),
            &Recorder::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("profile `x`: CONFIG_ID3_VERSION=") && e.contains(says),
            "{e}"
        );
    }
}
