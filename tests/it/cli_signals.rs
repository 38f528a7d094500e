//! The apply lock is released on every way out: Ctrl-C at the confirmation prompt (in a
//! pseudo-terminal), SIGTERM mid-apply, and a closed standard output (`vibes apply | head -1`),
//! which is never a panic. Each is followed by an apply that runs. Against moto, with the real
//! binary.

use crate::support::{cli, moto};
use cli::text;
use moto::Moto;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn project(name: &str, files: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::create_dir_all(dir.path().join("cfn")).unwrap();
    for t in ["vpc.yaml", "main.yaml"] {
        std::fs::copy(repo.join("cfn").join(t), dir.path().join("cfn").join(t)).unwrap();
    }
    for i in 0..files {
        let disc = dir.path().join(format!("music/artist/album_{}/1", i / 20));
        std::fs::create_dir_all(&disc).unwrap();
        std::fs::write(
            disc.join(format!("{}-song.wav", i % 20 + 1)),
            vec![i as u8; 4096],
        )
        .unwrap();
    }
    std::fs::write(
        dir.path().join("vibes.toml"),
        format!(
            "[project]\nname = \"{name}\"\nregion = \"us-east-1\"\n\n[keys.builds]\n[keys.worker]\n\n\
             [profiles.phone]\nencoder = \"lame\"\nflags = \"--quiet -V 6\"\n\n\
             [profiles.car]\nencoder = \"oggenc\"\nflags = \"-q 5\"\n\n\
             [network]\ncreate = true\n\n[sources]\npath = \"music\"\n"
        ),
    )
    .unwrap();
    dir
}

fn vibes(moto: &Moto, dir: &Path) -> Command {
    cli::vibes(&dir.join("vibes.toml"), moto)
}

fn lock_held(moto: &Moto, project: &str) -> bool {
    moto.aws_json(&[
        "ssm",
        "get-parameters",
        "--names",
        &format!("/{project}/lock"),
    ])["Parameters"]
        .as_array()
        .is_some_and(|p| !p.is_empty())
}

/// The next apply runs to the end and leaves nothing to do.
fn converges(moto: &Moto, dir: &Path) {
    let again = vibes(moto, dir)
        .args(["apply", "--auto-approve"])
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", text(&again));
    let plan = vibes(moto, dir)
        .args(["plan", "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
}

#[test]
fn ctrl_c_at_the_prompt_releases_the_lock() {
    let moto = Moto::start();
    let dir = project("prompt", 3);
    // `script` gives vibes a pseudo-terminal: its prompt waits for an answer, and the ETX byte
    // written to the terminal is Ctrl-C (the terminal sends SIGINT to vibes).
    let command = format!(
        "{} --config {} apply",
        env!("CARGO_BIN_EXE_vibes"),
        dir.path().join("vibes.toml").display()
    );
    let mut child = Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .envs(moto.env())
        .env_remove("AWS_PROFILE")
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script (util-linux)");
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("Only 'yes' will be accepted") {
        assert!(
            Instant::now() < deadline,
            "no prompt: {}",
            String::from_utf8_lossy(&seen)
        );
        let n = stdout.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "vibes ended before its prompt: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    assert!(
        lock_held(&moto, "prompt"),
        "the prompt is asked under the lock"
    );
    child.stdin.as_mut().unwrap().write_all(b"\x03").unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{rest}");
    assert!(
        rest.contains("at the prompt: nothing was changed"),
        "{rest}"
    );
    assert!(
        !lock_held(&moto, "prompt"),
        "Ctrl-C at the prompt released the lock"
    );
    converges(&moto, dir.path());
}

#[test]
fn sigterm_mid_apply_finishes_what_runs_and_releases_the_lock() {
    let moto = Moto::start();
    let dir = project("term", 400);
    let mut child = vibes(&moto, dir.path())
        .args(["apply", "--auto-approve", "--parallelism", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = Vec::new();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while stderr.read_line(&mut line).unwrap() > 0 {
        let started = line.contains("started");
        lines.push(std::mem::take(&mut line));
        if started {
            break;
        }
    }
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    let all = format!("{}{rest}", lines.concat());
    assert!(
        status.code().is_some(),
        "ended by itself, not by the signal: {all}"
    );
    assert!(all.contains("Interrupted (SIGTERM)"), "{all}");
    assert!(all.contains("not started"), "{all}");
    assert!(!rest.contains("panicked"), "{all}");
    assert!(
        !lock_held(&moto, "term"),
        "SIGTERM released the lock:\n{all}"
    );
    converges(&moto, dir.path());
}

#[test]
fn a_closed_stdout_is_not_a_panic_and_releases_the_lock() {
    let moto = Moto::start();
    let dir = project("pipe", 3);
    let script = format!(
        "set -o pipefail; {} --config {} apply --auto-approve | head -1",
        env!("CARGO_BIN_EXE_vibes"),
        dir.path().join("vibes.toml").display()
    );
    let out = Command::new("bash")
        .args(["-c", &script])
        .envs(moto.env())
        .env_remove("AWS_PROFILE")
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let all = text(&out);
    assert!(!all.contains("panicked"), "{all}");
    assert!(!all.contains("Broken pipe"), "{all}");
    assert_eq!(
        out.status.code(),
        Some(0),
        "the apply went on to the end: {all}"
    );
    assert!(!lock_held(&moto, "pipe"));
    let plan = vibes(&moto, dir.path())
        .args(["plan", "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
}

#[test]
fn an_endpoint_gone_mid_apply_stops_it_within_a_minute() {
    let mut moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let profiles: String = (0..1000)
        .map(|i| format!("[profiles.p{i:04}]\nencoder = \"flac\"\n\n"))
        .collect();
    std::fs::write(
        dir.path().join("vibes.toml"),
        format!("[project]\nname = \"gone\"\nregion = \"us-east-1\"\n\n{profiles}"),
    )
    .unwrap();
    let mut child = vibes(&moto, dir.path())
        .args(["apply", "--auto-approve"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let mut line = String::new();
    let mut done = 0;
    while done < 20 && stderr.read_line(&mut line).unwrap() > 0 {
        done += usize::from(line.contains(" done in "));
        seen.push_str(&std::mem::take(&mut line));
    }
    assert_eq!(done, 20, "{seen}");
    // The endpoint goes away with about 980 actions still to do.
    moto.kill();
    let gone = Instant::now();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    let took = gone.elapsed();
    let all = format!("{seen}{rest}");
    assert_eq!(status.code(), Some(1), "{all}");
    assert!(
        took < Duration::from_secs(60),
        "took {took:?} to stop:\n{rest}"
    );
    assert!(rest.contains("The cloud stopped answering"), "{rest}");
    assert!(rest.contains("not started"), "{rest}");
    // With the endpoint gone the lock cannot be deleted: vibes says it will lapse.
    assert!(rest.contains("lease lapses"), "{rest}");
    eprintln!("endpoint gone: vibes stopped {took:?} later");
}
