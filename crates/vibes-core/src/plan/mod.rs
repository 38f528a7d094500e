//! `plan(&Desired, &Observed, &Options) -> Plan`: pure, synchronous, deterministic.

mod action;
mod check;
mod ownership;
mod planner;
pub mod reliance;

pub use action::{Action, Attribute, Effect, Op, TextChange};
pub use check::PlanError;
pub use ownership::replaceable;
pub use planner::{
    outputs, plan, sources_bucket_names, stack_previews_wanted, PlanOptions, SourcesBucketNames,
    MASS_DELETE_SHARE_PERCENT,
};
pub use reliance::Reliance;

use crate::address::Address;
use serde::{Deserialize, Serialize};

/// The version of the plan's data form (saved plans and `--json`).
pub const PLAN_FORMAT_VERSION: u32 = 1;

/// A DAG of actions. `actions` is in a topological order (dependencies first, deletes after
/// what depends on them); `edges` are `(before, after)` index pairs into `actions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub project: String,
    pub actions: Vec<Action>,
    pub edges: Vec<(usize, usize)>,
    /// Things the planner noticed but that need no action (e.g. "--target: plan is partial").
    pub notes: Vec<String>,
    /// What applying it costs once, and the idle cost before and after ([`crate::cost`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<PlanCost>,
}

impl Plan {
    /// True when nothing would be done (blocked actions do nothing, but still count as a
    /// difference between the config and the account).
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// Indices of the actions that must finish before `i` starts.
    pub fn dependencies(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        self.edges
            .iter()
            .filter(move |(_, b)| *b == i)
            .map(|(a, _)| *a)
    }

    /// Indices of the actions that wait on `i`.
    pub fn dependents(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        self.edges
            .iter()
            .filter(move |(a, _)| *a == i)
            .map(|(_, b)| *b)
    }

    pub fn find(&self, address: &Address) -> Option<&Action> {
        self.actions.iter().find(|a| &a.address == address)
    }

    /// Bucket objects the plan's sources syncs delete. A sync is one `run` action however many
    /// objects it deletes, so the op counts alone would hide a sync that empties the bucket.
    pub fn objects_to_delete(&self) -> usize {
        self.actions
            .iter()
            .flat_map(|a| &a.effects)
            .map(|e| match e {
                Effect::SyncSources { delete, .. } => delete.len(),
                _ => 0,
            })
            .sum()
    }

    /// Counts per op, for the closing line.
    pub fn counts(&self) -> std::collections::BTreeMap<Op, usize> {
        let mut m = std::collections::BTreeMap::new();
        for a in &self.actions {
            *m.entry(a.op).or_default() += 1;
        }
        m
    }
}

/// The plan's cost, for the closing line and the JSON summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanCost {
    /// What applying the plan costs once, in USD.
    pub once_usd: f64,
    /// The project's idle cost now, in USD a month.
    pub idle_before_usd_month: f64,
    /// The project's idle cost once the plan is applied, in USD a month.
    pub idle_after_usd_month: f64,
    /// Where the figures come from: `prices of us-east-1 as of 2026-12-01`.
    pub prices: String,
}
