//! A crash at any point of an apply is repaired by the next one. For every action boundary of a
//! full apply (stacks, keys, profiles, images, sources, compile, snapshots, server), the apply is
//! stopped dead there: its future is dropped, which aborts every call in flight the way a killed
//! process does, with no clean-up. Then vibes observes, plans and applies again, and the account
//! must end exactly as after an apply that was never interrupted: nothing twice, no worker left
//! running.

use crate::support::apply::*;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use vibes_core::apply::{self, Outcome, Reporter};
use vibes_core::plan::{Action, Op};
use vibes_core::{tags, Desired, Observed, Plan};
use vibes_fake::FakeCloud;

fn slow_cloud() -> Arc<FakeCloud> {
    let cloud = Arc::new(FakeCloud::new());
    // Long enough that actions overlap, so a crash catches some of them half way.
    cloud.set_latency("stack", Duration::from_millis(4));
    cloud.set_latency("image_build", Duration::from_millis(6));
    cloud.set_latency("compile_run", Duration::from_millis(8));
    cloud.set_latency("snapshot", Duration::from_millis(3));
    cloud.set_latency("instance_start", Duration::from_millis(2));
    cloud.set_latency("put_object_from_file", Duration::from_millis(1));
    cloud
}

/// Rings when the `k`-th action has finished (or, for `k = 0`, when the first one starts).
struct CrashAfter {
    k: usize,
    finished: AtomicUsize,
    bell: Arc<Notify>,
}

impl Reporter for CrashAfter {
    fn action_started(&self, _: usize, _: &Action) {
        if self.k == 0 {
            self.bell.notify_one();
        }
    }
    fn action_progress(&self, _: usize, _: &str) {}
    fn action_finished(&self, _: usize, _: &Action, outcome: &Outcome) {
        if matches!(outcome, Outcome::Done)
            && self.finished.fetch_add(1, Ordering::SeqCst) + 1 == self.k
        {
            self.bell.notify_one();
        }
    }
}

/// Runs `plan` and kills it after `k` actions are done. True when it was killed (false when it
/// completed first).
async fn apply_and_crash(
    plan: &Plan,
    observed: &Observed,
    cloud: &Arc<FakeCloud>,
    dir: &std::path::Path,
    k: usize,
) -> bool {
    let bell = Arc::new(Notify::new());
    let reporter = Arc::new(CrashAfter {
        k,
        finished: AtomicUsize::new(0),
        bell: bell.clone(),
    });
    let opts = options(dir);
    let run = apply::apply(
        plan,
        cloud.clone(),
        observed,
        &opts,
        reporter,
        CancellationToken::new(),
    );
    tokio::select! {
        biased;
        _ = bell.notified() => true,
        report = run => {
            assert!(report.succeeded(), "{}", failures(plan, &report));
            false
        }
    }
    // Leaving this function drops the apply: its tasks are aborted wherever they are.
}

/// Reruns apply until a plan is empty, as a person would after a crash. Returns the rounds it took.
async fn converge(desired: &Desired, cloud: &Arc<FakeCloud>, dir: &std::path::Path) -> usize {
    for round in 1..=4 {
        let (mut p, mut o) = plan(desired, cloud).await;
        // A stack the crash left mid-update is blocked until AWS finishes it ("run vibes again
        // when it has finished"): wait for that, as a person would, before applying.
        for _ in 0..100 {
            if !p
                .actions
                .iter()
                .any(|a| a.op == Op::Blocked && a.reason.contains("_IN_PROGRESS"))
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
            (p, o) = plan(desired, cloud).await;
        }
        if p.is_empty() {
            return round - 1;
        }
        assert!(
            p.actions.iter().all(|a| a.op != Op::Blocked),
            "round {round}: a crash left something blocked:\n{}",
            summary(&p)
        );
        let (report, _) = run(&p, &o, cloud, &options(dir)).await;
        assert!(
            report.succeeded(),
            "round {round}:\n{}\n{}",
            summary(&p),
            failures(&p, &report)
        );
    }
    let (p, _) = plan(desired, cloud).await;
    panic!(
        "no convergence after 4 applies; still planned:\n{}",
        summary(&p)
    );
}

/// Ids the fake hands out in creation order; a crash changes the order, not what exists.
fn normalise_id(v: &str) -> String {
    for prefix in ["ami-", "vol-", "snap-", "i-", "key-", "build-"] {
        if let Some(rest) = v.strip_prefix(prefix) {
            if rest.len() == 8 && rest.chars().all(|c| c.is_ascii_hexdigit()) {
                return format!("{prefix}*");
            }
        }
    }
    v.to_string()
}

fn tag(t: &tags::Tags, k: &str) -> String {
    t.get(k).cloned().unwrap_or_default()
}

/// What the account holds, as a multiset of lines independent of ids: a duplicate shows as a
/// count of 2.
async fn inventory(cloud: &FakeCloud) -> BTreeMap<String, usize> {
    let o = observe(cloud).await;
    let mut lines = Vec::new();
    for s in o.stacks.values() {
        lines.push(format!(
            "stack {} {} {:?} fp={}",
            s.stack_name,
            s.status,
            s.parameters,
            tag(&s.tags, tags::FINGERPRINT)
        ));
    }
    for k in o.key_pairs.values() {
        lines.push(format!(
            "key {} {} fp={}",
            k.key_name,
            tag(&k.tags, tags::ADDRESS),
            tag(&k.tags, tags::FINGERPRINT)
        ));
    }
    for p in o.parameters.values() {
        let value = if p.secure {
            "(secure)".to_string()
        } else {
            normalise_id(p.value.as_deref().unwrap_or(""))
        };
        lines.push(format!(
            "parameter {} {value} {}",
            p.name,
            tag(&p.tags, tags::ADDRESS)
        ));
    }
    for i in o.images.values() {
        lines.push(format!(
            "image {} {} fp={}",
            tag(&i.tags, tags::ADDRESS),
            i.state,
            tag(&i.tags, tags::FINGERPRINT)
        ));
    }
    for v in o.volumes.values() {
        lines.push(format!(
            "volume {} {} {}",
            tag(&v.tags, tags::ADDRESS),
            v.size_gib,
            v.state
        ));
    }
    for s in o.snapshots.values() {
        lines.push(format!(
            "snapshot {} {} built-from={}",
            tag(&s.tags, tags::ADDRESS),
            s.state,
            tag(&s.tags, tags::BUILT_FROM)
        ));
    }
    for i in cloud.instances() {
        if i.state.as_str() != "terminated" {
            lines.push(format!(
                "instance {} {}",
                tag(&i.tags, tags::ADDRESS),
                i.state
            ));
        }
    }
    if let Some(b) = &o.sources_bucket {
        for (key, obj) in &b.objects {
            lines.push(format!(
                "object {}/{key} {} {:?}",
                b.bucket, obj.size, obj.sha256
            ));
        }
    }
    let mut m = BTreeMap::new();
    for l in lines {
        *m.entry(l).or_default() += 1;
    }
    m
}

fn diff(want: &BTreeMap<String, usize>, got: &BTreeMap<String, usize>) -> String {
    let mut out = String::new();
    for (l, n) in want {
        if got.get(l) != Some(n) {
            out += &format!("- {n}x {l}\n");
        }
    }
    for (l, n) in got {
        if want.get(l) != Some(n) {
            out += &format!("+ {n}x {l}\n");
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_at_every_action_boundary_is_repaired_by_the_next_apply() {
    // The account as an uninterrupted apply leaves it.
    let dir = tempfile::tempdir().unwrap();
    let desired = full_desired(dir.path());
    let cloud = slow_cloud();
    let (full_plan, _) = plan(&desired, &cloud).await;
    let boundaries = full_plan.actions.len();
    converge(&desired, &cloud, dir.path()).await;
    let want = inventory(&cloud).await;
    assert!(
        want.values().all(|&n| n == 1),
        "the reference holds duplicates: {want:#?}"
    );

    let mut crash_points = 0;
    let mut extra_rounds = 0;
    for k in 0..boundaries {
        let dir = tempfile::tempdir().unwrap();
        let desired = full_desired(dir.path());
        let cloud = slow_cloud();
        let (p, o) = plan(&desired, &cloud).await;
        assert_eq!(p.actions.len(), boundaries);
        if !apply_and_crash(&p, &o, &cloud, dir.path(), k).await {
            continue;
        }
        crash_points += 1;
        extra_rounds += converge(&desired, &cloud, dir.path()).await;

        let got = inventory(&cloud).await;
        assert_eq!(
            got,
            want,
            "crash after {k} of {boundaries} actions: the repaired account differs\n{}",
            diff(&want, &got)
        );
        let workers: Vec<_> = cloud
            .instances()
            .into_iter()
            .filter(|i| {
                i.tags.get(tags::ADDRESS).map(String::as_str) == Some("compile")
                    && i.state.as_str() != "terminated"
            })
            .collect();
        assert!(
            workers.is_empty(),
            "crash after {k}: a worker is left running: {workers:?}"
        );
    }
    assert!(
        crash_points >= boundaries - 1,
        "only {crash_points} of {boundaries} crash points were reached"
    );
    eprintln!("crash figures: {crash_points} crash points tried over {boundaries} actions; repair took {extra_rounds} applies in all");
}
