//! What an apply did: each action's outcome and the report over them all. Shared by the
//! executor and the reporter, so it depends on neither.

use serde::Serialize;
use std::collections::BTreeMap;

/// What became of one action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Done,
    /// The error, as a sentence. Never holds a secret.
    Failed {
        error: String,
    },
    /// Not run because something it depends on failed or was blocked; the reason names it.
    Skipped {
        reason: String,
    },
    /// The plan declined this action; the reason says why.
    Blocked {
        reason: String,
    },
    /// Not run because the apply was interrupted first.
    NotStarted,
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Failed { .. } => "failed",
            Outcome::Skipped { .. } => "skipped",
            Outcome::Blocked { .. } => "blocked",
            Outcome::NotStarted => "not started",
        }
    }
    pub fn is_done(&self) -> bool {
        matches!(self, Outcome::Done)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApplyReport {
    /// One per action, indexed like `plan.actions`.
    pub outcomes: Vec<Outcome>,
    /// True when cancellation stopped the apply before every action had its chance.
    pub interrupted: bool,
    /// Why the apply stopped starting actions by itself: the cloud stopped answering (an
    /// action failed with a transient error after all its retries). `None` otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outage: Option<String>,
}

impl ApplyReport {
    /// True when every action that could run ran and succeeded (blocked actions aside) and
    /// nothing was interrupted.
    pub fn succeeded(&self) -> bool {
        !self.interrupted
            && self
                .outcomes
                .iter()
                .all(|o| matches!(o, Outcome::Done | Outcome::Blocked { .. }))
    }

    /// `(index, error)` of every failed action.
    pub fn failures(&self) -> Vec<(usize, &str)> {
        self.outcomes
            .iter()
            .enumerate()
            .filter_map(|(i, o)| match o {
                Outcome::Failed { error } => Some((i, error.as_str())),
                _ => None,
            })
            .collect()
    }

    /// How many actions ended in each outcome (`done`, `failed`, …), for the closing line.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut m = BTreeMap::new();
        for o in &self.outcomes {
            *m.entry(o.as_str()).or_default() += 1;
        }
        m
    }
}
