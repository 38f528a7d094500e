//! Memory is bounded by the work, not the collection: a build holds the covers of the tracks it
//! is encoding, never every cover of the tree. Alone in its test binary so that the process's
//! peak resident memory is this build's: the other tests are in `it/`, whose fixtures it
//! shares.

#[path = "it/support.rs"]
mod support;

use std::path::Path;

use support::*;

const ALBUMS: usize = 40;
const COVER: u64 = 4 << 20;

/// (VmRSS, VmHWM) of this process in bytes.
fn rss_and_peak() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib = |key: &str| -> u64 {
        let line = status.lines().find(|l| l.starts_with(key)).unwrap();
        line.split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<u64>()
            .unwrap()
            * 1024
    };
    (kib("VmRSS:"), kib("VmHWM:"))
}

/// Albums of one short track, each with its own cover: a valid JPEG padded to `COVER` bytes.
/// The padding is a hole, so the tree takes little disk however large its covers read.
fn albums(root: &Path) {
    for a in 0..ALBUMS {
        let album = root.join(format!("artist/album{a:03}"));
        write(
            &album.join("tags.vc"),
            format!("ARTIST=Artist\nALBUM=Album {a}\n"),
        );
        write(&album.join("vibes.txt"), "apic=3:jpeg:.\n");
        let cover = album.join("picture-03.jpeg");
        let mut jpeg = tiny_jpeg();
        // A different first block per album: no two covers are alike.
        jpeg.extend(format!("album {a}").bytes());
        write(&cover, &jpeg);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&cover)
            .unwrap()
            .set_len(COVER)
            .unwrap();
        write_wav(&album.join("01-tone.wav"), 0.05, 440.0 + a as f32);
        write(&album.join("01-tone.tags.vc"), "TITLE=Tone\n");
    }
}

#[test]
fn a_build_holds_a_few_covers_not_every_cover_of_the_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, out) = (tmp.path().join("src"), tmp.path().join("out"));
    albums(&src);
    // Start the peak from here: what follows is the build alone. Linux only (4.0 and later);
    // elsewhere bench/memory.sh is the check.
    if let Err(e) = std::fs::write("/proc/self/clear_refs", "5") {
        eprintln!(
            "skipped: cannot reset the peak resident memory through /proc/self/clear_refs: {e}"
        );
        return;
    }
    let (before, _) = rss_and_peak();

    let mut opts = options(&src, &out, vec![("archive".into(), FLAC.into())]);
    opts.jobs = 2;
    let summary = vibes_build::build(&opts, &Recorder::default()).unwrap();
    assert_eq!(summary.encoded, ALBUMS, "{summary}");
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);

    let (_, peak) = rss_and_peak();
    let grown = peak.saturating_sub(before);
    let all_covers = ALBUMS as u64 * COVER;
    eprintln!(
        "peak grew by {} MiB over {} MiB of covers",
        grown >> 20,
        all_covers >> 20
    );
    // Two threads' covers and the cache's few are a fraction of the tree's; holding every
    // cover at once (as the engine once did) is all of it.
    assert!(
        grown < all_covers / 2,
        "the build's peak grew by {} MiB: the tree's covers are {} MiB, a build at 2 jobs should \
         hold a few covers, not most of them",
        grown >> 20,
        all_covers >> 20
    );
}
