//! `vibes apply [PLAN_FILE]` and `vibes destroy`: look and plan; when there is work, take the
//! project's lock, look again under it (or check that a saved plan is still true), confirm,
//! run, report.

use super::exit;
use crate::cli::{Cli, Selection};
use crate::reporter::TerminalReporter;
use crate::session::{plan_options, Session};
use miette::{miette, Result};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use vibes_core::apply::{self, ApplyOptions};
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
        Some(path) => Some((path, SavedPlan::load(path).map_err(|e| miette!("{e}"))?)),
        None => None,
    };
    let options = plan_options(&req.selection, req.destroy)?;
    if saved.is_some()
        && (!req.selection.targets.is_empty()
            || req.selection.include_data
            || !req.selection.replace.is_empty())
    {
        return Err(miette!(
            help = "make the plan with those options instead: vibes plan --target ADDR --out FILE",
            "a saved plan runs as it was made: --target, --include-data and --replace cannot change it"
        ));
    }
    let mut session = Session::open(cli).await?;
    let project = session.desired.project.name.clone();
    if saved.is_none() {
        // Nothing to do needs no lock: look first, and lock only when there is work.
        let observed = session.observe().await?;
        let plan = vibes_core::plan::plan(&session.desired, &observed, &options)
            .map_err(|e| miette!("{e}"))?;
        if !has_work(&plan) {
            return Ok(nothing_to_do(cli, &plan));
        }
    }
    // Then the lock, before looking again: what is observed and planned under it cannot be changed by
    // another vibes before it is applied.
    let command = if req.destroy { "destroy" } else { "apply" };
    let lock = apply::lock::acquire(session.cloud.as_ref(), &project, command)
        .await
        .map_err(|e| miette!("{e}"))?;
    let result = run_locked(cli, &req, &mut session, saved, options).await;
    let released = apply::lock::release(session.cloud.as_ref(), lock).await;
    if let Err(e) = released {
        eprintln!("warning: could not release the apply lock: {e}");
    }
    result
}

async fn run_locked(
    cli: &Cli,
    req: &Request<'_>,
    session: &mut Session,
    saved: Option<(&PathBuf, SavedPlan)>,
    options: PlanOptions,
) -> Result<i32> {
    let observed = session.observe().await?;
    let style = crate::style::plan_style();

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
        return Ok(nothing_to_do(cli, &plan));
    }
    if !cli.quiet || asks {
        print!("{}", vibes_core::render::human(&plan, &style));
    }
    // A saved plan was reviewed when it was made; a fresh one is confirmed now.
    if !req.auto_approve && !saved {
        confirm(req.destroy)?;
    }

    let cancel = CancellationToken::new();
    let reporter = Arc::new(TerminalReporter::new(&plan, cli.quiet, cli.verbose));
    spawn_interrupt_handler(cancel.clone(), reporter.clone());
    let mut options = ApplyOptions::new(
        session.desired.project.name.clone(),
        session.base_dir.clone(),
    );
    options.parallelism = req.parallelism as usize;
    options.engine_source = Some(crate::source_archive::engine_source());
    let report = apply::apply(
        &plan,
        session.cloud.clone(),
        &observed,
        &options,
        reporter.clone(),
        cancel,
    )
    .await;
    reporter.finish();
    Ok(crate::reporter::print_report(&plan, &report, cli.quiet))
}

/// Does the plan do anything? Blocked actions do nothing.
fn has_work(plan: &vibes_core::Plan) -> bool {
    plan.actions
        .iter()
        .any(|a| a.op != vibes_core::plan::Op::Blocked)
}

/// A plan with nothing to do: shown as it is (with -q, only its result), exit 0.
fn nothing_to_do(cli: &Cli, plan: &vibes_core::Plan) -> i32 {
    if cli.quiet {
        let blocked = plan.actions.len();
        println!(
            "Nothing to apply{}.",
            if blocked > 0 {
                format!(" ({blocked} blocked: run `vibes plan` for why)")
            } else {
                String::new()
            }
        );
    } else {
        print!(
            "{}",
            vibes_core::render::human(plan, &crate::style::plan_style())
        );
    }
    exit::OK
}

fn confirm(destroy: bool) -> Result<()> {
    if !crate::style::stdin_is_terminal() {
        return Err(miette!(
            help = "review the plan, then run again with --auto-approve (or save it with `vibes plan --out FILE` and `vibes apply FILE`)",
            "refusing to {} without confirmation: standard input is not a terminal",
            if destroy { "destroy" } else { "apply" }
        ));
    }
    print!(
        "\nDo you want to {}? Only 'yes' will be accepted: ",
        if destroy {
            "destroy these resources"
        } else {
            "perform these actions"
        }
    );
    std::io::stdout().flush().ok();
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).ok();
    if answer.trim() == "yes" {
        Ok(())
    } else {
        Err(miette!("cancelled: nothing was changed"))
    }
}

/// First Ctrl-C: start nothing new and wait for what is in flight. Second: leave at once
/// (the next plan finds and cleans up anything left half-done).
fn spawn_interrupt_handler(cancel: CancellationToken, reporter: Arc<TerminalReporter>) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            reporter.note("Interrupted: starting nothing new, waiting for the actions in flight (Ctrl-C again to leave now)");
            cancel.cancel();
            if tokio::signal::ctrl_c().await.is_ok() {
                reporter
                    .note("Interrupted twice: leaving now; run `vibes plan` to see what is left");
                std::process::exit(130);
            }
        }
    });
}
