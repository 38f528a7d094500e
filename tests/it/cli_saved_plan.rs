//! Saved plans, end to end against a moto server with the real binary: `vibes plan --out FILE`
//! then `vibes apply FILE` does exactly what was reviewed, or refuses (naming what moved) when
//! something the plan relied on changed in the meantime. Changes elsewhere do not block it.

use crate::support::{cli, moto};
use cli::{code, text};
use moto::Moto;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Project {
    dir: tempfile::TempDir,
    name: String,
}

impl Project {
    fn new(name: &str, body: &str) -> Project {
        let p = Project {
            dir: tempfile::tempdir().unwrap(),
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

    fn plan_file(&self) -> String {
        self.path().join("plan.json").display().to_string()
    }

    fn vibes(&self, moto: Option<&Moto>, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vibes"));
        cmd.arg("--config")
            .arg(self.config())
            .args(args)
            .current_dir(self.path())
            .env_remove("AWS_PROFILE")
            .stdin(std::process::Stdio::null());
        match moto {
            Some(moto) => {
                for (k, v) in moto.env() {
                    cmd.env(k, v);
                }
            }
            // Nothing listens here: a command that reaches AWS fails loudly instead of passing.
            None => {
                cmd.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
                    .env("AWS_ACCESS_KEY_ID", "x")
                    .env("AWS_SECRET_ACCESS_KEY", "x");
            }
        }
        cmd.output().expect("run vibes")
    }
}

const PHONE: &str = "[profiles.phone]\nencoder = \"lame\"\nflags = \"--quiet -V 6\"\n";
const PHONE_BETTER: &str = "[profiles.phone]\nencoder = \"lame\"\nflags = \"--quiet -V 2\"\n";
const LAPTOP: &str = "[profiles.laptop]\nencoder = \"opusenc\"\nflags = \"--bitrate 128\"\n";
const KEYS: &str = "[keys.builds]\n[keys.worker]\n";

/// Applied with phone at -V 6, then the config asks for -V 2 and the plan for that is saved.
fn applied_then_phone_changed(moto: &Moto, name: &str) -> Project {
    let p = Project::new(name, &format!("{KEYS}\n{PHONE}\n{LAPTOP}"));
    let apply = p.vibes(Some(moto), &["apply", "--auto-approve"]);
    assert_eq!(code(&apply), 0, "{}", text(&apply));
    p.write(&format!("{KEYS}\n{PHONE_BETTER}\n{LAPTOP}"));
    let plan = p.vibes(
        Some(moto),
        &["plan", "--out", &p.plan_file(), "--detailed-exitcode"],
    );
    assert_eq!(code(&plan), 2, "{}", text(&plan));
    assert!(text(&plan).contains("Saved the plan to"), "{}", text(&plan));
    p
}

fn parameter(moto: &Moto, name: &str) -> String {
    moto.aws_json(&["ssm", "get-parameter", "--name", name])["Parameter"]["Value"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn a_saved_plan_applies_when_nothing_moved_and_the_next_plan_is_clean() {
    let moto = Moto::start();
    let p = Project::new("saved", &format!("{KEYS}\n{PHONE}"));
    let plan = p.vibes(Some(&moto), &["plan", "--out", &p.plan_file()]);
    assert_eq!(code(&plan), 0, "{}", text(&plan));

    let show = p.vibes(None, &["show", &p.plan_file()]);
    assert_eq!(code(&show), 0, "{}", text(&show));
    for address in ["key.builds", "key.worker", "profile.phone"] {
        assert!(
            text(&show).contains(address),
            "show renders {address}: {}",
            text(&show)
        );
    }
    let json = p.vibes(None, &["show", &p.plan_file(), "--json"]);
    let json: serde_json::Value =
        serde_json::from_slice(&json.stdout).expect("show --json is JSON");
    assert_eq!(json["project"], "saved");
    assert_eq!(json["summary"]["create"], 3, "{json:#}");

    let apply = p.vibes(Some(&moto), &["apply", &p.plan_file()]);
    assert_eq!(
        code(&apply),
        0,
        "a saved plan needs no confirmation: {}",
        text(&apply)
    );
    assert_eq!(
        parameter(&moto, "/saved/profiles/phone"),
        "CONFIG_ENCODER=lame\nCONFIG_LAME_FLAGS=--quiet -V 6\n"
    );
    assert_eq!(
        moto.aws_json(&["ec2", "describe-key-pairs"])["KeyPairs"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        code(&p.vibes(Some(&moto), &["plan", "--detailed-exitcode"])),
        0
    );

    // Applied once, the same file is stale: what it would create now exists.
    let again = p.vibes(Some(&moto), &["apply", &p.plan_file()]);
    assert_eq!(code(&again), 1, "{}", text(&again));
    assert!(text(&again).contains("is stale"), "{}", text(&again));
}

#[test]
fn a_saved_plan_never_holds_a_secret() {
    let moto = Moto::start();
    let p = applied_then_phone_changed(&moto, "secret");
    let file = std::fs::read_to_string(p.plan_file()).unwrap();
    assert!(
        !file.contains("PRIVATE KEY"),
        "no private key in the saved plan"
    );
    for key in ["builds", "worker"] {
        let param = moto.aws_json(&[
            "ssm",
            "get-parameter",
            "--name",
            &format!("/secret/ec2/keys/{key}"),
            "--with-decryption",
        ]);
        let private = param["Parameter"]["Value"].as_str().unwrap();
        for line in private.lines().filter(|l| !l.starts_with("-----")) {
            assert!(
                !file.contains(line),
                "the {key} private key is not in the saved plan"
            );
        }
    }
    // A plan that creates a key (its private key is made during apply) holds none either.
    p.write(&format!("{KEYS}[keys.server]\n\n{PHONE_BETTER}\n{LAPTOP}"));
    assert_eq!(
        code(&p.vibes(Some(&moto), &["plan", "--out", &p.plan_file()])),
        0
    );
    let file = std::fs::read_to_string(p.plan_file()).unwrap();
    assert!(
        file.contains("\"key.server\"") && !file.contains("PRIVATE KEY"),
        "{file}"
    );
}

#[test]
fn an_out_of_band_change_to_a_profile_the_plan_updates_makes_it_stale() {
    let moto = Moto::start();
    let p = applied_then_phone_changed(&moto, "stale");
    let by_hand = "CONFIG_ENCODER=lame\nCONFIG_LAME_FLAGS=-V 0\n";
    moto.aws_json(&[
        "ssm",
        "put-parameter",
        "--name",
        "/stale/profiles/phone",
        "--type",
        "String",
        "--overwrite",
        "--value",
        by_hand,
    ]);

    let apply = p.vibes(Some(&moto), &["apply", &p.plan_file()]);
    assert_eq!(code(&apply), 1, "{}", text(&apply));
    let out = text(&apply);
    assert!(out.contains("is stale"), "{out}");
    assert!(
        out.contains("profile.phone") && out.contains("/stale/profiles/phone"),
        "names the action and the parameter: {out}"
    );
    assert!(out.contains("vibes plan --out"), "says what to do: {out}");
    assert_eq!(
        parameter(&moto, "/stale/profiles/phone"),
        by_hand,
        "nothing was applied"
    );

    // The lock was released: a fresh plan, saved and applied, goes through.
    assert_eq!(
        code(&p.vibes(Some(&moto), &["plan", "--out", &p.plan_file()])),
        0
    );
    let apply = p.vibes(Some(&moto), &["apply", &p.plan_file()]);
    assert_eq!(code(&apply), 0, "{}", text(&apply));
    assert_eq!(
        parameter(&moto, "/stale/profiles/phone"),
        "CONFIG_ENCODER=lame\nCONFIG_LAME_FLAGS=--quiet -V 2\n"
    );
}

#[test]
fn an_out_of_band_change_to_a_profile_the_plan_does_not_touch_does_not_block_it() {
    let moto = Moto::start();
    let p = applied_then_phone_changed(&moto, "elsewhere");
    let by_hand = "CONFIG_ENCODER=opusenc\nCONFIG_OPUSENC_FLAGS=--bitrate 64\n";
    moto.aws_json(&[
        "ssm",
        "put-parameter",
        "--name",
        "/elsewhere/profiles/laptop",
        "--type",
        "String",
        "--overwrite",
        "--value",
        by_hand,
    ]);

    let apply = p.vibes(Some(&moto), &["apply", &p.plan_file()]);
    assert_eq!(code(&apply), 0, "{}", text(&apply));
    assert_eq!(
        parameter(&moto, "/elsewhere/profiles/phone"),
        "CONFIG_ENCODER=lame\nCONFIG_LAME_FLAGS=--quiet -V 2\n"
    );
    assert_eq!(
        parameter(&moto, "/elsewhere/profiles/laptop"),
        by_hand,
        "the saved plan did only what it said"
    );

    // The next plan shows the other change.
    let plan = p.vibes(Some(&moto), &["plan", "--json"]);
    let json: serde_json::Value =
        serde_json::from_slice(&plan.stdout).unwrap_or_else(|_| panic!("{}", text(&plan)));
    let addresses: Vec<&str> = json["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["address"].as_str().unwrap())
        .collect();
    assert_eq!(addresses, ["profile.laptop"]);
}

#[test]
fn garbage_and_tampered_plan_files_get_a_clear_error_before_aws_is_contacted() {
    let p = Project::new("files", PHONE);
    let file = p.plan_file();
    let cases: [(&str, &str); 4] = [
        ("this is not json", "is not a vibes plan"),
        (
            r#"{"format_version": 1, "plan": {}}"#,
            "is not a vibes plan",
        ),
        (
            r#"{"format_version":1,"vibes_version":"0.1.0","include_data":false,"destroy":false,"targets":[],"plan":{"project":"files","actions":[],"edges":[[0,1]],"notes":[]}}"#,
            "edge (0, 1) does not fit the 0 actions",
        ),
        (
            r#"{"format_version":1,"vibes_version":"0.1.0","include_data":false,"destroy":false,"targets":["nowhere.at.all"],"plan":{"project":"files","actions":[],"edges":[],"notes":[]}}"#,
            "is not an address",
        ),
    ];
    for (body, expected) in cases {
        std::fs::write(&file, body).unwrap();
        for args in [vec!["show", file.as_str()], vec!["apply", file.as_str()]] {
            let out = p.vibes(None, &args);
            assert_eq!(code(&out), 1, "{args:?} on {body}: {}", text(&out));
            assert!(
                text(&out).contains(expected),
                "{args:?} on {body}: {}",
                text(&out)
            );
            assert!(text(&out).contains(&file), "names the file: {}", text(&out));
        }
    }
    let missing = p.vibes(
        None,
        &["apply", &p.path().join("nope.json").display().to_string()],
    );
    assert_eq!(code(&missing), 1);
    assert!(
        text(&missing).contains("cannot read the saved plan"),
        "{}",
        text(&missing)
    );
}

#[test]
fn a_plan_of_another_format_version_is_refused_with_both_versions_named() {
    let p = Project::new("versions", PHONE);
    let file = p.plan_file();
    std::fs::write(
        &file,
        r#"{"format_version": 7, "something": "from a later vibes"}"#,
    )
    .unwrap();
    for args in [["show", file.as_str()], ["apply", file.as_str()]] {
        let out = p.vibes(None, &args);
        assert_eq!(code(&out), 1, "{}", text(&out));
        let out = text(&out);
        assert!(
            out.contains("format 7") && out.contains("reads format 1"),
            "{out}"
        );
    }
}

#[test]
fn a_bad_target_address_is_a_clear_error() {
    let p = Project::new("targets", PHONE);
    for args in [
        vec!["plan", "--target", "profile"],
        vec!["apply", "--auto-approve", "--target", "nonsense.phone"],
    ] {
        let out = p.vibes(None, &args);
        assert_eq!(code(&out), 1, "{args:?}: {}", text(&out));
        let out = text(&out);
        assert!(out.contains("--target"), "{out}");
        assert!(
            !out.contains("127.0.0.1:9"),
            "refused before contacting AWS: {out}"
        );
    }
}

#[test]
fn a_saved_plan_cannot_be_widened_or_narrowed_on_the_command_line() {
    let p = Project::new("narrow", PHONE);
    std::fs::write(
        p.plan_file(),
        r#"{"format_version":1,"vibes_version":"0.1.0","include_data":false,"destroy":false,"targets":[],"plan":{"project":"narrow","actions":[],"edges":[],"notes":[]}}"#,
    )
    .unwrap();
    let out = p.vibes(
        None,
        &["apply", &p.plan_file(), "--target", "profile.phone"],
    );
    assert_eq!(code(&out), 1);
    assert!(
        text(&out).contains("a saved plan runs as it was made"),
        "{}",
        text(&out)
    );
}
