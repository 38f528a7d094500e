//! What the built-in main stack (`cfn/main.yaml`) makes for the image builds, read from the
//! template itself: their log group is the stack's, and their role launches only the build
//! instance types, only in the subnet given for builds.

use crate::support::template_yaml::strings;
use serde_yaml_ng::Value;
use std::path::Path;

fn main_template() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../cfn/main.yaml");
    serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `!Ref NAME` → NAME.
fn reference(v: &Value) -> Option<&str> {
    match v {
        Value::Tagged(t) if t.tag == "!Ref" => t.value.as_str(),
        _ => None,
    }
}

/// The image build role's statements.
fn build_role_statements(t: &Value) -> Vec<Value> {
    t["Resources"]["ImageBuildRole"]["Properties"]["Policies"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|p| {
            p["PolicyDocument"]["Statement"]
                .as_sequence()
                .unwrap()
                .clone()
        })
        .collect()
}

fn grants(statement: &Value, action: &str) -> bool {
    strings(&statement["Action"]).iter().any(|a| a == action)
}

#[test]
fn the_image_builds_log_to_a_group_of_the_stack_that_expires_its_logs() {
    let t = main_template();
    let logs = &t["Resources"]["ImageBuildProject"]["Properties"]["LogsConfig"]["CloudWatchLogs"];
    let group = reference(&logs["GroupName"]).unwrap_or_else(|| {
        panic!(
            "the project's log group is not one of the stack's (CodeBuild would make it, keep its logs forever, and leave it after destroy): {:?}",
            logs["GroupName"]
        )
    });
    let resource = &t["Resources"][group];
    assert_eq!(
        resource["Type"].as_str(),
        Some("AWS::Logs::LogGroup"),
        "{group}"
    );
    assert!(
        !resource["Properties"]["RetentionInDays"].is_null(),
        "{group} keeps its logs forever"
    );
    assert!(
        resource["DeletionPolicy"].is_null(),
        "{group} outlives the stack"
    );
    // The role may write there, and only there.
    let writes: Vec<Value> = build_role_statements(&t)
        .into_iter()
        .filter(|s| grants(s, "logs:PutLogEvents"))
        .collect();
    assert_eq!(writes.len(), 1, "{writes:?}");
    let resources = strings(&writes[0]["Resource"]);
    assert!(
        resources.iter().all(|r| r.contains(group)),
        "the build role writes logs elsewhere than {group}: {resources:?}"
    );
}

#[test]
fn the_image_build_role_launches_only_the_build_instance_types_in_the_build_subnet() {
    let t = main_template();
    let launches: Vec<Value> = build_role_statements(&t)
        .into_iter()
        .filter(|s| grants(s, "ec2:RunInstances"))
        .collect();
    let on = |kind: &str| -> Vec<&Value> {
        launches
            .iter()
            .filter(|s| {
                strings(&s["Resource"])
                    .iter()
                    .any(|r| r.contains(&format!(":{kind}/")))
            })
            .collect()
    };
    let instance = on("instance");
    assert!(!instance.is_empty(), "Packer needs to launch its instance");
    for s in &instance {
        let types = &s["Condition"]["StringEquals"]["ec2:InstanceType"];
        assert_eq!(
            reference(types),
            Some("ImageBuildInstanceTypes"),
            "the build role may launch any instance type: {s:?}"
        );
    }
    for s in on("subnet") {
        let subnets = strings(&s["Resource"]);
        // Any subnet only when none is given: `!If [HasImageBuildSubnet, that one, any]`.
        let given = subnets
            .iter()
            .any(|r| r.ends_with(":subnet/${ImageBuildSubnetId}"));
        assert!(
            given && has_if(&s["Resource"]),
            "the build role may launch in any subnet even when one is given: {subnets:?}"
        );
    }
    // Every recipe's default build instance type is one the role may launch.
    let allowed: Vec<String> = t["Parameters"]["ImageBuildInstanceTypes"]["Default"]
        .as_str()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    let packer = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packer");
    let mut seen = 0;
    for entry in std::fs::read_dir(packer).unwrap() {
        let path = entry.unwrap().path();
        if !path.to_string_lossy().ends_with(".pkr.hcl") {
            continue;
        }
        let recipe = std::fs::read_to_string(&path).unwrap();
        for line in recipe
            .lines()
            .filter(|l| l.trim_start().starts_with("instance_type ="))
        {
            // The quoted strings of the line: `""`, then the default of each architecture.
            for name in line.split('"').skip(1).step_by(2).filter(|n| !n.is_empty()) {
                seen += 1;
                assert!(
                    allowed.iter().any(|a| a == name),
                    "{}: {name} is not among ImageBuildInstanceTypes {allowed:?}",
                    path.display()
                );
            }
        }
    }
    assert!(
        seen >= 4,
        "only {seen} default instance types read from the recipes"
    );
}

/// Whether a value holds an `!If` (the subnet chosen by a condition).
fn has_if(v: &Value) -> bool {
    match v {
        Value::Tagged(t) => t.tag == "!If" || has_if(&t.value),
        Value::Sequence(s) => s.iter().any(has_if),
        Value::Mapping(m) => m.values().any(has_if),
        _ => false,
    }
}
