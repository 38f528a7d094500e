//! Launching instances (the compile's worker, the rsync server) so that a launch never gets an
//! earlier one's instance back, and a worker never outlives the task that launched it.
//!
//! EC2 answers a repeated RunInstances ClientToken with the instance it first launched, for at
//! least 24 hours after that instance terminated. So each launch *attempt* has a token of its
//! own, made of:
//! - the project and address, to read in CloudTrail;
//! - a hash of everything the launch is (the plan's identity of it, the launch template, image,
//!   instance type, volumes mapped and tags), so a token is never reused for another request;
//! - the apply's run id (fresh for each apply unless
//!   [`ApplyOptions::run_id`](crate::apply::ApplyOptions::run_id) fixes one), so a rerun after a
//!   finished, failed or interrupted attempt launches afresh;
//! - a renewal count, for when EC2 still answers with an ended instance or refuses the token.
//!
//! Retries within one attempt (the SDK's, and the retrier's after throttling or a lost answer)
//! send the same token, so EC2 launches at most one instance for them.
//!
//! A crash between RunInstances and anything after it leaves an instance no token will find
//! again; it is not lost: it carries the vibes tags from creation, so the next plan sees it —
//! a leftover worker is terminated by the compile action, a server is adopted or replaced.

use super::{Context, EffectError};
use crate::address::Address;
use crate::cloud::{Cloud, CloudError, CloudResult, InstanceRequest};
use crate::observed::ObservedInstance;
use crate::tags;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How long an instance just launched may stay unknown to EC2's reads (they are eventually
/// consistent) before a "not found" is believed.
pub const VISIBILITY_GRACE: Duration = Duration::from_secs(120);
/// The first pause between reads of an instance not visible yet; it doubles up to the last.
const FIRST_PAUSE: Duration = Duration::from_millis(50);
const LAST_PAUSE: Duration = Duration::from_secs(5);
/// Launches under renewed tokens before giving up.
pub const MAX_LAUNCHES: u32 = 3;
/// Every state an instance can be in: a wait for any of them answers once a read shows it.
pub const ANY_STATE: [&str; 6] = [
    "pending",
    "running",
    "stopping",
    "stopped",
    "shutting-down",
    "terminated",
];

/// A fresh run id: 12 hex digits from the clock, the process and a counter.
pub fn new_run_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    tags::short_hash(&[
        &nanos.to_le_bytes(),
        &std::process::id().to_le_bytes(),
        &COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes(),
    ])[..12]
        .to_string()
}

/// The ClientToken of one launch attempt (at most 64 ASCII characters, as EC2 requires):
/// `<project-address>-<what the launch is>-<run>-<renewal>`. `identity` is what the plan says
/// the launch is for (its token: address and fingerprint). The request's own token is
/// not part of it.
pub fn launch_token(
    project: &str,
    address: &Address,
    identity: &[&str],
    req: &InstanceRequest,
    run_id: &str,
    renewal: u32,
) -> String {
    let what = tags::fingerprint_of(&(
        identity,
        &req.launch_template,
        &req.image_id,
        &req.instance_type,
        &req.volumes,
        &req.volume_sizes,
        &req.empty_volumes,
        &req.tags,
        req.spot,
    ));
    let run: String = run_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(12)
        .collect();
    format!(
        "{}-{what}-{run}-{renewal}",
        tags::token_name(project, address, 24)
    )
}

/// Launches `req` under a token of this attempt and returns the instance id as soon as EC2
/// answers. When the answer is an instance of an earlier launch (ended) or a refused token,
/// launches again under a renewed token, up to [`MAX_LAUNCHES`] in all.
pub(super) async fn launch(
    cx: &Context,
    effect: &'static str,
    address: &Address,
    identity: &[&str],
    mut req: InstanceRequest,
) -> Result<String, EffectError> {
    let cloud = cx.cloud.as_ref();
    for renewal in 0..MAX_LAUNCHES {
        req.client_token = launch_token(
            &cx.options.project,
            address,
            identity,
            &req,
            &cx.run_id,
            renewal,
        );
        // The retrier resends the same token: a retry after throttling or a lost answer gets
        // the instance the first try launched.
        match cx.retrier.run(|_| cloud.run_instance(&req)).await {
            Ok(id) => return Ok(id),
            Err(CloudError::InstanceEnded {
                instance_id, state, ..
            }) => {
                tracing::info!(%address, instance = %instance_id, %state, token = %req.client_token,
                    "the launch token belongs to an ended instance; launching under a new one");
            }
            Err(CloudError::IdempotentParameterMismatch { message, .. }) => {
                tracing::warn!(%address, token = %req.client_token, %message,
                    "the launch token was used for another request; launching under a new one");
            }
            Err(source) => return Err(EffectError::Cloud { effect, source }),
        }
    }
    Err(EffectError::Launch {
        address: address.clone(),
        attempts: MAX_LAUNCHES,
    })
}

/// Calls `read` until it finds the instance: a "not found" within `grace` of `started` is
/// EC2 not knowing a new instance yet, and is read again after a pause.
async fn through_lag<T, F, Fut>(started: Instant, grace: Duration, mut read: F) -> CloudResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = CloudResult<T>>,
{
    let mut pause = FIRST_PAUSE;
    loop {
        match read().await {
            Err(CloudError::NotFound { .. }) if started.elapsed() < grace => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(LAST_PAUSE);
            }
            other => return other,
        }
    }
}

/// Waits until an instance this apply just launched is in one of `states`, through the moment
/// when EC2's reads do not know it yet.
pub(super) async fn wait_launched(
    cx: &Context,
    effect: &'static str,
    instance_id: &str,
    states: &[&str],
    timeout: Duration,
) -> Result<ObservedInstance, EffectError> {
    let cloud = cx.cloud.as_ref();
    let started = Instant::now();
    through_lag(started, VISIBILITY_GRACE.min(timeout), || {
        let left = timeout.saturating_sub(started.elapsed());
        cx.retrier
            .run(move |_| cloud.wait_instance(instance_id, states, left))
    })
    .await
    .map_err(|source| EffectError::Cloud { effect, source })
}

/// Terminates an instance once a read shows it: TerminateInstances says "not found" of an
/// instance launched a moment ago, which then runs on (and the cloud takes "not found" for
/// "already gone").
async fn terminate_when_visible(cloud: &dyn Cloud, instance_id: &str) -> CloudResult<()> {
    let seen = through_lag(Instant::now(), VISIBILITY_GRACE, || {
        cloud.wait_instance(instance_id, &ANY_STATE, VISIBILITY_GRACE)
    })
    .await;
    match seen {
        // Still unknown after the grace: it does not exist.
        Ok(_) | Err(CloudError::NotFound { .. }) => cloud.terminate_instance(instance_id).await,
        Err(e) => Err(e),
    }
}

/// Terminates a worker when dropped unless [`WorkerGuard::terminate`] ran: an apply task that
/// is dropped mid-compile does not leave a worker running. It is armed the moment RunInstances
/// answers ([`WorkerGuard::launch`]), before any other call.
pub(super) struct WorkerGuard {
    cloud: Arc<dyn Cloud>,
    instance_id: String,
    armed: bool,
    /// A read has shown the instance, so a terminate reaches it.
    seen: bool,
}

impl WorkerGuard {
    /// Launches the worker and arms its guard in the same step: there is no await between
    /// RunInstances answering and the guard holding the id, so no drop can fall between them.
    pub async fn launch(
        cx: &Context,
        address: &Address,
        identity: &[&str],
        req: InstanceRequest,
    ) -> Result<WorkerGuard, EffectError> {
        let instance_id = launch(cx, "launch worker", address, identity, req).await?;
        Ok(WorkerGuard {
            cloud: cx.cloud.clone(),
            instance_id,
            armed: true,
            seen: false,
        })
    }

    pub fn id(&self) -> &str {
        &self.instance_id
    }

    /// A read has shown the instance (a wait on it answered).
    pub fn seen(&mut self) {
        self.seen = true;
    }

    pub async fn terminate(mut self, cx: &Context) -> Result<(), EffectError> {
        self.armed = false;
        let cloud = self.cloud.as_ref();
        let id = self.instance_id.as_str();
        if self.seen {
            cx.call_gone("terminate worker", |_| cloud.terminate_instance(id))
                .await
        } else {
            cx.call_gone("terminate worker", |_| terminate_when_visible(cloud, id))
                .await
        }
    }
}

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let cloud = self.cloud.clone();
            let id = std::mem::take(&mut self.instance_id);
            let seen = self.seen;
            tracing::warn!(instance = %id, "compile stopped early: terminating its worker");
            rt.spawn(async move {
                let done = if seen {
                    cloud.terminate_instance(&id).await
                } else {
                    terminate_when_visible(cloud.as_ref(), &id).await
                };
                if let Err(e) = done {
                    tracing::error!(instance = %id, error = %e, "could not terminate the worker");
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn request() -> InstanceRequest {
        InstanceRequest {
            launch_template: "lt-0123456789abcdef0".into(),
            image_id: "ami-0123456789abcdef0".into(),
            instance_type: "c6i.large".into(),
            tags: tags::ownership(
                "a-rather-long-project-name",
                &Address::compile(),
                "9cc240bf049214ea",
            ),
            client_token: String::new(),
            volumes: BTreeMap::new(),
            volume_sizes: Default::default(),
            empty_volumes: BTreeMap::new(),
            spot: false,
        }
    }

    #[test]
    fn a_launch_token_fits_ec2_and_changes_with_every_parameter_and_attempt() {
        let project = "a-rather-long-project-name";
        let token = |req: &InstanceRequest, run: &str, renewal| {
            launch_token(project, &Address::compile(), &["plan"], req, run, renewal)
        };
        let base = request();
        let t = token(&base, "0123456789ab", 0);
        assert!(t.len() <= 64, "{t} is {} long", t.len());
        assert!(
            t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
            "{t}"
        );
        assert!(t.starts_with("a-rather-long-project-na-"), "{t}");
        // One attempt, one token: its retries are idempotent.
        assert_eq!(t, token(&base, "0123456789ab", 0));
        // The token sent is not part of what the launch is.
        let mut sent = base.clone();
        sent.client_token = t.clone();
        assert_eq!(t, token(&sent, "0123456789ab", 0));

        let mut changed = vec![
            token(&base, "ba9876543210", 0),
            token(&base, "0123456789ab", 1),
            launch_token(
                project,
                &Address::compile(),
                &["other"],
                &base,
                "0123456789ab",
                0,
            ),
        ];
        let edits: [fn(&mut InstanceRequest); 6] = [
            |r| r.launch_template = "lt-1".into(),
            |r| r.image_id = "ami-1".into(),
            |r| r.instance_type = "c6i.xlarge".into(),
            |r| {
                r.tags.insert("vibes:snapshot".into(), "snap-1".into());
            },
            |r| {
                r.volumes.insert("/dev/sdf".into(), "snap-1".into());
            },
            |r| {
                r.empty_volumes.insert("/dev/sdf".into(), 200);
            },
        ];
        for edit in edits {
            let mut r = base.clone();
            edit(&mut r);
            changed.push(token(&r, "0123456789ab", 0));
        }
        for c in &changed {
            assert_ne!(c, &t);
            assert!(c.len() <= 64);
        }
        let distinct: std::collections::BTreeSet<_> = changed.iter().collect();
        assert_eq!(distinct.len(), changed.len(), "{changed:#?}");
    }

    #[test]
    fn run_ids_differ() {
        let ids: std::collections::BTreeSet<_> = (0..100).map(|_| new_run_id()).collect();
        assert_eq!(ids.len(), 100);
        assert!(ids.iter().all(|i| i.len() == 12));
    }
}
