//! A build killed with SIGKILL halfway leaves nothing that looks finished but is not, and the
//! next build ends with the same outputs as a clean one.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;
use vibes_build::build;

fn finished_outputs(dir: &Path) -> Vec<String> {
    if !dir.exists() {
        return Vec::new();
    }
    files(dir)
        .into_iter()
        .filter(|f| (f.ends_with(".flac") || f.ends_with(".mp3")) && !f.contains(".vibes-tmp-"))
        .collect()
}

#[test]
fn a_killed_build_resumes_to_the_same_outputs_as_a_clean_one() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, out, clean) = (
        tmp.path().join("src"),
        tmp.path().join("out"),
        tmp.path().join("clean"),
    );
    write(&src.join("tags.vc"), "ARTIST=Test Tones\nALBUM=Sines\n");
    for i in 1..=30 {
        write_wav(
            &src.join(format!("disc/{i:02}-tone.wav")),
            1.0,
            200.0 + 10.0 * i as f32,
        );
        write(
            &src.join(format!("disc/{i:02}-tone.tags.vc")),
            format!("TITLE=Tone {i}\n"),
        );
    }
    write(&tmp.path().join("flac.config"), FLAC);
    write(&tmp.path().join("mp3.config"), MP3);

    let mut child = Command::new(env!("CARGO_BIN_EXE_vibes-compile"))
        .arg(&src)
        .arg(&out)
        .arg(format!(
            "archive={}",
            tmp.path().join("flac.config").display()
        ))
        .arg(format!("phone={}", tmp.path().join("mp3.config").display()))
        .args(["--jobs", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while finished_outputs(&out).len() < 4 {
        assert!(
            Instant::now() < deadline,
            "the build produced no output in time"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the build ended before it could be interrupted"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();

    let done = finished_outputs(&out);
    assert!(done.len() < 60, "the build was interrupted before its end");
    for f in done.iter().filter(|f| f.ends_with(".flac")) {
        let ok = Command::new("flac")
            .args(["-t", "-s"])
            .arg(out.join(f))
            .status()
            .unwrap();
        assert!(
            ok.success(),
            "{f} has a finished name but is not a whole FLAC file"
        );
    }

    let profiles = all_profiles()
        .into_iter()
        .filter(|(n, _)| n == "archive" || n == "phone")
        .collect::<Vec<_>>();
    let resumed = build(&options(&src, &out, profiles.clone()), &Recorder::default()).unwrap();
    assert!(resumed.failed.is_empty(), "{:?}", resumed.failed);
    assert!(resumed.up_to_date + resumed.encoded == 60, "{resumed}");
    build(&options(&src, &clean, profiles), &Recorder::default()).unwrap();

    assert_eq!(
        files(&out),
        files(&clean),
        "same files, and no temporary one left"
    );
    for f in files(&clean) {
        assert!(
            std::fs::read(out.join(&f)).unwrap() == std::fs::read(clean.join(&f)).unwrap(),
            "{f} differs from a clean build"
        );
    }
}
