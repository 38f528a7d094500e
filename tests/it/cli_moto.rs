//! vibes end to end against a moto server: the real binary, the real aws-sdk clients over HTTP,
//! and checks from outside with the real `aws` CLI against the same server.
//!
//! What moto cannot show (image builds that run nothing, waits that never wait) is covered by
//! the fake cloud in crates/vibes-core/tests/it/apply_*.rs; these tests stay with keys, parameters,
//! stacks, the sources bucket and the lock, which moto serves as AWS does.

use crate::support::{cli, moto};
use cli::{code, text};
use moto::Moto;
use std::path::{Path, PathBuf};
use std::process::Output;

struct Project {
    dir: tempfile::TempDir,
    name: String,
}

impl Project {
    /// A config directory with copies of the platform's templates (for tests that make one their
    /// own; the built-in ones are used unless named), a small sources tree and `body` as vibes.toml.
    fn new(name: &str, body: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        std::fs::create_dir_all(dir.path().join("cfn")).unwrap();
        for t in ["vpc.yaml", "main.yaml"] {
            std::fs::copy(repo.join("cfn").join(t), dir.path().join("cfn").join(t)).unwrap();
        }
        let music = dir.path().join("music/ccr/bayou_country/1");
        std::fs::create_dir_all(&music).unwrap();
        std::fs::write(
            dir.path().join("music/ccr/tags.vc"),
            "ARTIST=Creedence Clearwater Revival\n",
        )
        .unwrap();
        std::fs::write(music.join("1-born_on_the_bayou.wav"), vec![7u8; 4096]).unwrap();
        std::fs::write(
            music.join("1-born_on_the_bayou.tags.vc"),
            "TITLE=Born on the Bayou\n",
        )
        .unwrap();
        let p = Project {
            dir,
            name: name.to_string(),
        };
        p.write(body);
        p
    }

    fn write(&self, body: &str) {
        std::fs::write(
            self.config(),
            format!(
                "[project]\nname = \"{}\"\nregion = \"us-east-1\"\n\n{body}",
                self.name
            ),
        )
        .unwrap();
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("vibes.toml")
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn vibes(&self, moto: &Moto, args: &[&str]) -> Output {
        cli::vibes(&self.config(), moto)
            .args(args)
            .output()
            .expect("run vibes")
    }
}

const KEYS_AND_PROFILES: &str = r#"
[keys.builds]
[keys.worker]
[keys.server]

[profiles.phone]
encoder = "lame"
flags = "--quiet -V 6"

[profiles.laptop]
encoder = "opusenc"
flags = "--bitrate 128"
"#;

const PLATFORM: &str = r#"
[network]
create = true

[sources]
path = "music"
"#;

fn tag_map(tags: &serde_json::Value) -> std::collections::BTreeMap<String, String> {
    tags.as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            (
                t["Key"].as_str().unwrap().to_string(),
                t["Value"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn apply_builds_keys_profiles_stacks_and_sources_and_a_second_plan_is_clean() {
    let moto = Moto::start();
    let p = Project::new("e2e", &format!("{KEYS_AND_PROFILES}{PLATFORM}"));

    let plan = p.vibes(&moto, &["plan", "--detailed-exitcode"]);
    assert_eq!(code(&plan), 2, "{}", text(&plan));
    let apply = p.vibes(&moto, &["apply", "--auto-approve"]);
    assert_eq!(code(&apply), 0, "{}", text(&apply));

    // Key pairs, tagged at creation.
    let pairs = moto.aws_json(&["ec2", "describe-key-pairs"]);
    for k in ["builds", "worker", "server"] {
        let pair = pairs["KeyPairs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|kp| kp["KeyName"] == format!("e2e-{k}"))
            .unwrap_or_else(|| panic!("key pair e2e-{k}"));
        let tags = tag_map(&pair["Tags"]);
        assert_eq!(tags["vibes:project"], "e2e");
        assert_eq!(tags["vibes:address"], format!("key.{k}"));
        assert!(tags.contains_key("vibes:fingerprint"));
    }
    // The private key lives only in a SecureString.
    let param = moto.aws_json(&[
        "ssm",
        "get-parameter",
        "--name",
        "/e2e/ec2/keys/builds",
        "--with-decryption",
    ]);
    assert_eq!(param["Parameter"]["Type"], "SecureString");
    let private = param["Parameter"]["Value"].as_str().unwrap();
    assert!(private.starts_with("-----BEGIN"), "a private key");
    assert!(
        !text(&apply).contains(private.lines().nth(1).unwrap()),
        "the private key never reaches the output"
    );
    // Profiles hold the config's text.
    let phone = moto.aws_json(&["ssm", "get-parameter", "--name", "/e2e/profiles/phone"]);
    assert_eq!(
        phone["Parameter"]["Value"],
        "CONFIG_ENCODER=lame\nCONFIG_LAME_FLAGS=--quiet -V 6\n"
    );
    // Stacks are complete, with their outputs.
    for s in ["e2e-vpc", "e2e-main"] {
        let d = moto.aws_json(&["cloudformation", "describe-stacks", "--stack-name", s]);
        assert_eq!(d["Stacks"][0]["StackStatus"], "CREATE_COMPLETE", "{s}");
        assert!(
            !d["Stacks"][0]["Outputs"].as_array().unwrap().is_empty(),
            "{s} has outputs"
        );
    }
    // The sources bucket holds the tree, checksummed; its name is recorded.
    let bucket = moto.aws_json(&["ssm", "get-parameter", "--name", "/e2e/sources"])["Parameter"]
        ["Value"]
        .as_str()
        .unwrap()
        .to_string();
    let listing = moto.aws_json(&["s3api", "list-objects-v2", "--bucket", &bucket]);
    let mut keys: Vec<&str> = listing["Contents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["Key"].as_str().unwrap())
        .collect();
    keys.sort();
    // Beside the tree, vibes' manifest of it (what later plans read instead of every object).
    assert_eq!(
        keys,
        [
            ".vibes/manifest.json",
            "ccr/bayou_country/1/1-born_on_the_bayou.tags.vc",
            "ccr/bayou_country/1/1-born_on_the_bayou.wav",
            "ccr/tags.vc"
        ]
    );

    let again = p.vibes(&moto, &["plan", "--detailed-exitcode"]);
    assert_eq!(code(&again), 0, "converged: {}", text(&again));
    assert!(text(&again).contains("No changes"), "{}", text(&again));
}

#[test]
fn an_out_of_band_change_shows_as_a_diff_and_apply_restores_it() {
    let moto = Moto::start();
    let p = Project::new("oob", KEYS_AND_PROFILES);
    assert_eq!(code(&p.vibes(&moto, &["apply", "--auto-approve"])), 0);
    moto.aws_json(&[
        "ssm",
        "put-parameter",
        "--name",
        "/oob/profiles/phone",
        "--type",
        "String",
        "--overwrite",
        "--value",
        "CONFIG_ENCODER=lame\nCONFIG_LAME_FLAGS=-V 0\n",
    ]);

    let plan = p.vibes(&moto, &["plan", "--detailed-exitcode"]);
    assert_eq!(code(&plan), 2);
    let out = text(&plan);
    assert!(out.contains("profile.phone"), "{out}");
    assert!(out.contains("-CONFIG_LAME_FLAGS=-V 0"), "{out}");
    assert!(out.contains("+CONFIG_LAME_FLAGS=--quiet -V 6"), "{out}");

    assert_eq!(code(&p.vibes(&moto, &["apply", "--auto-approve"])), 0);
    let phone = moto.aws_json(&["ssm", "get-parameter", "--name", "/oob/profiles/phone"]);
    assert_eq!(
        phone["Parameter"]["Value"],
        "CONFIG_ENCODER=lame\nCONFIG_LAME_FLAGS=--quiet -V 6\n"
    );
    assert_eq!(code(&p.vibes(&moto, &["plan", "--detailed-exitcode"])), 0);
}

#[test]
fn a_profile_removed_from_the_config_is_deleted_and_nothing_else() {
    let moto = Moto::start();
    let p = Project::new("rm", KEYS_AND_PROFILES);
    assert_eq!(code(&p.vibes(&moto, &["apply", "--auto-approve"])), 0);
    let before = moto.aws_json(&[
        "ssm",
        "get-parameters-by-path",
        "--path",
        "/rm/",
        "--recursive",
    ]);
    let count = |v: &serde_json::Value| v["Parameters"].as_array().unwrap().len();

    p.write(&KEYS_AND_PROFILES.replace(
        "[profiles.laptop]\nencoder = \"opusenc\"\nflags = \"--bitrate 128\"\n",
        "",
    ));
    let plan = p.vibes(&moto, &["plan", "--json"]);
    let json: serde_json::Value =
        serde_json::from_slice(&plan.stdout).expect("plan --json is JSON");
    let actions = json["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{json:#}");
    assert_eq!(actions[0]["address"], "profile.laptop");
    assert_eq!(actions[0]["op"], "delete");

    assert_eq!(code(&p.vibes(&moto, &["apply", "--auto-approve"])), 0);
    let after = moto.aws_json(&[
        "ssm",
        "get-parameters-by-path",
        "--path",
        "/rm/",
        "--recursive",
    ]);
    assert_eq!(count(&after), count(&before) - 1);
    let gone = moto
        .aws_cli()
        .args(["ssm", "get-parameter", "--name", "/rm/profiles/laptop"])
        .output()
        .unwrap();
    assert!(!gone.status.success());
    assert_eq!(
        moto.aws_json(&["ec2", "describe-key-pairs"])["KeyPairs"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn resources_made_by_hand_the_seeds_way_are_adopted() {
    let moto = Moto::start();
    let p = Project::new(
        "vibes",
        "[keys.builds]\n\n[profiles.x]\nencoder = \"flac\"\nflags = \"-8\"\n",
    );
    // The seed's manual set-up: a key pair and its private key, a profile, no tags.
    let key = moto.aws_json(&["ec2", "create-key-pair", "--key-name", "vibes-builds"]);
    let material = key["KeyMaterial"].as_str().unwrap();
    moto.aws_json(&[
        "ssm",
        "put-parameter",
        "--name",
        "/vibes/ec2/keys/builds",
        "--type",
        "SecureString",
        "--value",
        material,
    ]);
    moto.aws_json(&[
        "ssm",
        "put-parameter",
        "--name",
        "/vibes/profiles/x",
        "--type",
        "String",
        "--value",
        "CONFIG_ENCODER=flac\nCONFIG_FLAC_FLAGS=-8\n",
    ]);

    let plan = p.vibes(&moto, &["plan", "--json"]);
    let json: serde_json::Value =
        serde_json::from_slice(&plan.stdout).unwrap_or_else(|_| panic!("{}", text(&plan)));
    let ops: Vec<(String, String)> = json["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["address"].as_str().unwrap().into(),
                a["op"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        ops,
        [
            ("key.builds".to_string(), "adopt".to_string()),
            ("profile.x".to_string(), "adopt".to_string())
        ]
    );

    assert_eq!(code(&p.vibes(&moto, &["apply", "--auto-approve"])), 0);
    let pairs = moto.aws_json(&["ec2", "describe-key-pairs"]);
    assert_eq!(
        pairs["KeyPairs"].as_array().unwrap().len(),
        1,
        "adopted, not duplicated"
    );
    assert_eq!(
        tag_map(&pairs["KeyPairs"][0]["Tags"])["vibes:address"],
        "key.builds"
    );
    let same = moto.aws_json(&[
        "ssm",
        "get-parameter",
        "--name",
        "/vibes/ec2/keys/builds",
        "--with-decryption",
    ]);
    assert_eq!(
        same["Parameter"]["Value"], material,
        "the private key is kept"
    );
    assert_eq!(code(&p.vibes(&moto, &["plan", "--detailed-exitcode"])), 0);
}

#[test]
fn a_held_lock_stops_a_second_apply_and_names_its_holder() {
    let moto = Moto::start();
    let p = Project::new("lock", KEYS_AND_PROFILES);
    // An apply that is running (or crashed) holds the lock.
    let held = r#"{"id":"0123456789ab","holder":"ana@build-host","pid":4242,"since":1700000000,"command":"apply"}"#;
    moto.aws_json(&[
        "ssm",
        "put-parameter",
        "--name",
        "/lock/lock",
        "--type",
        "String",
        "--value",
        held,
    ]);

    let apply = p.vibes(&moto, &["apply", "--auto-approve"]);
    assert_eq!(code(&apply), 1);
    let out = text(&apply);
    assert!(
        out.contains("ana@build-host")
            && out.contains("0123456789ab")
            && out.contains("vibes unlock"),
        "{out}"
    );
    assert!(
        moto.aws_json(&["ec2", "describe-key-pairs"])["KeyPairs"]
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing was done"
    );

    let wrong = p.vibes(&moto, &["unlock", "ffffffffffff"]);
    assert_eq!(code(&wrong), 1, "{}", text(&wrong));
    assert_eq!(code(&p.vibes(&moto, &["unlock", "0123456789ab"])), 0);
    assert_eq!(code(&p.vibes(&moto, &["apply", "--auto-approve"])), 0);
}

#[test]
fn two_applies_at_once_never_both_act() {
    let moto = Moto::start();
    let p = Project::new("race", KEYS_AND_PROFILES);
    let spawn = || {
        let mut cmd = cli::vibes(&p.config(), &moto);
        cmd.args(["apply", "--auto-approve"]);
        cmd.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    for o in [&a, &b] {
        if code(o) != 0 {
            // The loser says who holds the lock and did nothing.
            assert!(text(o).contains("holds the lock"), "{}", text(o));
        }
    }
    // Whatever the interleaving, one set of key pairs exists, and a re-plan is clean.
    assert_eq!(
        moto.aws_json(&["ec2", "describe-key-pairs"])["KeyPairs"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let plan = p.vibes(&moto, &["plan", "--detailed-exitcode"]);
    if code(&a) == 0 && code(&b) == 0 {
        // They ran one after the other (the emulator answers instantly): the second found nothing to do.
        assert!(
            text(&a).contains("No changes") || text(&b).contains("No changes"),
            "{}\n{}",
            text(&a),
            text(&b)
        );
    }
    assert_eq!(code(&plan), 0, "{}", text(&plan));
}

#[test]
fn without_a_terminal_apply_refuses_to_act_unasked() {
    let moto = Moto::start();
    let p = Project::new("tty", KEYS_AND_PROFILES);
    let out = cli::vibes(&p.config(), &moto)
        .arg("apply")
        .output()
        .unwrap();
    assert_eq!(code(&out), 1);
    assert!(text(&out).contains("--auto-approve"), "{}", text(&out));
    assert!(moto.aws_json(&["ec2", "describe-key-pairs"])["KeyPairs"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[test]
fn a_changed_template_shows_as_a_diff_and_updates_the_stack() {
    let moto = Moto::start();
    let p = Project::new("tpl", PLATFORM);
    let first = p.vibes(&moto, &["apply", "--auto-approve"]);
    assert_eq!(code(&first), 0, "{}", text(&first));

    // A template of the config's own instead of the built-in one: a copy of it with a new
    // output. An in-place update of stack.main only.
    let main = p.path().join("cfn/main.yaml");
    let mut template = std::fs::read_to_string(&main).unwrap();
    template.push_str("  TemplateRevision:\n    Description: Which revision of the platform template made this stack.\n    Value: \"2\"\n");
    std::fs::write(&main, template).unwrap();
    p.write(&format!(
        "{PLATFORM}\n[stacks.main]\ntemplate = \"cfn/main.yaml\"\n"
    ));

    let plan = p.vibes(&moto, &["plan", "--detailed-exitcode"]);
    assert_eq!(code(&plan), 2, "{}", text(&plan));
    let out = text(&plan);
    assert!(
        out.contains("~ stack.main (update: template changed)"),
        "{out}"
    );
    assert!(
        out.contains("+  TemplateRevision:"),
        "the diff shows the added lines: {out}"
    );
    assert!(
        !out.contains("stack.vpc"),
        "the other stack is untouched: {out}"
    );

    let apply = p.vibes(&moto, &["apply", "--auto-approve"]);
    assert_eq!(code(&apply), 0, "{}", text(&apply));
    let d = moto.aws_json(&[
        "cloudformation",
        "describe-stacks",
        "--stack-name",
        "tpl-main",
    ]);
    assert_eq!(d["Stacks"][0]["StackStatus"], "UPDATE_COMPLETE");
    let outputs = d["Stacks"][0]["Outputs"].as_array().unwrap();
    assert!(outputs
        .iter()
        .any(|o| o["OutputKey"] == "TemplateRevision" && o["OutputValue"] == "2"));
    let again = p.vibes(&moto, &["plan", "--detailed-exitcode"]);
    assert_eq!(code(&again), 0, "{}", text(&again));
}
