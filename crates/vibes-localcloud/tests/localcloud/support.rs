//! A local cloud per test (`scripts/localcloud.sh`, as the README runs it), a project in a
//! temporary directory outside the repository, and ways to run vibes, the aws CLI and lofty.

#![allow(dead_code)]

use lofty::file::TaggedFileExt;
use lofty::prelude::{Accessor, ItemKey};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the repository root")
        .to_path_buf()
}

/// The vibes binary beside the runner's (cargo builds both for `cargo test --workspace`).
pub fn vibes_bin() -> PathBuf {
    let runner = PathBuf::from(env!("CARGO_BIN_EXE_vibes-localcloud"));
    let vibes = runner.with_file_name("vibes");
    if !vibes.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--bin", "vibes"])
            .current_dir(repo_root())
            .status()
            .expect("cargo build --bin vibes");
        assert!(status.success(), "cargo build --bin vibes failed");
    }
    vibes
}

pub struct LocalCloud {
    pub state: tempfile::TempDir,
    pub env: Vec<(String, String)>,
}

impl LocalCloud {
    pub fn start() -> LocalCloud {
        let state = tempfile::Builder::new()
            .prefix("vibes-localcloud-")
            .tempdir()
            .expect("state dir");
        let out = Command::new("bash")
            .arg(repo_root().join("scripts/localcloud.sh"))
            .arg("start")
            .env("LOCALCLOUD_STATE", state.path())
            .env("LOCALCLOUD_BIN", env!("CARGO_BIN_EXE_vibes-localcloud"))
            .env("VIBES_BIN", vibes_bin())
            .output()
            .expect("run localcloud.sh");
        assert!(
            out.status.success(),
            "localcloud.sh start failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let env = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("export "))
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>();
        assert!(
            env.iter().any(|(k, _)| k == "AWS_ENDPOINT_URL"),
            "no endpoint in {env:?}"
        );
        LocalCloud { state, env }
    }

    /// The same, with the aws CLI of the helpers below reading `region` (vibes reads its region
    /// from the project's config).
    pub fn start_in(region: &str) -> LocalCloud {
        let mut cloud = LocalCloud::start();
        for (k, v) in cloud.env.iter_mut() {
            if k == "AWS_REGION" || k == "AWS_DEFAULT_REGION" {
                *v = region.to_string();
            }
        }
        cloud
    }

    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("PATH", path_with_venv())
            // The worker here reports its progress every second: read it as often.
            .env("VIBES_PROGRESS_POLL_SECONDS", "1")
            .env_remove("AWS_PROFILE");
        c
    }

    /// `vibes ARGS` in `dir`.
    pub fn vibes(&self, dir: &Path, args: &[&str]) -> Run {
        let out = self
            .command(vibes_bin())
            .args(args)
            .current_dir(dir)
            .output()
            .expect("run vibes");
        Run::from(args.join(" "), out)
    }

    /// The aws CLI of the project venv, `--output json`, parsed; panics unless it succeeds.
    pub fn aws(&self, args: &[&str]) -> serde_json::Value {
        let (ok, text) = self.aws_try(args);
        assert!(ok, "aws {}: {text}", args.join(" "));
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
    }

    /// The aws CLI of the project venv, `--output json`, as it ended: its exit status, and
    /// what it printed (stdout when it succeeded, stderr when not).
    pub fn aws_try(&self, args: &[&str]) -> (bool, String) {
        let out = self
            .command(repo_root().join(".venv/bin/aws"))
            .args(args)
            .args(["--output", "json"])
            .output()
            .expect("run aws");
        let said = if out.status.success() {
            out.stdout
        } else {
            out.stderr
        };
        (
            out.status.success(),
            String::from_utf8_lossy(&said).into_owned(),
        )
    }

    /// The aws CLI of the project venv as the client `app` (its user agent's `app/ID`);
    /// panics unless it succeeds. Returns what it printed.
    pub fn aws_as(&self, app: &str, args: &[&str]) -> Vec<u8> {
        let out = self
            .command(repo_root().join(".venv/bin/aws"))
            .env("AWS_SDK_UA_APP_ID", app)
            .args(args)
            .output()
            .expect("run aws");
        assert!(
            out.status.success(),
            "aws {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// The runner's count of what S3 served (`GET /_localcloud/stats`).
    pub fn s3_stats(&self) -> serde_json::Value {
        let endpoint = &self
            .env
            .iter()
            .find(|(k, _)| k == "AWS_ENDPOINT_URL")
            .expect("an endpoint")
            .1;
        let out = Command::new("curl")
            .args(["-fsS", &format!("{endpoint}/_localcloud/stats")])
            .output()
            .expect("run curl");
        assert!(
            out.status.success(),
            "GET /_localcloud/stats: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
    }

    /// The running server's rsync URL, once it serves: as on EC2, an instance is `running`
    /// before what it boots has started.
    pub fn rsync_url(&self) -> String {
        let file = self.state.path().join("rsync-url");
        for _ in 0..300 {
            if let Ok(url) = std::fs::read_to_string(&file) {
                return url.trim().to_string();
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("no server serves within 30 s:\n{}", self.logs());
    }

    /// What the runner and the instances printed, for a failing test's message.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        let mut add = |p: PathBuf| {
            if let Ok(t) = std::fs::read_to_string(&p) {
                let tail: String = t
                    .chars()
                    .rev()
                    .take(4000)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                out.push_str(&format!("--- {}\n{tail}\n", p.display()));
            }
        };
        add(self.state.path().join("runner.log"));
        if let Ok(d) = std::fs::read_dir(self.state.path().join("instances")) {
            for e in d.flatten() {
                let console = e.path().join("console.log");
                if let Ok(t) = std::fs::read_to_string(&console) {
                    out.push_str(&format!(
                        "--- {} (the lines about vibes' units)\n{}\n",
                        console.display(),
                        console_lines_about_vibes(&t)
                    ));
                }
            }
        }
        out
    }

    /// The name of the IAM role whose name starts with `prefix` (CloudFormation names a stack's
    /// role `STACK-LOGICALID-RANDOM`).
    pub fn role(&self, prefix: &str) -> String {
        let roles = self.aws(&["iam", "list-roles"]);
        roles["Roles"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["RoleName"].as_str())
            .find(|r| r.starts_with(prefix))
            .unwrap_or_else(|| panic!("no role named {prefix}…: {roles}"))
            .to_string()
    }

    /// Leaves `role` with one inline policy, `document`, in place of all it had (an edit out of
    /// band, as by hand in the console).
    pub fn grant_only(&self, role: &str, document: &str) {
        let policies = self.aws(&["iam", "list-role-policies", "--role-name", role]);
        for name in policies["PolicyNames"].as_array().into_iter().flatten() {
            let name = name.as_str().unwrap_or_default();
            self.aws(&[
                "iam",
                "delete-role-policy",
                "--role-name",
                role,
                "--policy-name",
                name,
            ]);
        }
        self.aws(&[
            "iam",
            "put-role-policy",
            "--role-name",
            role,
            "--policy-name",
            "only",
            "--policy-document",
            document,
        ]);
    }

    /// Instances of the project carrying `vibes:address=address`, with their state.
    pub fn instances(&self, project: &str, address: &str) -> Vec<(String, String)> {
        let v = self.aws(&[
            "ec2",
            "describe-instances",
            "--filters",
            &format!("Name=tag:vibes:project,Values={project}"),
            &format!("Name=tag:vibes:address,Values={address}"),
        ]);
        v["Reservations"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|r| r["Instances"].as_array().cloned().unwrap_or_default())
            .map(|i| {
                (
                    i["InstanceId"].as_str().unwrap_or_default().to_string(),
                    i["State"]["Name"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    /// The EBS volumes of the project carrying `vibes:address=address` (`compile` for a worker's
    /// builds volume, `volume.builds` for a standing one).
    pub fn volumes(&self, project: &str, address: &str) -> Vec<String> {
        let v = self.aws(&[
            "ec2",
            "describe-volumes",
            "--filters",
            &format!("Name=tag:vibes:project,Values={project}"),
            &format!("Name=tag:vibes:address,Values={address}"),
        ]);
        v["Volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v["VolumeId"].as_str().map(str::to_string))
            .collect()
    }

    /// What an instance's boot script printed (for a worker: the compile's lines).
    pub fn console(&self, instance_id: &str) -> String {
        let path = self
            .state
            .path()
            .join("instances")
            .join(instance_id)
            .join("console.log");
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}\n{}", path.display(), self.logs()))
    }

    /// The project's builds snapshots.
    pub fn snapshots(&self, project: &str) -> Vec<String> {
        let v = self.aws(&[
            "ec2",
            "describe-snapshots",
            "--owner-ids",
            "self",
            "--filters",
            &format!("Name=tag:vibes:project,Values={project}"),
            "Name=tag:vibes:address,Values=snapshot.builds",
        ]);
        let mut ids: Vec<String> = v["Snapshots"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["SnapshotId"].as_str().map(str::to_string))
            .collect();
        ids.sort();
        ids
    }
}

impl Drop for LocalCloud {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(repo_root().join("scripts/localcloud.sh"))
            .arg("stop")
            .env("LOCALCLOUD_STATE", self.state.path())
            .output();
    }
}

fn path_with_venv() -> String {
    format!(
        "{}:{}",
        repo_root().join(".venv/bin").display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

pub struct Run {
    pub what: String,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(what: String, out: Output) -> Run {
        Run {
            what,
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// Panics with the output (and the cloud's logs) unless the exit code is `code`.
    pub fn expect(self, code: i32, cloud: &LocalCloud) -> Run {
        assert_eq!(
            self.code,
            code,
            "vibes {} exited {}:\n{}\n{}",
            self.what,
            self.code,
            self.all(),
            cloud.logs()
        );
        self
    }
}

/// 16-bit stereo 44.1 kHz WAVE of a sine tone.
pub fn write_wav(path: &Path, seconds: f32, freq: f32) {
    let frames = (44_100.0 * seconds) as usize;
    let samples: Vec<i16> = (0..frames)
        .flat_map(|i| {
            let v = ((i as f32 * freq * std::f32::consts::TAU / 44_100.0).sin() * 8000.0) as i16;
            [v, v]
        })
        .collect();
    let data_len = (samples.len() * 2) as u32;
    let mut b = Vec::with_capacity(44 + data_len as usize);
    b.extend(b"RIFF");
    b.extend((36 + data_len).to_le_bytes());
    b.extend(b"WAVEfmt ");
    b.extend(16u32.to_le_bytes());
    b.extend(1u16.to_le_bytes());
    b.extend(2u16.to_le_bytes());
    b.extend(44_100u32.to_le_bytes());
    b.extend((44_100u32 * 4).to_le_bytes());
    b.extend(4u16.to_le_bytes());
    b.extend(16u16.to_le_bytes());
    b.extend(b"data");
    b.extend(data_len.to_le_bytes());
    for s in samples {
        b.extend(s.to_le_bytes());
    }
    write(path, b);
}

pub fn write(path: &Path, body: impl AsRef<[u8]>) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
}

/// The tags a compiled file carries, as the tree gives them: artist, album, title, track, date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tags {
    pub artist: String,
    pub album: String,
    pub title: String,
    pub track: u32,
    pub date: String,
}

pub fn read_tags(path: &Path) -> Tags {
    let file = lofty::read_from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let tag = file
        .primary_tag()
        .or_else(|| file.first_tag())
        .unwrap_or_else(|| panic!("{} has no tags", path.display()));
    let text = |s: Option<std::borrow::Cow<'_, str>>| s.map(|s| s.into_owned()).unwrap_or_default();
    Tags {
        artist: text(tag.artist()),
        album: text(tag.album()),
        title: text(tag.title()),
        track: tag.track().unwrap_or_default(),
        date: tag
            .get_string(&ItemKey::RecordingDate)
            .unwrap_or_default()
            .to_string(),
    }
}

/// Every file under `dir` (relative path → SHA-256).
pub fn tree(dir: &Path) -> BTreeMap<String, String> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
                out.insert(rel, hex::encode(Sha256::digest(std::fs::read(&p).unwrap())));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// A project directory outside the repository: `vibes.toml` with `[project] name = NAME` and
/// `body`. Nothing else: the platform (templates, recipes) is the one built into vibes.
pub fn project(name: &str, body: &str) -> tempfile::TempDir {
    project_in(name, "us-east-1", body)
}

/// The same, in `region`.
pub fn project_in(name: &str, region: &str, body: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("vibes-project-")
        .tempdir()
        .expect("project dir");
    write(
        &dir.path().join("vibes.toml"),
        format!("[project]\nname = \"{name}\"\nregion = \"{region}\"\n\n{body}"),
    );
    dir
}

/// Copies the repository's Packer recipes into `dir`, for a config that names its own.
pub fn copy_recipes(dir: &Path) {
    // Dereferenced: the recipes' files link to the platform scripts.
    let status = Command::new("cp")
        .arg("-rL")
        .arg(repo_root().join("packer"))
        .arg(dir)
        .status()
        .expect("cp packer");
    assert!(status.success());
}

/// An image from the copied recipes (see [`copy_recipes`]).
pub fn own_recipe(name: &str) -> String {
    format!(
        "[images.{name}]\nrecipe = \"packer/{name}.pkr.hcl\"\nfiles = [\"packer/files/{name}\"]\n"
    )
}

/// A machine's console lines that speak of vibes (its units and their scripts' output), without
/// terminal colours: what says why a compile or a server did what it did.
pub fn console_lines_about_vibes(console: &str) -> String {
    console
        .lines()
        .map(|l| {
            let mut out = String::new();
            let mut chars = l.chars().peekable();
            while let Some(c) = chars.next() {
                if c == '\u{1b}' && chars.peek() == Some(&'[') {
                    for c in chars.by_ref() {
                        if c.is_ascii_alphabetic() {
                            break;
                        }
                    }
                } else {
                    out.push(c);
                }
            }
            out
        })
        .filter(|l| l.contains("vibes") || l.contains("local cloud"))
        .collect::<Vec<_>>()
        .join("\n")
}
