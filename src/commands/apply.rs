//! `vibes apply [PLAN_FILE]` and `vibes destroy`: the flags into a request for the core's
//! [`vibes_core::ops::apply`], a terminal to confirm and report on, and the signals that
//! interrupt it.

use super::exit;
use crate::cli::{Cli, Selection};
use crate::reporter::TerminalReporter;
use crate::session::plan_options;
use async_trait::async_trait;
use miette::{miette, Result};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use vibes_core::apply::lock::{self, LockInfo};
use vibes_core::apply::{ApplyOptions, Reporter};
use vibes_core::ops::{self, ApplyOutcome, ApplyRequest, OpsError};
use vibes_core::Plan;

pub struct Request<'a> {
    pub plan_file: Option<&'a PathBuf>,
    pub auto_approve: bool,
    pub parallelism: u16,
    pub selection: Selection,
    pub destroy: bool,
}

/// Exit code of a run ended by a signal (as shells report SIGINT).
const INTERRUPTED: i32 = 130;

/// How long releasing the lock may take before vibes leaves anyway (the lease frees it then).
const RELEASE_TIMEOUT: Duration = Duration::from_secs(20);

pub async fn run(cli: &Cli, req: Request<'_>) -> Result<i32> {
    // What the caller got wrong (a bad plan file, a bad --target) is said before contacting AWS.
    let saved = match req.plan_file {
        Some(path) => Some((path.clone(), super::load_saved(path)?)),
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
    let mut ws = crate::session::open(cli).await?;
    let mut apply = ApplyOptions::new(ws.desired.project.name.clone(), ws.base_dir.clone());
    apply.parallelism = req.parallelism as usize;
    // `VIBES_PROGRESS_POLL_SECONDS`: how often a running compile's progress is read (tests and
    // the local cloud, whose compiles take seconds, read it every second).
    if let Some(s) = env_seconds("VIBES_PROGRESS_POLL_SECONDS") {
        apply.progress_poll = Duration::from_secs(s.max(1));
    }
    apply.engine_source = Some(crate::source_archive::engine_source());
    let request = ApplyRequest {
        saved,
        options,
        auto_approve: req.auto_approve,
        command: if req.destroy { "destroy" } else { "apply" },
        // `VIBES_LOCK_LEASE_SECONDS`: for tests and very slow links.
        lease: env_seconds("VIBES_LOCK_LEASE_SECONDS")
            .map(Duration::from_secs)
            .unwrap_or(lock::DEFAULT_LEASE),
        release_timeout: RELEASE_TIMEOUT,
        apply,
    };
    let terminal = Terminal { cli };
    // From here to the end, Ctrl-C and SIGTERM are the operation's to handle: whatever they
    // interrupt, the lock it takes is released.
    let mut interrupts = forward_signals()?;
    match ops::apply(&mut ws, request, &terminal, &mut interrupts).await? {
        ApplyOutcome::NothingToDo(plan) => Ok(nothing_to_do(cli, &plan, req.destroy)),
        ApplyOutcome::Applied { plan, report } => Ok(crate::reporter::print_report(
            &plan,
            &report,
            cli.quiet,
            req.destroy,
        )),
        ApplyOutcome::Declined => Err(miette!("cancelled: nothing was changed")),
        ApplyOutcome::Interrupted { signal, at_prompt } => {
            if at_prompt {
                errln!("\nInterrupted ({signal}) at the prompt: nothing was changed.");
            } else {
                errln!("Interrupted ({signal}) before anything was changed.");
            }
            Ok(INTERRUPTED)
        }
        ApplyOutcome::Abandoned { .. } => Ok(INTERRUPTED),
    }
}

fn env_seconds(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|s| s.parse().ok())
}

/// SIGINT and SIGTERM, taken from their default (ending the process at once) and handed to the
/// operation by name.
fn forward_signals() -> Result<ops::Interrupts> {
    use tokio::signal::unix::{signal, SignalKind};
    let handle = |kind, name| signal(kind).map_err(|e| miette!("cannot handle {name}: {e}"));
    let mut int = handle(SignalKind::interrupt(), "SIGINT")?;
    let mut term = handle(SignalKind::terminate(), "SIGTERM")?;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let name = tokio::select! {
                _ = int.recv() => "Ctrl-C",
                _ = term.recv() => "SIGTERM",
            };
            if tx.send(name).is_err() {
                return;
            }
        }
    });
    Ok(rx)
}

/// The terminal side of an apply: the plan on standard output, the question on the terminal,
/// progress through [`TerminalReporter`].
struct Terminal<'a> {
    cli: &'a Cli,
}

#[async_trait]
impl ops::Frontend for Terminal<'_> {
    fn took_over(&self, project: &str, previous: &LockInfo, why: &str) {
        errln!(
            "Took over the lock of project {project} left by {} (vibes {}, id {}, since {}): {why}.",
            previous.holder,
            previous.command,
            previous.id,
            lock::rfc3339(previous.since)
        );
    }

    fn show_plan(&self, plan: &Plan, asks: bool) {
        // -q keeps the plan only where it is needed: when asking for confirmation.
        if !self.cli.quiet || asks {
            out!(
                "{}",
                vibes_core::render::human(plan, &crate::style::plan_style(self.cli))
            );
        }
    }

    async fn confirm(&self, destroy: bool) -> Result<bool, OpsError> {
        confirm(destroy).await
    }

    fn reporter(&self, plan: &Plan) -> Arc<dyn Reporter> {
        Arc::new(TerminalReporter::new(
            plan,
            self.cli.quiet,
            self.cli.verbose,
        ))
    }

    fn warn(&self, message: &str) {
        errln!("warning: {message}");
    }
}

/// A plan with nothing to do: shown as it is (with -q, only its result), exit 0.
fn nothing_to_do(cli: &Cli, plan: &Plan, destroy: bool) -> i32 {
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
async fn confirm(destroy: bool) -> Result<bool, OpsError> {
    let verb = if destroy { "destroy" } else { "apply" };
    if !crate::style::stdin_is_terminal() {
        return Err(OpsError::NoConfirmation {
            verb,
            why: "standard input is not a terminal".into(),
        });
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
    Ok(answer.trim() == "yes")
}
