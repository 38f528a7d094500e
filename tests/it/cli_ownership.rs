//! Ownership against moto, with the real binary: what someone else made under vibes' names is
//! adopted by tagging only, or left alone and shown as blocked with its owner. Checked from
//! outside with the `aws` CLI.

use crate::support::{cli, moto};
use cli::{code, text};
use moto::Moto;
use std::path::{Path, PathBuf};
use std::process::Output;

/// A config directory with the platform's network template and `body` as vibes.toml.
struct Project {
    dir: tempfile::TempDir,
    name: String,
}

impl Project {
    fn new(name: &str, body: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        std::fs::create_dir_all(dir.path().join("cfn")).unwrap();
        std::fs::copy(repo.join("cfn/vpc.yaml"), dir.path().join("cfn/vpc.yaml")).unwrap();
        let config = format!("[project]\nname = \"{name}\"\nregion = \"us-east-1\"\n\n{body}");
        std::fs::write(dir.path().join("vibes.toml"), config).unwrap();
        Project {
            dir,
            name: name.into(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn vibes(&self, moto: &Moto, args: &[&str]) -> Output {
        cli::vibes(&self.path().join("vibes.toml"), moto)
            .args(args)
            .output()
            .expect("run vibes")
    }

    fn plan_json(&self, moto: &Moto) -> serde_json::Value {
        let out = self.vibes(moto, &["plan", "--json"]);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text(&out)))
    }
}

fn action<'a>(plan: &'a serde_json::Value, address: &str) -> &'a serde_json::Value {
    plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["address"] == address)
        .unwrap_or_else(|| panic!("{address} not in {plan:#}"))
}

fn attribute<'a>(action: &'a serde_json::Value, name: &str) -> Option<&'a str> {
    action["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["name"] == name)?["value"]
        .as_str()
}

fn key_pair(moto: &Moto, name: &str) -> Option<serde_json::Value> {
    moto.aws_json(&["ec2", "describe-key-pairs"])["KeyPairs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["KeyName"] == name)
        .cloned()
}

fn tag(resource: &serde_json::Value, key: &str) -> Option<String> {
    resource["Tags"]
        .as_array()?
        .iter()
        .find(|t| t["Key"] == key)
        .map(|t| t["Value"].as_str().unwrap_or_default().to_string())
}

fn secret(moto: &Moto, name: &str) -> String {
    moto.aws_json(&["ssm", "get-parameter", "--name", name, "--with-decryption"])["Parameter"]
        ["Value"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn hand_made_key_pairs_are_adopted_and_kept_whether_or_not_ssm_holds_their_private_key() {
    let moto = Moto::start();
    let p = Project::new("seed", "[keys.builds]\n[keys.worker]\n[keys.server]\n");
    // The seed's way: `seed-server` made by hand, its private key kept in ~/.ssh (here: dropped);
    // `seed-builds` made by hand with its private key put in SSM; `seed-worker` not made.
    moto.aws_json(&["ec2", "create-key-pair", "--key-name", "seed-server"]);
    let builds = moto.aws_json(&["ec2", "create-key-pair", "--key-name", "seed-builds"]);
    let material = builds["KeyMaterial"].as_str().unwrap();
    moto.aws_json(&[
        "ssm",
        "put-parameter",
        "--name",
        "/seed/ec2/keys/builds",
        "--type",
        "SecureString",
        "--value",
        material,
    ]);
    let id = |name: &str| key_pair(&moto, name).unwrap()["KeyPairId"].clone();
    let (server_id, builds_id) = (id("seed-server"), id("seed-builds"));

    let plan = p.plan_json(&moto);
    let server = action(&plan, "key.server");
    assert_eq!(server["op"], "adopt", "{server:#}");
    assert_eq!(
        attribute(server, "private_key"),
        Some("not held by vibes"),
        "{server:#}"
    );
    let builds = action(&plan, "key.builds");
    assert_eq!(builds["op"], "adopt", "{builds:#}");
    assert_eq!(
        attribute(builds, "private_key"),
        Some("SSM SecureString /seed/ec2/keys/builds")
    );
    assert_eq!(action(&plan, "key.worker")["op"], "create");

    let apply = p.vibes(&moto, &["apply", "--auto-approve"]);
    assert_eq!(code(&apply), 0, "{}", text(&apply));
    assert_eq!(
        id("seed-server"),
        server_id,
        "the hand-made key pair is kept"
    );
    assert_eq!(
        id("seed-builds"),
        builds_id,
        "the hand-made key pair is kept"
    );
    for name in ["seed-server", "seed-builds", "seed-worker"] {
        let pair = key_pair(&moto, name).unwrap();
        assert_eq!(
            tag(&pair, "vibes:project").as_deref(),
            Some("seed"),
            "{pair:#}"
        );
    }
    assert_eq!(
        secret(&moto, "/seed/ec2/keys/builds"),
        material,
        "its private key is kept"
    );
    let again = p.vibes(&moto, &["plan", "--detailed-exitcode"]);
    assert_eq!(
        code(&again),
        0,
        "adopted once, then left alone: {}",
        text(&again)
    );

    // Replacing it is an explicit opt-in, kept in a saved plan.
    let saved = p.path().join("replace.json");
    let plan = p.vibes(
        &moto,
        &[
            "plan",
            "--replace",
            "key.server",
            "--out",
            saved.to_str().unwrap(),
        ],
    );
    assert!(
        text(&plan).contains("-/+ key.server (replace: --replace key.server"),
        "{}",
        text(&plan)
    );
    let apply = p.vibes(&moto, &["apply", saved.to_str().unwrap()]);
    assert_eq!(code(&apply), 0, "{}", text(&apply));
    assert_ne!(id("seed-server"), server_id, "a new key pair, as asked");
    assert!(secret(&moto, "/seed/ec2/keys/server").contains("PRIVATE KEY"));
    assert_eq!(code(&p.vibes(&moto, &["plan", "--detailed-exitcode"])), 0);
}

#[test]
fn what_another_project_holds_under_our_names_is_left_alone_and_shown_blocked() {
    let moto = Moto::start();
    let p = Project::new("mine", "[keys.k]\n[keys.server]\n");
    let theirs = "Key=vibes:project,Value=other";
    moto.aws_json(&[
        "ssm",
        "put-parameter",
        "--name",
        "/mine/ec2/keys/k",
        "--type",
        "SecureString",
        "--value",
        "their private key",
        "--tags",
        theirs,
    ]);
    moto.aws_json(&[
        "ec2",
        "create-key-pair",
        "--key-name",
        "mine-server",
        "--tag-specifications",
        &format!("ResourceType=key-pair,Tags=[{{{theirs}}}]"),
    ]);
    // Carries this project's tags under a name vibes does not give: not vibes' to delete.
    moto.aws_json(&[
        "ec2",
        "create-key-pair",
        "--key-name",
        "other-thing",
        "--tag-specifications",
        "ResourceType=key-pair,Tags=[{Key=vibes:project,Value=mine},{Key=vibes:address,Value=key.thing}]",
    ]);
    let server_id = key_pair(&moto, "mine-server").unwrap()["KeyPairId"].clone();

    let plan = p.vibes(&moto, &["plan"]);
    let out = text(&plan);
    assert_eq!(code(&plan), 0, "{out}");
    for (address, what) in [
        ("key.k", "/mine/ec2/keys/k"),
        ("key.server", "key pair mine-server"),
    ] {
        let line = out
            .lines()
            .find(|l| l.contains(&format!("! {address} (blocked:")))
            .unwrap_or_else(|| panic!("{address} is blocked: {out}"));
        assert!(
            line.contains(what) && line.contains("project other"),
            "the owner is named: {line}"
        );
    }
    assert!(
        out.contains("Warning:") && out.contains("other-thing"),
        "{out}"
    );

    let apply = p.vibes(&moto, &["apply", "--auto-approve"]);
    assert_eq!(code(&apply), 0, "{}", text(&apply));
    assert_eq!(secret(&moto, "/mine/ec2/keys/k"), "their private key");
    assert!(
        key_pair(&moto, "mine-k").is_none(),
        "no key pair without its private key"
    );
    let server = key_pair(&moto, "mine-server").unwrap();
    assert_eq!(server["KeyPairId"], server_id);
    assert_eq!(tag(&server, "vibes:project").as_deref(), Some("other"));
    assert!(key_pair(&moto, "other-thing").is_some(), "not deleted");
}

fn create_stack(moto: &Moto, p: &Project, name: &str, template: &Path) {
    moto.aws_json(&[
        "cloudformation",
        "create-stack",
        "--stack-name",
        name,
        "--template-body",
        &format!("file://{}", template.display()),
        "--parameters",
        &format!("ParameterKey=Project,ParameterValue={}", p.name),
    ]);
}

fn template_of(moto: &Moto, stack: &str) -> String {
    moto.aws_json(&["cloudformation", "get-template", "--stack-name", stack])["TemplateBody"]
        .as_str()
        .unwrap()
        .to_string()
}

fn stack_id(moto: &Moto, stack: &str) -> serde_json::Value {
    moto.aws_json(&["cloudformation", "describe-stacks", "--stack-name", stack])["Stacks"][0]
        ["StackId"]
        .clone()
}

#[test]
fn an_untagged_stack_is_adopted_only_when_vibes_would_change_nothing_but_its_tags() {
    let moto = Moto::start();
    // Made by hand from the same template and parameters vibes would use: adopted.
    let same = Project::new("same", "[network]\ncreate = true\n");
    create_stack(&moto, &same, "same-vpc", &same.path().join("cfn/vpc.yaml"));
    // Made by hand from another template: vibes would change it, so it is blocked.
    let differs = Project::new("differs", "[network]\ncreate = true\n");
    let hand = differs.path().join("hand.yaml");
    let mut body = std::fs::read_to_string(differs.path().join("cfn/vpc.yaml")).unwrap();
    body.push_str("  HandMade:\n    Value: \"yes\"\n");
    std::fs::write(&hand, &body).unwrap();
    create_stack(&moto, &differs, "differs-vpc", &hand);
    let (same_id, differs_id) = (stack_id(&moto, "same-vpc"), stack_id(&moto, "differs-vpc"));

    let plan = same.plan_json(&moto);
    let vpc = action(&plan, "stack.vpc");
    assert_eq!(vpc["op"], "adopt", "{vpc:#}");
    assert!(
        vpc["changes"].as_array().unwrap().is_empty(),
        "no template change: {vpc:#}"
    );
    let apply = same.vibes(&moto, &["apply", "--auto-approve"]);
    assert_eq!(code(&apply), 0, "{}", text(&apply));
    assert_eq!(stack_id(&moto, "same-vpc"), same_id, "kept, not recreated");
    // moto answers a tags-only UpdateStack with "No updates are to be performed." and keeps the
    // old tags, where AWS applies them; the fake cloud covers the tagging
    // (plan_ownership.rs checks the update carries the tags and the live template).

    let plan = differs.vibes(&moto, &["plan"]);
    let out = text(&plan);
    let line = out
        .lines()
        .find(|l| l.contains("! stack.vpc (blocked:"))
        .unwrap_or_else(|| panic!("stack.vpc is blocked: {out}"));
    assert!(
        line.contains("template") && line.contains("--replace stack.vpc"),
        "says what differs and how to go on: {line}"
    );
    assert!(
        out.contains("-  HandMade:"),
        "the difference is shown: {out}"
    );
    let apply = differs.vibes(&moto, &["apply", "--auto-approve"]);
    assert_eq!(code(&apply), 0, "{}", text(&apply));
    assert_eq!(stack_id(&moto, "differs-vpc"), differs_id);
    assert!(
        template_of(&moto, "differs-vpc").contains("HandMade"),
        "someone else's stack keeps its template"
    );
}
