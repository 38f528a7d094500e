//! An in-memory [`Cloud`] for tests of plan and apply: deterministic ids (`ami-00000001`,
//! `vol-00000001`, …), creation times from a logical clock, tags kept as given, and an
//! `observe` that answers as the real adapter does. Tests set latencies per operation and
//! inject faults, and read a log of every call with its start and end.
//!
//! Each service's trait is implemented in that service's module ([`keys`], [`params`],
//! [`stacks`], [`objects`], [`images`], [`ebs`], [`instances`], and the reads in [`observe`]).
//! It is a crate of its own, a dev-dependency of what tests with it, so that it never ships
//! inside the library or the binary.
//!
//! Operation names (for latencies and faults) are the [`Cloud`] method names (`create_stack`,
//! `put_object_from_file`, `wait_instance`, …). These name the time things take in the cloud
//! itself, after the call that starts them: `stack` (to settle), `image_build`, `snapshot`,
//! `instance_start` and `compile_run` (a worker's compile, from when it runs with its builds
//! volume).
//!
//! Where moto does not show what AWS does, the fake follows AWS: client tokens ([`tokens`]) and
//! reads that lag a launch ([`lag`], off unless [`FakeCloud::set_read_lag`] sets it).

mod addresses;
mod change_sets;
mod ebs;
mod faults;
mod images;
mod instances;
mod keys;
mod lag;
mod objects;
mod observe;
mod params;
mod stacks;
mod tokens;
mod world;

#[cfg(doc)]
use vibes_core::cloud::Cloud;

pub use faults::{Call, FaultKind};
pub use world::{CompileBehaviour, ImageBuildBehaviour};

use faults::Knobs;
use std::collections::BTreeMap;
use std::sync::atomic::AtomicUsize;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;
use vibes_core::arch::Arch;
use vibes_core::cloud::{CloudError, CloudResult};
use vibes_core::observed::{ObservedImage, ObservedInstance, ObservedObject};
use vibes_core::tags::{self, Tags};
use world::{KeyPair, World};

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

impl FakeCloud {
    pub fn new() -> Self {
        FakeCloud {
            world: Mutex::new(World::default()),
            knobs: Mutex::new(Knobs::new()),
            log: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        }
    }

    // ------------------------------------------------------------ knobs (and [`faults`])

    /// Only `zones` offer `instance_type` (every zone of the region offers the others).
    pub fn set_offerings(&self, instance_type: &str, zones: &[&str]) {
        self.knobs().offerings.insert(
            instance_type.to_string(),
            zones.iter().map(|z| z.to_string()).collect(),
        );
    }

    pub fn set_compile(&self, behaviour: CompileBehaviour) {
        self.knobs().compile = behaviour;
    }
    /// What the image builds started from now on log.
    pub fn set_image_build_log(&self, lines: &[&str]) {
        self.knobs().image_build_log = lines.iter().map(|l| l.to_string()).collect();
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
                architecture: None,
            },
        );
        image_id
    }
    /// An image registered outside vibes for `arch`, carrying `tags`.
    pub fn add_image_for(&self, name: &str, tags: Tags, arch: Arch) -> String {
        let id = self.add_image(name, tags);
        if let Some(i) = self.world().images.get_mut(&id) {
            i.architecture = Some(arch);
        }
        id
    }
    /// A stack left in `status` by failures the fake does not play (an update whose rollback
    /// failed: `UPDATE_ROLLBACK_FAILED`).
    pub fn set_stack_status(&self, stack_name: &str, status: &str) {
        if let Some(s) = self.world().stacks.get_mut(stack_name) {
            s.status = status.into();
        }
    }
    /// Every bucket's name.
    pub fn buckets(&self) -> Vec<String> {
        self.world().buckets.keys().cloned().collect()
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

    // ------------------------------------------------------------ what happened (and [`faults`])

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
    /// How many objects `bucket` holds (0 when there is no such bucket).
    pub fn object_count(&self, bucket: &str) -> usize {
        self.world().buckets.get(bucket).map_or(0, |b| b.len())
    }
    pub fn object(&self, bucket: &str, key: &str) -> Option<ObservedObject> {
        self.world()
            .buckets
            .get(bucket)
            .and_then(|b| b.get(key))
            .cloned()
    }

    // ------------------------------------------------------------ plumbing

    /// The world brought up to now.
    fn world(&self) -> std::sync::MutexGuard<'_, World> {
        let mut w = self.world.lock().expect("world lock");
        w.advance(Instant::now());
        w
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

fn owned_by(t: &Tags, project: &str) -> bool {
    t.get(tags::PROJECT).map(String::as_str) == Some(project)
}
