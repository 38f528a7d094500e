//! Saved plans: `vibes plan --out plan.json`, then `vibes apply plan.json`.
//!
//! A saved plan holds the actions with their effects and, for each action, a fingerprint of
//! every observed resource it relied on. Applying it re-observes and re-plans; the saved plan
//! runs only if every action it holds is still the action a fresh plan would take and nothing
//! it relied on moved. Changes to resources the plan does not touch do not count.
//! A saved plan never holds a secret: effects carry none by construction.

use crate::plan::{Plan, PLAN_FORMAT_VERSION};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedPlan {
    pub format_version: u32,
    /// The vibes version that made it.
    pub vibes_version: String,
    /// What the plan was made with: a fresh plan to compare against is made the same way.
    pub include_data: bool,
    pub destroy: bool,
    pub targets: Vec<String>,
    pub plan: Plan,
}

#[derive(Debug, thiserror::Error)]
pub enum SavedPlanError {
    #[error("cannot read the saved plan {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path} is not a vibes plan: {message}")]
    Malformed { path: String, message: String },
    #[error("{path} is a plan of format {found}; this vibes reads format {expected}: make the plan again with this vibes")]
    Version { path: String, found: u32, expected: u32 },
    #[error("{path} is larger than a plan can be ({size} bytes)")]
    TooLarge { path: String, size: u64 },
}

/// Plans are small; a file over this is not one.
const MAX_PLAN_BYTES: u64 = 64 << 20;

impl SavedPlan {
    pub fn new(plan: Plan, options: &crate::plan::PlanOptions) -> Self {
        SavedPlan {
            format_version: PLAN_FORMAT_VERSION,
            vibes_version: env!("CARGO_PKG_VERSION").into(),
            include_data: options.include_data,
            destroy: options.destroy,
            targets: options.targets.iter().map(ToString::to_string).collect(),
            plan,
        }
    }

    /// The options the plan was made with.
    pub fn options(&self) -> crate::plan::PlanOptions {
        crate::plan::PlanOptions {
            include_data: self.include_data,
            destroy: self.destroy,
            targets: self.targets.iter().filter_map(|t| t.parse().ok()).collect(),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("plans serialize")
    }

    pub fn from_json(text: &str, path: &str) -> Result<Self, SavedPlanError> {
        #[derive(Deserialize)]
        struct Head {
            format_version: u32,
        }
        let head: Head = serde_json::from_str(text).map_err(|e| SavedPlanError::Malformed { path: path.into(), message: e.to_string() })?;
        if head.format_version != PLAN_FORMAT_VERSION {
            return Err(SavedPlanError::Version { path: path.into(), found: head.format_version, expected: PLAN_FORMAT_VERSION });
        }
        let saved: SavedPlan = serde_json::from_str(text).map_err(|e| SavedPlanError::Malformed { path: path.into(), message: e.to_string() })?;
        // The edges must index actions: a hand-edited file could say otherwise.
        let n = saved.plan.actions.len();
        if let Some((a, b)) = saved.plan.edges.iter().find(|(a, b)| *a >= n || *b >= n || a >= b) {
            return Err(SavedPlanError::Malformed { path: path.into(), message: format!("edge ({a}, {b}) does not fit the {n} actions in order") });
        }
        Ok(saved)
    }

    pub fn load(path: &Path) -> Result<Self, SavedPlanError> {
        let p = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|source| SavedPlanError::Io { path: p.clone(), source })?;
        if meta.len() > MAX_PLAN_BYTES {
            return Err(SavedPlanError::TooLarge { path: p, size: meta.len() });
        }
        let text = std::fs::read_to_string(path).map_err(|source| SavedPlanError::Io { path: p.clone(), source })?;
        Self::from_json(&text, &p)
    }

    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, self.to_json())?;
        std::fs::rename(tmp, path)
    }
}

/// Why a saved plan cannot run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub address: String,
    pub what: String,
}

/// Compare a saved plan with a fresh one made from the same config and a new observation.
/// Empty when the saved plan may run as it is.
pub fn moved_since(saved: &Plan, fresh: &Plan) -> Vec<Moved> {
    let mut moved = Vec::new();
    if saved.project != fresh.project {
        moved.push(Moved { address: "project".into(), what: format!("the plan is for project {}, the config is for {}", saved.project, fresh.project) });
        return moved;
    }
    let fresh_by: BTreeMap<_, _> = fresh.actions.iter().map(|a| (a.address.to_string(), a)).collect();
    let fresh_seen: BTreeMap<&String, &String> = fresh.actions.iter().flat_map(|a| a.relies_on.iter()).collect();
    for a in saved.actions.iter().filter(|a| a.op != crate::plan::Op::Blocked) {
        let address = a.address.to_string();
        for (key, was) in &a.relies_on {
            if let Some(now) = fresh_seen.get(key) {
                if *now != was {
                    moved.push(Moved { address: address.clone(), what: format!("{key} changed since the plan was made") });
                }
            }
        }
        match fresh_by.get(&address) {
            None => moved.push(Moved { address: address.clone(), what: "a fresh plan has nothing to do here any more".into() }),
            Some(f) if f.op != a.op || f.effects != a.effects => {
                if !moved.iter().any(|m| m.address == address) {
                    moved.push(Moved { address: address.clone(), what: format!("a fresh plan would {} it instead: {}", f.op.as_str(), f.reason) });
                }
            }
            Some(_) => {}
        }
    }
    moved
}
