//! The ready-queue over a plan's DAG. An action starts once every action it depends on is
//! done, at most `parallelism` at a time. A failure skips what depends on it, transitively,
//! while independent work goes on. Cancellation starts nothing new and lets what runs finish.

use super::effects::{self, Context};
use super::outputs::Outputs;
use super::reporter::Reporter;
use super::retry::{Retrier, RetryPolicy};
use crate::cloud::Cloud;
use crate::observed::Observed;
use crate::plan::{Op, Plan};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How long to wait for the slow things before giving up on them.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeouts {
    /// A stack create, update or delete.
    pub stack: Duration,
    /// A CodeBuild run of Packer.
    pub image_build: Duration,
    /// A compile run; `None` takes the plan's `timeout_minutes` (from `[compile]`).
    pub compile: Option<Duration>,
    /// A builds snapshot to complete.
    pub snapshot: Duration,
    /// An instance to reach `running`.
    pub instance: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            stack: Duration::from_secs(60 * 60),
            image_build: Duration::from_secs(90 * 60),
            compile: None,
            snapshot: Duration::from_secs(4 * 60 * 60),
            instance: Duration::from_secs(15 * 60),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Actions running at once. At least 1.
    pub parallelism: usize,
    /// The directory the config's paths are relative to (recipe files, the sources root).
    pub base_dir: PathBuf,
    /// The project name: SSM paths `/<project>/…` and stack names `<project>-NAME`.
    pub project: String,
    pub retry: RetryPolicy,
    pub timeouts: Timeouts,
    /// vibes' own source, which the worker image builds the vibes binary from. `None` where vibes
    /// is used as a library: a worker image that names the archive then fails to build.
    pub engine_source: Option<effects::SourceArchive>,
    /// The apply's run id: the part of every launch token that makes a launch of a later apply
    /// a new one ([`super::launch`]). `None` (the default) draws a fresh one for each apply;
    /// tests set one to replay an apply's tokens.
    pub run_id: Option<String>,
}

impl ApplyOptions {
    pub fn new(project: impl Into<String>, base_dir: impl Into<PathBuf>) -> Self {
        ApplyOptions {
            parallelism: 10,
            base_dir: base_dir.into(),
            project: project.into(),
            retry: RetryPolicy::default(),
            timeouts: Timeouts::default(),
            engine_source: None,
            run_id: None,
        }
    }
}

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

/// Applies `plan`. Never panics on a cloud error: every error ends up in the report.
pub async fn apply(
    plan: &Plan,
    cloud: Arc<dyn Cloud>,
    observed: &Observed,
    options: &ApplyOptions,
    reporter: Arc<dyn Reporter>,
    cancel: CancellationToken,
) -> ApplyReport {
    let n = plan.actions.len();
    let cx = Arc::new(Context {
        cloud,
        outputs: Outputs::seeded(&options.project, observed),
        options: options.clone(),
        retrier: Retrier::new(options.retry.clone()),
        reporter: reporter.clone(),
        cancel: cancel.clone(),
        run_id: options
            .run_id
            .clone()
            .unwrap_or_else(super::launch::new_run_id),
    });

    // Stops starting actions: the caller's cancellation, or an outage seen here. Effects keep
    // the caller's token, so an outage does not cut short what is in flight.
    let stop = cancel.child_token();
    let outage: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
    let mut queue = Queue::new(plan);
    let mut outcomes: Vec<Option<Outcome>> = vec![None; n];

    // Blocked actions never run; anything that (against the planner's rules) waits on one is skipped.
    for (i, a) in plan.actions.iter().enumerate() {
        if a.op == Op::Blocked {
            let o = Outcome::Blocked {
                reason: a.reason.clone(),
            };
            reporter.action_finished(i, a, &o);
            outcomes[i] = Some(o);
        }
    }
    for i in 0..n {
        if plan.actions[i].op == Op::Blocked {
            let reason = format!("{} is blocked", plan.actions[i].address);
            skip_dependents(plan, &queue, i, &reason, &mut outcomes, reporter.as_ref());
        }
    }
    queue.seed_ready(&outcomes);

    let semaphore = Arc::new(Semaphore::new(options.parallelism.max(1)));
    let mut running: JoinSet<(usize, Outcome)> = JoinSet::new();
    let mut task_index: BTreeMap<tokio::task::Id, usize> = BTreeMap::new();

    loop {
        // Start what is ready, as permits allow, unless interrupted.
        while !stop.is_cancelled() {
            let Some(i) = queue.ready.pop_first() else {
                break;
            };
            let permit = tokio::select! {
                p = semaphore.clone().acquire_owned() => p.expect("the semaphore is never closed"),
                Some(res) = running.join_next_with_id(), if !running.is_empty() => {
                    // A slot may free up only when something finishes: take that in first.
                    queue.ready.insert(i);
                    finish(plan, &mut queue, &mut outcomes, &mut task_index, res, reporter.as_ref());
                    continue;
                }
                _ = stop.cancelled() => {
                    queue.ready.insert(i);
                    break;
                }
            };
            // A slot freed by an action that just stopped the apply: the stop wins.
            if stop.is_cancelled() {
                queue.ready.insert(i);
                break;
            }
            let action = plan.actions[i].clone();
            let cx = cx.clone();
            let (stop, outage) = (stop.clone(), outage.clone());
            let handle = running.spawn(async move {
                let _permit = permit;
                cx.reporter.action_started(i, &action);
                let outcome = match effects::run_action(&cx, i, &action).await {
                    Ok(()) => Outcome::Done,
                    Err(e) => {
                        // Transient after every retry: the cloud is not answering. Every other
                        // action would spend its own retries learning the same; start no more.
                        if e.is_outage() {
                            let mut first = outage.lock().expect("outage lock");
                            if first.is_none() {
                                *first = Some(e.to_string());
                                cx.reporter.note(&format!(
                                    "The cloud stopped answering ({e}): starting nothing new; the actions in flight get their retries"
                                ));
                            }
                            stop.cancel();
                        }
                        Outcome::Failed {
                            error: e.to_string(),
                        }
                    }
                };
                cx.reporter.action_finished(i, &action, &outcome);
                (i, outcome)
            });
            task_index.insert(handle.id(), i);
        }
        if running.is_empty() {
            break;
        }
        tokio::select! {
            Some(res) = running.join_next_with_id() => {
                finish(plan, &mut queue, &mut outcomes, &mut task_index, res, reporter.as_ref());
            }
            _ = stop.cancelled(), if !stop.is_cancelled() => {}
        }
    }

    let interrupted = outcomes.iter().any(Option::is_none);
    let outcomes = outcomes
        .into_iter()
        .enumerate()
        .map(|(i, o)| {
            o.unwrap_or_else(|| {
                reporter.action_finished(i, &plan.actions[i], &Outcome::NotStarted);
                Outcome::NotStarted
            })
        })
        .collect();
    let outage = outage.lock().expect("outage lock").take();
    ApplyReport {
        outcomes,
        interrupted,
        outage,
    }
}

/// Dependency bookkeeping: what each action waits on, and what is ready to start.
struct Queue {
    waiting_on: Vec<usize>,
    dependents: Vec<Vec<usize>>,
    /// Ready actions, smallest index first: the plan's order where the graph leaves a choice.
    ready: BTreeSet<usize>,
}

impl Queue {
    fn new(plan: &Plan) -> Self {
        let n = plan.actions.len();
        let mut waiting_on = vec![0; n];
        let mut dependents = vec![Vec::new(); n];
        for &(from, to) in plan.edges.iter().collect::<BTreeSet<_>>() {
            if from < n && to < n {
                waiting_on[to] += 1;
                dependents[from].push(to);
            }
        }
        Queue {
            waiting_on,
            dependents,
            ready: BTreeSet::new(),
        }
    }

    fn seed_ready(&mut self, outcomes: &[Option<Outcome>]) {
        self.ready = (0..self.waiting_on.len())
            .filter(|&i| self.waiting_on[i] == 0 && outcomes[i].is_none())
            .collect();
    }

    fn done(&mut self, i: usize, outcomes: &[Option<Outcome>]) {
        for &d in &self.dependents[i] {
            self.waiting_on[d] -= 1;
            if self.waiting_on[d] == 0 && outcomes[d].is_none() {
                self.ready.insert(d);
            }
        }
    }
}

fn finish(
    plan: &Plan,
    queue: &mut Queue,
    outcomes: &mut [Option<Outcome>],
    task_index: &mut BTreeMap<tokio::task::Id, usize>,
    res: Result<(tokio::task::Id, (usize, Outcome)), tokio::task::JoinError>,
    reporter: &dyn Reporter,
) {
    let (i, outcome) = match res {
        Ok((id, (i, outcome))) => {
            task_index.remove(&id);
            (i, outcome)
        }
        Err(e) => {
            let i = task_index.remove(&e.id()).expect("every task is indexed");
            let outcome = Outcome::Failed {
                error: format!("{} stopped unexpectedly: {e}", plan.actions[i].address),
            };
            reporter.action_finished(i, &plan.actions[i], &outcome);
            (i, outcome)
        }
    };
    let ok = outcome.is_done();
    outcomes[i] = Some(outcome);
    if ok {
        queue.done(i, outcomes);
    } else {
        let reason = format!("{} failed", plan.actions[i].address);
        skip_dependents(plan, queue, i, &reason, outcomes, reporter);
    }
}

/// Marks every transitive dependent of `i` that has no outcome yet as skipped, naming `i`.
fn skip_dependents(
    plan: &Plan,
    queue: &Queue,
    i: usize,
    reason: &str,
    outcomes: &mut [Option<Outcome>],
    reporter: &dyn Reporter,
) {
    let mut stack: Vec<usize> = queue.dependents[i].clone();
    while let Some(d) = stack.pop() {
        if outcomes[d].is_some() {
            continue;
        }
        let o = Outcome::Skipped {
            reason: reason.to_string(),
        };
        reporter.action_finished(d, &plan.actions[d], &o);
        outcomes[d] = Some(o);
        stack.extend(queue.dependents[d].iter().copied());
    }
}
