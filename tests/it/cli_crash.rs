//! `vibes apply` killed with SIGKILL at any point is repaired by the next apply, against a moto
//! server with the real binary. A killed apply cannot release its lock: the next apply sees that
//! the lock's holder is gone from this host, takes the lock over (and says so), and converges
//! with nothing created twice.

use crate::support::{cli, moto};
use cli::text;
use moto::Moto;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const CONFIG: &str = r#"
[keys.builds]
[keys.worker]
[keys.server]

[profiles.phone]
encoder = "lame"
flags = "--quiet -V 6"

[profiles.laptop]
encoder = "opusenc"
flags = "--bitrate 128"

[network]
create = true

[sources]
path = "music"
"#;

fn project(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    std::fs::create_dir_all(dir.path().join("cfn")).unwrap();
    for t in ["vpc.yaml", "main.yaml"] {
        std::fs::copy(repo.join("cfn").join(t), dir.path().join("cfn").join(t)).unwrap();
    }
    for album in 0..3 {
        let disc = dir.path().join(format!("music/artist/album_{album}/1"));
        std::fs::create_dir_all(&disc).unwrap();
        std::fs::write(disc.join("1-song.wav"), vec![album as u8; 8192]).unwrap();
        std::fs::write(disc.join("1-song.tags.vc"), format!("TITLE=Song {album}\n")).unwrap();
    }
    std::fs::write(
        dir.path().join("vibes.toml"),
        format!("[project]\nname = \"{name}\"\nregion = \"us-east-1\"\n{CONFIG}"),
    )
    .unwrap();
    dir
}

fn vibes(moto: &Moto, dir: &Path, args: &[&str]) -> Command {
    let mut cmd = cli::vibes(&dir.join("vibes.toml"), moto);
    cmd.args(args);
    cmd
}

/// Runs `vibes apply` and SIGKILLs it once `k` progress lines have said "done". Returns the
/// lines it printed, and whether it was killed (false when it ended by itself first).
fn apply_killed_after(moto: &Moto, dir: &Path, k: usize) -> (Vec<String>, bool) {
    let mut child = vibes(moto, dir, &["apply", "--auto-approve"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = Vec::new();
    let mut done = 0;
    let mut killed = false;
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        // Progress lines: "<address>: <op> done in 0.4s".
        if line.contains(": ") && (line.contains(" done in ") || line.ends_with(" done")) {
            done += 1;
        }
        lines.push(line);
        if done == k {
            child.kill().unwrap(); // SIGKILL: no clean-up of any kind.
            killed = true;
            break;
        }
    }
    let status = child.wait().unwrap();
    (lines, killed && !status.success())
}

fn count_named(moto: &Moto, prefix: &str) -> (usize, usize, usize) {
    let pairs = moto.aws_json(&["ec2", "describe-key-pairs"])["KeyPairs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["KeyName"].as_str().unwrap().starts_with(prefix))
        .count();
    let stacks = moto.aws_json(&["cloudformation", "describe-stacks"])["Stacks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            s["StackName"].as_str().unwrap().starts_with(prefix)
                && s["StackStatus"] != "DELETE_COMPLETE"
        })
        .count();
    let params = moto.aws_json(&[
        "ssm",
        "get-parameters-by-path",
        "--path",
        &format!("/{}", prefix.trim_end_matches('-')),
        "--recursive",
    ])["Parameters"]
        .as_array()
        .unwrap()
        .len();
    (pairs, stacks, params)
}

#[test]
fn an_apply_killed_at_every_done_line_is_repaired_by_the_next_apply_without_unlock() {
    let moto = Moto::start();

    // How many actions a full apply has, and what it leaves behind.
    let reference = project("whole");
    let first = vibes(&moto, reference.path(), &["apply", "--auto-approve"])
        .output()
        .unwrap();
    assert!(first.status.success(), "{}", text(&first));
    let dones = String::from_utf8_lossy(&first.stderr)
        .lines()
        .filter(|l| l.contains(" done in ") || l.ends_with(" done"))
        .count();
    assert!(
        dones >= 8,
        "a full apply reports each action done:\n{}",
        text(&first)
    );
    let want = count_named(&moto, "whole-");

    let mut crash_points = 0;
    let mut taken_over = 0;
    for k in 1..dones {
        let name = format!("crash{k}");
        let dir = project(&name);
        let (lines, killed) = apply_killed_after(&moto, dir.path(), k);
        if !killed {
            continue;
        }
        crash_points += 1;

        // The killed apply's lock is left behind (unless the kill landed after its release). The
        // next apply takes it over, since its holder's process is gone from this host, says so,
        // and repairs what the kill left half done: no `vibes unlock` by hand.
        let lock = format!("/{name}/lock");
        let held = moto.aws_json(&["ssm", "get-parameters", "--names", &lock])["Parameters"]
            .as_array()
            .is_some_and(|p| !p.is_empty());
        let again = vibes(&moto, dir.path(), &["apply", "--auto-approve"])
            .output()
            .unwrap();
        let out = text(&again);
        assert!(
            again.status.success(),
            "crash after {k}: {out}\nkilled run:\n{}",
            lines.join("\n")
        );
        if held {
            taken_over += 1;
            assert!(
                out.contains("Took over the lock of project") && out.contains("is gone"),
                "crash after {k}: the takeover is said: {out}"
            );
        }
        let plan = vibes(&moto, dir.path(), &["plan", "--detailed-exitcode"])
            .output()
            .unwrap();
        assert_eq!(
            plan.status.code(),
            Some(0),
            "crash after {k}: not converged: {}",
            text(&plan)
        );
        assert_eq!(
            count_named(&moto, &format!("{name}-")),
            want,
            "crash after {k}: key pairs, stacks, parameters (nothing twice)"
        );
    }
    assert!(
        crash_points >= dones - 2,
        "only {crash_points} of {} kill points were reached",
        dones - 1
    );
    assert!(taken_over > 0, "no kill left a lock to take over");
    eprintln!("crash figures (moto, SIGKILL): {crash_points} kill points over {dones} actions, each repaired; {taken_over} left a lock the next apply took over");
}
