//! `[budget]`: actions that would take one apply past `max_run_usd`, or the idle cost a month
//! up and past `max_idle_usd_month`, are blocked with the figures — and so is everything that
//! waits on them, which could not run without them.

use super::usd_text;
use crate::model::BudgetSpec;
use crate::plan::{Effect, Op, Plan};
use std::collections::BTreeSet;

/// Blocks what the budget does not allow; true when it blocked anything.
pub(super) fn enforce(
    plan: &mut Plan,
    budget: &BudgetSpec,
    costs: &[f64],
    idle_before: f64,
    idle_after: f64,
) -> bool {
    let mut blocked: Vec<(usize, String)> = Vec::new();
    if let Some(max) = budget.max_run_usd {
        let mut total = 0.0;
        for (i, (a, cost)) in plan.actions.iter().zip(costs).enumerate() {
            if a.op == Op::Blocked || *cost == 0.0 {
                continue;
            }
            if total + cost > max {
                blocked.push((
                    i,
                    format!(
                        "would cost ~{} once, taking this apply past [budget] max_run_usd = {} (~{} before it); raise it in vibes.toml to go on",
                        usd_text(*cost),
                        usd_text(max),
                        usd_text(total)
                    ),
                ));
            } else {
                total += cost;
            }
        }
    }
    if let Some(max) = budget.max_idle_usd_month {
        if idle_after > max && idle_after > idle_before {
            for (i, a) in plan.actions.iter().enumerate() {
                let adds_idle = a
                    .effects
                    .iter()
                    .any(|e| matches!(e, Effect::LaunchServer { .. } | Effect::RunCompile { .. }));
                if adds_idle && a.op != Op::Blocked && !blocked.iter().any(|(b, _)| *b == i) {
                    blocked.push((
                        i,
                        format!(
                            "would take the idle cost to ~{}/month (from ~{}), past [budget] max_idle_usd_month = {}; raise it in vibes.toml to go on",
                            usd_text(idle_after),
                            usd_text(idle_before),
                            usd_text(max)
                        ),
                    ));
                }
            }
        }
    }
    if blocked.is_empty() {
        return false;
    }
    // What waits on a blocked action cannot run either.
    let mut out: BTreeSet<usize> = blocked.iter().map(|(i, _)| *i).collect();
    let mut queue: Vec<usize> = out.iter().copied().collect();
    while let Some(i) = queue.pop() {
        for &(from, to) in &plan.edges {
            if from == i && out.insert(to) {
                let why = format!(
                    "waits on {}, which the budget blocks",
                    plan.actions[i].address
                );
                blocked.push((to, why));
                queue.push(to);
            }
        }
    }
    for (i, why) in blocked {
        let a = &mut plan.actions[i];
        a.op = Op::Blocked;
        a.reason = why;
        a.effects.clear();
    }
    // Blocked actions do nothing and wait on nothing, as the planner's own.
    plan.edges
        .retain(|(from, to)| !out.contains(from) && !out.contains(to));
    true
}
