//! Least privilege in the platform's CloudFormation templates (`cfn/*.yaml`): every IAM policy
//! statement that allows something is read, and
//!
//! - a mutating action (anything but `Describe*`, `Get*`, `List*`) on `Resource: "*"` must carry a
//!   condition that scopes it by more than the region: a region alone leaves every resource of the
//!   account in reach;
//! - `ec2:CreateTags` must carry `ec2:CreateAction`: tagging only as part of a create. Otherwise the
//!   role could tag anything into the project, and every `aws:ResourceTag/vibes:project` condition
//!   would mean nothing;
//! - no `Modify*Attribute` is granted: `ec2:ModifyImageAttribute` and `ec2:ModifySnapshotAttribute`
//!   make an image or a snapshot public in one call, `ec2:ModifyInstanceAttribute` changes what an
//!   instance runs (its user data, its type).
//!
//! For the image build role (Packer in CodeBuild), every create that can make a resource requires
//! the request tag `vibes:project`, and stop, terminate, delete and authorize require it on the
//! resource. The Packer recipes must then ask for nothing those rules take away (`recipes_…` below).
//! CloudFormation's short forms (`!Sub`, `!Ref`, …) come through as tagged values: an action or a
//! resource written with one is read through it.

use crate::support::template_yaml::strings;
use serde_yaml_ng::Value;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn files_in(dir: &str, suffix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(repo().join(dir))
        .unwrap_or_else(|e| panic!("read {dir}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no {suffix} file in {dir}");
    v
}

/// `*` and `?` as IAM reads them, without regard to case (IAM action names are case-insensitive).
fn glob(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], t) || (!t.is_empty() && go(p, &t[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}

/// `Describe*`, `Get*`, `List*`: reads. Anything else, wildcards such as `ec2:*` included, may write.
fn read_only(action: &str) -> bool {
    let Some((_, name)) = action.split_once(':') else {
        return false;
    };
    let name = name.to_ascii_lowercase();
    ["describe", "get", "list"]
        .iter()
        .any(|p| name.starts_with(p))
}

/// Condition keys that only pin the region: every resource of the account in it stays in reach.
const REGION_ONLY: [&str; 2] = ["aws:requestedregion", "ec2:region"];

/// Some known `Modify*Attribute` actions, for wildcard patterns (`ec2:Modify*`, `ec2:*`).
const MODIFY_ATTRIBUTE: [&str; 5] = [
    "ec2:ModifyImageAttribute",
    "ec2:ModifySnapshotAttribute",
    "ec2:ModifyInstanceAttribute",
    "ec2:ModifyVolumeAttribute",
    "ec2:ModifyNetworkInterfaceAttribute",
];

struct Statement {
    /// `file resource/policy Sid`, for the failure message.
    at: String,
    /// `None` for `NotAction`: it allows every action but a few, so it counts as any action.
    actions: Option<Vec<String>>,
    /// `Resource: "*"`, or a `NotResource`.
    resource_star: bool,
    /// The resources named, as written (`!Sub` text unresolved).
    resources: Vec<String>,
    /// The condition keys, lower case.
    condition_keys: Vec<String>,
}

impl Statement {
    fn grants(&self, action: &str) -> bool {
        match &self.actions {
            None => true,
            Some(a) => a.iter().any(|p| glob(p, action)),
        }
    }
}

/// The `Allow` statements of every policy document in a template: `Policies[].PolicyDocument` of
/// roles, users and groups, and the `PolicyDocument` of policies, managed policies and resource
/// policies.
fn allow_statements(file: &str, template: &Value) -> Vec<Statement> {
    let mut out = Vec::new();
    let Some(Value::Mapping(resources)) = template.get("Resources") else {
        return out;
    };
    for (name, r) in resources {
        let name = name.as_str().unwrap_or("?");
        let Some(props) = r.get("Properties") else {
            continue;
        };
        let mut docs = Vec::new();
        if let Some(d) = props.get("PolicyDocument") {
            docs.push(("PolicyDocument".to_string(), d));
        }
        if let Some(Value::Sequence(ps)) = props.get("Policies") {
            for p in ps {
                let pname = p.get("PolicyName").and_then(Value::as_str).unwrap_or("?");
                if let Some(d) = p.get("PolicyDocument") {
                    docs.push((pname.to_string(), d));
                }
            }
        }
        for (pname, doc) in docs {
            let stmts = match doc.get("Statement") {
                Some(Value::Sequence(s)) => s.iter().collect(),
                Some(s @ Value::Mapping(_)) => vec![s],
                other => panic!("{file} {name}/{pname}: Statement is {other:?}"),
            };
            for (i, s) in stmts.into_iter().enumerate() {
                if s.get("Effect").and_then(Value::as_str) != Some("Allow") {
                    continue;
                }
                let sid = s
                    .get("Sid")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("statement {i}"));
                let actions = if s.get("NotAction").is_some() {
                    None
                } else {
                    Some(s.get("Action").map(strings).unwrap_or_default())
                };
                let resources = s.get("Resource").map(strings).unwrap_or_default();
                let resource_star =
                    s.get("NotResource").is_some() || resources.iter().any(|r| r == "*");
                let mut condition_keys = Vec::new();
                if let Some(Value::Mapping(ops)) = s.get("Condition") {
                    for keys in ops.values() {
                        if let Value::Mapping(keys) = keys {
                            for k in keys.keys() {
                                condition_keys.push(k.as_str().unwrap_or("?").to_ascii_lowercase());
                            }
                        }
                    }
                }
                out.push(Statement {
                    at: format!("{file} {name}/{pname} {sid}"),
                    actions,
                    resource_star,
                    resources,
                    condition_keys,
                });
            }
        }
    }
    out
}

/// Every breach of the three rules, one line each.
fn violations(file: &str, yaml: &str) -> Vec<String> {
    let template: Value =
        serde_yaml_ng::from_str(yaml).unwrap_or_else(|e| panic!("{file} is not YAML: {e}"));
    let mut out = Vec::new();
    for s in allow_statements(file, &template) {
        let scoped = s
            .condition_keys
            .iter()
            .any(|k| !REGION_ONLY.contains(&k.as_str()));
        if s.resource_star && !scoped {
            let writes: Vec<&str> = match &s.actions {
                None => vec!["NotAction (every action but those named)"],
                Some(a) => a
                    .iter()
                    .map(String::as_str)
                    .filter(|a| !read_only(a))
                    .collect(),
            };
            if !writes.is_empty() {
                out.push(format!(
                    "{}: Resource \"*\" with mutating actions {writes:?} and no condition beyond the region",
                    s.at
                ));
            }
        }
        if s.grants("ec2:CreateTags") && !s.condition_keys.iter().any(|k| k == "ec2:createaction") {
            out.push(format!(
                "{}: ec2:CreateTags without an ec2:CreateAction condition: it could tag existing resources",
                s.at
            ));
        }
        let modify: Vec<String> = match &s.actions {
            None => vec!["NotAction".into()],
            Some(a) => a
                .iter()
                .filter(|a| {
                    let (_, name) = a.split_once(':').unwrap_or(("", a));
                    glob("Modify*Attribute", name) || MODIFY_ATTRIBUTE.iter().any(|m| glob(a, m))
                })
                .cloned()
                .collect(),
        };
        if !modify.is_empty() {
            out.push(format!(
                "{}: grants {modify:?}: no Modify*Attribute (image and snapshot attributes share them publicly, instance attributes change what runs)",
                s.at
            ));
        }
    }
    out
}

#[test]
fn every_template_grants_writes_only_in_scope_tags_only_on_create_and_no_modify_attribute() {
    let mut all = Vec::new();
    let mut seen = 0;
    for path in files_in("cfn", ".yaml") {
        let yaml = std::fs::read_to_string(&path).unwrap();
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        let template: Value = serde_yaml_ng::from_str(&yaml).unwrap();
        seen += allow_statements(&file, &template).len();
        all.extend(violations(&file, &yaml));
    }
    assert!(all.is_empty(), "IAM policy violations:\n{}", all.join("\n"));
    // The walk must find the roles' statements at all, or it proves nothing.
    assert!(
        seen >= 5,
        "only {seen} Allow statements found in cfn/*.yaml"
    );
}

#[test]
fn the_image_build_role_tags_only_on_create_and_creates_only_with_the_project_tag() {
    let yaml = std::fs::read_to_string(repo().join("cfn/main.yaml")).unwrap();
    let template: Value = serde_yaml_ng::from_str(&yaml).unwrap();
    let stmts: Vec<Statement> = allow_statements("main.yaml", &template)
        .into_iter()
        .filter(|s| s.at.contains("ImageBuildRole/"))
        .collect();
    let tagging: Vec<&Statement> = stmts
        .iter()
        .filter(|s| s.grants("ec2:CreateTags"))
        .collect();
    assert!(
        !tagging.is_empty(),
        "the image build needs ec2:CreateTags to tag on create"
    );
    // Each create, and the kinds of resource it makes: a statement that grants it on one of those
    // (or on "*") must require the request tag. Statements for what it only uses (the image, the
    // subnet, the VPC, the build instance) name none of them.
    for (action, made) in [
        (
            "ec2:RunInstances",
            &["instance", "volume", "network-interface"][..],
        ),
        ("ec2:CreateKeyPair", &["key-pair"][..]),
        ("ec2:CreateSecurityGroup", &["security-group"][..]),
        ("ec2:CreateImage", &["image", "snapshot"][..]),
    ] {
        let granting: Vec<&Statement> = stmts.iter().filter(|s| s.grants(action)).collect();
        assert!(
            !granting.is_empty(),
            "{action} is not granted: Packer needs it"
        );
        for s in granting {
            let makes = s.resource_star
                || s.resources
                    .iter()
                    .any(|r| made.iter().any(|m| r.contains(&format!(":{m}/"))));
            let tagged = s
                .condition_keys
                .iter()
                .any(|k| k == "aws:requesttag/vibes:project");
            assert!(
                !makes || tagged,
                "{}: {action} on {:?} without aws:RequestTag/vibes:project",
                s.at,
                s.resources
            );
        }
        assert!(
            stmts.iter().any(|s| s.grants(action)
                && s.condition_keys
                    .iter()
                    .any(|k| k == "aws:requesttag/vibes:project")),
            "{action}: no statement grants it with the request tag vibes:project"
        );
    }
    for action in [
        "ec2:StopInstances",
        "ec2:TerminateInstances",
        "ec2:DeleteKeyPair",
        "ec2:DeleteSecurityGroup",
        "ec2:AuthorizeSecurityGroupIngress",
    ] {
        let granting: Vec<&Statement> = stmts.iter().filter(|s| s.grants(action)).collect();
        assert!(
            !granting.is_empty(),
            "{action} is not granted: Packer needs it"
        );
        for s in granting {
            assert!(
                s.condition_keys
                    .iter()
                    .any(|k| k == "aws:resourcetag/vibes:project"),
                "{}: {action} without aws:ResourceTag/vibes:project",
                s.at
            );
        }
    }
}

/// The image build role as it was: region-wide creates, tagging, and image/snapshot sharing.
const BEFORE: &str = r#"
Resources:
  ImageBuildRole:
    Type: AWS::IAM::Role
    Properties:
      Policies:
        - PolicyName: packer
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Sid: PackerDescribe
                Effect: Allow
                Action: [ec2:DescribeImages, ec2:DescribeInstances]
                Resource: "*"
              - Sid: PackerCreate
                Effect: Allow
                Action:
                  - ec2:RunInstances
                  - ec2:CreateTags
                  - ec2:ModifyImageAttribute
                  - ec2:ModifySnapshotAttribute
                Resource: "*"
                Condition:
                  StringEquals:
                    aws:RequestedRegion: !Ref AWS::Region
"#;

#[test]
fn the_rules_reject_the_image_build_role_as_it_was() {
    let v = violations("before.yaml", BEFORE);
    assert_eq!(v.len(), 3, "{v:#?}");
    assert!(v[0].contains("PackerCreate: Resource \"*\" with mutating actions [\"ec2:RunInstances\", \"ec2:CreateTags\", \"ec2:ModifyImageAttribute\", \"ec2:ModifySnapshotAttribute\"]"), "{}", v[0]);
    assert!(
        v[1].contains("PackerCreate: ec2:CreateTags without an ec2:CreateAction"),
        "{}",
        v[1]
    );
    assert!(
        v[2].contains(
            "PackerCreate: grants [\"ec2:ModifyImageAttribute\", \"ec2:ModifySnapshotAttribute\"]"
        ),
        "{}",
        v[2]
    );
}

#[test]
fn the_rules_see_through_wildcards_short_forms_and_not_action() {
    let yaml = r#"
Resources:
  P:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Statement:
          Sid: Wild
          Effect: Allow
          Action: !If [Cond, "ec2:*", "ec2:Describe*"]
          Resource: !Sub "*"
  Q:
    Type: AWS::IAM::Policy
    Properties:
      PolicyDocument:
        Statement:
          - Sid: Everything
            Effect: Allow
            NotAction: iam:*
            NotResource: arn:aws:s3:::x
          - Sid: ReadsAreFine
            Effect: Allow
            Action: [ec2:Describe*, s3:GetObject, s3:ListBucket]
            Resource: "*"
          - Sid: DenyIsNotChecked
            Effect: Deny
            Action: "*"
            Resource: "*"
          - Sid: TagOnCreate
            Effect: Allow
            Action: ec2:CreateTags
            Resource: arn:aws:ec2:*:*:instance/*
            Condition:
              StringEquals:
                ec2:CreateAction: RunInstances
"#;
    let v = violations("t.yaml", yaml);
    let at = |sid: &str| v.iter().filter(|l| l.contains(&format!(" {sid}:"))).count();
    // `ec2:*` on "*": a write without scope, CreateTags without CreateAction, Modify*Attribute.
    assert_eq!(at("Wild"), 3, "{v:#?}");
    assert_eq!(at("Everything"), 3, "{v:#?}");
    assert_eq!(at("ReadsAreFine"), 0, "{v:#?}");
    assert_eq!(at("DenyIsNotChecked"), 0, "{v:#?}");
    assert_eq!(at("TagOnCreate"), 0, "{v:#?}");
}

/// Amazon-ebs options the build role does not allow: `tags` and `snapshot_tags` are added with
/// CreateTags after the image exists, `ami_description`, `ami_users`, `ami_groups`,
/// `snapshot_users`, `snapshot_groups`, `ena_support` and `sriov_support` with Modify*Attribute,
/// and `ami_regions` with CopyImage.
const NOT_GRANTED: [&str; 10] = [
    "tags",
    "snapshot_tags",
    "ami_description",
    "ami_users",
    "ami_groups",
    "snapshot_users",
    "snapshot_groups",
    "ena_support",
    "sriov_support",
    "ami_regions",
];

/// The value of `name = …` at the top of an amazon-ebs source block, through its closing brace.
fn attribute<'a>(recipe: &'a str, name: &str) -> Option<&'a str> {
    let start = recipe.lines().position(|l| {
        l.trim_start().starts_with(name)
            && l.trim_start()[name.len()..].trim_start().starts_with('=')
    })?;
    let lines: Vec<&str> = recipe.lines().collect();
    let first = lines[start];
    let offset = first.as_ptr() as usize - recipe.as_ptr() as usize;
    let end = if first.trim_end().ends_with('{') || first.trim_end().ends_with('(') {
        let close = lines[start + 1..]
            .iter()
            .position(|l| l.trim_start().starts_with('}'))?;
        let last = lines[start + 1 + close];
        last.as_ptr() as usize - recipe.as_ptr() as usize + last.len()
    } else {
        offset + first.len()
    };
    Some(&recipe[offset..end])
}

#[test]
fn recipes_ask_only_for_what_the_build_role_grants_and_tag_everything_at_creation() {
    for path in files_in("packer", ".pkr.hcl") {
        let recipe = std::fs::read_to_string(&path).unwrap();
        let file = path.display();
        for name in NOT_GRANTED {
            assert!(
                attribute(&recipe, name).is_none(),
                "{file}: `{name}` needs a permission the image build role does not grant"
            );
        }
        for name in ["run_tags", "run_volume_tags"] {
            let value = attribute(&recipe, name).unwrap_or_else(|| {
                panic!("{file}: no `{name}`: the build role creates nothing untagged")
            });
            assert!(
                value.contains("\"vibes:project\" = var.project"),
                "{file}: `{name}` does not set vibes:project = var.project:\n{value}"
            );
        }
        // The image and its snapshot get run_tags at CreateImage: the tags vibes finds it by go there.
        let run_tags = attribute(&recipe, "run_tags").unwrap();
        assert!(
            run_tags.contains("merge(var.tags,"),
            "{file}: run_tags do not carry var.tags (VIBES_TAGS):\n{run_tags}"
        );
    }
}

#[test]
fn the_recipe_reader_finds_attributes_it_must_reject() {
    let recipe = "source \"amazon-ebs\" \"x\" {\n  ami_description = \"d\"\n  tags = merge(var.tags, {\n    Name = \"n\"\n  })\n  run_tags = {\n    \"vibes:project\" = var.project\n  }\n}\n";
    assert_eq!(
        attribute(recipe, "ami_description"),
        Some("  ami_description = \"d\"")
    );
    assert_eq!(
        attribute(recipe, "tags"),
        Some("  tags = merge(var.tags, {\n    Name = \"n\"\n  })")
    );
    assert!(attribute(recipe, "run_tags")
        .unwrap()
        .contains("\"vibes:project\" = var.project"));
    assert_eq!(attribute(recipe, "snapshot_tags"), None);
}

/// `get-parameters-by-path` → `GetParametersByPath`: an aws CLI operation as IAM names its action.
fn action_of(cli_operation: &str) -> String {
    cli_operation
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

#[test]
fn the_worker_role_grants_exactly_the_ssm_calls_the_worker_makes() {
    // What the boot script calls (`"${AWS[@]}" ssm OPERATION`), against what WorkerRole allows:
    // a grant no call uses is a permission an attacker on the worker gets for nothing.
    let script = std::fs::read_to_string(repo().join("platform/worker/vibes-compile.sh")).unwrap();
    let mut called: Vec<String> = script
        .split("ssm ")
        .skip(1)
        .filter_map(|rest| rest.split_whitespace().next())
        .filter(|op| op.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
        .map(|op| format!("ssm:{}", action_of(op)))
        .collect();
    called.sort();
    called.dedup();
    let text = std::fs::read_to_string(repo().join("cfn/main.yaml")).unwrap();
    let template: Value = serde_yaml_ng::from_str(&text).unwrap();
    let mut granted: Vec<String> = allow_statements("cfn/main.yaml", &template)
        .into_iter()
        .filter(|s| s.at.contains(" WorkerRole/"))
        .flat_map(|s| s.actions.unwrap_or_default())
        .filter(|a| a.starts_with("ssm:"))
        .collect();
    granted.sort();
    granted.dedup();
    assert!(!called.is_empty(), "no ssm call found in the script");
    assert_eq!(
        granted, called,
        "WorkerRole's SSM actions against the worker's calls"
    );
}
