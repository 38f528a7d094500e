//! The apply workflow as `vibes apply` runs it, on the fake cloud: nothing to do takes no lock;
//! with work, the lock is taken before the second look, and the plan run is the one made under
//! it; a stale saved plan, a "no", an interrupt at the prompt and a lock held elsewhere all end
//! with nothing changed and the lock released; the sources bucket is listed under the name
//! remembered from the last look.

use crate::support::apply::*;
use async_trait::async_trait;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use vibes_core::apply::lock::{self, LockError, LockInfo};
use vibes_core::apply::{RecordingReporter, Reporter};
use vibes_core::cloud::Cloud;
use vibes_core::ops::{self, ApplyOutcome, ApplyRequest, Frontend, OpsError, Workspace};
use vibes_core::saved::SavedPlan;
use vibes_core::{Plan, PlanOptions};
use vibes_fake::FakeCloud;

/// How the scripted person answers the prompt.
#[derive(Clone, Copy)]
enum Answer {
    Yes,
    No,
    /// Never answers: only an interrupt ends the wait.
    Never,
}

struct Scripted {
    answer: Answer,
    shown: Mutex<Vec<Plan>>,
    warnings: Mutex<Vec<String>>,
}

impl Scripted {
    fn new(answer: Answer) -> Scripted {
        Scripted {
            answer,
            shown: Mutex::default(),
            warnings: Mutex::default(),
        }
    }
}

#[async_trait]
impl Frontend for Scripted {
    fn took_over(&self, _: &str, _: &LockInfo, _: &str) {}
    fn show_plan(&self, plan: &Plan, _asks: bool) {
        self.shown.lock().unwrap().push(plan.clone());
    }
    async fn confirm(&self, _destroy: bool) -> Result<bool, OpsError> {
        match self.answer {
            Answer::Yes => Ok(true),
            Answer::No => Ok(false),
            Answer::Never => std::future::pending().await,
        }
    }
    fn reporter(&self, _: &Plan) -> Arc<dyn Reporter> {
        Arc::new(RecordingReporter::new())
    }
    fn warn(&self, message: &str) {
        self.warnings.lock().unwrap().push(message.to_string());
    }
}

/// A project on the fake cloud, a person who answers the prompt as scripted, and the channel
/// their interrupts come through.
struct Setup {
    dir: tempfile::TempDir,
    cloud: Arc<FakeCloud>,
    ws: Workspace,
    person: Scripted,
    tx: tokio::sync::mpsc::UnboundedSender<&'static str>,
    interrupts: ops::Interrupts,
}

impl Setup {
    fn new(answer: Answer) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let cloud = Arc::new(FakeCloud::new());
        cloud.set_latency("stack", Duration::from_millis(2));
        cloud.set_latency("compile_run", Duration::from_millis(2));
        let ws = Workspace::new(
            full_desired(dir.path()),
            dir.path().to_path_buf(),
            cloud.clone() as Arc<dyn Cloud>,
        );
        let (tx, interrupts) = tokio::sync::mpsc::unbounded_channel();
        Setup {
            dir,
            cloud,
            ws,
            person: Scripted::new(answer),
            tx,
            interrupts,
        }
    }

    fn request(&self, saved: Option<SavedPlan>, auto_approve: bool) -> ApplyRequest {
        let dir = self.dir.path();
        ApplyRequest {
            saved: saved.map(|s| (dir.join("plan.json"), s)),
            options: PlanOptions::default(),
            auto_approve,
            command: "apply",
            lease: lock::DEFAULT_LEASE,
            release_timeout: Duration::from_secs(5),
            apply: options(dir),
        }
    }

    async fn apply(
        &mut self,
        saved: Option<SavedPlan>,
        auto_approve: bool,
    ) -> Result<ApplyOutcome, OpsError> {
        let request = self.request(saved, auto_approve);
        ops::apply(&mut self.ws, request, &self.person, &mut self.interrupts).await
    }

    /// Nothing was created.
    fn untouched(&self) -> bool {
        self.cloud.count("create_stack") + self.cloud.count("create_key_pair") == 0
    }
}

async fn lock_is_free(cloud: &FakeCloud) -> bool {
    lock::read(cloud, PROJECT).await.unwrap().is_none()
}

#[tokio::test]
async fn an_apply_with_work_locks_before_looking_again_and_a_second_has_nothing_to_do_and_takes_no_lock(
) {
    let mut t = Setup::new(Answer::Yes);
    let outcome = t.apply(None, false).await.unwrap();
    let ApplyOutcome::Applied { plan, report } = outcome else {
        panic!("expected a run, got {outcome:?}");
    };
    assert!(report.succeeded(), "{:?}", report.failures());
    let shown = t.person.shown.lock().unwrap().clone();
    assert_eq!(shown, [plan], "the plan run is the one shown, once");
    // Looked twice; the second look started only once the lock was held.
    let calls = t.cloud.calls();
    let looks: Vec<_> = calls.iter().filter(|c| c.op == "observe").collect();
    assert_eq!(looks.len(), 2, "one look to decide, one under the lock");
    let locked = calls
        .iter()
        .find(|c| c.op == "create_parameter_exclusive" && c.ok)
        .expect("the lock was taken");
    assert!(looks[0].end <= locked.start, "the first look needs no lock");
    assert!(
        locked.end <= looks[1].start,
        "the second look is under the lock"
    );
    assert!(
        lock_is_free(&t.cloud).await,
        "the lock is released after the run"
    );

    let locks_before = t.cloud.count("create_parameter_exclusive");
    let outcome = t.apply(None, false).await.unwrap();
    let ApplyOutcome::NothingToDo(plan) = outcome else {
        panic!("the second apply should have nothing to do, got {outcome:?}");
    };
    assert!(plan.is_empty(), "{}", summary(&plan));
    assert_eq!(
        t.cloud.count("create_parameter_exclusive"),
        locks_before,
        "nothing to do takes no lock"
    );
}

#[tokio::test]
async fn a_saved_plan_the_account_moved_away_from_is_refused_under_the_lock() {
    let mut t = Setup::new(Answer::Yes);
    let options = PlanOptions::default();
    let plan = t.ws.observe_and_plan(&options).await.unwrap();
    let saved = SavedPlan::new(plan, &options);
    // Someone else makes one of the keys the plan would create.
    t.cloud
        .add_key_pair(&format!("{PROJECT}-worker"), Default::default());

    let err = t.apply(Some(saved), false).await.unwrap_err();
    let OpsError::StaleSavedPlan { moved, .. } = &err else {
        panic!("expected a stale plan, got {err}");
    };
    assert!(
        moved.iter().any(|m| m.address == "key.worker"),
        "the moved key is named: {err}"
    );
    assert!(t.untouched(), "nothing was changed");
    assert!(t.person.shown.lock().unwrap().is_empty());
    assert!(lock_is_free(&t.cloud).await, "the lock is released");
    let help = miette::Diagnostic::help(&err).map(|h| h.to_string());
    assert!(
        help.is_some_and(|h| h.contains("vibes plan --out")),
        "the error says how to proceed"
    );
}

#[tokio::test]
async fn a_no_at_the_prompt_changes_nothing_and_releases_the_lock() {
    let mut t = Setup::new(Answer::No);
    let outcome = t.apply(None, false).await.unwrap();
    assert!(matches!(outcome, ApplyOutcome::Declined), "{outcome:?}");
    assert!(t.untouched());
    assert!(lock_is_free(&t.cloud).await);
}

#[tokio::test]
async fn an_interrupt_at_the_prompt_changes_nothing_and_releases_the_lock() {
    let mut t = Setup::new(Answer::Never);
    let request = t.request(None, false);
    let apply = ops::apply(&mut t.ws, request, &t.person, &mut t.interrupts);
    let interrupt = async {
        // Once the plan is on the screen, the person presses Ctrl-C.
        while t.person.shown.lock().unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        t.tx.send("Ctrl-C").unwrap();
    };
    let (outcome, ()) = tokio::join!(apply, interrupt);
    let outcome = outcome.unwrap();
    assert!(
        matches!(
            outcome,
            ApplyOutcome::Interrupted {
                signal: "Ctrl-C",
                at_prompt: true
            }
        ),
        "{outcome:?}"
    );
    assert!(t.untouched());
    assert!(lock_is_free(&t.cloud).await);
}

#[tokio::test]
async fn a_lock_held_by_another_apply_stops_before_anything_changes_and_stays_theirs() {
    let mut t = Setup::new(Answer::Yes);
    let theirs = lock::acquire(t.cloud.as_ref(), PROJECT, "apply")
        .await
        .unwrap();
    let err = t.apply(None, true).await.unwrap_err();
    assert!(
        matches!(err, OpsError::Lock(LockError::Held { .. })),
        "expected the lock to be held: {err}"
    );
    assert!(t.untouched());
    let held = lock::read(t.cloud.as_ref(), PROJECT)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(held.id, theirs.info.id, "the other apply keeps its lock");
}

#[tokio::test]
async fn the_sources_bucket_is_listed_under_the_name_remembered_and_a_wrong_name_is_corrected() {
    let mut t = Setup::new(Answer::Yes);
    t.apply(None, true).await.unwrap();
    let cloud = t.cloud.clone();
    // The first look after the stack made the bucket lists it after reading the stack, and
    // remembers its name.
    let hint = ops::bucket_hint_file(t.dir.path());
    let _ = std::fs::remove_file(&hint);
    let before = cloud.count("list_bucket");
    let observed = t.ws.observe().await.unwrap();
    assert_eq!(cloud.count("list_bucket") - before, 1);
    let bucket = std::fs::read_to_string(&hint).expect("the bucket's name is remembered");
    assert_eq!(
        observed.sources_bucket.as_ref().map(|b| b.bucket.as_str()),
        Some(bucket.as_str())
    );

    // The right name: one listing, made while AWS is read.
    cloud.set_latency("observe", Duration::from_millis(50));
    let before = cloud.count("list_bucket");
    t.ws.observe().await.unwrap();
    assert_eq!(cloud.count("list_bucket") - before, 1);
    let calls = cloud.calls();
    let read = calls.iter().rfind(|c| c.op == "observe").unwrap();
    let listing = calls.iter().rfind(|c| c.op == "list_bucket").unwrap();
    assert!(
        listing.start < read.end,
        "the remembered bucket is listed while AWS is read, not after"
    );

    // A wrong name costs one more listing, of the stack's bucket, and is corrected.
    std::fs::write(&hint, "somebody-elses-bucket").unwrap();
    let before = cloud.count("list_bucket");
    let observed = t.ws.observe().await.unwrap();
    assert_eq!(cloud.count("list_bucket") - before, 2);
    assert_eq!(
        observed.sources_bucket.as_ref().map(|b| b.bucket.as_str()),
        Some(bucket.as_str()),
        "the stack's bucket is the one listed"
    );
    assert_eq!(std::fs::read_to_string(&hint).unwrap(), bucket);
}
