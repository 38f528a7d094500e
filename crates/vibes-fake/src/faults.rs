//! Fault injection and what the fake saw: latencies and faults per operation, and the log,
//! counts and calls in flight that every call goes through [`FakeCloud::enter`] to record.

use super::world::{CompileBehaviour, ImageBuildBehaviour};
use super::FakeCloud;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::time::Instant;
use vibes_core::cloud::{CloudError, CloudResult};

/// What an injected fault returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// Throttling: the executor retries it.
    Transient,
    /// An error no retry fixes.
    Permanent,
}

#[derive(Debug, Clone)]
enum When {
    Always,
    /// The n-th call of the operation (from 1).
    Nth(u64),
}

#[derive(Debug, Clone)]
struct Fault {
    op: String,
    when: When,
    kind: FaultKind,
}

/// One call to the fake, as seen from outside.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub op: &'static str,
    /// What it was about: a stack, parameter, key or instance name, a bucket key, …
    pub target: String,
    pub start: Instant,
    pub end: Instant,
    /// False when an injected fault failed it.
    pub ok: bool,
}

#[derive(Debug)]
pub(super) struct Knobs {
    pub(super) latency: BTreeMap<String, Duration>,
    faults: Vec<Fault>,
    rate: Option<(f64, fastrand::Rng)>,
    counts: BTreeMap<&'static str, u64>,
    pub(super) compile: CompileBehaviour,
    pub(super) image_build_log: Vec<String>,
    pub(super) image_build: ImageBuildBehaviour,
    pub(super) stack_failures: BTreeMap<String, String>,
    pub(super) stack_outputs: BTreeMap<String, BTreeMap<String, String>>,
    /// How long a launched instance stays unknown to reads.
    pub(super) read_lag: Duration,
    /// Instance type → the zones that offer it, where not every zone does.
    pub(super) offerings: BTreeMap<String, Vec<String>>,
}

impl Knobs {
    pub(super) fn new() -> Self {
        Knobs {
            latency: BTreeMap::new(),
            faults: Vec::new(),
            rate: None,
            counts: BTreeMap::new(),
            compile: CompileBehaviour::Succeed,
            image_build_log: Vec::new(),
            image_build: ImageBuildBehaviour::Succeed,
            stack_failures: BTreeMap::new(),
            stack_outputs: BTreeMap::new(),
            read_lag: Duration::ZERO,
            offerings: BTreeMap::new(),
        }
    }
}

/// Counts a call in flight from its start to its end, and logs it when it ends (also when the
/// caller drops it half way).
pub(super) struct Span<'a> {
    fake: &'a FakeCloud,
    op: &'static str,
    target: String,
    start: Instant,
    ok: bool,
}

impl Drop for Span<'_> {
    fn drop(&mut self) {
        self.fake.in_flight.fetch_sub(1, Ordering::SeqCst);
        let call = Call {
            op: self.op,
            target: std::mem::take(&mut self.target),
            start: self.start,
            end: Instant::now(),
            ok: self.ok,
        };
        self.fake.log.lock().expect("log lock").push(call);
    }
}

impl FakeCloud {
    /// How long `op` takes: a method name, or one of `stack`, `image_build`, `snapshot`,
    /// `instance_start`, `compile_run`.
    pub fn set_latency(&self, op: &str, latency: Duration) {
        self.knobs().latency.insert(op.into(), latency);
    }
    /// Every call of `op` fails.
    pub fn fail_always(&self, op: &str, kind: FaultKind) {
        self.knobs().faults.push(Fault {
            op: op.into(),
            when: When::Always,
            kind,
        });
    }
    /// The `n`-th call of `op` (from 1) fails.
    pub fn fail_nth(&self, op: &str, n: u64, kind: FaultKind) {
        self.knobs().faults.push(Fault {
            op: op.into(),
            when: When::Nth(n),
            kind,
        });
    }
    /// Each call fails with throttling with probability `rate`, from a seeded generator.
    pub fn fail_rate(&self, rate: f64, seed: u64) {
        self.knobs().rate = Some((rate, fastrand::Rng::with_seed(seed)));
    }
    pub fn clear_faults(&self) {
        let mut k = self.knobs();
        k.faults.clear();
        k.rate = None;
    }

    /// Every call so far, in the order they ended.
    pub fn calls(&self) -> Vec<Call> {
        self.log.lock().expect("log lock").clone()
    }
    /// How many calls of `op` were made.
    pub fn count(&self, op: &str) -> u64 {
        self.knobs().counts.get(op).copied().unwrap_or(0)
    }
    /// The most calls that were ever in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    pub(super) fn knobs(&self) -> std::sync::MutexGuard<'_, Knobs> {
        self.knobs.lock().expect("knobs lock")
    }

    pub(super) fn latency(&self, op: &str) -> Duration {
        self.knobs().latency.get(op).copied().unwrap_or_default()
    }

    /// Starts a call: counts it in flight, waits its latency, then fails it if a fault says so.
    pub(super) async fn enter(&self, op: &'static str, target: &str) -> CloudResult<Span<'_>> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let mut span = Span {
            fake: self,
            op,
            target: target.to_string(),
            start: Instant::now(),
            ok: false,
        };
        let fault = {
            let mut k = self.knobs();
            let n = {
                let c = k.counts.entry(op).or_default();
                *c += 1;
                *c
            };
            let mut fault = k
                .faults
                .iter()
                .find(|f| {
                    f.op == op
                        && matches!(f.when, When::Always | When::Nth(_))
                        && !matches!(f.when, When::Nth(m) if m != n)
                })
                .map(|f| f.kind);
            if fault.is_none() {
                if let Some((rate, rng)) = k.rate.as_mut() {
                    if rng.f64() < *rate {
                        fault = Some(FaultKind::Transient);
                    }
                }
            }
            fault
        };
        let latency = self.latency(op);
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        match fault {
            Some(FaultKind::Transient) => Err(CloudError::Transient {
                operation: op.into(),
                message: "Throttling: Rate exceeded (injected)".into(),
            }),
            Some(FaultKind::Permanent) => {
                Err(CloudError::permanent(op, "InternalFailure (injected)"))
            }
            None => {
                span.ok = true;
                Ok(span)
            }
        }
    }
}
