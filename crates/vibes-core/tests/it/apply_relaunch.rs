//! A launch after an earlier one of the same thing gets a new instance, never the old one back.
//! EC2 keeps a RunInstances client token for at least 24 hours after its instance terminates and
//! answers a repeat with that terminated instance; so a rerun after a failed, timed-out or
//! interrupted compile, or a server started again over the same snapshot, must launch under a
//! token of its own. And a worker is never left running by an apply task that is dropped right
//! after its launch.

use crate::support::apply::*;
use std::sync::Arc;
use std::time::Duration;
use vibes_core::observed::ObservedInstance;
use vibes_core::{tags, Desired};
use vibes_fake::{CompileBehaviour, FakeCloud};

fn launched(cloud: &FakeCloud, address: &str) -> Vec<ObservedInstance> {
    cloud
        .instances()
        .into_iter()
        .filter(|i| i.tags.get(tags::ADDRESS).map(String::as_str) == Some(address))
        .collect()
}

/// Plans and applies; the failures of the apply, one line each (empty when it succeeded).
async fn apply_once(
    desired: &Desired,
    cloud: &Arc<FakeCloud>,
    options: &vibes_core::apply::ApplyOptions,
) -> String {
    let (p, o) = plan(desired, cloud).await;
    let (report, _) = run(&p, &o, cloud, options).await;
    failures(&p, &report)
}

#[tokio::test]
async fn after_a_timed_out_and_an_interrupted_compile_the_next_apply_compiles_on_a_new_worker() {
    let dir = tempfile::tempdir().unwrap();
    let desired = full_desired(dir.path());
    let cloud = Arc::new(FakeCloud::new());
    cloud.set_compile(CompileBehaviour::NeverFinish);

    // 1. The compile times out: its worker is terminated.
    let mut quick = options(dir.path());
    quick.timeouts.compile = Some(Duration::from_millis(30));
    let failed = apply_once(&desired, &cloud, &quick).await;
    assert!(failed.contains("did not finish within 30 ms"), "{failed}");

    // 2. The next compile is interrupted (Ctrl-C): its worker is terminated too.
    let (p, o) = plan(&desired, &cloud).await;
    let (task, cancel) = spawn_apply(&p, &o, &cloud, dir.path());
    eventually(
        || {
            format!(
                "the second compile launched no worker of its own: {:?}",
                launched(&cloud, "compile")
            )
        },
        || {
            launched(&cloud, "compile")
                .iter()
                .any(|w| w.state.as_str() != "terminated")
        },
    )
    .await;
    cancel.cancel();
    let report = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("apply returns after Ctrl-C")
        .unwrap();
    let interrupted = failures(&p, &report);
    assert!(interrupted.contains("interrupted"), "{interrupted}");
    let before = launched(&cloud, "compile");
    assert_eq!(before.len(), 2, "one worker per attempt: {before:?}");
    assert!(
        before.iter().all(|w| w.state.as_str() == "terminated"),
        "{before:?}"
    );

    // 3. The compile works now: the next apply compiles on a third worker and succeeds.
    cloud.set_compile(CompileBehaviour::Succeed);
    let failed = apply_once(&desired, &cloud, &options(dir.path())).await;
    assert_eq!(failed, "", "the apply after the failed compiles");
    let after = launched(&cloud, "compile");
    assert_eq!(
        after.len(),
        3,
        "a new worker for the third attempt: {after:?}"
    );
    assert!(
        after.iter().all(|w| w.state.as_str() == "terminated"),
        "{after:?}"
    );
    let o = observe(&cloud).await;
    assert_eq!(o.snapshots.len(), 1, "the compile made its snapshot");
    let (again, _) = plan(&desired, &cloud).await;
    assert!(again.is_empty(), "converged:\n{}", summary(&again));
}

/// A person retrying a hung compile many times within a day: every retry launches afresh.
#[tokio::test]
async fn a_compile_retried_many_times_still_launches_a_worker_each_time() {
    let dir = tempfile::tempdir().unwrap();
    let desired = full_desired(dir.path());
    let cloud = Arc::new(FakeCloud::new());
    cloud.set_compile(CompileBehaviour::NeverFinish);
    let mut quick = options(dir.path());
    quick.timeouts.compile = Some(Duration::from_millis(10));
    for attempt in 1..=7 {
        let failed = apply_once(&desired, &cloud, &quick).await;
        assert!(
            failed.contains("did not finish within 10 ms"),
            "attempt {attempt}: {failed}"
        );
        assert_eq!(
            launched(&cloud, "compile").len(),
            attempt,
            "attempt {attempt} launched a worker of its own"
        );
    }
    cloud.set_compile(CompileBehaviour::Succeed);
    let failed = apply_once(&desired, &cloud, &options(dir.path())).await;
    assert_eq!(failed, "");
}

#[tokio::test]
async fn a_server_stopped_and_started_again_over_the_same_snapshot_is_a_new_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let mut desired = full_desired(dir.path());
    let cloud = Arc::new(FakeCloud::new());
    // Compile first, without a server: the server then launches from a snapshot known at plan
    // time, which is where its launch used to be the same every time.
    desired.server.as_mut().unwrap().running = false;
    assert_eq!(apply_once(&desired, &cloud, &options(dir.path())).await, "");

    desired.server.as_mut().unwrap().running = true;
    assert_eq!(apply_once(&desired, &cloud, &options(dir.path())).await, "");
    let first: Vec<_> = launched(&cloud, "server");
    assert_eq!(first.len(), 1);
    let first = first[0].instance_id.clone();

    desired.server.as_mut().unwrap().running = false;
    assert_eq!(apply_once(&desired, &cloud, &options(dir.path())).await, "");
    assert_eq!(cloud.instance(&first).unwrap().state.as_str(), "terminated");

    desired.server.as_mut().unwrap().running = true;
    let failed = apply_once(&desired, &cloud, &options(dir.path())).await;
    assert_eq!(failed, "", "starting the server again");
    let running: Vec<_> = launched(&cloud, "server")
        .into_iter()
        .filter(|i| i.state.as_str() == "running")
        .collect();
    assert_eq!(running.len(), 1, "{:?}", launched(&cloud, "server"));
    assert_ne!(
        running[0].instance_id, first,
        "a new server, not the old one"
    );
    let o = observe(&cloud).await;
    let snapshot = o.snapshots.keys().next().expect("the builds snapshot");
    assert_eq!(
        cloud.attached(&running[0].instance_id).get("/dev/sdf"),
        Some(snapshot),
        "it serves the same snapshot as before"
    );
    let (again, _) = plan(&desired, &cloud).await;
    assert!(again.is_empty(), "converged:\n{}", summary(&again));
}

/// The apply task dropped (as a crash drops it) just after RunInstances answered: the worker
/// launched must not keep running. The calls that follow the launch are slowed down so that the
/// drop lands between the launch and anything after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_is_terminated_when_the_apply_is_dropped_right_after_its_launch() {
    let dir = tempfile::tempdir().unwrap();
    let desired = full_desired(dir.path());
    let cloud = Arc::new(FakeCloud::new());
    cloud.set_compile(CompileBehaviour::NeverFinish);
    cloud.set_latency("wait_instance", Duration::from_millis(500));
    let (p, o) = plan(&desired, &cloud).await;
    let (task, _) = spawn_apply(&p, &o, &cloud, dir.path());
    eventually(
        || "no worker was launched".into(),
        || !launched(&cloud, "compile").is_empty(),
    )
    .await;
    task.abort();
    let _ = task.await;
    // The guard terminates from a task of its own: give it a moment.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let workers = launched(&cloud, "compile");
        if workers.iter().all(|w| w.state.as_str() == "terminated") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the dropped apply left its worker running: {workers:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Two applies under one run id send the same launch token: EC2 (and the fake) answer the
/// second with the first's worker, terminated by then. The launch is made again under a
/// renewed token rather than failing on the ended instance.
#[tokio::test]
async fn a_launch_answered_with_an_ended_worker_is_made_again_under_a_renewed_token() {
    let dir = tempfile::tempdir().unwrap();
    let desired = full_desired(dir.path());
    let cloud = Arc::new(FakeCloud::new());
    cloud.set_compile(CompileBehaviour::Fail("lame: out of memory".into()));
    let mut replayed = options(dir.path());
    replayed.run_id = Some("replayed".into());
    let failed = apply_once(&desired, &cloud, &replayed).await;
    assert!(failed.contains("lame: out of memory"), "{failed}");

    cloud.set_compile(CompileBehaviour::Succeed);
    assert_eq!(apply_once(&desired, &cloud, &replayed).await, "");
    let workers = launched(&cloud, "compile");
    assert_eq!(workers.len(), 2, "{workers:?}");
    let tokens: Vec<_> = cloud
        .calls()
        .into_iter()
        .filter(|c| c.op == "run_instance" && c.target.contains("-compile-"))
        .map(|c| c.target)
        .collect();
    assert_eq!(
        tokens.len(),
        3,
        "first apply: one launch; second: the replayed token, then a renewed one: {tokens:?}"
    );
    assert_eq!(tokens[0], tokens[1], "the same run id gives the same token");
    assert_ne!(tokens[1], tokens[2], "the renewed token is new");
}

/// EC2's reads lag a launch: right after RunInstances, DescribeInstances may say the instance
/// does not exist. The compile's attach and the server's wait go on through that.
#[tokio::test]
async fn launches_go_on_through_reads_that_do_not_know_the_instance_yet() {
    let dir = tempfile::tempdir().unwrap();
    let desired = full_desired(dir.path());
    let cloud = Arc::new(FakeCloud::new());
    cloud.set_read_lag(Duration::from_millis(150));
    assert_eq!(apply_once(&desired, &cloud, &options(dir.path())).await, "");
    let servers: Vec<_> = launched(&cloud, "server")
        .into_iter()
        .filter(|i| i.state.as_str() == "running")
        .collect();
    assert_eq!(servers.len(), 1);
    let workers = launched(&cloud, "compile");
    assert_eq!(workers.len(), 1);
    assert_eq!(workers[0].state.as_str(), "terminated");
    // Once the reads know the server, the next plan has nothing to do.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (again, _) = plan(&desired, &cloud).await;
    assert!(again.is_empty(), "converged:\n{}", summary(&again));
}

/// The guard's terminate right after the launch falls in the read lag too: TerminateInstances
/// says "not found" then and the instance would run on. It waits until a read shows the worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_dropped_while_reads_do_not_know_it_yet_is_still_terminated() {
    let dir = tempfile::tempdir().unwrap();
    let desired = full_desired(dir.path());
    let cloud = Arc::new(FakeCloud::new());
    cloud.set_compile(CompileBehaviour::NeverFinish);
    cloud.set_read_lag(Duration::from_millis(300));
    let (p, o) = plan(&desired, &cloud).await;
    let (task, _) = spawn_apply(&p, &o, &cloud, dir.path());
    eventually(
        || "no worker was launched".into(),
        || !launched(&cloud, "compile").is_empty(),
    )
    .await;
    task.abort();
    let _ = task.await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let workers = launched(&cloud, "compile");
        if workers.iter().all(|w| w.state.as_str() == "terminated") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the dropped apply left its worker running: {workers:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
