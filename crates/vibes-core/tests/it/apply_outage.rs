//! An outage stops the apply: when the cloud stops answering, the first action to exhaust its
//! retries stops the start of new ones; what is in flight gets its retries; the report says why.
//! Without this, each of 1,000 pending actions spent its own retries learning the same.

use crate::support::apply::*;
use std::sync::Arc;
use std::time::Duration;
use vibes_core::apply::Outcome;
use vibes_fake::{FakeCloud, FaultKind};

#[tokio::test(start_paused = true)]
async fn a_cloud_that_stops_answering_stops_the_apply_within_one_round_of_retries() {
    let dir = tempfile::tempdir().unwrap();
    let profiles: String = (0..1000)
        .map(|i| format!("[profiles.p{i:04}]\nencoder = \"flac\"\n\n"))
        .collect();
    let desired = vibes_core::config::load_str(
        &format!("[project]\nname = \"{PROJECT}\"\n\n{profiles}"),
        "vibes.toml",
        dir.path(),
    )
    .unwrap();
    let cloud = Arc::new(FakeCloud::new());
    let (plan, observed) = plan(&desired, &cloud).await;
    assert_eq!(plan.actions.len(), 1000);

    // Every write answers as an endpoint that is gone does: a transient error, every time.
    cloud.fail_always("put_parameter", FaultKind::Transient);
    let mut options = options(dir.path());
    options.parallelism = 10;
    options.retry.base_delay = Duration::from_millis(500);
    options.retry.max_delay = Duration::from_secs(20);
    let started = tokio::time::Instant::now();
    let (report, _) = run(&plan, &observed, &cloud, &options).await;
    let took = started.elapsed();

    let count = |f: fn(&Outcome) -> bool| report.outcomes.iter().filter(|o| f(o)).count();
    let failed = count(|o| matches!(o, Outcome::Failed { .. }));
    let not_started = count(|o| matches!(o, Outcome::NotStarted));
    assert!(report.outage.is_some(), "the report says why it stopped");
    assert!(!report.succeeded());
    assert!(
        failed <= 10,
        "only what was in flight ran out of retries: {failed}"
    );
    assert_eq!(failed + not_started, 1000);
    // One round of retries (0.5 + 1 + 2 + 4 + 8 s of backoff, with jitter), not 100 rounds.
    assert!(took < Duration::from_secs(30), "took {took:?}");
    let calls = cloud
        .calls()
        .iter()
        .filter(|c| c.op == "put_parameter")
        .count();
    assert!(calls <= 10 * 6, "{calls} writes tried");
    eprintln!(
        "outage: {failed} failed, {not_started} not started, {calls} calls, {took:?} (logical)"
    );
}
