//! `vibes fetch PROFILE DEST --server ...` against the real rsync daemon on loopback, serving a
//! builds tree with the server image's configuration: a named server needs no AWS at all, and
//! files in DEST that the profile does not hold are deleted only with --delete.

use crate::support::rsync_daemon;
use crate::support::write_file;
use rsync_daemon::Daemon;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Regular files under `dir`: relative path → content.
fn tree(dir: &Path) -> BTreeMap<String, String> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                let rel = path
                    .strip_prefix(base)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// A builds volume with the phone profile and vibes' bookkeeping, served on loopback, and a
/// project directory whose vibes.toml names the phone profile.
struct Setup {
    root: tempfile::TempDir,
    daemon: Daemon,
}

impl Setup {
    fn new() -> Setup {
        let root = tempfile::tempdir().unwrap();
        let builds = root.path().join("builds");
        write_file(
            &builds.join("phone/ccr/1/1-born_on_the_bayou.mp3"),
            "mp3 frames\n",
        );
        write_file(
            &builds.join("phone/ccr/ccr.m3u"),
            "1/1-born_on_the_bayou.mp3\n",
        );
        write_file(&builds.join(".vibes/build/phone.json"), "{}\n");
        write_file(
            &root.path().join("project/vibes.toml"),
            "[project]\nname = \"fetchy\"\n\n[profiles.phone]\nencoder = \"lame\"\nflags = \"--quiet -V 6\"\n",
        );
        fs::create_dir_all(root.path().join("elsewhere")).unwrap();
        let daemon = Daemon::serve(&builds, root.path());
        Setup { root, daemon }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    /// `vibes fetch ARGS` run in `cwd`, with AWS out of reach: any AWS call would fail.
    fn fetch(&self, cwd: &str, args: &[&str]) -> Output {
        let out = Command::new(env!("CARGO_BIN_EXE_vibes"))
            .arg("fetch")
            .args(args)
            .current_dir(self.path(cwd))
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", self.path("no-aws-config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                self.path("no-aws-credentials"),
            )
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_PROFILE")
            .env_remove("VIBES_CONFIG")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        eprintln!(
            "vibes fetch {args:?}: {:?}\n{}{}\ndaemon log:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.daemon.log()
        );
        out
    }

    /// DEST with a file of the user's own that the profile does not hold.
    fn dest_with_extra_file(&self) -> PathBuf {
        let dest = self.path("phone");
        write_file(&dest.join("notes.txt"), "mine\n");
        dest
    }
}

fn served() -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "ccr/1/1-born_on_the_bayou.mp3".to_string(),
            "mp3 frames\n".to_string(),
        ),
        (
            "ccr/ccr.m3u".to_string(),
            "1/1-born_on_the_bayou.mp3\n".to_string(),
        ),
    ])
}

#[test]
fn a_named_server_is_fetched_from_without_aws_and_local_files_are_kept() {
    let s = Setup::new();
    let dest = s.dest_with_extra_file();
    let server = format!("127.0.0.1:{}", s.daemon.port);
    let out = s.fetch(
        "project",
        &["phone", dest.to_str().unwrap(), "--server", &server],
    );
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "Fetching profile phone from rsync://{server}/ into {}",
            dest.display()
        )),
        "{stderr}"
    );
    let mut expected = served();
    expected.insert("notes.txt".into(), "mine\n".into());
    assert_eq!(tree(&dest), expected, "without --delete nothing local goes");
}

#[test]
fn with_delete_what_the_profile_does_not_hold_goes() {
    let s = Setup::new();
    let dest = s.dest_with_extra_file();
    let url = format!("rsync://127.0.0.1:{}/", s.daemon.port);
    let out = s.fetch(
        "project",
        &[
            "phone",
            dest.to_str().unwrap(),
            "--server",
            &url,
            "--delete",
        ],
    );
    assert!(out.status.success());
    assert_eq!(tree(&dest), served());
}

#[test]
fn without_a_config_the_named_server_decides_what_profiles_there_are() {
    let s = Setup::new();
    let dest = s.path("phone");
    let server = format!("127.0.0.1:{}", s.daemon.port);
    // No vibes.toml here: a machine that only has a tunnel to the server.
    let out = s.fetch(
        "elsewhere",
        &["phone", dest.to_str().unwrap(), "--server", &server],
    );
    assert!(out.status.success());
    assert_eq!(tree(&dest), served());

    let out = s.fetch(
        "elsewhere",
        &["car", dest.to_str().unwrap(), "--server", &server],
    );
    assert!(!out.status.success(), "the server has no car module");
}

#[test]
fn a_profile_the_config_does_not_name_is_refused_before_rsync_runs() {
    let s = Setup::new();
    let dest = s.path("car");
    let server = format!("127.0.0.1:{}", s.daemon.port);
    let out = s.fetch(
        "project",
        &["car", dest.to_str().unwrap(), "--server", &server],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("there is no profile `car` in vibes.toml (profiles: phone)"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!dest.exists());
}

#[test]
fn a_server_that_is_no_rsync_server_is_refused_with_the_forms_expected() {
    let s = Setup::new();
    let out = s.fetch(
        "project",
        &["phone", "dest", "--server", "http://127.0.0.1/"],
    );
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("only rsync:// URLs name an rsync daemon, not http://"),
        "{stderr}"
    );
    let out = s.fetch(
        "project",
        &["phone", "dest", "--server", "rsync://127.0.0.1:873/phone/"],
    );
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("the profile is vibes fetch's first argument"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
