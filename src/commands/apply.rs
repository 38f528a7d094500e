//! `vibes apply [PLAN_FILE]` and `vibes destroy`: look and plan; when there is work, take the
//! project's lock, look again under it (or check that a saved plan is still true), confirm,
//! run, report.

use super::exit;
use crate::cli::{Cli, Selection};
use crate::reporter::TerminalReporter;
use crate::session::{plan_options, Session};
use miette::{miette, Result};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use vibes_core::apply::{self, ApplyOptions, Reporter};
use vibes_core::cloud::prelude::*;
use vibes_core::plan::PlanOptions;
use vibes_core::saved::{moved_since, SavedPlan};

pub struct Request<'a> {
    pub plan_file: Option<&'a PathBuf>,
    pub auto_approve: bool,
    pub parallelism: u16,
    pub selection: Selection,
    pub destroy: bool,
}

pub async fn run(cli: &Cli, req: Request<'_>) -> Result<i32> {
    // What the caller got wrong (a bad plan file, a bad --target) is said before contacting AWS.
    let saved = match req.plan_file {
        Some(path) => Some((path, super::load_saved(path)?)),
        None => None,
    };
    let options = plan_options(&req.selection, req.destroy)?;
    if saved.is_some()
        && (!req.selection.targets.is_empty()
            || req.selection.include_data
            || req.selection.allow_mass_delete
            || !req.selection.replace.is_empty()
            || !req.selection.exclude.is_empty())
    {
        return Err(miette!(
            help = "make the plan with those options instead: vibes plan --target ADDR --out FILE",
            "a saved plan runs as it was made: --target, --exclude, --include-data, --allow-mass-delete and --replace cannot change it"
        ));
    }
    let mut session = Session::open(cli).await?;
    session.destroy = options.destroy;
    let project = session.desired.project.name.clone();
    if saved.is_none() {
        // Nothing to do needs no lock: look first, and lock only when there is work.
        let observed = session.observe().await?;
        let plan = vibes_core::plan::plan(&session.desired, &observed, &options)
            .map_err(|e| miette!("{e}"))?;
        if !has_work(&plan) {
            return Ok(nothing_to_do(cli, &plan, req.destroy));
        }
    }
    // From here to the end, Ctrl-C and SIGTERM are vibes' to handle: whatever they interrupt,
    // the lock taken next is released.
    let mut interrupts = Interrupts::install()?;
    // Then the lock, before looking again: what is observed and planned under it cannot be changed by
    // another vibes before it is applied.
    let command = if req.destroy { "destroy" } else { "apply" };
    let lock = apply::acquire_with_lease(session.cloud.as_ref(), &project, command, lease())
        .await
        .map_err(|e| miette!("{e}"))?;
    if let Some((previous, why)) = &lock.took_over {
        errln!(
            "Took over the lock of project {project} left by {} (vibes {}, id {}, since {}): {why}.",
            previous.holder,
            previous.command,
            previous.id,
            apply::lock::rfc3339(previous.since)
        );
    }
    let renewal = apply::keep_renewed(session.cloud.clone(), &lock);
    let result = run_locked(cli, &req, &mut session, saved, options, &mut interrupts).await;
    renewal.abort();
    let lapse = lease();
    match tokio::time::timeout(
        RELEASE_TIMEOUT,
        apply::release(session.cloud.as_ref(), lock),
    )
    .await
    {
        Ok(Ok(())) => {}
        Ok(Err(e)) => errln!(
            "warning: could not release the apply lock ({e}); the next apply takes it over once its lease lapses ({})",
            apply::lock::human_age(lapse)
        ),
        Err(_) => errln!(
            "warning: the cloud did not answer the lock's release within {} s; the next apply takes it over once its lease lapses ({})",
            RELEASE_TIMEOUT.as_secs(),
            apply::lock::human_age(lapse)
        ),
    }
    result
}

/// How long releasing the lock may take before vibes leaves anyway (the lease frees it then).
const RELEASE_TIMEOUT: Duration = Duration::from_secs(20);

/// The lock's lease: `VIBES_LOCK_LEASE_SECONDS` (for tests and very slow links), else the default.
fn lease() -> Duration {
    std::env::var("VIBES_LOCK_LEASE_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(apply::lock::DEFAULT_LEASE)
}

/// Exit code of a run ended by a signal (as shells report SIGINT).
const INTERRUPTED: i32 = 130;

/// SIGINT and SIGTERM, taken from their default (ending the process at once) for as long as the
/// lock may be held.
struct Interrupts {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Interrupts {
    fn install() -> Result<Interrupts> {
        use tokio::signal::unix::{signal, SignalKind};
        let handle = |kind, name| signal(kind).map_err(|e| miette!("cannot handle {name}: {e}"));
        Ok(Interrupts {
            int: handle(SignalKind::interrupt(), "SIGINT")?,
            term: handle(SignalKind::terminate(), "SIGTERM")?,
        })
    }

    /// The next signal's name.
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "Ctrl-C",
            _ = self.term.recv() => "SIGTERM",
        }
    }
}

async fn run_locked(
    cli: &Cli,
    req: &Request<'_>,
    session: &mut Session,
    saved: Option<(&PathBuf, SavedPlan)>,
    options: PlanOptions,
    interrupts: &mut Interrupts,
) -> Result<i32> {
    let observed = tokio::select! {
        o = session.observe() => o?,
        signal = interrupts.next() => {
            errln!("Interrupted ({signal}) before anything was changed.");
            return Ok(INTERRUPTED);
        }
    };
    let style = crate::style::plan_style(cli);

    let (plan, saved) = match saved {
        Some((path, saved)) => {
            let fresh = vibes_core::plan::plan(&session.desired, &observed, &saved.options())
                .map_err(|e| miette!("{e}"))?;
            let moved = moved_since(&saved.plan, &fresh);
            if !moved.is_empty() {
                let list: Vec<String> = moved
                    .iter()
                    .map(|m| format!("  {}: {}", m.address, m.what))
                    .collect();
                return Err(miette!(
                    help = format!(
                        "run `vibes plan --out {}` again, review it, and apply the new plan",
                        path.display()
                    ),
                    "the saved plan {} is stale: what it relied on has moved\n{}",
                    path.display(),
                    list.join("\n")
                ));
            }
            (saved.plan, true)
        }
        None => (
            vibes_core::plan::plan(&session.desired, &observed, &options)
                .map_err(|e| miette!("{e}"))?,
            false,
        ),
    };

    // -q keeps the plan only where it is needed: when asking for confirmation.
    let asks = !req.auto_approve && !saved;
    if !has_work(&plan) {
        return Ok(nothing_to_do(cli, &plan, req.destroy));
    }
    if !cli.quiet || asks {
        out!("{}", vibes_core::render::human(&plan, &style));
    }
    // A saved plan was reviewed when it was made; a fresh one is confirmed now.
    if !req.auto_approve && !saved {
        tokio::select! {
            answer = confirm(req.destroy) => answer?,
            signal = interrupts.next() => {
                errln!("\nInterrupted ({signal}) at the prompt: nothing was changed.");
                return Ok(INTERRUPTED);
            }
        }
    }

    let cancel = CancellationToken::new();
    let reporter = Arc::new(TerminalReporter::new(&plan, cli.quiet, cli.verbose));
    let mut options = ApplyOptions::new(
        session.desired.project.name.clone(),
        session.base_dir.clone(),
    );
    options.parallelism = req.parallelism as usize;
    // `VIBES_PROGRESS_POLL_SECONDS`: how often a running compile's progress is read (tests and
    // the local cloud, whose compiles take seconds, read it every second).
    if let Some(s) = std::env::var("VIBES_PROGRESS_POLL_SECONDS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        options.progress_poll = Duration::from_secs(s.max(1));
    }
    options.engine_source = Some(crate::source_archive::engine_source());
    let applying = apply::apply(
        &plan,
        session.cloud.clone(),
        &observed,
        &options,
        reporter.clone(),
        cancel.clone(),
    );
    tokio::pin!(applying);
    // First signal: start nothing new and wait for what is in flight. Second: leave now; the
    // lock is still released, and the next plan finds what was left half done.
    let report = loop {
        tokio::select! {
            report = &mut applying => break report,
            signal = interrupts.next() => {
                if cancel.is_cancelled() {
                    reporter.note(&format!("Interrupted twice ({signal}): leaving now; run `vibes plan` to see what is left"));
                    reporter.finish();
                    return Ok(INTERRUPTED);
                }
                reporter.note(&format!("Interrupted ({signal}): starting nothing new, waiting for the actions in flight (again to leave now)"));
                cancel.cancel();
            }
        }
    };
    reporter.finish();
    Ok(crate::reporter::print_report(
        &plan,
        &report,
        cli.quiet,
        req.destroy,
    ))
}

/// Does the plan do anything? Blocked actions do nothing.
fn has_work(plan: &vibes_core::Plan) -> bool {
    plan.actions
        .iter()
        .any(|a| a.op != vibes_core::plan::Op::Blocked)
}

/// A plan with nothing to do: shown as it is (with -q, only its result), exit 0.
fn nothing_to_do(cli: &Cli, plan: &vibes_core::Plan, destroy: bool) -> i32 {
    if destroy && plan.is_empty() {
        // "The account matches the config" would be false: the config still names everything.
        outln!(
            "Destroy complete: project {} has nothing left to destroy.",
            plan.project
        );
    } else if cli.quiet {
        let blocked = plan.actions.len();
        outln!(
            "Nothing to apply{}.",
            if blocked > 0 {
                format!(" ({blocked} blocked: run `vibes plan` for why)")
            } else {
                String::new()
            }
        );
    } else {
        out!(
            "{}",
            vibes_core::render::human(plan, &crate::style::plan_style(cli))
        );
    }
    exit::OK
}

/// Asks for "yes" on the terminal. The answer is read on a thread of its own, so that a signal
/// at the prompt is handled (and the lock released) while the read is still waiting.
async fn confirm(destroy: bool) -> Result<()> {
    if !crate::style::stdin_is_terminal() {
        return Err(miette!(
            help = "review the plan, then run again with --auto-approve (or save it with `vibes plan --out FILE` and `vibes apply FILE`)",
            "refusing to {} without confirmation: standard input is not a terminal",
            if destroy { "destroy" } else { "apply" }
        ));
    }
    out!(
        "\nDo you want to {}? Only 'yes' will be accepted: ",
        if destroy {
            "destroy these resources"
        } else {
            "perform these actions"
        }
    );
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut answer = String::new();
        let _ = std::io::stdin().read_line(&mut answer);
        let _ = tx.send(answer);
    });
    let answer = rx.await.unwrap_or_default();
    if answer.trim() == "yes" {
        Ok(())
    } else {
        Err(miette!("cancelled: nothing was changed"))
    }
}
