//! The CLI's side of progress: a spinner per action in flight with its elapsed time on a
//! terminal; plain timestamped lines otherwise (CI logs). The core only calls the trait.
//!
//! In plain lines an action's progress (a compile's `compile: 5,120/12,000 tracks, ETA 1h10m`,
//! a sync's file count) is shown every message with `-v`, and otherwise once a minute at most
//! per action: a long compile in a CI log still says how far it is, a short action adds no line.

use crate::out::{errln, outln};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};
use vibes_core::apply::{ApplyReport, Outcome, Reporter};
use vibes_core::plan::{Action, Plan};
use vibes_core::render::printable_lines;

/// How often, at most, an action's progress gets a plain line without `-v`.
const PLAIN_PROGRESS_EVERY: Duration = Duration::from_secs(60);

/// Whether an action's progress gets a plain line now: `every` after the last one shown, or
/// after the action started when none was.
fn progress_due(
    shown: Option<Instant>,
    started: Option<Instant>,
    now: Instant,
    every: Duration,
) -> bool {
    shown
        .or(started)
        .is_some_and(|t| now.duration_since(t) >= every)
}

pub struct TerminalReporter {
    quiet: bool,
    verbose: u8,
    started: Mutex<HashMap<usize, Instant>>,
    /// When each action's progress last got a plain line.
    progress_shown: Mutex<HashMap<usize, Instant>>,
    bars: Option<(MultiProgress, Mutex<HashMap<usize, ProgressBar>>)>,
    total: usize,
}

impl TerminalReporter {
    pub fn new(plan: &Plan, quiet: bool, verbose: u8) -> Self {
        let bars = (!quiet && crate::style::stderr_is_terminal()).then(|| {
            (
                MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
                Mutex::new(HashMap::new()),
            )
        });
        TerminalReporter {
            quiet,
            verbose,
            started: Mutex::new(HashMap::new()),
            progress_shown: Mutex::new(HashMap::new()),
            bars,
            total: plan.actions.len(),
        }
    }

    fn line(&self, message: String) {
        if self.quiet {
            return;
        }
        self.note(&message);
    }
}

impl Reporter for TerminalReporter {
    fn finish(&self) {
        if let Some((multi, bars)) = &self.bars {
            for (_, bar) in bars.lock().unwrap().drain() {
                bar.finish_and_clear();
            }
            let _ = multi.clear();
        }
    }

    /// A line that is not about one action (e.g. an interrupt).
    fn note(&self, message: &str) {
        match &self.bars {
            Some((multi, _)) => {
                let _ = multi.println(message);
            }
            None => crate::out::errln(format_args!("{} {message}", timestamp())),
        }
    }

    fn action_started(&self, index: usize, action: &Action) {
        self.started.lock().unwrap().insert(index, Instant::now());
        let what = format!(
            "{} ({}: {})",
            action.address,
            action.op.as_str(),
            action.reason
        );
        match &self.bars {
            Some((multi, bars)) => {
                let bar = multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template(
                        "{spinner} [{elapsed_precise}] {prefix} {wide_msg}",
                    )
                    .expect("a valid template")
                    .tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏ "),
                );
                bar.set_prefix(action.address.to_string());
                bar.set_message(format!("{}: {}", action.op.as_str(), action.reason));
                bar.enable_steady_tick(Duration::from_millis(120));
                bars.lock().unwrap().insert(index, bar);
            }
            None => self.line(format!("[{}/{}] {what}: started", index + 1, self.total)),
        }
        // -v: each operation the action is made of, in the order it runs them.
        if self.verbose > 0 && !self.quiet {
            for effect in &action.effects {
                self.note(&format!(
                    "[{}/{}] {}: {}",
                    index + 1,
                    self.total,
                    action.address,
                    effect.name()
                ));
            }
        }
    }

    fn action_progress(&self, index: usize, message: &str) {
        match &self.bars {
            Some((_, bars)) => {
                if let Some(bar) = bars.lock().unwrap().get(&index) {
                    bar.set_message(message.to_string());
                }
            }
            None if self.verbose > 0 => {
                self.line(format!("[{}/{}] {message}", index + 1, self.total))
            }
            None => {
                let now = Instant::now();
                let shown = self.progress_shown.lock().unwrap().get(&index).copied();
                let started = self.started.lock().unwrap().get(&index).copied();
                if progress_due(shown, started, now, PLAIN_PROGRESS_EVERY) {
                    self.progress_shown.lock().unwrap().insert(index, now);
                    self.line(format!("[{}/{}] {message}", index + 1, self.total));
                }
            }
        }
    }

    fn action_finished(&self, index: usize, action: &Action, outcome: &Outcome) {
        self.progress_shown.lock().unwrap().remove(&index);
        let took = self
            .started
            .lock()
            .unwrap()
            .remove(&index)
            .map(|t| t.elapsed());
        if let Some((_, bars)) = &self.bars {
            if let Some(bar) = bars.lock().unwrap().remove(&index) {
                bar.finish_and_clear();
            }
        }
        let took = took
            .map(|d| format!(" in {}", human_duration(d)))
            .unwrap_or_default();
        let message = match outcome {
            Outcome::Done => format!("{}: {} done{took}", action.address, action.op.as_str()),
            // An error can quote what came from outside (an object key, a file name): escaped,
            // but for the line breaks between the lines it quotes.
            Outcome::Failed { error } => format!(
                "{}: {} FAILED{took}: {}",
                action.address,
                action.op.as_str(),
                printable_lines(error)
            ),
            Outcome::Skipped { reason } => format!("{}: skipped: {reason}", action.address),
            other => format!("{}: {}", action.address, outcome_word(other)),
        };
        if matches!(outcome, Outcome::Failed { .. }) {
            // Failures are shown even with -q.
            self.note(&message);
        } else {
            self.line(message);
        }
    }
}

fn outcome_word(o: &Outcome) -> &'static str {
    match o {
        Outcome::Done => "done",
        Outcome::Failed { .. } => "failed",
        Outcome::Skipped { .. } => "skipped",
        Outcome::Blocked { .. } => "blocked (not run)",
        Outcome::NotStarted => "not started (interrupted)",
    }
}

/// The closing report: every error, every skipped action with its reason. Returns the exit code.
/// `destroy` names the run for what it was: "Destroy complete", not "Apply complete".
pub fn print_report(plan: &Plan, report: &ApplyReport, quiet: bool, destroy: bool) -> i32 {
    let mut counts = [0usize; 5];
    for o in &report.outcomes {
        let i = match o {
            Outcome::Done => 0,
            Outcome::Failed { .. } => 1,
            Outcome::Skipped { .. } => 2,
            Outcome::Blocked { .. } => 3,
            Outcome::NotStarted => 4,
        };
        counts[i] += 1;
    }
    let failed = counts[1] > 0;
    if failed || report.interrupted {
        errln(format_args!(""));
        for (a, o) in plan.actions.iter().zip(&report.outcomes) {
            match o {
                Outcome::Failed { error } => errln(format_args!(
                    "error: {}: {}",
                    a.address,
                    printable_lines(error)
                )),
                Outcome::Skipped { reason } => {
                    errln(format_args!("skipped: {}: {reason}", a.address))
                }
                Outcome::NotStarted => errln(format_args!(
                    "not started: {} ({})",
                    a.address,
                    if report.outage.is_some() {
                        "the cloud stopped answering"
                    } else {
                        "interrupted"
                    }
                )),
                _ => {}
            }
        }
    }
    let line = format!(
        "{} {}: {} done, {} failed, {} skipped, {} blocked, {} not started.",
        if destroy { "Destroy" } else { "Apply" },
        if report.outage.is_some() {
            "stopped (the cloud stopped answering; run vibes apply again once it answers)"
        } else if report.interrupted {
            "interrupted"
        } else if failed {
            "failed"
        } else {
            "complete"
        },
        counts[0],
        counts[1],
        counts[2],
        counts[3],
        counts[4]
    );
    if failed || report.interrupted {
        errln(format_args!("{line}"));
        1
    } else {
        // The result is shown even with -q: it is what -q keeps.
        if quiet {
            outln(format_args!("{line}"));
        } else {
            outln(format_args!("\n{line}"));
        }
        0
    }
}

fn human_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        format!("{s:.1}s")
    } else {
        format!("{}m {:02}s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

/// `HH:MM:SS` UTC, enough to read a CI log against AWS's own timestamps.
fn timestamp() -> String {
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!(
        "[{:02}:{:02}:{:02}]",
        (secs / 3600) % 24,
        (secs / 60) % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_progress_is_shown_once_a_minute_at_most_and_never_for_a_short_action() {
        let t0 = Instant::now();
        let every = Duration::from_secs(60);
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert!(
            !progress_due(None, Some(t0), at(59), every),
            "a short action"
        );
        assert!(progress_due(None, Some(t0), at(60), every));
        assert!(
            !progress_due(Some(at(60)), Some(t0), at(100), every),
            "just shown"
        );
        assert!(progress_due(Some(at(60)), Some(t0), at(120), every));
        assert!(
            !progress_due(None, None, at(500), every),
            "an action not started"
        );
    }
}
