//! A generated tree in the mustup format compiled to FLAC, MP3, Ogg Vorbis and Opus by the real
//! encoders, tags read back by an independent reader: three levels of inherited metadata, lists,
//! front and back covers, a trim, a playlist, Unicode names, and the faults mustup users make.

use std::path::Path;

use crate::support::*;
use lofty::file::{AudioFile, TaggedFileExt};
use lofty::picture::PictureType;
use lofty::tag::{Accessor, ItemKey, Tag};
use vibes_build::{build, SourceFormat};

/// What the collection's `output-honor10/tup.config` asks for, program key included.
const HONOR10: &str =
    "CONFIG_ENCODER=oggenc\nCONFIG_OGGENC=oggenc\nCONFIG_OGGENC_FLAGS=--quiet --quality 5 --resample 44100\n";

fn profiles() -> Vec<(String, String)> {
    [
        ("home", FLAC),
        ("mp3", MP3),
        ("honor10", HONOR10),
        ("opus", OPUS),
    ]
    .into_iter()
    .map(|(n, t)| (n.to_string(), t.to_string()))
    .collect()
}

const ALBUM: &str = "sigur_rós/ágætis_byrjun/1";

fn tree(root: &Path) {
    write(
        &root.join("mustup-metadata.yaml"),
        "---\ntags:\n   common:\n      artist: Sigur Rós\n   Vorbis:\n      GENRE:\n         - Post-Rock\n         - Ambient\n      LABEL: FatCat\n",
    );
    write(
        &root.join("sigur_rós/mustup-metadata.yaml"),
        "---\ntags:\n   Vorbis:\n      ALBUMARTIST: Sigur Rós\n      DATE: 1998\npictures:\n   APIC:\n      3:\n         path: cover-front.jpeg\n         description: Vorderseite\n",
    );
    write(&root.join("sigur_rós/cover-front.jpeg"), tiny_jpeg());
    write(
        &root.join("sigur_rós/ágætis_byrjun/mustup-metadata.yaml"),
        "---\ntags:\n   common:\n      album: Ágætis byrjun\n   Vorbis:\n      DATE: '1999'\npictures:\n   APIC:\n      4:\n         path: back.jpeg\n",
    );
    write(&root.join("sigur_rós/ágætis_byrjun/back.jpeg"), tiny_jpeg());
    write(
        &root.join(ALBUM).join("mustup-metadata.yaml"),
        "---\ntags:\n   common:\n      disc number: 1\n",
    );
    write(
        &root.join(ALBUM).join("mustup-manifest.yaml"),
        "---\n\n01.wave:\n   metadata:\n      tags:\n         common:\n            title: Intro\n\n02-svefn.wave:\n   metadata:\n      tags:\n         common:\n            title: Svefn-g-englar\n         Vorbis:\n            ISRC: ISXX19990002\n            COMPOSER: [Jónsi, Georg Hólm]\n   transformations:\n      trim:\n         start:\n            seconds: 0\n            second_fractions: 5\n         duration:\n            seconds: 1\n",
    );
    write_wav(&root.join(ALBUM).join("01.wave"), 0.5, 440.0);
    write_wav(&root.join(ALBUM).join("02-svefn.wave"), 2.0, 660.0);
    // Not in the manifest: not a track.
    write_wav(&root.join(ALBUM).join("take2.wave"), 0.2, 550.0);
    write(
        &root.join("best.pl.yaml"),
        format!("---\ntitle: Das Beste\ntracks:\n   - {ALBUM}/02-svefn\n   - {ALBUM}/01\n"),
    );
    // What mustup's tup setup keeps beside the music: read by nobody.
    write(
        &root.join("output-home/tup.config"),
        "CONFIG_ENCODER=flac\n",
    );
    write_wav(&root.join("output-home/stale.wave"), 0.1, 440.0);
    write(&root.join("utils/plg.sh"), "#!/bin/sh\n");
}

fn tag_of(path: &Path) -> Tag {
    let file = lofty::read_from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    file.primary_tag()
        .unwrap_or_else(|| panic!("{} has no tag", path.display()))
        .clone()
}

fn strings(tag: &Tag, key: ItemKey) -> Vec<String> {
    tag.get_strings(&key).map(str::to_string).collect()
}

#[test]
fn a_mustup_tree_compiles_to_four_formats_tagged_as_its_yaml_says() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, out) = (tmp.path().join("src"), tmp.path().join("out"));
    tree(&src);
    let summary = build(&options(&src, &out, profiles()), &Recorder::default()).unwrap();
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);
    assert_eq!(summary.tracks, 8, "two tracks, four profiles");
    assert!(summary.warnings.is_empty(), "{:?}", summary.warnings);

    for (profile, ext) in [
        ("home", "flac"),
        ("mp3", "mp3"),
        ("honor10", "ogg"),
        ("opus", "opus"),
    ] {
        let dir = out.join(profile);
        assert_eq!(
            files(&dir),
            [
                "best.m3u".to_string(),
                format!("{ALBUM}/01.{ext}"),
                format!("{ALBUM}/02-svefn.{ext}"),
            ],
            "{profile}"
        );
        let intro = tag_of(&dir.join(format!("{ALBUM}/01.{ext}")));
        assert_eq!(intro.title().as_deref(), Some("Intro"), "{profile}");
        assert_eq!(intro.artist().as_deref(), Some("Sigur Rós"), "{profile}");
        assert_eq!(intro.album().as_deref(), Some("Ágætis byrjun"), "{profile}");
        assert_eq!(
            (intro.track(), intro.disk()),
            (Some(1), Some(1)),
            "{profile}: the track number from the file name"
        );
        assert_eq!(
            intro.get_string(&ItemKey::RecordingDate),
            Some("1999"),
            "{profile}: the nearest DATE wins"
        );
        assert_eq!(
            intro.get_string(&ItemKey::AlbumArtist),
            Some("Sigur Rós"),
            "{profile}"
        );
        assert_eq!(
            intro.get_string(&ItemKey::Label),
            Some("FatCat"),
            "{profile}: LABEL"
        );
        let genres = strings(&intro, ItemKey::Genre);
        let genres = if genres.len() == 1 {
            // ID3v2.4 keeps a list in one frame, NUL-separated.
            genres[0].split(['\0', '/']).map(str::to_string).collect()
        } else {
            genres
        };
        assert_eq!(
            genres,
            ["Post-Rock", "Ambient"],
            "{profile}: a list repeats"
        );
        let mut kinds: Vec<_> = intro
            .pictures()
            .iter()
            .map(|p| (p.pic_type(), p.description().map(str::to_string)))
            .collect();
        kinds.sort_by_key(|(t, _)| t.as_u8());
        assert_eq!(
            kinds,
            [
                (PictureType::CoverFront, Some("Vorderseite".to_string())),
                (PictureType::CoverBack, None),
            ],
            "{profile}"
        );
        assert!(intro
            .pictures()
            .iter()
            .all(|p| p.data() == tiny_jpeg().as_slice()));

        let svefn_path = dir.join(format!("{ALBUM}/02-svefn.{ext}"));
        let svefn = tag_of(&svefn_path);
        assert_eq!(svefn.track(), Some(2), "{profile}");
        assert_eq!(
            svefn.get_string(&ItemKey::Isrc),
            Some("ISXX19990002"),
            "{profile}"
        );
        let composers = strings(&svefn, ItemKey::Composer).join("\0");
        assert_eq!(composers, "Jónsi\0Georg Hólm", "{profile}");
        let length = lofty::read_from_path(&svefn_path)
            .unwrap()
            .properties()
            .duration()
            .as_secs_f64();
        assert!(
            (length - 1.0).abs() < 0.08,
            "{profile}: 2 s trimmed from 0.5 s for 1 s, got {length}"
        );

        let playlist = std::fs::read_to_string(dir.join("best.m3u")).unwrap();
        let paths: Vec<_> = playlist.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            paths,
            [
                format!("{ALBUM}/02-svefn.{ext}"),
                format!("{ALBUM}/01.{ext}")
            ],
            "{profile}"
        );
        assert!(playlist.contains("#PLAYLIST:Das Beste\n"), "{profile}");
    }

    // Nothing changed: nothing is done.
    let again = build(&options(&src, &out, profiles()), &Recorder::default()).unwrap();
    assert_eq!((again.encoded, again.up_to_date), (0, 8));
}

/// The first fault of the tree, as `--fail-fast` stops at it.
fn error_of(src: &Path, out: &Path) -> String {
    let mut opts = options(src, out, vec![("home".into(), FLAC.into())]);
    opts.fail_fast = true;
    build(&opts, &Recorder::default()).unwrap_err().to_string()
}

#[test]
fn faults_name_file_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, out) = (tmp.path().join("src"), tmp.path().join("out"));
    let manifest = src.join("a/b/mustup-manifest.yaml");
    write_wav(&src.join("a/b/01-x.wave"), 0.1, 440.0);

    write(
        &manifest,
        "01-x.wave:\n  metadata:\n    tags:\n      common: {title: 'open\n",
    );
    let e = error_of(&src, &out);
    assert!(e.contains("a/b/mustup-manifest.yaml:5:1: "), "{e}");

    write(&manifest, "01-x.wave: {}\n02-y.wave: {}\n");
    let e = error_of(&src, &out);
    assert!(
        e.contains("a/b/mustup-manifest.yaml:2:1: `02-y.wave` names no file of this directory"),
        "{e}"
    );

    write(&manifest, "01-x.wave:\n  metadata:\n    tagz: {}\n");
    let e = error_of(&src, &out);
    assert!(
        e.contains("a/b/mustup-manifest.yaml:3:5: ") && e.contains("unknown field `tagz`"),
        "{e}"
    );

    write(&tmp.path().join("outside.jpeg"), tiny_jpeg());
    write(
        &src.join("a/mustup-metadata.yaml"),
        "pictures:\n  APIC:\n    3:\n      path: ../../outside.jpeg\n",
    );
    write(&manifest, "01-x.wave: {}\n");
    let e = error_of(&src, &out);
    assert!(
        e.contains(
            "a/mustup-metadata.yaml:4:13: picture `../../outside.jpeg` leaves the sources tree"
        ),
        "{e}"
    );
    std::fs::remove_file(src.join("a/mustup-metadata.yaml")).unwrap();

    // A track number that disagrees with the file name is a warning, as mustup gives it.
    write(
        &manifest,
        "01-x.wave:\n  metadata:\n    tags:\n      common:\n        track number: 7\n",
    );
    let summary = build(
        &options(&src, &out, vec![("home".into(), FLAC.into())]),
        &Recorder::default(),
    )
    .unwrap();
    assert_eq!(summary.warnings.len(), 1);
    assert!(
        summary.warnings[0].contains(
            "a/b/mustup-manifest.yaml:5:9: warning: `01-x.wave`: track number 7 differs from 1"
        ),
        "{:?}",
        summary.warnings
    );
    let tag = tag_of(&out.join("home/a/b/01-x.flac"));
    assert_eq!(tag.track(), Some(7), "the manifest's number wins");

    // Both formats in one tree: which files, one of each.
    write(&src.join("a/tags.vc"), "ARTIST=x\n");
    let e = error_of(&src, &out);
    assert!(
        e.contains("a/tags.vc") && e.contains("a/b/mustup-manifest.yaml"),
        "{e}"
    );
    // Unless the format is chosen.
    let mut opts = options(&src, &out, vec![("home".into(), FLAC.into())]);
    opts.format = SourceFormat::Mustup;
    assert!(build(&opts, &Recorder::default()).is_ok());
}

fn seconds(path: &Path) -> f64 {
    lofty::read_from_path(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .properties()
        .duration()
        .as_secs_f64()
}

/// A FLAC input is cut by the decoder that feeds every encoder; `end` is a time of the source.
#[test]
fn a_trim_cuts_flac_inputs_too_and_end_is_a_time_of_the_source() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, out) = (tmp.path().join("src"), tmp.path().join("out"));
    write_flac(&src.join("a/01-x.flac"), 2.0, 440.0);
    write_wav(&src.join("a/02-y.wave"), 2.0, 440.0);
    write(
        &src.join("a/mustup-manifest.yaml"),
        "01-x.flac:\n  transformations:\n    trim:\n      start: {seconds: 1}\n02-y.wave:\n  transformations:\n    trim:\n      end: {seconds: 0, second_fractions: 75}\n",
    );
    let profiles = vec![
        ("home".to_string(), FLAC.to_string()),
        ("mp3".into(), MP3.into()),
    ];
    let summary = build(&options(&src, &out, profiles), &Recorder::default()).unwrap();
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);
    for ext in ["flac", "mp3"] {
        let dir = out.join(if ext == "flac" { "home" } else { "mp3" });
        let x = seconds(&dir.join(format!("a/01-x.{ext}")));
        assert!((x - 1.0).abs() < 0.08, "{ext}: 2 s from 1 s on, got {x}");
        let y = seconds(&dir.join(format!("a/02-y.{ext}")));
        assert!((y - 0.75).abs() < 0.08, "{ext}: up to 0.75 s, got {y}");
    }
}

/// The two everyday flaws of a real collection: an album's metadata names its covers `.png`
/// where the files are `.jpeg`, and a playlist keeps a line that names no track.
fn flawed(root: &Path) {
    tree(root);
    let album = root.join("ace_of_base/happy_nation");
    write(
        &album.join("mustup-metadata.yaml"),
        "---\ntags:\n   common:\n      album: Happy Nation\npictures:\n   APIC:\n      3:\n         path: cover-front.png\n",
    );
    write(&album.join("cover-front.jpeg"), tiny_jpeg());
    write(
        &album.join("mustup-manifest.yaml"),
        "---\n01-voulez-vous_danser.wave: {}\n04-all_that_she_wants.wave: {}\n",
    );
    write_wav(&album.join("01-voulez-vous_danser.wave"), 0.2, 440.0);
    write_wav(&album.join("04-all_that_she_wants.wave"), 0.2, 550.0);
    write(
        &root.join("best.pl.yaml"),
        format!("---\ntitle: Das Beste\ntracks:\n   - {ALBUM}/02-svefn\n   - All that she wants # FIXME\n   - {ALBUM}/01\n"),
    );
}

#[test]
fn a_typo_leaves_out_only_the_tracks_it_concerns_and_every_other_track_builds() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, out) = (tmp.path().join("src"), tmp.path().join("out"));
    flawed(&src);
    let metadata = src.join("ace_of_base/happy_nation/mustup-metadata.yaml");
    let fixed = std::fs::read_to_string(&metadata)
        .unwrap()
        .replace("cover-front.png", "cover-front.jpeg");
    let typo = std::fs::read_to_string(&metadata).unwrap();
    // Built once without the typo: the album has outputs.
    write(&metadata, &fixed);
    let first = build(&options(&src, &out, profiles()), &Recorder::default()).unwrap();
    assert!(first.left_out.is_empty(), "{:?}", first.left_out);
    let kept = out.join("home/ace_of_base/happy_nation/01-voulez-vous_danser.flac");
    let before = std::fs::read(&kept).unwrap();

    // The typo: that album's two tracks are left out, named with the fault and a hint; their
    // outputs stay as they were; everything else builds.
    write(&metadata, &typo);
    write_wav(&src.join(ALBUM).join("01.wave"), 0.5, 220.0);
    let summary = build(&options(&src, &out, profiles()), &Recorder::default()).unwrap();
    assert!(!summary.complete());
    let left: Vec<String> = summary
        .left_out
        .iter()
        .map(|b| format!("{}: {}", b.rel.display(), b.fault))
        .collect();
    assert_eq!(left.len(), 2, "{left:#?}");
    for l in &left {
        assert!(
            l.contains("ace_of_base/happy_nation/mustup-metadata.yaml:8:16: picture `cover-front.png` cannot be read")
                && l.contains("(did you mean `cover-front.jpeg`?)"),
            "{l}"
        );
    }
    assert_eq!(
        summary.encoded, 4,
        "the changed track, in four profiles: {summary}"
    );
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);
    assert_eq!(
        std::fs::read(&kept).unwrap(),
        before,
        "a left-out track's output is kept"
    );
    assert_eq!(summary.removed, 0, "{summary}");
    // The playlist line that names no track: left out, with where it is and the nearest track.
    assert!(
        summary.warnings.iter().any(|w| w
            .contains("best.pl.yaml:5:6: warning: `All that she wants` is no track of the tree")),
        "{:?}",
        summary.warnings
    );
    let m3u = std::fs::read_to_string(out.join("home/best.m3u")).unwrap();
    assert_eq!(m3u.matches("#EXTINF").count(), 2, "{m3u}");
    assert!(!m3u.contains("FIXME"), "{m3u}");

    // --fail-fast: the first fault stops the build before anything is written.
    let mut opts = options(&src, &out, profiles());
    opts.fail_fast = true;
    write_wav(&src.join(ALBUM).join("01.wave"), 0.5, 330.0);
    let e = build(&opts, &Recorder::default()).unwrap_err().to_string();
    assert!(
        e.contains("cover-front.png") && e.contains("--fail-fast"),
        "{e}"
    );
}

/// Hostile YAML costs its own album and nothing more: an alias bomb (one 10 KB anchored string,
/// 200,000 aliases of it: gigabytes once expanded) and flow collections nested 100,000 deep are
/// refused on their text, at the place they pass the bound, before any parser expands them.
#[test]
fn an_alias_bomb_or_deep_nesting_is_refused_and_the_rest_builds() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, out) = (tmp.path().join("src"), tmp.path().join("out"));
    tree(&src);
    let bomb = src.join("bomb/album");
    write(
        &bomb.join("mustup-metadata.yaml"),
        format!(
            "---\ntags:\n   Vorbis:\n      COMMENT: &b '{}'\n      X: [{}]\n",
            "x".repeat(10_000),
            vec!["*b"; 200_000].join(",")
        ),
    );
    write(&bomb.join("mustup-manifest.yaml"), "---\n01-a.wave: {}\n");
    write_wav(&bomb.join("01-a.wave"), 0.1, 440.0);
    let deep = src.join("deep/album");
    write(
        &deep.join("mustup-metadata.yaml"),
        format!("---\nx: {}{}\n", "[".repeat(100_000), "]".repeat(100_000)),
    );
    write(&deep.join("mustup-manifest.yaml"), "---\n01-b.wave: {}\n");
    write_wav(&deep.join("01-b.wave"), 0.1, 440.0);

    let summary = build(
        &options(&src, &out, vec![("home".into(), FLAC.into())]),
        &Recorder::default(),
    )
    .unwrap();
    let faults: Vec<&str> = summary.left_out.iter().map(|b| b.fault.as_str()).collect();
    assert_eq!(faults.len(), 2, "{faults:#?}");
    assert!(
        faults
            .iter()
            .any(|f| f.contains("bomb/album/mustup-metadata.yaml:5:")
                && f.contains("expand to more than 4194304 bytes")),
        "{faults:#?}"
    );
    assert!(
        faults
            .iter()
            .any(|f| f.contains("deep/album/mustup-metadata.yaml:2:")
                && f.contains("nest deeper than 64 levels")),
        "{faults:#?}"
    );
    assert_eq!(summary.encoded, 2, "{summary}");
}
