//! The JSON plan and its documentation agree: every field `docs/plan-output.md` lists is in the
//! output, and every field in the output is listed. A field that disappears or appears without
//! a line in the doc fails here.

use crate::support::render_fixtures::*;
use std::collections::BTreeSet;
use vibes_core::address::Address;
use vibes_core::plan::{self, PlanOptions};
use vibes_core::render;
use vibes_core::Observed;

/// Paths of every key in a JSON value: `actions`, `actions[].address`, `summary.create`, …
fn field_paths(value: &serde_json::Value, prefix: &str, out: &mut BTreeSet<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.insert(path.clone());
                field_paths(v, &path, out);
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                field_paths(item, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

/// The first column of the table under `### Fields` in the doc.
fn documented_fields() -> BTreeSet<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/plan-output.md");
    let doc = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let section = doc
        .split("### Fields")
        .nth(1)
        .expect("docs/plan-output.md has a `### Fields` section");
    section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| l.split('|').nth(1))
        .map(str::trim)
        .filter_map(|cell| cell.strip_prefix('`').and_then(|c| c.strip_suffix('`')))
        .map(str::to_string)
        .collect()
}

#[test]
fn every_documented_field_is_in_the_json_and_every_json_field_is_documented() {
    // A targeted plan on an empty account has a note, attributes (a sensitive one among them),
    // text changes and dependencies: every field of the format appears.
    let options = PlanOptions {
        targets: vec![Address::server()],
        ..PlanOptions::default()
    };
    let p = plan::plan(&desired(), &Observed::default(), &options).expect("a valid plan");
    let v = render::json(&p);
    assert!(
        !v["notes"].as_array().unwrap().is_empty(),
        "the plan exercises notes"
    );
    assert!(
        v["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|at| at["sensitive"] == true)),
        "the plan exercises sensitive attributes"
    );

    let mut produced = BTreeSet::new();
    field_paths(&v, "", &mut produced);
    let documented = documented_fields();
    assert!(
        documented.len() > 20,
        "the doc's field table was not found: {documented:?}"
    );

    let missing: Vec<_> = documented.difference(&produced).collect();
    let undocumented: Vec<_> = produced.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "documented in docs/plan-output.md but not in the JSON plan: {missing:?}"
    );
    assert!(
        undocumented.is_empty(),
        "in the JSON plan but not documented in docs/plan-output.md: {undocumented:?}"
    );
}

#[test]
fn the_format_version_is_the_plan_format_version() {
    let p = plan::plan(&desired(), &Observed::default(), &PlanOptions::default()).unwrap();
    assert_eq!(
        render::json(&p)["format_version"],
        plan::PLAN_FORMAT_VERSION
    );
}

#[test]
fn every_symbol_the_text_form_uses_is_in_the_docs_symbol_table() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/plan-output.md");
    let doc = std::fs::read_to_string(path).unwrap();
    let section = doc
        .split("### Symbols")
        .nth(1)
        .expect("docs/plan-output.md has a `### Symbols` section");
    for op in render::OPS {
        let row = format!("| `{}` | `{}` |", render::symbol(op), op.as_str());
        assert!(
            section.contains(&row),
            "docs/plan-output.md lacks the symbol row {row}"
        );
    }
}
