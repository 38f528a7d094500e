//! An in-memory [`Cloud`] for tests of plan and apply: deterministic ids (`ami-00000001`,
//! `vol-00000001`, …), creation times from a logical clock, tags kept as given, and an
//! `observe` that answers as the real adapter does. Tests set latencies per operation and
//! inject faults, and read a log of every call with its start and end.
//!
//! Operation names (for latencies and faults) are the [`Cloud`] method names (`create_stack`,
//! `put_object_from_file`, `wait_instance`, …). These name the time things take in the cloud
//! itself, after the call that starts them: `stack` (to settle), `image_build`, `snapshot`,
//! `instance_start` and `compile_run` (a worker's compile, from when its builds volume is
//! attached).
//!
//! Where moto does not show what AWS does, the fake follows AWS: client tokens ([`tokens`]) and
//! reads that lag a launch ([`lag`], off unless [`FakeCloud::set_read_lag`] sets it).

mod instances;
mod lag;
mod tokens;
mod world;

pub use world::{CompileBehaviour, ImageBuildBehaviour};

use super::{
    BuildOutcome, Cloud, CloudError, CloudResult, ImageBuildRequest, InstanceRequest, StackRequest,
    StackState, StackUpdate,
};
use crate::observed::{
    Observed, ObservedBucket, ObservedImage, ObservedInstance, ObservedKeyPair, ObservedObject,
    ObservedParameter, ObservedSnapshot, ObservedStack, ObservedVolume,
};
use crate::secret::Secret;
use crate::tags::{self, Tags};
use async_trait::async_trait;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;
use world::{Build, KeyPair, Stack, World};

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
struct Knobs {
    latency: BTreeMap<String, Duration>,
    faults: Vec<Fault>,
    rate: Option<(f64, fastrand::Rng)>,
    counts: BTreeMap<&'static str, u64>,
    compile: CompileBehaviour,
    image_build: ImageBuildBehaviour,
    stack_failures: BTreeMap<String, String>,
    stack_outputs: BTreeMap<String, BTreeMap<String, String>>,
    /// How long a launched instance stays unknown to reads.
    read_lag: Duration,
}

pub struct FakeCloud {
    world: Mutex<World>,
    knobs: Mutex<Knobs>,
    log: Mutex<Vec<Call>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl Default for FakeCloud {
    fn default() -> Self {
        Self::new()
    }
}

/// Counts a call in flight from its start to its end, and logs it when it ends (also when the
/// caller drops it half way).
struct Span<'a> {
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
    pub fn new() -> Self {
        FakeCloud {
            world: Mutex::new(World::default()),
            knobs: Mutex::new(Knobs {
                latency: BTreeMap::new(),
                faults: Vec::new(),
                rate: None,
                counts: BTreeMap::new(),
                compile: CompileBehaviour::Succeed,
                image_build: ImageBuildBehaviour::Succeed,
                stack_failures: BTreeMap::new(),
                stack_outputs: BTreeMap::new(),
                read_lag: Duration::ZERO,
            }),
            log: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        }
    }

    // ------------------------------------------------------------ knobs

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
    pub fn set_compile(&self, behaviour: CompileBehaviour) {
        self.knobs().compile = behaviour;
    }
    pub fn set_image_build(&self, behaviour: ImageBuildBehaviour) {
        self.knobs().image_build = behaviour;
    }
    /// Creates and updates of `stack_name` roll back with `reason`.
    pub fn fail_stack(&self, stack_name: &str, reason: &str) {
        self.knobs()
            .stack_failures
            .insert(stack_name.into(), reason.into());
    }
    /// The outputs `stack_name` gets when it settles (instead of the defaults).
    pub fn set_stack_outputs(&self, stack_name: &str, outputs: BTreeMap<String, String>) {
        self.knobs()
            .stack_outputs
            .insert(stack_name.into(), outputs);
    }
    /// For `lag` after each launch, reads do not know the instance: `wait_instance` answers
    /// NotFound, `observe` leaves it out, and `terminate_instance` leaves it running (see
    /// [`lag`]), as EC2's eventually consistent reads do.
    pub fn set_read_lag(&self, lag: Duration) {
        self.knobs().read_lag = lag;
    }
    /// An image registered outside vibes (as Packer registers one), carrying `tags`.
    pub fn add_image(&self, name: &str, tags: Tags) -> String {
        let mut w = self.world();
        let image_id = w.id("ami");
        let created = w.stamp();
        w.images.insert(
            image_id.clone(),
            ObservedImage {
                image_id: image_id.clone(),
                name: name.into(),
                state: "available".into(),
                created,
                tags,
            },
        );
        image_id
    }
    /// A bucket made outside vibes.
    pub fn add_bucket(&self, bucket: &str) {
        self.world().buckets.entry(bucket.into()).or_default();
    }
    /// A key pair made outside vibes: by hand without tags (to be adopted), or with `tags`.
    pub fn add_key_pair(&self, key_name: &str, tags: Tags) {
        let mut w = self.world();
        let id = w.id("key");
        w.key_pairs.insert(key_name.into(), KeyPair { id, tags });
    }

    // ------------------------------------------------------------ what happened

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
    /// An instance as it is now, terminated ones included.
    pub fn instance(&self, instance_id: &str) -> Option<ObservedInstance> {
        self.world()
            .instances
            .get(instance_id)
            .map(|i| i.observed.clone())
    }
    /// Every instance ever launched, terminated ones included.
    pub fn instances(&self) -> Vec<ObservedInstance> {
        self.world()
            .instances
            .values()
            .map(|i| i.observed.clone())
            .collect()
    }
    /// A parameter's value, SecureStrings included (as `get-parameter --with-decryption`).
    pub fn parameter(&self, name: &str) -> Option<String> {
        self.world().parameters.get(name).map(|p| p.value.clone())
    }
    /// The volumes or snapshots an instance was launched with: device → id.
    pub fn attached(&self, instance_id: &str) -> BTreeMap<String, String> {
        self.world()
            .instances
            .get(instance_id)
            .map(|i| i.volumes.clone())
            .unwrap_or_default()
    }
    pub fn object(&self, bucket: &str, key: &str) -> Option<ObservedObject> {
        self.world()
            .buckets
            .get(bucket)
            .and_then(|b| b.get(key))
            .cloned()
    }

    // ------------------------------------------------------------ plumbing

    fn knobs(&self) -> std::sync::MutexGuard<'_, Knobs> {
        self.knobs.lock().expect("knobs lock")
    }

    /// The world brought up to now.
    fn world(&self) -> std::sync::MutexGuard<'_, World> {
        let mut w = self.world.lock().expect("world lock");
        w.advance(Instant::now());
        w
    }

    fn latency(&self, op: &str) -> Duration {
        self.knobs().latency.get(op).copied().unwrap_or_default()
    }

    /// Starts a call: counts it in flight, waits its latency, then fails it if a fault says so.
    async fn enter(&self, op: &'static str, target: &str) -> CloudResult<Span<'_>> {
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

    /// Polls the world until `check` answers or `timeout` passes, sleeping until the next due event.
    async fn wait_for<T>(
        &self,
        op: &'static str,
        what: String,
        timeout: Duration,
        mut check: impl FnMut(&mut World) -> CloudResult<Option<T>>,
    ) -> CloudResult<T> {
        let deadline = Instant::now() + timeout;
        loop {
            let next = {
                let mut w = self.world();
                if let Some(v) = check(&mut w)? {
                    return Ok(v);
                }
                w.next_event(Instant::now())
            };
            let now = Instant::now();
            if now >= deadline {
                return Err(CloudError::Timeout {
                    operation: op.into(),
                    what,
                    seconds: timeout.as_secs(),
                });
            }
            let until = next
                .map_or(deadline, |t| t.min(deadline))
                .max(now + Duration::from_millis(1));
            tokio::time::sleep_until(until).await;
        }
    }
}

fn not_found(op: &str, what: impl Into<String>) -> CloudError {
    CloudError::NotFound {
        operation: op.into(),
        what: what.into(),
    }
}

fn has_tags(have: &Tags, want: &Tags) -> bool {
    want.iter().all(|(k, v)| have.get(k) == Some(v))
}

fn owned_by(t: &Tags, project: &str) -> bool {
    t.get(tags::PROJECT).map(String::as_str) == Some(project)
}

#[async_trait]
impl Cloud for FakeCloud {
    async fn observe(&self, project: &str, sources_bucket: Option<&str>) -> CloudResult<Observed> {
        let _s = self.enter("observe", project).await?;
        let w = self.world();
        let prefix = format!("{project}-");
        let mut o = Observed::default();
        // As the AWS observe: tagged for the project, or under its names whoever tagged them
        // (so that the planner sees what holds a name it would use).
        for (name, st) in &w.stacks {
            let in_view = owned_by(&st.tags, project) || name.starts_with(&prefix);
            if !in_view || st.status == "DELETE_COMPLETE" {
                continue;
            }
            o.stacks.insert(
                name.clone(),
                ObservedStack {
                    stack_name: name.clone(),
                    stack_id: st.id.clone(),
                    status: st.status.clone(),
                    template_body: st.template.clone(),
                    // As CloudFormation's DescribeStacks: a NoEcho value reads back as `****`
                    // (AWS CloudFormation User Guide, "Parameters": "If you set the NoEcho
                    // attribute to true, CloudFormation returns the parameter value masked as
                    // asterisks (*****) for any calls that describe the stack"). moto does not
                    // mask (it compares values, not names, with the NoEcho keys).
                    parameters: {
                        let secret = crate::noecho::declared(&st.template);
                        st.parameters
                            .iter()
                            .map(|(k, v)| {
                                let shown = if secret.contains(k) {
                                    "****"
                                } else {
                                    v.as_str()
                                };
                                (k.clone(), shown.to_string())
                            })
                            .collect()
                    },
                    outputs: st.outputs.clone(),
                    tags: st.tags.clone(),
                },
            );
        }
        for (name, k) in &w.key_pairs {
            if owned_by(&k.tags, project) || name.starts_with(&prefix) {
                o.key_pairs.insert(
                    name.clone(),
                    ObservedKeyPair {
                        key_name: name.clone(),
                        key_pair_id: k.id.clone(),
                        tags: k.tags.clone(),
                    },
                );
            }
        }
        let path = format!("/{project}/");
        for (name, p) in w.parameters.iter().filter(|(n, _)| n.starts_with(&path)) {
            o.parameters.insert(
                name.clone(),
                ObservedParameter {
                    name: name.clone(),
                    secure: p.secure,
                    value: (!p.secure).then(|| p.value.clone()),
                    tags: p.tags.clone(),
                    version: p.version,
                },
            );
        }
        o.images = w
            .images
            .iter()
            .filter(|(_, i)| owned_by(&i.tags, project))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        o.volumes = w
            .volumes
            .iter()
            .filter(|(_, v)| owned_by(&v.tags, project))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        o.snapshots = w
            .snapshots
            .iter()
            .filter(|(_, (s, _))| owned_by(&s.tags, project))
            .map(|(k, (s, _))| (k.clone(), s.clone()))
            .collect();
        o.instances = Self::observed_instances(&w, project);
        o.sources_bucket = sources_bucket.and_then(|b| {
            w.buckets.get(b).map(|objects| ObservedBucket {
                bucket: b.into(),
                objects: objects.clone(),
            })
        });
        Ok(o)
    }

    async fn list_bucket(&self, bucket: &str) -> CloudResult<Option<ObservedBucket>> {
        let _s = self.enter("list_bucket", bucket).await?;
        Ok(self
            .world()
            .buckets
            .get(bucket)
            .map(|objects| ObservedBucket {
                bucket: bucket.into(),
                objects: objects.clone(),
            }))
    }

    // ---------------------------------------------------------------- key pairs

    async fn create_key_pair(&self, key_name: &str, tags: &Tags) -> CloudResult<Secret> {
        let _s = self.enter("create_key_pair", key_name).await?;
        let mut w = self.world();
        if w.key_pairs.contains_key(key_name) {
            return Err(CloudError::AlreadyExists {
                operation: "create_key_pair".into(),
                what: format!("key pair {key_name}"),
            });
        }
        let id = w.id("key");
        let private = Secret::new(format!(
            "-----BEGIN OPENSSH PRIVATE KEY-----\nfake {id}\n-----END OPENSSH PRIVATE KEY-----\n"
        ));
        w.key_pairs.insert(
            key_name.into(),
            KeyPair {
                id,
                tags: tags.clone(),
            },
        );
        Ok(private)
    }

    async fn import_key_pair(
        &self,
        key_name: &str,
        public_key: &str,
        tags: &Tags,
    ) -> CloudResult<()> {
        let _s = self.enter("import_key_pair", key_name).await?;
        if !public_key.starts_with("ssh-") && !public_key.starts_with("ecdsa-") {
            return Err(CloudError::permanent(
                "import_key_pair",
                "InvalidKey.Format: not an OpenSSH public key",
            ));
        }
        let mut w = self.world();
        if w.key_pairs.contains_key(key_name) {
            return Err(CloudError::AlreadyExists {
                operation: "import_key_pair".into(),
                what: format!("key pair {key_name}"),
            });
        }
        let id = w.id("key");
        w.key_pairs.insert(
            key_name.into(),
            KeyPair {
                id,
                tags: tags.clone(),
            },
        );
        Ok(())
    }

    async fn delete_key_pair(&self, key_name: &str) -> CloudResult<()> {
        let _s = self.enter("delete_key_pair", key_name).await?;
        // EC2 answers success for a key pair that does not exist.
        self.world().key_pairs.remove(key_name);
        Ok(())
    }

    async fn tag_key_pair(&self, key_name: &str, tags: &Tags) -> CloudResult<()> {
        let _s = self.enter("tag_key_pair", key_name).await?;
        let mut w = self.world();
        let k = w
            .key_pairs
            .get_mut(key_name)
            .ok_or_else(|| not_found("tag_key_pair", format!("key pair {key_name}")))?;
        k.tags.extend(tags.clone());
        Ok(())
    }

    // ---------------------------------------------------------------- parameters

    async fn put_parameter(&self, name: &str, value: &str, tags: &Tags) -> CloudResult<()> {
        let _s = self.enter("put_parameter", name).await?;
        self.world().put_param(name, value.into(), false, tags);
        Ok(())
    }

    async fn put_secure_parameter(
        &self,
        name: &str,
        value: &Secret,
        tags: &Tags,
        overwrite: bool,
    ) -> CloudResult<()> {
        let _s = self.enter("put_secure_parameter", name).await?;
        let mut w = self.world();
        if !overwrite && w.parameters.contains_key(name) {
            return Err(CloudError::AlreadyExists {
                operation: "put_secure_parameter".into(),
                what: format!("parameter {name}"),
            });
        }
        w.put_param(name, value.expose().into(), true, tags);
        Ok(())
    }

    async fn create_parameter_exclusive(
        &self,
        name: &str,
        value: &str,
        tags: &Tags,
    ) -> CloudResult<()> {
        let _s = self.enter("create_parameter_exclusive", name).await?;
        let mut w = self.world();
        if w.parameters.contains_key(name) {
            return Err(CloudError::AlreadyExists {
                operation: "create_parameter_exclusive".into(),
                what: format!("parameter {name}"),
            });
        }
        w.put_param(name, value.into(), false, tags);
        Ok(())
    }

    async fn get_parameter(&self, name: &str) -> CloudResult<Option<String>> {
        let _s = self.enter("get_parameter", name).await?;
        match self.world().parameters.get(name) {
            // As the adapter: a secret has no business in a plain `String`.
            Some(p) if p.secure => Err(CloudError::permanent(
                "get_parameter",
                format!("{name} is a SecureString; its value is not read as plain text"),
            )),
            p => Ok(p.map(|p| p.value.clone())),
        }
    }

    async fn delete_parameter(&self, name: &str) -> CloudResult<()> {
        let _s = self.enter("delete_parameter", name).await?;
        // Already gone is not an error (the trait's promise, as SSM's answer is mapped).
        self.world().parameters.remove(name);
        Ok(())
    }

    async fn tag_parameter(&self, name: &str, tags: &Tags) -> CloudResult<()> {
        let _s = self.enter("tag_parameter", name).await?;
        let mut w = self.world();
        let p = w
            .parameters
            .get_mut(name)
            .ok_or_else(|| not_found("tag_parameter", format!("parameter {name}")))?;
        p.tags.extend(tags.clone());
        Ok(())
    }

    // ---------------------------------------------------------------- stacks

    async fn create_stack(&self, req: &StackRequest) -> CloudResult<()> {
        let _s = self.enter("create_stack", &req.stack_name).await?;
        let (latency, failure, set_outputs) = {
            let k = self.knobs();
            (
                k.latency.get("stack").copied().unwrap_or_default(),
                k.stack_failures.get(&req.stack_name).cloned(),
                k.stack_outputs.get(&req.stack_name).cloned(),
            )
        };
        let mut w = self.world();
        if let Some(existing) = w
            .stacks
            .get(&req.stack_name)
            .filter(|s| s.status != "DELETE_COMPLETE")
        {
            // CloudFormation takes a repeated request with the same token for the same request.
            if existing.token == req.token {
                return Ok(());
            }
            return Err(CloudError::AlreadyExists {
                operation: "create_stack".into(),
                what: format!("stack {}", req.stack_name),
            });
        }
        let outputs = w.stack_outputs(&req.stack_name, set_outputs.as_ref());
        let id = format!(
            "arn:aws:cloudformation:us-east-1:123456789012:stack/{}/{}",
            req.stack_name,
            w.id("stack")
        );
        let final_status = if failure.is_some() {
            "ROLLBACK_COMPLETE"
        } else {
            "CREATE_COMPLETE"
        };
        w.stacks.insert(
            req.stack_name.clone(),
            Stack {
                id,
                status: "CREATE_IN_PROGRESS".into(),
                template: req.template_body.clone(),
                parameters: req.parameters.clone(),
                outputs: BTreeMap::new(),
                tags: req.tags.clone(),
                token: req.token.clone(),
                reason: failure,
                settles: Some((Instant::now() + latency, final_status.into(), outputs)),
            },
        );
        Ok(())
    }

    async fn update_stack(&self, req: &StackRequest) -> CloudResult<StackUpdate> {
        let _s = self.enter("update_stack", &req.stack_name).await?;
        let (latency, failure, set_outputs) = {
            let k = self.knobs();
            (
                k.latency.get("stack").copied().unwrap_or_default(),
                k.stack_failures.get(&req.stack_name).cloned(),
                k.stack_outputs.get(&req.stack_name).cloned(),
            )
        };
        let mut w = self.world();
        let Some(s) = w
            .stacks
            .get(&req.stack_name)
            .filter(|s| s.status != "DELETE_COMPLETE")
            .cloned()
        else {
            return Err(not_found(
                "update_stack",
                format!("stack {}", req.stack_name),
            ));
        };
        if s.status.ends_with("_IN_PROGRESS") {
            return Err(CloudError::permanent(
                "update_stack",
                format!(
                    "stack {} is in {} state and can not be updated",
                    req.stack_name, s.status
                ),
            ));
        }
        if s.template == req.template_body && s.parameters == req.parameters && s.tags == req.tags {
            return Ok(StackUpdate::NoChanges);
        }
        let outputs = w.stack_outputs(
            &req.stack_name,
            set_outputs
                .as_ref()
                .or(Some(&s.outputs))
                .filter(|o| !o.is_empty()),
        );
        let final_status = if failure.is_some() {
            "UPDATE_ROLLBACK_COMPLETE"
        } else {
            "UPDATE_COMPLETE"
        };
        let st = w.stacks.get_mut(&req.stack_name).expect("checked");
        if failure.is_none() {
            st.template = req.template_body.clone();
            st.parameters = req.parameters.clone();
            st.tags = req.tags.clone();
        }
        st.status = "UPDATE_IN_PROGRESS".into();
        st.reason = failure;
        st.settles = Some((Instant::now() + latency, final_status.into(), outputs));
        Ok(StackUpdate::Started)
    }

    async fn delete_stack(&self, stack_name: &str, _token: &str) -> CloudResult<()> {
        let _s = self.enter("delete_stack", stack_name).await?;
        let latency = self.latency("stack");
        let mut w = self.world();
        // CloudFormation answers success for a stack that does not exist.
        if let Some(s) = w
            .stacks
            .get_mut(stack_name)
            .filter(|s| s.status != "DELETE_COMPLETE")
        {
            s.status = "DELETE_IN_PROGRESS".into();
            s.settles = Some((
                Instant::now() + latency,
                "DELETE_COMPLETE".into(),
                BTreeMap::new(),
            ));
        }
        Ok(())
    }

    async fn wait_stack(&self, stack_name: &str, timeout: Duration) -> CloudResult<StackState> {
        let _s = self.enter("wait_stack", stack_name).await?;
        self.wait_for("wait_stack", format!("stack {stack_name}"), timeout, |w| {
            // DescribeStacks by name does not know a deleted stack: it reads as deleted.
            let Some(s) = w
                .stacks
                .get(stack_name)
                .filter(|s| s.status != "DELETE_COMPLETE")
            else {
                return Ok(Some(StackState {
                    status: "DELETE_COMPLETE".into(),
                    outputs: BTreeMap::new(),
                    reason: None,
                }));
            };
            if s.status.ends_with("_IN_PROGRESS") {
                return Ok(None);
            }
            Ok(Some(StackState {
                status: s.status.clone(),
                outputs: s.outputs.clone(),
                reason: s.reason.clone(),
            }))
        })
        .await
    }

    // ---------------------------------------------------------------- S3

    async fn put_object_from_file(
        &self,
        bucket: &str,
        key: &str,
        file: &Path,
        sha256_hex: &str,
    ) -> CloudResult<()> {
        let _s = self.enter("put_object_from_file", key).await?;
        let body = tokio::fs::read(file).await.map_err(|e| {
            CloudError::permanent("put_object_from_file", format!("{}: {e}", file.display()))
        })?;
        let sha = hex::encode(Sha256::digest(&body));
        if !sha.eq_ignore_ascii_case(sha256_hex) {
            return Err(CloudError::permanent(
                "put_object_from_file",
                format!("BadDigest: {key}: the SHA-256 sent does not match the content"),
            ));
        }
        let mut w = self.world();
        let b = w
            .buckets
            .get_mut(bucket)
            .ok_or_else(|| not_found("put_object_from_file", format!("bucket {bucket}")))?;
        b.insert(
            key.into(),
            ObservedObject {
                size: body.len() as u64,
                sha256: Some(sha),
            },
        );
        Ok(())
    }

    async fn put_object(&self, bucket: &str, key: &str, body: Vec<u8>) -> CloudResult<()> {
        let _s = self.enter("put_object", key).await?;
        let mut w = self.world();
        let b = w
            .buckets
            .get_mut(bucket)
            .ok_or_else(|| not_found("put_object", format!("bucket {bucket}")))?;
        // The adapter sends every body with its SHA-256, which a listing then shows.
        b.insert(
            key.into(),
            ObservedObject {
                size: body.len() as u64,
                sha256: Some(hex::encode(Sha256::digest(&body))),
            },
        );
        Ok(())
    }

    /// Counted, as the adapter's is a call AWS bills; the fake's listing is free anyway, so
    /// it keeps no manifest.
    async fn write_bucket_manifest(
        &self,
        bucket: &str,
        _revision: &str,
        _uploaded: &crate::bucket_manifest::Uploaded,
    ) -> CloudResult<()> {
        let _s = self.enter("write_bucket_manifest", bucket).await?;
        Ok(())
    }

    async fn delete_bucket(&self, bucket: &str) -> CloudResult<()> {
        let _s = self.enter("delete_bucket", bucket).await?;
        self.world()
            .buckets
            .remove(bucket)
            .map(|_| ())
            .ok_or_else(|| not_found("delete_bucket", format!("bucket {bucket}")))
    }

    async fn delete_objects(&self, bucket: &str, keys: &[String]) -> CloudResult<()> {
        let _s = self.enter("delete_objects", bucket).await?;
        if keys.len() > 1000 {
            return Err(CloudError::permanent(
                "delete_objects",
                format!(
                    "MalformedXML: {} keys in one request, at most 1000",
                    keys.len()
                ),
            ));
        }
        let mut w = self.world();
        let b = w
            .buckets
            .get_mut(bucket)
            .ok_or_else(|| not_found("delete_objects", format!("bucket {bucket}")))?;
        for k in keys {
            b.remove(k);
        }
        Ok(())
    }

    // ---------------------------------------------------------------- images

    async fn start_image_build(&self, req: &ImageBuildRequest) -> CloudResult<String> {
        let _s = self
            .enter("start_image_build", &req.codebuild_project)
            .await?;
        let (latency, behaviour) = {
            let k = self.knobs();
            (
                k.latency.get("image_build").copied().unwrap_or_default(),
                k.image_build.clone(),
            )
        };
        let mut w = self.world();
        if let Some(id) = w.build_tokens.get(&req.token) {
            return Ok(id.clone());
        }
        if req.codebuild_project.is_empty() {
            return Err(CloudError::permanent(
                "start_image_build",
                "InvalidInputException: no project name",
            ));
        }
        let recipe_key = format!("{}{}", req.recipe_prefix, req.recipe);
        let recipe_present = w
            .buckets
            .get(&req.artifacts_bucket)
            .is_some_and(|b| b.contains_key(&recipe_key));
        let id = format!("{}:{}", req.codebuild_project, w.id("build"));
        w.build_tokens.insert(req.token.clone(), id.clone());
        w.builds.insert(
            id.clone(),
            Build {
                req: req.clone(),
                done_at: Instant::now() + latency,
                behaviour,
                recipe_present,
                status: None,
            },
        );
        Ok(id)
    }

    async fn wait_image_build(
        &self,
        build_id: &str,
        timeout: Duration,
    ) -> CloudResult<BuildOutcome> {
        let _s = self.enter("wait_image_build", build_id).await?;
        self.wait_for(
            "wait_image_build",
            format!("build {build_id}"),
            timeout,
            |w| {
                let b = w
                    .builds
                    .get(build_id)
                    .ok_or_else(|| not_found("wait_image_build", format!("build {build_id}")))?;
                Ok(b.status.clone().map(|status| BuildOutcome {
                    build_id: build_id.into(),
                    status,
                }))
            },
        )
        .await
    }

    async fn find_image(&self, tags: &Tags) -> CloudResult<Option<ObservedImage>> {
        let _s = self.enter("find_image", &format!("{tags:?}")).await?;
        let w = self.world();
        let newest = w
            .images
            .values()
            .filter(|i| i.state == "available" && has_tags(&i.tags, tags))
            .max_by(|a, b| (&a.created, &a.image_id).cmp(&(&b.created, &b.image_id)));
        Ok(newest.cloned())
    }

    async fn deregister_image(&self, image_id: &str) -> CloudResult<()> {
        let _s = self.enter("deregister_image", image_id).await?;
        // Already gone is not an error.
        self.world().images.remove(image_id);
        Ok(())
    }

    // ---------------------------------------------------------------- EBS

    async fn create_volume(
        &self,
        size_gib: u32,
        availability_zone: &str,
        tags: &Tags,
        token: &str,
    ) -> CloudResult<String> {
        let _s = self.enter("create_volume", token).await?;
        let parameters = tokens::parameters_hash(&(size_gib, availability_zone, tags));
        let mut w = self.world();
        match w.volume_tokens.claim(token, &parameters) {
            tokens::Claim::New => {}
            tokens::Claim::Repeat(id) => return Ok(id),
            tokens::Claim::Mismatch => {
                return Err(CloudError::IdempotentParameterMismatch {
                    operation: "create_volume".into(),
                    message: format!("client token {token} was used with other parameters"),
                })
            }
        }
        if availability_zone.is_empty() {
            return Err(CloudError::permanent(
                "create_volume",
                "InvalidParameterValue: no availability zone",
            ));
        }
        let id = w.id("vol");
        w.volume_tokens.record(token, &parameters, &id);
        w.volumes.insert(
            id.clone(),
            ObservedVolume {
                volume_id: id.clone(),
                size_gib,
                state: "available".into(),
                tags: tags.clone(),
            },
        );
        Ok(id)
    }

    async fn create_snapshot(&self, volume_id: &str, tags: &Tags) -> CloudResult<String> {
        let _s = self.enter("create_snapshot", volume_id).await?;
        let latency = self.latency("snapshot");
        let mut w = self.world();
        if !w.volumes.contains_key(volume_id) {
            return Err(not_found("create_snapshot", format!("volume {volume_id}")));
        }
        let id = w.id("snap");
        let started = w.stamp();
        let snap = ObservedSnapshot {
            snapshot_id: id.clone(),
            volume_id: volume_id.into(),
            state: "pending".into(),
            started,
            tags: tags.clone(),
        };
        w.snapshots
            .insert(id.clone(), (snap, Instant::now() + latency));
        Ok(id)
    }

    async fn wait_snapshot(&self, snapshot_id: &str, timeout: Duration) -> CloudResult<()> {
        let _s = self.enter("wait_snapshot", snapshot_id).await?;
        self.wait_for(
            "wait_snapshot",
            format!("snapshot {snapshot_id}"),
            timeout,
            |w| {
                let (s, _) = w
                    .snapshots
                    .get(snapshot_id)
                    .ok_or_else(|| not_found("wait_snapshot", format!("snapshot {snapshot_id}")))?;
                Ok((s.state == "completed").then_some(()))
            },
        )
        .await
    }

    async fn delete_snapshot(&self, snapshot_id: &str) -> CloudResult<()> {
        let _s = self.enter("delete_snapshot", snapshot_id).await?;
        // Already gone is not an error.
        self.world().snapshots.remove(snapshot_id);
        Ok(())
    }

    // ---------------------------------------------------------------- instances

    async fn run_instance(&self, req: &InstanceRequest) -> CloudResult<String> {
        self.run_instance_impl(req).await
    }

    async fn attach_volume(
        &self,
        instance_id: &str,
        volume_id: &str,
        device: &str,
        timeout: Duration,
    ) -> CloudResult<()> {
        self.attach_volume_impl(instance_id, volume_id, device, timeout)
            .await
    }

    async fn wait_instance(
        &self,
        instance_id: &str,
        states: &[&str],
        timeout: Duration,
    ) -> CloudResult<ObservedInstance> {
        self.wait_instance_impl(instance_id, states, timeout).await
    }

    async fn terminate_instance(&self, instance_id: &str) -> CloudResult<()> {
        self.terminate_instance_impl(instance_id).await
    }
}
