//! The executor's promises: dependency order, bounded parallelism, failures that skip only what
//! depends on them, retried throttling, and an interruption that starts nothing new.

use crate::support::apply::*;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use vibes_core::apply::{self, NullReporter, Outcome, RecordingReporter};
use vibes_core::model::ProfileSpec;
use vibes_core::plan::{Action, Effect, Op};
use vibes_core::{Address, Desired, Plan};
use vibes_fake::{FakeCloud, FaultKind};

fn profiles(n: usize) -> Desired {
    let mut d = Desired::empty(PROJECT);
    for i in 0..n {
        d.profiles.insert(
            format!("p{i:02}"),
            ProfileSpec {
                parameter: format!("/{PROJECT}/profiles/p{i:02}"),
                text: format!("CONFIG_ENCODER=flac\n# {i}\n"),
                encoder: "flac".into(),
            },
        );
    }
    d
}

/// Every action that waits on `i`, directly or not.
fn transitive_dependents(plan: &Plan, i: usize) -> BTreeSet<usize> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![i];
    while let Some(x) = stack.pop() {
        for d in plan.dependents(x) {
            if seen.insert(d) {
                stack.push(d);
            }
        }
    }
    seen
}

#[tokio::test]
async fn every_action_starts_after_what_it_depends_on_has_finished() {
    let dir = tempfile::tempdir().unwrap();
    let desired = full_desired(dir.path());
    let cloud = Arc::new(FakeCloud::new());
    for op in [
        "stack",
        "image_build",
        "compile_run",
        "put_parameter",
        "snapshot",
        "put_object_from_file",
    ] {
        cloud.set_latency(op, Duration::from_millis(3));
    }
    let (p, o) = plan(&desired, &cloud).await;
    assert!(
        p.edges.len() >= 10,
        "the full plan has a real graph: {:?}",
        p.edges
    );
    let (report, reporter) = run(&p, &o, &cloud, &options(dir.path())).await;
    assert!(report.succeeded(), "{}", failures(&p, &report));
    for &(from, to) in &p.edges {
        let finished = reporter.finished_at(from).unwrap();
        let started = reporter.started_at(to).unwrap();
        assert!(
            finished <= started,
            "{} started before {} finished",
            p.actions[to].address,
            p.actions[from].address
        );
    }
}

#[tokio::test]
async fn at_most_parallelism_actions_run_at_once() {
    for parallelism in [2, 10] {
        let cloud = Arc::new(FakeCloud::new());
        cloud.set_latency("put_parameter", Duration::from_millis(25));
        let (p, o) = plan(&profiles(14), &cloud).await;
        assert_eq!(p.actions.len(), 14);
        let mut opts = options(std::path::Path::new("."));
        opts.parallelism = parallelism;
        let (report, _) = run(&p, &o, &cloud, &opts).await;
        assert!(report.succeeded());
        assert_eq!(
            cloud.max_in_flight(),
            parallelism,
            "parallelism {parallelism}"
        );
    }
}

#[tokio::test]
async fn a_failure_skips_exactly_its_transitive_dependents_and_the_rest_completes() {
    let dir = tempfile::tempdir().unwrap();
    let desired = full_desired(dir.path());
    let cloud = Arc::new(FakeCloud::new());
    cloud.fail_always("start_image_build", FaultKind::Permanent);
    let mut desired = desired;
    // One image, so that one action fails.
    desired.images.retain(|name, _| name == "worker");
    desired.server = None;
    let (p, o) = plan(&desired, &cloud).await;
    let (report, _) = run(&p, &o, &cloud, &options(dir.path())).await;

    let volume = p
        .actions
        .iter()
        .position(|a| a.address == Address::image("worker"))
        .unwrap();
    let skipped = transitive_dependents(&p, volume);
    let names: Vec<String> = skipped
        .iter()
        .map(|&i| p.actions[i].address.to_string())
        .collect();
    assert_eq!(names, vec!["compile"]);
    for (i, outcome) in report.outcomes.iter().enumerate() {
        match outcome {
            Outcome::Failed { error } => {
                assert_eq!(i, volume);
                assert_eq!(
                    error,
                    "build image: start_image_build: InternalFailure (injected)"
                );
            }
            Outcome::Skipped { reason } => {
                assert!(skipped.contains(&i), "{} skipped", p.actions[i].address);
                assert_eq!(reason, "image.worker failed");
            }
            Outcome::Done => assert!(i != volume && !skipped.contains(&i)),
            other => panic!("{}: {other:?}", p.actions[i].address),
        }
    }
    assert_eq!(report.failures().len(), 1);
    assert_eq!(
        cloud.count("start_image_build"),
        1,
        "a permanent error is not retried"
    );
    assert!(!report.succeeded() && !report.interrupted);
}

#[tokio::test]
async fn throttling_is_retried_and_the_apply_still_converges() {
    let dir = tempfile::tempdir().unwrap();
    let desired = full_desired(dir.path());
    let cloud = Arc::new(FakeCloud::new());
    let (p, o) = plan(&desired, &cloud).await;
    cloud.fail_rate(0.25, 42);
    let mut opts = options(dir.path());
    opts.retry.max_attempts = 12;
    let (report, _) = run(&p, &o, &cloud, &opts).await;
    cloud.clear_faults();
    assert!(report.succeeded(), "{}", failures(&p, &report));
    let throttled = cloud.calls().iter().filter(|c| !c.ok).count();
    assert!(
        throttled >= 5,
        "the fault rate should have throttled several calls, saw {throttled}"
    );

    // Converged: only the server's one-off replacement (see apply_converge) may remain.
    let (again, o) = plan(&desired, &cloud).await;
    assert!(
        again.actions.iter().all(|a| a.address == Address::server()),
        "{}",
        summary(&again)
    );
    let (report, _) = run(&again, &o, &cloud, &opts).await;
    assert!(report.succeeded());
    assert!(plan(&desired, &cloud).await.0.is_empty());
}

#[tokio::test]
async fn cancellation_starts_nothing_new_and_lets_running_actions_finish() {
    let cloud = Arc::new(FakeCloud::new());
    cloud.set_latency("put_parameter", Duration::from_millis(60));
    let (p, o) = plan(&profiles(6), &cloud).await;
    let mut opts = options(std::path::Path::new("."));
    opts.parallelism = 2;
    let cancel = CancellationToken::new();
    let reporter = Arc::new(RecordingReporter::new());
    let task = {
        let (p, o, cloud, cancel, reporter) = (
            p.clone(),
            o.clone(),
            cloud.clone(),
            cancel.clone(),
            reporter.clone(),
        );
        tokio::spawn(async move { apply::apply(&p, cloud, &o, &opts, reporter, cancel).await })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    cancel.cancel();
    let report = task.await.unwrap();
    assert!(report.interrupted);
    let counts = report.counts();
    assert_eq!(
        counts.get("done"),
        Some(&2),
        "the two in flight finish: {:?}",
        report.outcomes
    );
    assert_eq!(counts.get("not started"), Some(&4));
    assert_eq!(reporter.started().len(), 2);
    assert_eq!(cloud.count("put_parameter"), 2);
}

#[tokio::test]
async fn blocked_actions_are_reported_and_not_run() {
    let cloud = Arc::new(FakeCloud::new());
    let put = Effect::PutParameter {
        name: "/tunes/x".into(),
        value: vibes_core::model::Value::literal("1"),
        tags: BTreeMap::new(),
    };
    let action = |addr: &str, op, effects| Action {
        address: addr.parse().unwrap(),
        op,
        reason: format!("{addr} reason"),
        attributes: vec![],
        changes: vec![],
        effects,
        relies_on: BTreeMap::new(),
    };
    let p = Plan {
        project: PROJECT.into(),
        actions: vec![
            action("profile.a", Op::Blocked, vec![put.clone()]),
            action("profile.b", Op::Create, vec![put]),
        ],
        edges: vec![],
        notes: vec![],
        cost: None,
    };
    let report = apply::apply(
        &p,
        cloud.clone(),
        &Default::default(),
        &options(std::path::Path::new(".")),
        Arc::new(NullReporter),
        CancellationToken::new(),
    )
    .await;
    assert_eq!(
        report.outcomes[0],
        Outcome::Blocked {
            reason: "profile.a reason".into()
        }
    );
    assert_eq!(report.outcomes[1], Outcome::Done);
    assert_eq!(cloud.count("put_parameter"), 1);
    assert!(report.succeeded(), "blocked actions do not fail an apply");
}

#[tokio::test]
async fn an_output_nobody_made_fails_the_action_clearly() {
    let cloud = Arc::new(FakeCloud::new());
    let p = Plan {
        project: PROJECT.into(),
        actions: vec![Action {
            address: Address::sources(),
            op: Op::Run,
            reason: String::new(),
            attributes: vec![],
            changes: vec![],
            effects: vec![Effect::PutParameter {
                name: "/tunes/sources".into(),
                value: vibes_core::model::Value::Output {
                    address: Address::stack("main"),
                    output: "SourcesBucket".into(),
                },
                tags: BTreeMap::new(),
            }],
            relies_on: BTreeMap::new(),
        }],
        edges: vec![],
        notes: vec![],
        cost: None,
    };
    let report = apply::apply(
        &p,
        cloud,
        &Default::default(),
        &options(std::path::Path::new(".")),
        Arc::new(NullReporter),
        CancellationToken::new(),
    )
    .await;
    assert_eq!(
        report.outcomes[0],
        Outcome::Failed { error: "SourcesBucket of stack.main is not known: stack.main has not been applied or has no output named SourcesBucket".into() }
    );
}

/// A sync with one failed upload still records the bucket's manifest: without it every later
/// plan would read each object on its own (one HeadObject apiece on S3) until a sync succeeds.
/// The fake keeps no manifest (its listing is free), so the test counts the write; what the
/// manifest saves on S3 is shown against moto in vibes-aws's tests/objects.rs.
#[tokio::test]
async fn a_sync_with_a_failed_upload_still_writes_the_bucket_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let desired = full_desired(dir.path());
    let cloud = Arc::new(FakeCloud::new());
    cloud.fail_nth("put_object_from_file", 3, FaultKind::Permanent);
    let (p, o) = plan(&desired, &cloud).await;
    let (report, _) = run(&p, &o, &cloud, &options(dir.path())).await;
    let sources = p
        .actions
        .iter()
        .position(|a| a.address == Address::sources())
        .unwrap();
    match &report.outcomes[sources] {
        Outcome::Failed { error } => {
            assert!(error.contains("1 of 28"), "{error}")
        }
        other => panic!("sources: {other:?}"),
    }
    assert_eq!(cloud.count("put_object_from_file"), 28);
    assert_eq!(
        cloud.count("write_bucket_manifest"),
        1,
        "the manifest records the 27 objects that did go up"
    );
}
