//! An in-memory [`Cloud`] for tests of plan and apply: deterministic ids (`ami-00000001`,
//! `vol-00000001`, …), creation times from a logical clock, tags kept as given, and an
//! `observe` that answers as the real adapter does. Tests set latencies per operation and
//! inject faults, and read a log of every call with its start and end.
//!
//! Operation names (for latencies and faults) are the [`Cloud`] method names (`create_stack`,
//! `put_object_from_file`, `wait_instance`, …). These name the time things take in the cloud
//! itself, after the call that starts them: `stack` (to settle), `image_build`, `snapshot`,
//! `instance_start` and `compile_run` (a worker's compile, from when it runs with its builds
//! volume).
//!
//! Where moto does not show what AWS does, the fake follows AWS: client tokens ([`tokens`]) and
//! reads that lag a launch ([`lag`], off unless [`FakeCloud::set_read_lag`] sets it).

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

pub use faults::{Call, FaultKind};
pub use world::{CompileBehaviour, ImageBuildBehaviour};

use super::{
    BuildOutcome, Cloud, CloudError, CloudResult, ImageBuildRequest, InstanceRequest, StackRequest,
    StackState, StackUpdate,
};
use crate::observed::{Observed, ObservedBucket, ObservedImage, ObservedInstance, ObservedObject};
use crate::secret::Secret;
use crate::tags::{self, Tags};
use async_trait::async_trait;
use faults::Knobs;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::AtomicUsize;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;
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

#[async_trait]
impl Cloud for FakeCloud {
    async fn observe(&self, project: &str, sources_bucket: Option<&str>) -> CloudResult<Observed> {
        self.observe_impl(project, sources_bucket).await
    }

    async fn list_bucket(&self, bucket: &str) -> CloudResult<Option<ObservedBucket>> {
        self.list_bucket_impl(bucket).await
    }

    // ---------------------------------------------------------------- key pairs ([`keys`])

    async fn create_key_pair(&self, key_name: &str, tags: &Tags) -> CloudResult<Secret> {
        self.create_key_pair_impl(key_name, tags).await
    }

    async fn import_key_pair(
        &self,
        key_name: &str,
        public_key: &str,
        tags: &Tags,
    ) -> CloudResult<()> {
        self.import_key_pair_impl(key_name, public_key, tags).await
    }

    async fn delete_key_pair(&self, key_name: &str) -> CloudResult<()> {
        self.delete_key_pair_impl(key_name).await
    }

    async fn tag_key_pair(&self, key_name: &str, tags: &Tags) -> CloudResult<()> {
        self.tag_key_pair_impl(key_name, tags).await
    }

    // ---------------------------------------------------------------- parameters ([`params`])

    async fn put_parameter(&self, name: &str, value: &str, tags: &Tags) -> CloudResult<()> {
        self.put_parameter_impl(name, value, tags).await
    }

    async fn put_secure_parameter(
        &self,
        name: &str,
        value: &Secret,
        tags: &Tags,
        overwrite: bool,
    ) -> CloudResult<()> {
        self.put_secure_parameter_impl(name, value, tags, overwrite)
            .await
    }

    async fn create_parameter_exclusive(
        &self,
        name: &str,
        value: &str,
        tags: &Tags,
    ) -> CloudResult<()> {
        self.create_parameter_exclusive_impl(name, value, tags)
            .await
    }

    async fn get_parameter(&self, name: &str) -> CloudResult<Option<String>> {
        self.get_parameter_impl(name).await
    }

    async fn delete_parameter(&self, name: &str) -> CloudResult<()> {
        self.delete_parameter_impl(name).await
    }

    async fn tag_parameter(&self, name: &str, tags: &Tags) -> CloudResult<()> {
        self.tag_parameter_impl(name, tags).await
    }

    // ---------------------------------------------------------------- stacks ([`stacks`])

    async fn create_stack(&self, req: &StackRequest) -> CloudResult<()> {
        self.create_stack_impl(req).await
    }

    async fn update_stack(&self, req: &StackRequest) -> CloudResult<StackUpdate> {
        self.update_stack_impl(req).await
    }

    async fn delete_stack(&self, stack_name: &str, token: &str) -> CloudResult<()> {
        self.delete_stack_impl(stack_name, token).await
    }

    async fn wait_stack(&self, stack_name: &str, timeout: Duration) -> CloudResult<StackState> {
        self.wait_stack_impl(stack_name, timeout).await
    }

    // ---------------------------------------------------------------- S3 ([`objects`])

    async fn put_object_from_file(
        &self,
        bucket: &str,
        key: &str,
        file: &Path,
        sha256_hex: &str,
    ) -> CloudResult<()> {
        self.put_object_from_file_impl(bucket, key, file, sha256_hex)
            .await
    }

    async fn put_object(&self, bucket: &str, key: &str, body: Vec<u8>) -> CloudResult<()> {
        self.put_object_impl(bucket, key, body).await
    }

    async fn write_bucket_manifest(
        &self,
        bucket: &str,
        revision: &str,
        uploaded: &crate::bucket_manifest::Uploaded,
    ) -> CloudResult<()> {
        self.write_bucket_manifest_impl(bucket, revision, uploaded)
            .await
    }

    async fn delete_bucket(&self, bucket: &str) -> CloudResult<()> {
        self.delete_bucket_impl(bucket).await
    }

    async fn delete_objects(&self, bucket: &str, keys: &[String]) -> CloudResult<()> {
        self.delete_objects_impl(bucket, keys).await
    }

    // ---------------------------------------------------------------- images ([`images`])

    async fn start_image_build(&self, req: &ImageBuildRequest) -> CloudResult<String> {
        self.start_image_build_impl(req).await
    }

    async fn wait_image_build(
        &self,
        build_id: &str,
        timeout: Duration,
    ) -> CloudResult<BuildOutcome> {
        self.wait_image_build_impl(build_id, timeout).await
    }

    async fn find_image(&self, tags: &Tags) -> CloudResult<Option<ObservedImage>> {
        self.find_image_impl(tags).await
    }

    async fn deregister_image(&self, image_id: &str) -> CloudResult<()> {
        self.deregister_image_impl(image_id).await
    }

    // ---------------------------------------------------------------- EBS ([`ebs`])

    async fn create_volume(
        &self,
        size_gib: u32,
        availability_zone: &str,
        tags: &Tags,
        token: &str,
    ) -> CloudResult<String> {
        self.create_volume_impl(size_gib, availability_zone, tags, token)
            .await
    }

    async fn create_snapshot(&self, volume_id: &str, tags: &Tags) -> CloudResult<String> {
        self.create_snapshot_impl(volume_id, tags).await
    }
    async fn delete_volume(&self, volume_id: &str) -> CloudResult<()> {
        self.delete_volume_impl(volume_id).await
    }

    async fn wait_snapshot(&self, snapshot_id: &str, timeout: Duration) -> CloudResult<()> {
        self.wait_snapshot_impl(snapshot_id, timeout).await
    }

    async fn delete_snapshot(&self, snapshot_id: &str) -> CloudResult<()> {
        self.delete_snapshot_impl(snapshot_id).await
    }

    // ---------------------------------------------------------------- instances ([`instances`])

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
