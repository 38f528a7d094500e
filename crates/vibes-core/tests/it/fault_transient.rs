//! Faults on the way: throttling and 5xx answers are retried until the apply converges, and an
//! error no retry fixes stops exactly what depends on it, while everything else is done.

use crate::support::apply::*;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use vibes_core::apply::Outcome;
use vibes_core::plan::Op;
use vibes_core::{Desired, Plan};
use vibes_fake::{FakeCloud, FaultKind};

/// Seeds of the fault generator: each gives a different pattern of failed calls.
const SEEDS: u64 = 20;
/// One call in ten is answered with throttling.
const FAULT_RATE: f64 = 0.10;

fn slow_cloud() -> Arc<FakeCloud> {
    let cloud = Arc::new(FakeCloud::new());
    cloud.set_latency("stack", Duration::from_millis(3));
    cloud.set_latency("image_build", Duration::from_millis(3));
    cloud.set_latency("compile_run", Duration::from_millis(3));
    cloud.set_latency("snapshot", Duration::from_millis(2));
    cloud
}

/// Applies plans until one is empty (at most `rounds`), the way a person reruns `vibes apply`.
/// The planner replaces a server launched in the same apply as its compile once (its fingerprint
/// is taken from the snapshot id the next time); that settles in one more round.
async fn plan_after(desired: &Desired, cloud: &Arc<FakeCloud>, dir: &std::path::Path) -> Plan {
    let (p, o) = plan(desired, cloud).await;
    if p.actions.len() == 1
        && p.actions[0].address.to_string() == "server"
        && p.actions[0].op == Op::Replace
    {
        let (report, _) = run(&p, &o, cloud, &options(dir)).await;
        assert!(report.succeeded(), "{}", failures(&p, &report));
        return plan(desired, cloud).await.0;
    }
    p
}

#[tokio::test]
async fn a_full_apply_under_ten_percent_throttling_converges_for_every_seed() {
    let mut injected = 0usize;
    let mut calls = 0usize;
    for seed in 0..SEEDS {
        let dir = tempfile::tempdir().unwrap();
        let desired = full_desired(dir.path());
        let cloud = slow_cloud();
        let (p, o) = plan(&desired, &cloud).await;
        assert!(!p.is_empty());

        cloud.fail_rate(FAULT_RATE, seed);
        let (report, _) = run(&p, &o, &cloud, &options(dir.path())).await;
        cloud.clear_faults();
        let log = cloud.calls();
        let failed = log.iter().filter(|c| !c.ok).count();
        injected += failed;
        calls += log.len();
        assert!(
            failed > 0,
            "seed {seed}: the generator injected nothing, the test proves nothing"
        );
        assert!(
            report.succeeded(),
            "seed {seed}: {failed} injected faults were not all retried:\n{}",
            failures(&p, &report)
        );

        let again = plan_after(&desired, &cloud, dir.path()).await;
        assert!(
            again.is_empty(),
            "seed {seed}: a re-plan after the apply is not empty:\n{}",
            summary(&again)
        );
    }
    eprintln!("fault figures: {SEEDS} seeds, {injected} throttling faults injected over {calls} calls, all converged");
}

/// Every action that transitively depends on `i`.
fn dependents_of(plan: &Plan, i: usize) -> BTreeSet<usize> {
    let mut out = BTreeSet::new();
    let mut stack = vec![i];
    while let Some(n) = stack.pop() {
        for &(from, to) in &plan.edges {
            if from == n && out.insert(to) {
                stack.push(to);
            }
        }
    }
    out
}

/// Applies with one permanent fault and checks that the failed action's dependents, and only
/// they, are skipped with a reason naming it, while every other action is done.
///
/// The fault is the call of `op` whose target contains `target`: one action at a time makes the
/// order of calls the same from run to run, so a fault-free run says which call that is.
async fn one_permanent_fault(address: &str, op: &str, target: &str) {
    let n = {
        let dir = tempfile::tempdir().unwrap();
        let desired = full_desired(dir.path());
        let cloud = slow_cloud();
        let (p, o) = plan(&desired, &cloud).await;
        let mut opts = options(dir.path());
        opts.parallelism = 1;
        let (report, _) = run(&p, &o, &cloud, &opts).await;
        assert!(report.succeeded(), "{}", failures(&p, &report));
        let same_op: Vec<_> = cloud.calls().into_iter().filter(|c| c.op == op).collect();
        let at = same_op
            .iter()
            .position(|c| c.target.contains(target))
            .unwrap_or_else(|| panic!("no {op} call on {target}: {same_op:?}"));
        at as u64 + 1
    };
    let dir = tempfile::tempdir().unwrap();
    let desired = full_desired(dir.path());
    let cloud = slow_cloud();
    let (p, o) = plan(&desired, &cloud).await;
    let failing = p
        .actions
        .iter()
        .position(|a| a.address.to_string() == address)
        .unwrap_or_else(|| panic!("{address} in\n{}", summary(&p)));
    let expected_skipped = dependents_of(&p, failing);

    cloud.fail_nth(op, n, FaultKind::Permanent);
    let mut opts = options(dir.path());
    opts.parallelism = 1;
    let (report, reporter) = run(&p, &o, &cloud, &opts).await;
    eprintln!(
        "permanent fault on {address} ({op} call {n}): {} dependents skipped",
        expected_skipped.len()
    );
    assert!(!report.succeeded());
    assert_eq!(
        report
            .failures()
            .iter()
            .map(|(i, _)| *i)
            .collect::<Vec<_>>(),
        vec![failing],
        "only {address} fails"
    );
    for (i, outcome) in report.outcomes.iter().enumerate() {
        let a = &p.actions[i].address;
        if i == failing {
            assert!(
                matches!(outcome, Outcome::Failed { .. }),
                "{a}: {outcome:?}"
            );
        } else if expected_skipped.contains(&i) {
            assert_eq!(
                outcome,
                &Outcome::Skipped {
                    reason: format!("{address} failed")
                },
                "{a} depends on {address}"
            );
        } else {
            assert_eq!(
                outcome,
                &Outcome::Done,
                "{a} does not depend on {address} and must be done"
            );
        }
    }
    // The reporter heard the same thing, once per action.
    let finished: Vec<_> = reporter
        .events()
        .into_iter()
        .filter_map(|e| match e {
            vibes_core::apply::ReporterEvent::Finished { index, outcome, .. } => {
                Some((index, outcome))
            }
            _ => None,
        })
        .collect();
    assert_eq!(finished.len(), p.actions.len());
    for (i, outcome) in finished {
        assert_eq!(outcome, report.outcomes[i]);
    }

    // Once the cause is gone, a rerun finishes the job.
    cloud.clear_faults();
    let (p2, o2) = plan(&desired, &cloud).await;
    let (report, _) = run(&p2, &o2, &cloud, &options(dir.path())).await;
    assert!(report.succeeded(), "{}", failures(&p2, &report));
    let again = plan_after(&desired, &cloud, dir.path()).await;
    assert!(again.is_empty(), "{}", summary(&again));
}

#[tokio::test]
async fn a_permanent_error_on_the_network_stack_skips_exactly_what_needs_the_network() {
    // Everything on the platform waits on the network; keys and profiles do not.
    one_permanent_fault("stack.vpc", "create_stack", "tunes-vpc").await;
}

#[tokio::test]
async fn a_permanent_error_on_a_profile_skips_its_dependents_only() {
    one_permanent_fault("profile.phone", "put_parameter", "/tunes/profiles/phone").await;
}

#[tokio::test]
async fn an_image_that_fails_to_build_skips_the_compile_and_what_follows() {
    one_permanent_fault("image.worker", "find_image", "image.worker").await;
}
