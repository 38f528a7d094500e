//! Secrets never leave the secret store: a generated private key is written to its SecureString
//! parameter and nowhere else. Against a moto server with the real binary, everything vibes
//! prints (plan text and JSON, saved plans, `show --json`, progress, logs at every verbosity and
//! the SDK's own trace logs, errors) is searched for any 40-character window of the key material.

use crate::support::moto;
use moto::Moto;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The shortest run of key material that counts as a leak: long enough never to occur by
/// chance in other output, short enough to catch a key cut into lines or truncated.
const WINDOW: usize = 40;

struct Project {
    dir: tempfile::TempDir,
    name: &'static str,
    /// Everything every vibes run printed, stdout and stderr.
    captured: Vec<(String, String)>,
}

impl Project {
    fn new(name: &'static str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        std::fs::create_dir_all(dir.path().join("cfn")).unwrap();
        for t in ["vpc.yaml", "main.yaml"] {
            std::fs::copy(repo.join("cfn").join(t), dir.path().join("cfn").join(t)).unwrap();
        }
        let disc = dir.path().join("music/artist/album/1");
        std::fs::create_dir_all(&disc).unwrap();
        std::fs::write(disc.join("1-song.wav"), vec![1u8; 4096]).unwrap();
        Project {
            dir,
            name,
            captured: Vec::new(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn configure(&self, body: &str) {
        std::fs::write(
            self.path().join("vibes.toml"),
            format!(
                "[project]\nname = \"{}\"\nregion = \"us-east-1\"\n{body}",
                self.name
            ),
        )
        .unwrap();
    }

    /// Runs vibes, keeps what it printed, and returns its exit code.
    fn vibes(&mut self, moto: &Moto, args: &[&str], log: Option<&str>) -> i32 {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vibes"));
        cmd.arg("--config")
            .arg(self.path().join("vibes.toml"))
            .args(args)
            .current_dir(self.path())
            .stdin(Stdio::null());
        cmd.env_remove("AWS_PROFILE")
            .env_remove("VIBES_LOG")
            .env("RUST_BACKTRACE", "1");
        if let Some(filter) = log {
            cmd.env("VIBES_LOG", filter);
        }
        for (k, v) in moto.env() {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let label = format!("vibes {} (VIBES_LOG={log:?})", args.join(" "));
        self.captured.push((
            label,
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        ));
        out.status.code().unwrap_or(-1)
    }

    fn keep_file(&mut self, rel: &str) {
        let body = std::fs::read_to_string(self.path().join(rel)).unwrap();
        self.captured.push((rel.to_string(), body));
    }
}

/// The key material without its armour lines and line breaks, as one string.
fn material(private_key: &str) -> String {
    private_key
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<String>()
}

/// Every capture that holds a window of a secret, as "where: which secret at which offset".
fn leaks(captured: &[(String, String)], secrets: &[(String, String)]) -> Vec<String> {
    let mut found = Vec::new();
    for (where_, text) in captured {
        // Output might wrap or escape newlines; compare against the text with those removed too.
        let flat: String = text
            .replace("\\n", "")
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        for (name, secret) in secrets {
            assert!(secret.len() > WINDOW, "{name} is too short to search");
            for start in (0..=secret.len() - WINDOW).step_by(8) {
                let window = &secret[start..start + WINDOW];
                if text.contains(window) || flat.contains(window) {
                    found.push(format!("{where_}: {name} at offset {start}"));
                    break;
                }
            }
        }
    }
    found
}

fn private_key(moto: &Moto, parameter: &str) -> String {
    let p = moto.aws_json(&[
        "ssm",
        "get-parameter",
        "--name",
        parameter,
        "--with-decryption",
    ]);
    assert_eq!(p["Parameter"]["Type"], "SecureString", "{parameter}");
    p["Parameter"]["Value"].as_str().unwrap().to_string()
}

#[test]
fn private_keys_never_appear_in_any_output_at_any_verbosity() {
    let moto = Moto::start();
    let mut p = Project::new("hush");
    let mut body = String::from("[profiles.phone]\nencoder = \"lame\"\nflags = \"-V 6\"\n\n[network]\ncreate = true\n\n[sources]\npath = \"music\"\n");

    // Each key is generated under a different log level, the SDK's trace logs included.
    for (key, verbosity, log) in [
        ("builds", "-vv", Some("trace")),
        ("worker", "-vv", None),
        ("server", "-v", None),
    ] {
        body.push_str(&format!("\n[keys.{key}]\n"));
        p.configure(&body);
        assert_eq!(
            p.vibes(&moto, &[verbosity, "plan", "--out", "plan.json"], log),
            0
        );
        p.keep_file("plan.json");
        assert_eq!(p.vibes(&moto, &[verbosity, "plan", "--json"], log), 0);
        assert_eq!(
            p.vibes(&moto, &[verbosity, "apply", "--auto-approve"], log),
            0,
            "{}",
            p.captured.last().unwrap().1
        );
    }
    // After the keys exist: plans, saved plans, show.
    for log in [None, Some("trace")] {
        assert_eq!(
            p.vibes(
                &moto,
                &["-vv", "plan", "--detailed-exitcode", "--out", "plan.json"],
                log
            ),
            0,
            "{}",
            p.captured.last().unwrap().1
        );
        p.keep_file("plan.json");
        p.vibes(&moto, &["-vv", "show", "--json"], log);
        p.vibes(&moto, &["-vv", "show"], log);
    }
    let trace: usize = p
        .captured
        .iter()
        .filter(|(l, _)| l.contains("Some(\"trace\")"))
        .map(|(_, t)| t.lines().count())
        .sum();
    assert!(
        trace > 100,
        "VIBES_LOG=trace shows the SDK's logs ({trace} lines): the search covers them"
    );

    let secrets: Vec<(String, String)> = ["builds", "worker", "server"]
        .iter()
        .map(|k| {
            (
                format!("key.{k}"),
                material(&private_key(&moto, &format!("/hush/ec2/keys/{k}"))),
            )
        })
        .collect();
    let found = leaks(&p.captured, &secrets);
    assert!(
        found.is_empty(),
        "secret material in output:\n{}",
        found.join("\n")
    );

    // The search itself works: the raw parameter holds the material.
    let raw = vec![(
        "aws ssm get-parameter".to_string(),
        private_key(&moto, "/hush/ec2/keys/builds"),
    )];
    assert_eq!(leaks(&raw, &secrets[..1]).len(), 1);
    eprintln!(
        "secrets figures: {} outputs, {} bytes searched for 3 keys",
        p.captured.len(),
        p.captured.iter().map(|(_, t)| t.len()).sum::<usize>()
    );
}

#[test]
fn an_apply_that_fails_after_generating_a_key_keeps_it_out_of_the_error() {
    let moto = Moto::start();
    let mut p = Project::new("oops");
    // A public key that looks like OpenSSH but is cut short: the import fails while the generated
    // key beside it is created and stored.
    std::fs::write(
        p.path().join("bad.pub"),
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAEBAQEB broken\n",
    )
    .unwrap();
    p.configure("[keys.builds]\n\n[keys.server]\npublic_key = \"bad.pub\"\n");
    let code = p.vibes(&moto, &["-vv", "apply", "--auto-approve"], Some("trace"));
    let out = p.captured.last().unwrap().1.clone();
    if code == 0 {
        panic!("the import of a broken public key was accepted; this test needs a failing apply:\n{out}");
    }
    assert!(
        out.contains("key.server"),
        "the error names the failed action: {out}"
    );
    let secrets = vec![(
        "key.builds".to_string(),
        material(&private_key(&moto, "/oops/ec2/keys/builds")),
    )];
    let found = leaks(&p.captured, &secrets);
    assert!(
        found.is_empty(),
        "secret material in a failing apply's output:\n{}",
        found.join("\n")
    );
}
