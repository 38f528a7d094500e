//! examples/ci/github-actions.yml is a working GitOps pipeline, not a sketch: it parses as YAML,
//! plans on pull requests with the exit code that tells changes, applies the saved plan on
//! merge to main one run at a time, and its shell steps pass shellcheck.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The workflow as JSON, read by PyYAML from the project's venv (`on:` is a YAML 1.1 boolean
/// there, so it is read back under its name).
fn workflow() -> serde_json::Value {
    let python = repo().join(".venv/bin/python");
    let python = if python.exists() {
        python
    } else {
        PathBuf::from("python3")
    };
    let script = "import json, sys, yaml\nd = yaml.safe_load(open(sys.argv[1]))\nif True in d: d['on'] = d.pop(True)\nprint(json.dumps(d))";
    let out = Command::new(&python)
        .args(["-c", script])
        .arg(repo().join("examples/ci/github-actions.yml"))
        .output()
        .expect("python with PyYAML");
    assert!(
        out.status.success(),
        "the workflow is well-formed YAML: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn runs(job: &serde_json::Value) -> Vec<String> {
    job["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["run"].as_str().map(String::from))
        .collect()
}

#[test]
fn plans_on_pull_requests_and_applies_on_main() {
    let w = workflow();
    assert!(w["on"]["pull_request"].is_object());
    assert_eq!(w["on"]["push"]["branches"], serde_json::json!(["main"]));
    let plan = &w["jobs"]["plan"];
    assert!(plan["if"].as_str().unwrap().contains("pull_request"));
    let script = runs(plan).join("\n");
    assert!(
        script.contains("vibes plan --out plan.json --detailed-exitcode"),
        "{script}"
    );
    assert!(
        script.contains("vibes show plan.json --json"),
        "the JSON summary goes in the comment"
    );
    assert!(plan["permissions"]["pull-requests"] == "write");
    let steps = plan["steps"].as_array().unwrap();
    assert!(steps.iter().any(|s| s["uses"]
        .as_str()
        .is_some_and(|u| u.starts_with("actions/upload-artifact"))
        && s["with"]["path"] == "plan.json"));
    assert!(steps.iter().any(|s| s["with"]["script"]
        .as_str()
        .is_some_and(|js| js.contains("createComment") && js.contains("summary.json"))));
}

#[test]
fn apply_runs_the_saved_plan_one_at_a_time() {
    let w = workflow();
    let apply = &w["jobs"]["apply"];
    assert!(apply["if"].as_str().unwrap().contains("refs/heads/main"));
    assert_eq!(apply["concurrency"]["group"], "vibes-apply");
    assert_eq!(
        apply["concurrency"]["cancel-in-progress"], false,
        "an apply is never cancelled half-way"
    );
    let script = runs(apply).join("\n");
    assert!(
        script.contains("gh run download") && script.contains("vibes-plan"),
        "{script}"
    );
    assert!(script.contains("vibes apply plan.json"), "{script}");
    assert!(
        !script.contains("--auto-approve"),
        "the reviewed plan is applied, not a fresh one"
    );
}

#[test]
fn shell_steps_pass_shellcheck() {
    let w = workflow();
    let dir = tempfile::tempdir().unwrap();
    for (job, body) in w["jobs"].as_object().unwrap() {
        for (i, script) in runs(body).iter().enumerate() {
            assert!(
                !script.contains("${{"),
                "{job} step {i}: expressions go through env, not into the script"
            );
            let path = dir.path().join(format!("{job}-{i}.sh"));
            // Actions runs `run:` with `bash -e {0}`.
            std::fs::write(&path, format!("#!/bin/bash\nset -e\n{script}")).unwrap();
            check(&path);
        }
    }
}

fn check(path: &Path) {
    let out = match Command::new("shellcheck").arg(path).output() {
        Ok(out) => out,
        Err(e) => panic!("shellcheck is needed for this test (apt install shellcheck): {e}"),
    };
    assert!(
        out.status.success(),
        "{}:\n{}",
        path.display(),
        String::from_utf8_lossy(&out.stdout)
    );
}
