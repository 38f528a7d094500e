//! Benchmark: how close `vibes apply` comes to the best schedule the plan allows.
//!
//! A whole platform (two stacks, three keys, two profiles, two images, sources, the compile,
//! snapshot retention, a server) is applied to the in-memory fake cloud with latencies that keep
//! the real proportions, scaled down: a stack settles in 200 ms, an image build takes 1 s, a
//! compile 2 s, a snapshot 200 ms, an instance start 100 ms, and every API call 20 ms.
//!
//! 1. Each action's own duration is measured by applying the plan one action at a time
//!    (`--parallelism 1`: nothing competes with it).
//! 2. The critical path is the longest chain through `plan.edges` weighted by those durations:
//!    no scheduler can finish sooner.
//! 3. The plan is applied again on a fresh fake at the default parallelism; its wall time is
//!    compared with the critical path (goal: at most 1.05x).
//!
//!     cargo run -p vibes-core --example apply_schedule
//!
//! The work is sleeping, not computing, so a debug build measures the same as a release build.

#[path = "../tests/it/support/apply.rs"]
mod apply_support;

use apply_support::{full_desired, options, plan};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use vibes_core::apply::{self, ApplyOptions, RecordingReporter};
use vibes_core::Plan;
use vibes_fake::FakeCloud;

/// Every `Cloud` method: each is one API call of 20 ms.
const API_CALLS: &[&str] = &[
    "observe",
    "list_bucket",
    "create_key_pair",
    "import_key_pair",
    "delete_key_pair",
    "tag_key_pair",
    "put_parameter",
    "put_secure_parameter",
    "create_parameter_exclusive",
    "get_parameter",
    "delete_parameter",
    "tag_parameter",
    "create_stack",
    "update_stack",
    "delete_stack",
    "wait_stack",
    "put_object_from_file",
    "put_object",
    "delete_objects",
    "start_image_build",
    "wait_image_build",
    "find_image",
    "deregister_image",
    "create_snapshot",
    "wait_snapshot",
    "delete_snapshot",
    "delete_volume",
    "run_instance",
    "wait_instance",
    "terminate_instance",
];

fn scaled_cloud() -> Arc<FakeCloud> {
    let cloud = FakeCloud::new();
    for op in API_CALLS {
        cloud.set_latency(op, Duration::from_millis(20));
    }
    for (op, ms) in [
        ("stack", 200),
        ("image_build", 1000),
        ("compile_run", 2000),
        ("snapshot", 200),
        ("instance_start", 100),
    ] {
        cloud.set_latency(op, Duration::from_millis(ms));
    }
    Arc::new(cloud)
}

/// Applies the plan of a fresh account; returns the plan, the wall time and each action's duration.
async fn apply_once(dir: &std::path::Path, parallelism: usize) -> (Plan, Duration, Vec<Duration>) {
    let desired = full_desired(dir);
    let cloud = scaled_cloud();
    let (p, observed) = plan(&desired, &cloud).await;
    let mut opts: ApplyOptions = options(dir);
    opts.parallelism = parallelism;
    let reporter = Arc::new(RecordingReporter::new());
    let t0 = Instant::now();
    let report = apply::apply(
        &p,
        cloud.clone(),
        &observed,
        &opts,
        reporter.clone(),
        CancellationToken::new(),
    )
    .await;
    let wall = t0.elapsed();
    assert!(
        report.succeeded(),
        "the benchmark apply failed: {:?}",
        report.failures()
    );
    let durations = (0..p.actions.len())
        .map(
            |i| match (reporter.started_at(i), reporter.finished_at(i)) {
                (Some(s), Some(f)) => f - s,
                _ => Duration::ZERO,
            },
        )
        .collect();
    (p, wall, durations)
}

/// The longest chain through the DAG, weighting each action by its duration; with the chain.
fn critical_path(plan: &Plan, durations: &[Duration]) -> (Duration, Vec<usize>) {
    let n = plan.actions.len();
    // Kahn order: the plan is checked acyclic.
    let mut indegree = vec![0usize; n];
    for &(_, b) in &plan.edges {
        indegree[b] += 1;
    }
    let mut order: Vec<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
    let mut k = 0;
    while k < order.len() {
        let a = order[k];
        for &(x, b) in &plan.edges {
            if x == a {
                indegree[b] -= 1;
                if indegree[b] == 0 {
                    order.push(b);
                }
            }
        }
        k += 1;
    }
    let mut finish = vec![Duration::ZERO; n];
    let mut via: Vec<Option<usize>> = vec![None; n];
    for &i in &order {
        let (start, pred) = plan
            .edges
            .iter()
            .filter(|&&(_, b)| b == i)
            .map(|&(a, _)| (finish[a], Some(a)))
            .max()
            .unwrap_or((Duration::ZERO, None));
        finish[i] = start + durations[i];
        via[i] = pred;
    }
    let end = (0..n)
        .max_by_key(|&i| finish[i])
        .expect("a plan with actions");
    let mut chain = vec![end];
    while let Some(p) = via[*chain.last().unwrap()] {
        chain.push(p);
    }
    chain.reverse();
    (finish[end], chain)
}

#[tokio::main]
async fn main() {
    let solo_dir = tempfile::tempdir().expect("temp dir");
    let (p, serial, durations) = apply_once(solo_dir.path(), 1).await;
    let (critical, chain) = critical_path(&p, &durations);

    let parallelism = ApplyOptions::new("x", ".").parallelism;
    let par_dir = tempfile::tempdir().expect("temp dir");
    let (p2, wall, _) = apply_once(par_dir.path(), parallelism).await;
    assert_eq!(
        p.actions.len(),
        p2.actions.len(),
        "both runs apply the same plan"
    );

    println!("actions: {}, edges: {}", p.actions.len(), p.edges.len());
    println!(
        "critical path: {}",
        chain
            .iter()
            .map(|&i| format!("{} ({} ms)", p.actions[i].address, durations[i].as_millis()))
            .collect::<Vec<_>>()
            .join(" -> ")
    );
    println!(
        "one at a time (--parallelism 1): {:>6} ms",
        serial.as_millis()
    );
    println!(
        "critical path (lower bound):     {:>6} ms",
        critical.as_millis()
    );
    println!(
        "vibes apply (--parallelism {parallelism}):   {:>6} ms",
        wall.as_millis()
    );
    println!(
        "apply / critical path: {:.3}x; speed-up over one at a time: {:.1}x",
        wall.as_secs_f64() / critical.as_secs_f64(),
        serial.as_secs_f64() / wall.as_secs_f64()
    );
}
