//! `apply` and `destroy`: look and plan; when there is work, take the project's lock, look
//! again under it (or check that a saved plan is still true), confirm, run, release.
//!
//! The lock is taken only when there is work, and everything that decides what is changed is
//! read under it: another vibes cannot change the account between this plan and its run. The
//! lock is released on every way out of here: an error, a "no", an interrupt at any point.

use super::{OpsError, Workspace};
use crate::apply::lock::{self, LockInfo};
use crate::apply::{ApplyOptions, ApplyReport, Reporter};
use crate::plan::{Op, PlanOptions};
use crate::saved::{moved_since, SavedPlan};
use crate::{Observed, Plan};
use async_trait::async_trait;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::sync::CancellationToken;

/// What an apply asks of whoever runs it: the CLI answers on a terminal, tests by script.
#[async_trait]
pub trait Frontend: Send + Sync {
    /// The lock was taken over from an apply that left it (crashed, or its lease lapsed).
    fn took_over(&self, project: &str, previous: &LockInfo, why: &str);
    /// The plan about to run. `asks`: a confirmation follows.
    fn show_plan(&self, plan: &Plan, asks: bool);
    /// Whether to go on: `Ok(false)` is a "no"; an error when no one can be asked.
    async fn confirm(&self, destroy: bool) -> Result<bool, OpsError>;
    /// Where the run's progress goes.
    fn reporter(&self, plan: &Plan) -> Arc<dyn Reporter>;
    /// Something the person should know that does not change the outcome.
    fn warn(&self, message: &str);
}

/// The interrupts (Ctrl-C, SIGTERM) that reach the operation, by name. The first stops the run
/// from starting anything new; the second leaves without waiting. A closed channel is "none".
pub type Interrupts = UnboundedReceiver<&'static str>;

async fn next_interrupt(interrupts: &mut Interrupts) -> &'static str {
    match interrupts.recv().await {
        Some(signal) => signal,
        None => std::future::pending().await,
    }
}

pub struct ApplyRequest {
    /// A plan saved by `vibes plan --out`, and where it was read from: run exactly it, once
    /// what it relied on is checked under the lock.
    pub saved: Option<(PathBuf, SavedPlan)>,
    /// How to plan when there is no saved plan.
    pub options: PlanOptions,
    /// Run without asking.
    pub auto_approve: bool,
    /// `"apply"` or `"destroy"`, as the lock records it.
    pub command: &'static str,
    /// How long the lock holds without renewal.
    pub lease: Duration,
    /// How long releasing the lock may take before the operation leaves anyway (the lease frees
    /// it then).
    pub release_timeout: Duration,
    pub apply: ApplyOptions,
}

/// How an apply ended, when it did not fail.
#[derive(Debug)]
pub enum ApplyOutcome {
    /// Nothing to do (blocked actions do nothing): shown as it is; no lock was needed, or the
    /// look under the lock found the work done.
    NothingToDo(Plan),
    /// Ran: what happened to each action.
    Applied { plan: Plan, report: ApplyReport },
    /// The answer at the prompt was not "yes": nothing was changed.
    Declined,
    /// Interrupted before anything was changed: while looking, or at the prompt.
    Interrupted {
        signal: &'static str,
        at_prompt: bool,
    },
    /// Interrupted twice while running: left without waiting for what was in flight.
    Abandoned { signal: &'static str },
}

/// Does the plan do anything? Blocked actions do nothing.
pub fn has_work(plan: &Plan) -> bool {
    plan.actions.iter().any(|a| a.op != Op::Blocked)
}

pub async fn apply(
    ws: &mut Workspace,
    req: ApplyRequest,
    frontend: &dyn Frontend,
    interrupts: &mut Interrupts,
) -> Result<ApplyOutcome, OpsError> {
    ws.destroy = req.options.destroy;
    if req.saved.is_none() {
        // Nothing to do needs no lock: look first, and lock only when there is work.
        let plan = tokio::select! {
            p = ws.observe_and_plan(&req.options) => p?,
            signal = next_interrupt(interrupts) => {
                return Ok(ApplyOutcome::Interrupted { signal, at_prompt: false });
            }
        };
        if !has_work(&plan) {
            return Ok(ApplyOutcome::NothingToDo(plan));
        }
    }
    let project = ws.project().to_string();
    let guard =
        lock::acquire_with_lease(ws.cloud.as_ref(), &project, req.command, req.lease).await?;
    if let Some((previous, why)) = &guard.took_over {
        frontend.took_over(&project, previous, why);
    }
    let renewal = crate::apply::keep_renewed(ws.cloud.clone(), &guard);
    let release_timeout = req.release_timeout;
    let lease = req.lease;
    let result = locked(ws, req, frontend, interrupts).await;
    renewal.abort();
    match tokio::time::timeout(release_timeout, lock::release(ws.cloud.as_ref(), guard)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => frontend.warn(&format!(
            "could not release the apply lock ({e}); the next apply takes it over once its lease lapses ({})",
            lock::human_age(lease)
        )),
        Err(_) => frontend.warn(&format!(
            "the cloud did not answer the lock's release within {} s; the next apply takes it over once its lease lapses ({})",
            release_timeout.as_secs(),
            lock::human_age(lease)
        )),
    }
    result
}

/// Under the lock: look again, plan (or check the saved plan), confirm, run.
async fn locked(
    ws: &mut Workspace,
    req: ApplyRequest,
    frontend: &dyn Frontend,
    interrupts: &mut Interrupts,
) -> Result<ApplyOutcome, OpsError> {
    let options = match &req.saved {
        Some((_, saved)) => saved.options(),
        None => req.options.clone(),
    };
    let look = async {
        let mut observed = ws.observe().await?;
        let plan = ws.plan(&mut observed, &options).await?;
        Ok::<_, OpsError>((observed, plan))
    };
    let (observed, fresh) = tokio::select! {
        p = look => p?,
        signal = next_interrupt(interrupts) => {
            return Ok(ApplyOutcome::Interrupted { signal, at_prompt: false });
        }
    };
    let (plan, saved) = match req.saved {
        Some((path, saved)) => {
            let moved = moved_since(&saved.plan, &fresh);
            if !moved.is_empty() {
                return Err(OpsError::StaleSavedPlan { path, moved });
            }
            (saved.plan, true)
        }
        None => (fresh, false),
    };
    if !has_work(&plan) {
        return Ok(ApplyOutcome::NothingToDo(plan));
    }
    // A saved plan was reviewed when it was made; a fresh one is confirmed now.
    let asks = !req.auto_approve && !saved;
    frontend.show_plan(&plan, asks);
    if asks {
        tokio::select! {
            answer = frontend.confirm(req.options.destroy) => {
                if !answer? {
                    return Ok(ApplyOutcome::Declined);
                }
            }
            signal = next_interrupt(interrupts) => {
                return Ok(ApplyOutcome::Interrupted { signal, at_prompt: true });
            }
        }
    }
    run(ws, plan, &observed, &req.apply, frontend, interrupts).await
}

/// Run the plan. First interrupt: start nothing new and wait for what is in flight. Second:
/// leave now; the lock is still released, and the next plan finds what was left half done.
async fn run(
    ws: &Workspace,
    plan: Plan,
    observed: &Observed,
    options: &ApplyOptions,
    frontend: &dyn Frontend,
    interrupts: &mut Interrupts,
) -> Result<ApplyOutcome, OpsError> {
    let cancel = CancellationToken::new();
    let reporter = frontend.reporter(&plan);
    let mut applying = Box::pin(crate::apply::apply(
        &plan,
        ws.cloud.clone(),
        observed,
        options,
        reporter.clone(),
        cancel.clone(),
    ));
    let outcome = loop {
        tokio::select! {
            report = &mut applying => break Ok(report),
            signal = next_interrupt(interrupts) => {
                if cancel.is_cancelled() {
                    reporter.note(&format!("Interrupted twice ({signal}): leaving now; run `vibes plan` to see what is left"));
                    break Err(signal);
                }
                reporter.note(&format!("Interrupted ({signal}): starting nothing new, waiting for the actions in flight (again to leave now)"));
                cancel.cancel();
            }
        }
    };
    drop(applying);
    reporter.finish();
    Ok(match outcome {
        Ok(report) => ApplyOutcome::Applied { plan, report },
        Err(signal) => ApplyOutcome::Abandoned { signal },
    })
}
