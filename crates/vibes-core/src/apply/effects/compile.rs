//! A compile run: launch a worker (guarded from the moment RunInstances answers) with its
//! builds volume mapped at launch (from the newest builds snapshot, or empty the first time),
//! wait for the worker to report and stop, snapshot the builds volume, and terminate the worker
//! — on success, failure, timeout and interruption alike. An on-demand worker's builds volume
//! is deleted with it (DeleteOnTermination): between compiles only snapshots are kept.
//!
//! A Spot worker's volume is kept at termination, and so is a volume an unfinished compile
//! left, which the next compile is launched without a volume for and attaches instead
//! (resumes on). vibes deletes such a volume itself once its builds are in a snapshot, or when
//! the compile failed; when the attempt did not finish (EC2 reclaimed the Spot capacity, the
//! apply was interrupted, the compile ran out of time) it is kept, and the next apply resumes
//! on it, so what was built before is not built again.

use super::console;
use super::ended::{Ended, LaunchFailure};
use super::launch::{wait_launched, WorkerGuard};
use super::{quoted, Context, EffectError, DATA_DEVICE};
use crate::address::Address;
use crate::cloud::{CloudError, InstanceRequest};
use crate::plan::outputs::SNAPSHOT_ID;
use crate::tags::Tags;
use crate::units::human_duration;
use std::time::Duration;

/// The SSM parameter a worker writes its report ([`crate::status::CompileReport`]) to.
pub fn compile_status_parameter(project: &str) -> String {
    crate::status::compile_report_parameter(project)
}

/// One compile, as the plan's `RunCompile` effect describes it.
pub(super) struct CompileRun<'a> {
    /// The worker's launch, its builds volume mapped as [`DATA_DEVICE`] (unless it resumes).
    pub launch: InstanceRequest,
    /// The plan's token for the compile: what the launch is for.
    pub plan_token: &'a str,
    pub built_from: &'a str,
    pub timeout: Duration,
    pub snapshot_tags: &'a Tags,
    /// A builds volume an unfinished compile kept, attached as [`DATA_DEVICE`] once the
    /// worker runs.
    pub resume_volume: Option<String>,
}

/// A compile attempt that made no snapshot, and whether its builds are worth keeping for the
/// next attempt. Only a compile that reported its own failure is not: anything else (an
/// interruption, a timeout, an error on the way, a snapshot that could not be made) leaves
/// builds that the next attempt resumes on.
struct Unfinished {
    error: EffectError,
    resumable: bool,
}

impl From<EffectError> for Unfinished {
    fn from(error: EffectError) -> Self {
        Unfinished {
            error,
            resumable: true,
        }
    }
}

pub(super) async fn run_compile(
    cx: &Context,
    index: usize,
    run: CompileRun<'_>,
) -> Result<(), EffectError> {
    let cloud = cx.cloud.as_ref();
    let status_parameter = compile_status_parameter(&cx.options.project);
    // A status left by an earlier run must not be taken for this run's.
    cx.call_gone("clear compile status", |_| {
        cloud.delete_parameter(&status_parameter)
    })
    .await?;
    let progress_parameter = crate::status::compile_progress_parameter(&cx.options.project);
    cx.call_gone("clear compile progress", |_| {
        cloud.delete_parameter(&progress_parameter)
    })
    .await?;
    let identity = [run.plan_token];
    let mut guard =
        WorkerGuard::launch(cx, &Address::compile(), &identity, run.launch.clone()).await?;
    let id = guard.id().to_string();
    // The builds volume vibes deletes itself (not deleted with the worker), once known.
    let deletes_volume = run.launch.spot || run.resume_volume.is_some();
    let mut volume = run.resume_volume.clone();
    let result =
        start_and_compile(cx, index, &mut guard, &run, &status_parameter, &mut volume).await;
    let terminated = guard.terminate(cx).await;
    let kept = match (&result, &volume) {
        (Err(u), Some(v)) if deletes_volume && u.resumable => Some(v.clone()),
        _ => None,
    };
    let deleted = match (&volume, &kept) {
        (Some(v), None) if deletes_volume => delete_when_free(cx, v).await,
        _ => Ok(()),
    };
    let result = result.map_err(|u| match &kept {
        Some(v) => EffectError::Compile(format!(
            "{}; its builds volume {v} is kept, and the next apply resumes the compile on it",
            u.error
        )),
        None => u.error,
    });
    match (result, terminated.and(deleted)) {
        (Ok(snapshot), Ok(())) => {
            cx.outputs.set(&Address::compile(), SNAPSHOT_ID, &snapshot);
            Ok(())
        }
        (Ok(snapshot), Err(t)) => {
            cx.outputs.set(&Address::compile(), SNAPSHOT_ID, &snapshot);
            Err(EffectError::Compile(format!(
                "snapshot {snapshot} was made, but worker {id} or its builds volume could not be cleaned up: {t}"
            )))
        }
        (Err(e), Ok(())) => Err(e),
        (Err(e), Err(t)) => Err(EffectError::Compile(format!(
            "{e}; and worker {id} or its builds volume could not be cleaned up: {t}"
        ))),
    }
}

/// Deletes a builds volume once no instance holds it: a worker just terminated lets go of its
/// volumes a moment later (EC2 answers `VolumeInUse` until then).
async fn delete_when_free(cx: &Context, volume_id: &str) -> Result<(), EffectError> {
    let cloud = cx.cloud.as_ref();
    let deadline = tokio::time::Instant::now() + cx.options.timeouts.instance;
    let mut pause = Duration::from_millis(50);
    loop {
        match cx.retrier.run(|_| cloud.delete_volume(volume_id)).await {
            Ok(()) | Err(CloudError::NotFound { .. }) => return Ok(()),
            Err(CloudError::InUse { .. }) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
            Err(source) => {
                return Err(EffectError::Cloud {
                    effect: "delete builds volume",
                    source,
                })
            }
        }
    }
}

fn interrupted(id: &str) -> Unfinished {
    Unfinished {
        error: EffectError::Compile(format!(
            "interrupted; worker {id} is terminated, run vibes apply again to compile"
        )),
        resumable: true,
    }
}

/// EC2 ended the worker's launch itself: it never compiled, and its volume holds nothing worth
/// resuming on.
fn launch_failed(id: &str, failure: LaunchFailure) -> Unfinished {
    Unfinished {
        error: EffectError::Compile(format!(
            "worker {id} was terminated by EC2 during its launch ({failure})"
        )),
        resumable: false,
    }
}

/// Everything between the launch and the terminate; returns the snapshot made. `volume` is the
/// builds volume, once known.
async fn start_and_compile(
    cx: &Context,
    index: usize,
    guard: &mut WorkerGuard,
    run: &CompileRun<'_>,
    status_parameter: &str,
    volume: &mut Option<String>,
) -> Result<String, Unfinished> {
    let id = guard.id().to_string();
    let from = match (
        &run.resume_volume,
        run.launch.volumes.get(DATA_DEVICE),
        run.launch.empty_volumes.get(DATA_DEVICE),
    ) {
        (Some(kept), _, _) => {
            format!("builds volume {kept} to attach, kept by an unfinished compile")
        }
        (None, Some(snapshot), _) => format!("a builds volume from {snapshot}"),
        (None, None, Some(gib)) => format!("an empty {gib} GiB builds volume"),
        (None, None, None) => "no builds volume".to_string(),
    };
    let market = if run.launch.spot { " on Spot" } else { "" };
    cx.reporter
        .action_progress(index, &format!("worker {id} launched{market} with {from}"));
    // Waits for the worker to run, and through EC2 not knowing it yet. A Spot worker may be
    // reclaimed before it is seen running; an on-demand one that ends so is a failed launch,
    // which the wait reports as such.
    let states: &[&str] = if run.launch.spot {
        &[
            "running",
            "stopping",
            "stopped",
            "shutting-down",
            "terminated",
        ]
    } else {
        &["running", "stopping", "stopped"]
    };
    let running = wait_launched(
        cx,
        "wait for worker",
        &id,
        states,
        cx.options.timeouts.instance,
    );
    let running = tokio::select! {
        r = running => r?,
        _ = cx.cancel.cancelled() => return Err(interrupted(&id)),
    };
    guard.seen();
    if let Some(v) = running.volumes.get(DATA_DEVICE) {
        volume.get_or_insert_with(|| v.clone());
    }
    if let Ended::LaunchFailed(failure) = Ended::of(running.state_reason.as_deref()) {
        return Err(launch_failed(&id, failure));
    }
    if let Some(kept) = &run.resume_volume {
        let cloud = cx.cloud.as_ref();
        let attach = cx.call("attach builds volume", |_| {
            cloud.attach_volume(&id, kept, DATA_DEVICE, cx.options.timeouts.instance)
        });
        tokio::select! {
            r = attach => r?,
            _ = cx.cancel.cancelled() => return Err(interrupted(&id)),
        }
    }
    cx.reporter.action_progress(
        index,
        &format!(
            "worker {id} compiling (up to {})",
            human_duration(run.timeout)
        ),
    );
    compile_on(cx, index, &id, run, status_parameter, volume.as_deref()).await
}

async fn compile_on(
    cx: &Context,
    index: usize,
    id: &str,
    run: &CompileRun<'_>,
    status_parameter: &str,
    volume: Option<&str>,
) -> Result<String, Unfinished> {
    let cloud = cx.cloud.as_ref();
    let timeout = run.timeout;
    let wait = cx
        .retrier
        .run(|_| cloud.wait_instance(id, &["stopped", "terminated"], timeout));
    tokio::pin!(wait);
    let progress_parameter = crate::status::compile_progress_parameter(&cx.options.project);
    let mut poll = tokio::time::interval(cx.options.progress_poll);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut pace = Pace::default();
    let waited = loop {
        tokio::select! {
            w = &mut wait => break w,
            _ = cx.cancel.cancelled() => return Err(interrupted(id)),
            _ = poll.tick() => {
                // Progress is only shown: a read that fails is skipped, never an error.
                if let Ok(Some(raw)) = cloud.get_parameter(&progress_parameter).await {
                    if let Some(line) = pace.line(&raw, run.built_from) {
                        cx.reporter.action_progress(index, &line);
                    }
                }
                // A compile unit systemd skipped or could not start never reports: the
                // console says so at boot, and waiting on would only wait for the timeout.
                if let Ok(console) = cloud.console_output(id).await {
                    if let Some(lines) = console::unit_will_not_run(&console, console::COMPILE_UNIT) {
                        return Err(EffectError::Compile(format!(
                            "worker {id} will never compile: systemd did not start {}.service; its console says:{}",
                            console::COMPILE_UNIT,
                            quoted(&lines)
                        ))
                        .into());
                    }
                }
            }
        }
    };
    // The worker's last report, which it publishes as its build ends: a compile shorter than
    // the poll still shows where it ended.
    if let Ok(Some(raw)) = cloud.get_parameter(&progress_parameter).await {
        if let Some(line) = pace.line(&raw, run.built_from) {
            cx.reporter.action_progress(index, &line);
        }
    }
    let stopped = match waited {
        Ok(seen) => seen,
        Err(CloudError::Timeout { .. }) => {
            return Err(Unfinished {
                error: EffectError::Compile(format!(
                    "worker {id} did not finish within {}; it is terminated (raise [compile] timeout_minutes if the collection needs longer)",
                    human_duration(timeout)
                )),
                resumable: true,
            })
        }
        Err(source) => {
            return Err(EffectError::Cloud {
                effect: "wait for worker",
                source,
            }
            .into())
        }
    };
    let raw = cx
        .call("read compile status", |_| {
            cloud.get_parameter(status_parameter)
        })
        .await?;
    let Some(raw) = raw else {
        let ended = Ended::of(stopped.state_reason.as_deref());
        // EC2 ended the launch itself: the worker never ran its compile, and waiting or
        // resuming will not change that.
        if let Ended::LaunchFailed(failure) = ended {
            return Err(launch_failed(id, failure));
        }
        // A Spot worker that ends without a report was reclaimed: EC2 takes the capacity back
        // with a two-minute notice and terminates the instance. Unless EC2 says the worker shut
        // itself down: then its report could not be written, and resuming would only end the
        // same way again.
        let shut_itself_down = ended == Ended::ShutItselfDown;
        if run.launch.spot && stopped.state.as_str() == "terminated" && !shut_itself_down {
            return Err(Unfinished {
                error: EffectError::Compile(format!(
                    "worker {id} ended before its compile finished: EC2 reclaimed its Spot capacity (or it was terminated outside vibes)"
                )),
                resumable: true,
            });
        }
        let console = cloud.console_output(id).await.unwrap_or_default();
        let lines = console::lines_about(&console, console::COMPILE_UNIT);
        let said = if lines.is_empty() {
            " (its console says nothing of the compile unit)".to_string()
        } else {
            format!("; its console says:{}", quoted(&lines))
        };
        return Err(Unfinished {
            error: EffectError::Compile(format!(
                "worker {id} shut itself down without writing {status_parameter} (the write was refused, or the compile unit ended before it){said}"
            )),
            // On Spot this is told apart from a reclaim only by the state reason: resuming on
            // the volume would end the same way, apply after apply.
            resumable: !run.launch.spot,
        });
    };
    let status: crate::status::CompileReport = serde_json::from_str(&raw).map_err(|e| {
        EffectError::Compile(format!("{status_parameter} is not a compile status ({e})"))
    })?;
    if status.built_from != run.built_from {
        return Err(EffectError::Compile(format!(
            "{status_parameter} reports a compile of {}, not of {}: another compile ran meanwhile",
            status.built_from, run.built_from
        ))
        .into());
    }
    if status.status != "succeeded" {
        let detail = if status.message.is_empty() {
            String::new()
        } else {
            format!(": {}", status.message)
        };
        // A worker shut down from outside (EC2 reclaiming Spot capacity shuts the OS down
        // first) did not fail: what it built is kept for the next attempt.
        let interrupted = status.status == "interrupted";
        let why = if interrupted && run.launch.spot {
            " (EC2 reclaims a Spot instance's capacity so)"
        } else {
            ""
        };
        return Err(Unfinished {
            error: EffectError::Compile(format!(
                "the compile on {id} {}{detail}{why}",
                status.status
            )),
            resumable: interrupted,
        });
    }
    // The volume made at launch, from the instance's block device mappings (a terminated
    // Spot worker lists none: its volume was known from the launch), or the one attached.
    let Some(volume) = stopped
        .volumes
        .get(DATA_DEVICE)
        .map(String::as_str)
        .or(volume)
    else {
        return Err(EffectError::Compile(format!(
            "worker {id} stopped without a volume on {DATA_DEVICE}: nothing to snapshot"
        ))
        .into());
    };
    let snapshot = cx
        .call("snapshot builds", |_| {
            cloud.create_snapshot(volume, run.snapshot_tags)
        })
        .await?;
    cx.reporter
        .action_progress(index, &format!("waiting for snapshot {snapshot}"));
    cx.call("wait for snapshot", |_| {
        cloud.wait_snapshot(&snapshot, cx.options.timeouts.snapshot)
    })
    .await?;
    Ok(snapshot)
}

/// The compile's pace, from the worker's progress reports: done / total and an ETA from the
/// rate since the first report.
#[derive(Default)]
struct Pace {
    first: Option<(std::time::Instant, u64)>,
    last_done: Option<u64>,
}

impl Pace {
    /// A progress line for a report, when it is this compile's and says something new.
    fn line(&mut self, raw: &str, built_from: &str) -> Option<String> {
        let report: crate::status::CompileProgress = serde_json::from_str(raw).ok()?;
        if report.built_from != built_from || self.last_done == Some(report.progress.done) {
            return None;
        }
        self.last_done = Some(report.progress.done);
        let crate::status::Counts { done, total } = report.progress;
        let now = std::time::Instant::now();
        let (t0, done0) = *self.first.get_or_insert((now, done));
        let eta = (done > done0 && total > done).then(|| {
            let per = now.duration_since(t0).as_secs_f64() / (done - done0) as f64;
            Duration::from_secs_f64(per * (total - done) as f64)
        });
        Some(format!(
            "compile: {}/{} tracks{}",
            crate::units::thousands(done),
            crate::units::thousands(total),
            eta.map(|e| format!(", ETA {}", human_duration(e)))
                .unwrap_or_default()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_lines_count_and_estimate_and_ignore_another_compiles_reports() {
        let mut pace = Pace::default();
        let report = |from: &str, done: u64| {
            format!(r#"{{"built_from": "{from}", "progress": {{"done": {done}, "total": 12000}}}}"#)
        };
        assert_eq!(
            pace.line(&report("abc", 5120), "abc").as_deref(),
            Some("compile: 5,120/12,000 tracks")
        );
        assert_eq!(pace.line(&report("abc", 5120), "abc"), None, "nothing new");
        assert_eq!(
            pace.line(&report("old", 9000), "abc"),
            None,
            "another compile's"
        );
        pace.first = Some((std::time::Instant::now() - Duration::from_secs(60), 5120));
        let line = pace.line(&report("abc", 6120), "abc").unwrap();
        assert!(
            line.starts_with("compile: 6,120/12,000 tracks, ETA "),
            "{line}"
        );
        assert_eq!(pace.line("not json", "abc"), None);
    }
}
