//! Progress of an apply. The core never prints: the CLI implements [`Reporter`] (a progress
//! display on a terminal, plain lines otherwise), tests use [`RecordingReporter`].

use super::report::Outcome;
use crate::address::Address;
use crate::plan::Action;
use std::sync::Mutex;
use tokio::time::Instant;

/// Called from the executor's tasks, possibly from several threads at once.
pub trait Reporter: Send + Sync {
    /// `index` is the action's position in `plan.actions`.
    fn action_started(&self, index: usize, action: &Action);
    /// A line about a long action: "12/40 files, 3.1 MiB", "waiting for i-0123 to stop".
    fn action_progress(&self, index: usize, message: &str);
    /// Every action gets exactly one of these, whether it ran or not (blocked, skipped, not started).
    fn action_finished(&self, index: usize, action: &Action, outcome: &Outcome);
    /// A line about the apply as a whole (an interrupt, an outage).
    fn note(&self, message: &str) {
        let _ = message;
    }
    /// The run is over: nothing more is reported (a progress display clears itself).
    fn finish(&self) {}
}

/// Reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NullReporter;

impl Reporter for NullReporter {
    fn action_started(&self, _: usize, _: &Action) {}
    fn action_progress(&self, _: usize, _: &str) {}
    fn action_finished(&self, _: usize, _: &Action, _: &Outcome) {}
}

/// One thing a [`RecordingReporter`] saw, with when it saw it.
#[derive(Debug, Clone, PartialEq)]
pub enum ReporterEvent {
    Started {
        index: usize,
        address: Address,
        at: Instant,
    },
    Progress {
        index: usize,
        message: String,
        at: Instant,
    },
    Finished {
        index: usize,
        address: Address,
        outcome: Outcome,
        at: Instant,
    },
}

/// Keeps every event in order, for tests of ordering and progress.
#[derive(Debug, Default)]
pub struct RecordingReporter {
    events: Mutex<Vec<ReporterEvent>>,
}

impl RecordingReporter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn events(&self) -> Vec<ReporterEvent> {
        self.events.lock().expect("reporter lock").clone()
    }

    /// When action `index` started, if it did.
    pub fn started_at(&self, index: usize) -> Option<Instant> {
        self.events().into_iter().find_map(|e| match e {
            ReporterEvent::Started { index: i, at, .. } if i == index => Some(at),
            _ => None,
        })
    }

    /// When action `index` finished (ran to an outcome, or was given one without running).
    pub fn finished_at(&self, index: usize) -> Option<Instant> {
        self.events().into_iter().find_map(|e| match e {
            ReporterEvent::Finished { index: i, at, .. } if i == index => Some(at),
            _ => None,
        })
    }

    /// The progress lines of action `index`, in order.
    pub fn progress(&self, index: usize) -> Vec<String> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                ReporterEvent::Progress {
                    index: i, message, ..
                } if i == index => Some(message),
                _ => None,
            })
            .collect()
    }

    /// Indices of the actions that started, in the order they started.
    pub fn started(&self) -> Vec<usize> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                ReporterEvent::Started { index, .. } => Some(index),
                _ => None,
            })
            .collect()
    }

    fn push(&self, e: ReporterEvent) {
        self.events.lock().expect("reporter lock").push(e);
    }
}

impl Reporter for RecordingReporter {
    fn action_started(&self, index: usize, action: &Action) {
        self.push(ReporterEvent::Started {
            index,
            address: action.address.clone(),
            at: Instant::now(),
        });
    }
    fn action_progress(&self, index: usize, message: &str) {
        self.push(ReporterEvent::Progress {
            index,
            message: message.to_string(),
            at: Instant::now(),
        });
    }
    fn action_finished(&self, index: usize, action: &Action, outcome: &Outcome) {
        self.push(ReporterEvent::Finished {
            index,
            address: action.address.clone(),
            outcome: outcome.clone(),
            at: Instant::now(),
        });
    }
}
