//! The plan for machines: a versioned, serialize-only form with its own types, so that the
//! plan's internal shape can change without breaking readers, and so that nothing reaches the
//! output by accident: effects (which can hold whole template bodies) and secrets never do.
//! Every field is documented in `docs/plan-output.md`.

use super::diff;
use crate::plan::{Op, Plan, PLAN_FORMAT_VERSION};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct JsonPlan {
    /// [`PLAN_FORMAT_VERSION`]: raised when a field changes meaning or goes away.
    pub format_version: u32,
    pub project: String,
    /// In plan order: an action comes after everything in its `depends_on`.
    pub actions: Vec<JsonAction>,
    pub notes: Vec<String>,
    pub summary: JsonSummary,
    /// What applying the plan costs once and the idle cost a month before and after, in USD,
    /// with the prices' region and date; estimates from the table vibes ships.
    pub cost: Option<crate::cost::PlanCost>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct JsonAction {
    pub address: String,
    /// `create`, `update`, `replace`, `delete`, `run`, `adopt` or `blocked`.
    pub op: &'static str,
    pub reason: String,
    /// Addresses of the actions that must finish first, in plan order.
    pub depends_on: Vec<String>,
    pub attributes: Vec<JsonAttribute>,
    pub changes: Vec<JsonChange>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct JsonAttribute {
    pub name: String,
    /// `null` when sensitive.
    pub value: Option<String>,
    pub sensitive: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct JsonChange {
    pub label: String,
    pub before_exists: bool,
    pub after_exists: bool,
    /// The full unified diff (never summarised here, unlike the human plan).
    pub diff: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct JsonSummary {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
    pub run: usize,
    pub adopt: usize,
    pub blocked: usize,
    /// Objects the sources sync deletes from the bucket (a sync is one `run` action, however
    /// many objects it deletes; `delete` counts actions).
    pub objects_to_delete: usize,
    /// True when the plan has any action, blocked ones included (the config and the account
    /// differ): what `--detailed-exitcode` reports as 2.
    pub changes_present: bool,
}

impl JsonPlan {
    pub fn from_plan(plan: &Plan) -> Self {
        let actions = plan
            .actions
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let mut deps: Vec<usize> = plan.dependencies(i).collect();
                deps.sort_unstable();
                JsonAction {
                    address: a.address.to_string(),
                    op: a.op.as_str(),
                    reason: a.reason.clone(),
                    depends_on: deps
                        .into_iter()
                        .map(|j| plan.actions[j].address.to_string())
                        .collect(),
                    attributes: a
                        .attributes
                        .iter()
                        .map(|at| JsonAttribute {
                            name: at.name.clone(),
                            value: at.value.clone(),
                            sensitive: at.value.is_none(),
                        })
                        .collect(),
                    changes: a
                        .changes
                        .iter()
                        .map(|c| JsonChange {
                            label: c.label.clone(),
                            before_exists: c.before.is_some(),
                            after_exists: c.after.is_some(),
                            diff: diff::unified(&a.address, c),
                        })
                        .collect(),
                }
            })
            .collect();
        let counts = plan.counts();
        let n = |op: Op| counts.get(&op).copied().unwrap_or(0);
        JsonPlan {
            format_version: PLAN_FORMAT_VERSION,
            project: plan.project.clone(),
            actions,
            notes: plan.notes.clone(),
            summary: JsonSummary {
                create: n(Op::Create),
                update: n(Op::Update),
                replace: n(Op::Replace),
                delete: n(Op::Delete),
                run: n(Op::Run),
                adopt: n(Op::Adopt),
                blocked: n(Op::Blocked),
                objects_to_delete: plan.objects_to_delete(),
                changes_present: !plan.is_empty(),
            },
            cost: plan.cost.clone(),
        }
    }
}

pub fn json(plan: &Plan) -> serde_json::Value {
    serde_json::to_value(JsonPlan::from_plan(plan)).expect("the JSON plan has string keys only")
}

/// Pretty-printed, without a trailing newline (print it with `println!`).
pub fn json_string(plan: &Plan) -> String {
    serde_json::to_string_pretty(&JsonPlan::from_plan(plan))
        .expect("the JSON plan has string keys only")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::Address;
    use crate::plan::{Action, Attribute, Effect};
    use std::collections::BTreeMap;

    #[test]
    fn effects_and_secrets_never_reach_the_json() {
        let body = "Resources:\n  Secret: very-long-template-body\n";
        let a = Action {
            address: Address::stack("main"),
            op: Op::Create,
            reason: "not found".into(),
            attributes: vec![Attribute::sensitive("private_key_value")],
            changes: vec![],
            effects: vec![Effect::CreateStack {
                stack_name: "vibes-main".into(),
                template_body: body.into(),
                parameters: BTreeMap::new(),
                tags: BTreeMap::new(),
                token: "tok".into(),
            }],
            relies_on: BTreeMap::new(),
        };
        let plan = Plan {
            project: "vibes".into(),
            actions: vec![a],
            edges: vec![],
            notes: vec![],
            cost: None,
        };
        let s = json_string(&plan);
        assert!(!s.contains("very-long-template-body"), "{s}");
        assert!(!s.contains("effect"), "{s}");
        let v = json(&plan);
        assert_eq!(
            v["actions"][0]["attributes"][0],
            serde_json::json!({"name": "private_key_value", "value": null, "sensitive": true})
        );
        assert_eq!(v["summary"]["create"], 1);
        assert_eq!(v["summary"]["changes_present"], true);
        assert_eq!(v["format_version"], PLAN_FORMAT_VERSION);
    }
}
