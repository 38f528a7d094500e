//! The compile worker never outlives its compile: it is terminated on success, on failure, on
//! a timeout and when the apply is interrupted. And images are built only from the recipe the
//! plan saw.

use crate::support::apply::*;
use std::sync::Arc;
use std::time::Duration;
use vibes_core::apply::Outcome;
use vibes_core::cloud::prelude::*;
use vibes_core::observed::ObservedInstance;
use vibes_core::{tags, Address};
use vibes_fake::{CompileBehaviour, FakeCloud, ImageBuildBehaviour};

fn workers(cloud: &FakeCloud) -> Vec<ObservedInstance> {
    cloud
        .instances()
        .into_iter()
        .filter(|i| i.tags.get(tags::ADDRESS).map(String::as_str) == Some("compile"))
        .collect()
}

#[tokio::test]
async fn a_failed_compile_terminates_its_worker_and_skips_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let desired = full_desired(dir.path());
    let cloud = Arc::new(FakeCloud::new());
    cloud.set_compile(CompileBehaviour::Fail(
        "opusenc: cannot read 2-song.wav".into(),
    ));
    let (p, o) = plan(&desired, &cloud).await;
    let (report, _) = run(&p, &o, &cloud, &options(dir.path())).await;

    match outcome_of(&p, &report, &Address::compile()) {
        Outcome::Failed { error } => assert!(
            error.ends_with("failed: opusenc: cannot read 2-song.wav"),
            "{error}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        outcome_of(&p, &report, &Address::server()),
        &Outcome::Skipped {
            reason: "compile failed".into()
        }
    );
    let w = workers(&cloud);
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].state.as_str(), "terminated");
    assert!(
        observe(&cloud).await.snapshots.is_empty(),
        "a failed compile makes no snapshot"
    );
}

#[tokio::test]
async fn a_compile_unit_systemd_skipped_fails_the_compile_with_its_console_lines_not_at_the_timeout(
) {
    let dir = tempfile::tempdir().unwrap();
    let desired = full_desired(dir.path());
    let cloud = Arc::new(FakeCloud::new());
    cloud.set_compile(CompileBehaviour::UnitSkipped);
    let (p, o) = plan(&desired, &cloud).await;
    let (report, _) = run(&p, &o, &cloud, &options(dir.path())).await;

    // Not "did not finish within …": the console was read while waiting.
    match outcome_of(&p, &report, &Address::compile()) {
        Outcome::Failed { error } => {
            assert!(
                error.contains("will never compile: systemd did not start vibes-compile.service"),
                "{error}"
            );
            assert!(
                error.contains("| [ SKIP ] Ordering cycle found, skipping vibes-compile.service"),
                "the error quotes systemd: {error}"
            );
            assert!(
                error.contains("Found dependency on cloud-final.service/start"),
                "and the cycle: {error}"
            );
        }
        other => panic!("{other:?}"),
    }
    let w = workers(&cloud);
    assert_eq!(w.len(), 1);
    assert_eq!(
        w[0].state.as_str(),
        "terminated",
        "the idle worker is not left running"
    );
}

#[tokio::test]
async fn a_compile_that_never_finishes_times_out_and_terminates_its_worker() {
    let dir = tempfile::tempdir().unwrap();
    let desired = full_desired(dir.path());
    let cloud = Arc::new(FakeCloud::new());
    cloud.set_compile(CompileBehaviour::NeverFinish);
    let (p, o) = plan(&desired, &cloud).await;
    let mut opts = options(dir.path());
    opts.timeouts.compile = Some(Duration::from_millis(40));
    let (report, _) = run(&p, &o, &cloud, &opts).await;
    match outcome_of(&p, &report, &Address::compile()) {
        Outcome::Failed { error } => assert!(
            error.contains("did not finish within 40 ms; it is terminated"),
            "{error}"
        ),
        other => panic!("{other:?}"),
    }
    assert!(workers(&cloud)
        .iter()
        .all(|w| w.state.as_str() == "terminated"));
}

#[tokio::test]
async fn interrupting_a_compile_terminates_its_worker() {
    let dir = tempfile::tempdir().unwrap();
    let desired = full_desired(dir.path());
    let cloud = Arc::new(FakeCloud::new());
    cloud.set_compile(CompileBehaviour::NeverFinish);
    let (p, o) = plan(&desired, &cloud).await;
    let (task, cancel) = spawn_apply(&p, &o, &cloud, dir.path());
    eventually(
        || "no worker was launched".into(),
        || !workers(&cloud).is_empty(),
    )
    .await;
    cancel.cancel();
    let report = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("apply returns after Ctrl-C")
        .unwrap();
    match outcome_of(&p, &report, &Address::compile()) {
        Outcome::Failed { error } => assert!(
            error.starts_with("compile: interrupted; worker i-"),
            "{error}"
        ),
        other => panic!("{other:?}"),
    }
    assert!(!matches!(
        outcome_of(&p, &report, &Address::server()),
        Outcome::Done
    ));
    assert!(
        workers(&cloud)
            .iter()
            .all(|w| w.state.as_str() == "terminated"),
        "{:?}",
        workers(&cloud)
    );
}

#[tokio::test]
async fn a_recipe_edited_after_the_plan_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let desired = full_desired(dir.path());
    let cloud = Arc::new(FakeCloud::new());
    let (p, o) = plan(&desired, &cloud).await;
    write(dir.path(), "packer/worker.sh", "#!/bin/sh\necho edited\n");
    let (report, _) = run(&p, &o, &cloud, &options(dir.path())).await;
    match outcome_of(&p, &report, &Address::image("worker")) {
        Outcome::Failed { error } => {
            assert!(
                error.contains("packer/worker.sh changed since the plan was made"),
                "{error}"
            );
            assert!(error.ends_with("run vibes plan again"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        outcome_of(&p, &report, &Address::image("server")),
        &Outcome::Done
    );
    assert_eq!(
        cloud.count("start_image_build"),
        1,
        "only the unchanged recipe is built"
    );
}

#[tokio::test]
async fn a_build_that_tags_no_image_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let desired = full_desired(dir.path());
    let cloud = Arc::new(FakeCloud::new());
    cloud.set_image_build(ImageBuildBehaviour::SucceedWithoutImage);
    let (p, o) = plan(&desired, &cloud).await;
    let (report, _) = run(&p, &o, &cloud, &options(dir.path())).await;
    match outcome_of(&p, &report, &Address::image("worker")) {
        Outcome::Failed { error } => assert!(
            error.contains("succeeded but no image carries vibes:address=image.worker"),
            "{error}"
        ),
        other => panic!("{other:?}"),
    }
    assert!(cloud.parameter("/tunes/ami/worker").is_none());
}

/// A failed image build says why in its own words: the end of its CodeBuild log, each line
/// escaped (a log line cannot move the terminal's cursor).
#[tokio::test]
async fn a_failed_image_build_shows_the_end_of_its_log() {
    let dir = tempfile::tempdir().unwrap();
    let desired = full_desired(dir.path());
    let cloud = Arc::new(FakeCloud::new());
    cloud.set_image_build(ImageBuildBehaviour::Fail);
    let mut log: Vec<String> = (1..=30).map(|i| format!("[Container] step {i}")).collect();
    log.push(
        "==> amazon-ebs.worker: Error launching source instance: UnauthorizedOperation".into(),
    );
    log.push("Build 'amazon-ebs.worker' errored after 3 seconds\u{1b}[2J".into());
    cloud.set_image_build_log(&log.iter().map(String::as_str).collect::<Vec<_>>());
    let (p, o) = plan(&desired, &cloud).await;
    let (report, _) = run(&p, &o, &cloud, &options(dir.path())).await;
    let Outcome::Failed { error } = outcome_of(&p, &report, &Address::image("worker")) else {
        panic!("{}", failures(&p, &report));
    };
    assert!(
        error.contains("ended FAILED; the end of its log:"),
        "{error}"
    );
    assert!(
        error.contains(
            "\n    | ==> amazon-ebs.worker: Error launching source instance: UnauthorizedOperation"
        ),
        "{error}"
    );
    assert!(
        error.contains("errored after 3 seconds\\u{1b}[2J"),
        "escaped: {error}"
    );
    assert!(!error.contains('\u{1b}'), "{error}");
    let shown = error.lines().filter(|l| l.starts_with("    | ")).count();
    assert_eq!(shown, 20, "the last 20 lines: {error}");
    assert!(!error.contains("step 12\n"), "{error}");
}

#[tokio::test]
async fn secrets_never_reach_errors_or_progress() {
    let dir = tempfile::tempdir().unwrap();
    let desired = full_desired(dir.path());
    let cloud = Arc::new(FakeCloud::new());
    // The private key is made, then storing it fails: the error must not carry it.
    cloud.fail_always("put_secure_parameter", vibes_fake::FaultKind::Permanent);
    let (p, o) = plan(&desired, &cloud).await;
    let (report, reporter) = run(&p, &o, &cloud, &options(dir.path())).await;
    assert!(!report.failures().is_empty());
    let everything = format!(
        "{:?}{:?}{}",
        report,
        reporter.events(),
        serde_json::to_string(&report).unwrap()
    );
    assert!(!everything.contains("PRIVATE KEY"), "{everything}");
}

/// A running compile's progress, as the worker publishes it to `/<project>/compile/progress`,
/// is shown on the compile's line while apply waits for it.
#[tokio::test]
async fn the_workers_progress_is_shown_while_the_compile_runs() {
    let dir = tempfile::tempdir().unwrap();
    let desired = full_desired(dir.path());
    let cloud = Arc::new(FakeCloud::new());
    cloud.set_latency("compile_run", Duration::from_millis(200));
    let (p, o) = plan(&desired, &cloud).await;
    let mut opts = options(dir.path());
    opts.progress_poll = Duration::from_millis(5);
    let (report, reporter) = run(&p, &o, &cloud, &opts).await;
    assert!(report.succeeded(), "{}", failures(&p, &report));
    let compile = p
        .actions
        .iter()
        .position(|a| a.address == Address::compile())
        .unwrap();
    let lines: Vec<String> = reporter
        .events()
        .into_iter()
        .filter_map(|e| match e {
            vibes_core::apply::ReporterEvent::Progress { index, message, .. }
                if index == compile =>
            {
                Some(message)
            }
            _ => None,
        })
        .collect();
    assert!(
        lines.iter().any(|l| l == "compile: 1/2 tracks"),
        "{lines:#?}"
    );
}

/// The volumes that are not the server's (which holds its snapshot's copy while it runs).
fn builds_volumes(o: &vibes_core::Observed) -> Vec<&String> {
    o.volumes
        .iter()
        .filter(|(_, v)| v.tags.get(tags::ADDRESS).map(String::as_str) != Some("server"))
        .map(|(id, _)| id)
        .collect()
}

/// The builds volume lives only while a compile runs: the first worker gets an empty volume
/// of the configured size, the next one a volume from the newest builds snapshot; after each
/// apply no volume is left, only snapshots.
#[tokio::test]
async fn the_builds_volume_lives_only_while_a_compile_runs() {
    let dir = tempfile::tempdir().unwrap();
    let mut desired = full_desired(dir.path());
    let cloud = Arc::new(FakeCloud::new());
    let (p, o) = plan(&desired, &cloud).await;
    assert!(
        p.find(&Address::volume("builds")).is_none(),
        "{}",
        summary(&p)
    );
    let (report, _) = run(&p, &o, &cloud, &options(dir.path())).await;
    assert!(report.succeeded(), "{}", failures(&p, &report));
    let first = workers(&cloud);
    assert_eq!(first.len(), 1);
    let mapped = first[0].volumes["/dev/sdf"].clone();
    let after = observe(&cloud).await;
    assert!(
        builds_volumes(&after).is_empty(),
        "no volume is left: {:?}",
        after.volumes
    );
    let snaps: Vec<_> = after.snapshots.values().collect();
    assert_eq!(snaps.len(), 1);
    assert_eq!(
        snaps[0].volume_id, mapped,
        "the snapshot is of the worker's volume"
    );
    let first_snapshot = snaps[0].snapshot_id.clone();

    // A profile changes: the next worker's volume is made from that snapshot.
    let phone = desired.profiles.get_mut("phone").unwrap();
    phone.text = phone.text.replace("-V 6", "-V 2");
    let (p, o) = plan(&desired, &cloud).await;
    let (report, _) = run(&p, &o, &cloud, &options(dir.path())).await;
    assert!(report.succeeded(), "{}", failures(&p, &report));
    let second = workers(&cloud)
        .into_iter()
        .find(|w| w.instance_id != first[0].instance_id)
        .expect("a second worker");
    assert_eq!(
        cloud.attached(&second.instance_id).get("/dev/sdf"),
        Some(&first_snapshot),
        "the second compile starts from the first one's snapshot"
    );
    let after = observe(&cloud).await;
    assert!(
        builds_volumes(&after).is_empty(),
        "no volume is left: {:?}",
        after.volumes
    );
    assert_eq!(after.snapshots.len(), 2);
    let (again, _) = plan(&desired, &cloud).await;
    assert!(again.is_empty(), "converged:\n{}", summary(&again));
}

/// A standing builds volume an earlier vibes made, whose builds no snapshot holds (its first
/// compile failed, say): snapshotted, deleted, and the compile starts from that snapshot.
#[tokio::test]
async fn a_standing_builds_volume_of_an_earlier_vibes_is_snapshotted_then_retired() {
    let dir = tempfile::tempdir().unwrap();
    let desired = full_desired(dir.path());
    let cloud = Arc::new(FakeCloud::new());
    let standing = cloud
        .create_volume(
            50,
            "us-east-1a",
            &tags::ownership(PROJECT, &Address::volume("builds"), "earlier"),
            "earlier-volume",
        )
        .await
        .unwrap();
    let (p, o) = plan(&desired, &cloud).await;
    assert_eq!(
        p.find(&Address::volume("builds")).map(|a| a.op),
        Some(vibes_core::plan::Op::Delete),
        "{}",
        summary(&p)
    );
    let (report, _) = run(&p, &o, &cloud, &options(dir.path())).await;
    assert!(report.succeeded(), "{}", failures(&p, &report));
    let after = observe(&cloud).await;
    assert!(builds_volumes(&after).is_empty(), "{:?}", after.volumes);
    let of_standing: Vec<_> = after
        .snapshots
        .values()
        .filter(|s| s.volume_id == standing)
        .collect();
    assert_eq!(of_standing.len(), 1, "{:?}", after.snapshots);
    let worker = &workers(&cloud)[0];
    assert_eq!(
        cloud.attached(&worker.instance_id).get("/dev/sdf"),
        Some(&of_standing[0].snapshot_id),
        "the compile starts from what the standing volume held"
    );
}

/// `[compile] spot = true`: EC2 takes the worker's capacity back halfway. The attempt fails,
/// its builds volume is kept, and the next apply resumes the compile on that volume (what was
/// built before the interruption stays built), snapshots it and deletes it.
#[tokio::test]
async fn a_spot_interruption_keeps_the_builds_volume_and_the_next_apply_resumes_on_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut desired = full_desired(dir.path());
    desired.compile.as_mut().unwrap().spot = true;
    let cloud = Arc::new(FakeCloud::new());
    cloud.set_latency("compile_run", Duration::from_millis(20));
    cloud.set_compile(CompileBehaviour::SpotInterruption);
    let builds_volumes = |o: &vibes_core::Observed| -> Vec<String> {
        o.volumes
            .values()
            .filter(|v| v.tags.get(tags::ADDRESS).map(String::as_str) == Some("compile"))
            .map(|v| format!("{} {}", v.volume_id, v.state))
            .collect()
    };

    let (p, o) = plan(&desired, &cloud).await;
    let compile = p.find(&Address::compile()).unwrap();
    assert!(
        compile
            .attributes
            .iter()
            .any(|a| a.name == "market" && a.value.as_deref() == Some("spot")),
        "{:?}",
        compile.attributes
    );
    let (report, _) = run(&p, &o, &cloud, &options(dir.path())).await;
    let Outcome::Failed { error } = outcome_of(&p, &report, &Address::compile()) else {
        panic!("the interrupted compile fails: {}", failures(&p, &report));
    };
    assert!(
        error.contains("interrupted: shut down from outside")
            && error.contains("(EC2 reclaims a Spot instance's capacity so)"),
        "{error}"
    );
    assert!(
        error.contains("the next apply resumes the compile on it"),
        "{error}"
    );
    let after = observe(&cloud).await;
    let kept = builds_volumes(&after);
    assert_eq!(kept.len(), 1, "{kept:?}");
    let (volume, state) = kept[0].split_once(' ').unwrap();
    assert_eq!(state, "available");
    assert!(
        after.snapshots.is_empty(),
        "an interrupted compile makes no snapshot"
    );

    let (p, o) = plan(&desired, &cloud).await;
    let compile = p.find(&Address::compile()).unwrap();
    assert!(
        compile
            .reason
            .contains(&format!("it resumes on builds volume {volume}")),
        "{}",
        compile.reason
    );
    let (report, _) = run(&p, &o, &cloud, &options(dir.path())).await;
    assert!(report.succeeded(), "{}", failures(&p, &report));
    let w = workers(&cloud);
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w.iter().all(|i| i.state.as_str() == "terminated"), "{w:?}");
    let second = &w[1].instance_id;
    assert_eq!(
        cloud.attached(second).get("/dev/sdf").map(String::as_str),
        Some(volume),
        "the second worker ran on the kept volume"
    );
    let after = observe(&cloud).await;
    let snapshots: Vec<_> = after.snapshots.values().collect();
    assert_eq!(snapshots.len(), 1, "{snapshots:?}");
    assert_eq!(
        snapshots[0].volume_id, volume,
        "the snapshot is of the resumed volume"
    );
    assert_eq!(
        builds_volumes(&after),
        Vec::<String>::new(),
        "no builds volume is left"
    );

    let (p, _) = plan(&desired, &cloud).await;
    assert!(p.is_empty(), "{}", summary(&p));
}

/// `[compile] spot = true`: the compile ends but its status cannot be written, and the Spot
/// worker terminates on its own poweroff. EC2's state reason says it shut itself down, so this
/// is a failure, not a reclaim: the next apply does not resume on the volume, which would end
/// the same way apply after apply.
#[tokio::test]
async fn a_spot_worker_that_shut_itself_down_without_a_report_failed_and_is_not_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let mut desired = full_desired(dir.path());
    desired.compile.as_mut().unwrap().spot = true;
    let cloud = Arc::new(FakeCloud::new());
    cloud.set_latency("compile_run", Duration::from_millis(20));
    cloud.set_compile(CompileBehaviour::StatusUnwritable);

    let (p, o) = plan(&desired, &cloud).await;
    let (report, _) = run(&p, &o, &cloud, &options(dir.path())).await;
    let Outcome::Failed { error } = outcome_of(&p, &report, &Address::compile()) else {
        panic!("the compile fails: {}", failures(&p, &report));
    };
    assert!(
        error.contains("shut itself down without writing /")
            && !error.contains("reclaimed its Spot capacity"),
        "{error}"
    );
    assert!(!error.contains("resumes the compile"), "{error}");
    let w = workers(&cloud);
    assert_eq!(w.len(), 1);
    assert_eq!(
        w[0].state_reason.as_deref(),
        Some("Client.InstanceInitiatedShutdown")
    );

    let (p, _) = plan(&desired, &cloud).await;
    let compile = p.find(&Address::compile()).unwrap();
    assert!(
        !compile.reason.contains("it resumes on builds volume"),
        "{}",
        compile.reason
    );
}

/// EC2 terminates a worker during its launch (here an internal error; a KMS key the launch may
/// not use gives `Client.InternalError`): the compile fails at once with EC2's state reason and
/// what it means, on demand as on Spot, instead of waiting for a report that will not come.
#[tokio::test]
async fn a_worker_ec2_terminates_during_its_launch_fails_the_compile_with_ec2s_reason() {
    for spot in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let mut desired = full_desired(dir.path());
        desired.compile.as_mut().unwrap().spot = spot;
        let cloud = Arc::new(FakeCloud::new());
        cloud.set_compile(CompileBehaviour::LaunchFails("Server.InternalError".into()));

        let (p, o) = plan(&desired, &cloud).await;
        let (report, _) = run(&p, &o, &cloud, &options(dir.path())).await;
        let Outcome::Failed { error } = outcome_of(&p, &report, &Address::compile()) else {
            panic!("the compile fails: {}", failures(&p, &report));
        };
        assert!(
            error.contains("Server.InternalError"),
            "spot {spot}: {error}"
        );
        assert!(
            !error.contains("reclaimed its Spot capacity") && !error.contains("did not finish"),
            "spot {spot}: {error}"
        );
        let (p, _) = plan(&desired, &cloud).await;
        let compile = p.find(&Address::compile()).unwrap();
        assert!(
            !compile.reason.contains("it resumes on builds volume"),
            "spot {spot}: {}",
            compile.reason
        );
    }
}
