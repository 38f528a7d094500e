//! The rsync server's configuration (`platform/server/rsyncd-gen.sh`) served by the real rsync daemon on
//! loopback: each profile is a read-only module that can be pulled whole, uploads are refused, and nothing
//! outside a module can be reached, neither by `..` in the path nor through a symlink in the tree.
//!
//! As root the daemon runs as production does (chroot into the module, files served as nobody); as another
//! user the generator turns chroot off and munges symlinks instead, and the same expectations hold.

use crate::support::rsync_daemon;
use crate::support::write_file;
use rsync_daemon::{Daemon, GENERATOR};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SECRET: &str = "a file next to the builds volume that no client may read\n";

/// A builds tree with two profiles, `phone` and `build-archive`, and the daemon serving it.
struct Server {
    root: tempfile::TempDir,
    daemon: Daemon,
}

impl Server {
    fn start() -> Server {
        let root = tempfile::tempdir().unwrap();
        // Readable by all, as a mounted volume is: as root the daemon serves files as nobody.
        fs::set_permissions(root.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let builds = root.path().join("builds");
        write_file(
            &builds.join("phone/ccr/bayou_country/1/1-born_on_the_bayou.mp3"),
            "mp3 frames\n",
        );
        write_file(
            &builds.join("phone/ccr/bayou_country/1/2-bootleg.mp3"),
            "more mp3 frames\n",
        );
        write_file(
            &builds.join("phone/ccr/bayou_country/bayou_country.m3u"),
            "1/1-born_on_the_bayou.mp3\n1/2-bootleg.mp3\n",
        );
        write_file(
            &builds.join("build-archive/ccr/bayou_country/1/1-born_on_the_bayou.flac"),
            "fLaC\n",
        );
        write_file(&root.path().join("secret.txt"), SECRET);
        fs::create_dir_all(root.path().join("pulled")).unwrap();
        symlink("/etc/passwd", builds.join("phone/passwd")).unwrap();
        symlink("../../secret.txt", builds.join("phone/secret.txt")).unwrap();
        symlink("../../../secret.txt", builds.join("phone/ccr/secret.txt")).unwrap();

        // vibes' bookkeeping at the root of the builds volume: never a module.
        write_file(&builds.join(".vibes/build/phone.json"), "{}\n");
        let daemon = Daemon::serve(&builds, root.path());
        Server { root, daemon }
    }

    fn dir(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    fn rsync(&self, args: &[&str]) -> Output {
        let out = Command::new("rsync")
            .arg("--contimeout=10")
            .args(args)
            .output()
            .unwrap();
        eprintln!(
            "rsync {args:?}: {:?}\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

/// Regular files under `dir`: relative path → content. Symlinks are listed separately.
fn tree(dir: &Path) -> (BTreeMap<String, String>, Vec<String>) {
    fn walk(
        base: &Path,
        dir: &Path,
        files: &mut BTreeMap<String, String>,
        links: &mut Vec<String>,
    ) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(base).unwrap().display().to_string();
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.file_type().is_symlink() {
                links.push(rel);
            } else if meta.is_dir() {
                walk(base, &path, files, links);
            } else {
                files.insert(
                    rel,
                    fs::read_to_string(&path).unwrap_or_else(|_| "<binary>".into()),
                );
            }
        }
    }
    let (mut files, mut links) = (BTreeMap::new(), Vec::new());
    if dir.exists() {
        walk(dir, dir, &mut files, &mut links);
    }
    links.sort();
    (files, links)
}

fn assert_nothing_leaked(dir: &Path) {
    let passwd = fs::read_to_string("/etc/passwd").unwrap();
    for (path, content) in tree(dir).0 {
        assert_ne!(
            content, SECRET,
            "{path} carries a file from outside the module"
        );
        assert_ne!(content, passwd, "{path} carries /etc/passwd");
    }
}

#[test]
fn a_profile_is_pulled_whole_into_the_same_tree() {
    let s = Server::start();
    let dest = s.dir("pulled/phone");
    let out = s.rsync(&["-a", &s.daemon.url("phone/"), dest.to_str().unwrap()]);
    assert!(out.status.success(), "pull failed: {}", s.daemon.log());

    let (served, _) = tree(&s.dir("builds/phone"));
    let (pulled, links) = tree(&dest);
    assert_eq!(pulled, served);
    assert_eq!(pulled.len(), 3);
    // Links come over as links (munged or verbatim), never as the files they point to.
    assert_eq!(links, vec!["ccr/secret.txt", "passwd", "secret.txt"]);
    assert_nothing_leaked(&dest);
}

#[test]
fn the_module_list_names_every_profile() {
    let s = Server::start();
    let out = s.rsync(&[&s.daemon.url("")]);
    assert!(out.status.success());
    let listing = String::from_utf8_lossy(&out.stdout);
    let modules: Vec<&str> = listing
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        modules,
        vec!["archive", "phone"],
        "every profile, and not vibes' .vibes bookkeeping: {listing}"
    );
}

#[test]
fn the_archive_profile_is_served_without_its_build_prefix() {
    let s = Server::start();
    let dest = s.dir("pulled/archive");
    let out = s.rsync(&["-a", &s.daemon.url("archive/"), dest.to_str().unwrap()]);
    assert!(out.status.success());
    assert_eq!(tree(&dest).0, tree(&s.dir("builds/build-archive")).0);
}

#[test]
fn an_upload_is_refused_as_read_only() {
    let s = Server::start();
    write_file(&s.dir("upload/intruder.mp3"), "not yours\n");
    let out = s.rsync(&[
        "-a",
        s.dir("upload/").to_str().unwrap(),
        &s.daemon.url("phone/"),
    ]);
    assert!(!out.status.success(), "an upload went through");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("read only"),
        "refused for another reason"
    );
    assert!(!s.dir("builds/phone/intruder.mp3").exists());
}

#[test]
fn a_pull_cannot_delete_what_it_fetches() {
    let s = Server::start();
    let dest = s.dir("pulled/phone");
    let out = s.rsync(&[
        "-a",
        "--remove-source-files",
        &s.daemon.url("phone/"),
        dest.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert_eq!(
        tree(&s.dir("builds/phone")).0.len(),
        3,
        "files were removed from the builds volume"
    );
}

#[test]
fn dot_dot_in_the_path_does_not_leave_the_module() {
    let s = Server::start();
    let dest = s.dir("pulled/escape");
    fs::create_dir_all(&dest).unwrap();
    // The daemon resolves `..` inside the module: these name nothing there, or the module's own link.
    let out = s.rsync(&[
        "-a",
        &s.daemon.url("phone/../../etc/passwd"),
        dest.to_str().unwrap(),
    ]);
    assert!(!out.status.success(), "phone/../../etc/passwd was served");
    for path in [
        "phone/../secret.txt",
        "phone/../../secret.txt",
        "phone/../../../../etc/passwd",
    ] {
        let _ = s.rsync(&["-a", &s.daemon.url(path), dest.to_str().unwrap()]);
    }
    assert_eq!(
        tree(&dest).0.len(),
        0,
        "a regular file came from outside the module"
    );
    assert_nothing_leaked(&dest);
}

#[test]
fn symlinks_pointing_outside_the_module_are_not_followed() {
    let s = Server::start();
    let dest = s.dir("pulled/links");
    // --copy-links asks the server to send what links point to; links that leave the module must fail.
    let out = s.rsync(&[
        "-a",
        "--copy-links",
        &s.daemon.url("phone/"),
        dest.to_str().unwrap(),
    ]);
    assert!(!out.status.success(), "every link was followed");
    assert_nothing_leaked(&dest);
    // The profile's own files still came.
    assert_eq!(tree(&dest).0, tree(&s.dir("builds/phone")).0);
    for single in ["phone/passwd", "phone/secret.txt", "phone/ccr/secret.txt"] {
        let one = s.dir("pulled/one");
        let _ = s.rsync(&["-L", &s.daemon.url(single), one.to_str().unwrap()]);
        assert_nothing_leaked(&s.dir("pulled"));
    }
}

#[test]
fn directories_that_are_not_plain_profile_names_are_not_served() {
    let root = tempfile::tempdir().unwrap();
    for dir in ["phone", "build-phone", "bad name", "[weird]"] {
        fs::create_dir_all(root.path().join(dir)).unwrap();
    }
    let out = Command::new("bash")
        .arg(GENERATOR)
        .arg(root.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let conf = String::from_utf8_lossy(&out.stdout);
    let modules: Vec<&str> = conf.lines().filter(|l| l.starts_with('[')).collect();
    assert_eq!(modules, vec!["[phone]"], "{conf}");
    let warnings = String::from_utf8_lossy(&out.stderr);
    assert!(
        warnings.contains("'bad name' is not a valid profile name"),
        "{warnings}"
    );
    assert!(
        warnings.contains("profile 'phone' is already served"),
        "{warnings}"
    );
    assert!(conf.contains("read only = yes") && conf.contains("list = yes"));
}
