//! The ready-queue over a plan's DAG. An action starts once every action it depends on is
//! done, at most `parallelism` at a time. A failure skips what depends on it, transitively,
//! while independent work goes on. Cancellation starts nothing new and lets what runs finish.

use super::effects::{self, Context};
use super::outputs::Outputs;
use super::reporter::Reporter;
use super::retry::Retrier;
use crate::cloud::Cloud;
use crate::observed::Observed;
use crate::plan::{Op, Plan};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use super::options::{ApplyOptions, Timeouts};
pub use super::report::{ApplyReport, Outcome};

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
            .unwrap_or_else(effects::launch::new_run_id),
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
