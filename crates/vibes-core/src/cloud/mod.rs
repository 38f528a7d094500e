//! The cloud boundary: what vibes does to AWS, as one trait per service ([`Observe`],
//! [`KeyPairs`], [`Parameters`], [`Stacks`], [`Objects`], [`Images`], [`Volumes`],
//! [`Instances`], [`Addresses`]) and [`Cloud`], which is all of them: the executor holds a `dyn Cloud`, and an
//! implementation writes each service's trait where it talks to that service. `vibes-aws`
//! implements them over aws-sdk-rust; the `vibes-fake` crate's `FakeCloud` implements them in
//! memory for tests of plan and apply (deterministic ids, injected latency, injected faults).
//!
//! A method of a service's trait is called through a `dyn Cloud` with that trait in scope:
//! `use vibes_core::cloud::prelude::*` brings them all.

mod types;

pub use types::{
    image_build_env, BuildOutcome, ImageBuildRequest, InstanceRequest, StackRequest, StackState,
    StackUpdate,
};

use crate::observed::{Observed, ObservedBucket, ObservedImage, ObservedInstance};
use crate::secret::Secret;
use crate::tags::Tags;
use async_trait::async_trait;
use std::path::Path;
use std::time::Duration;

/// Every service's trait, for calling [`Cloud`]'s methods.
pub mod prelude {
    pub use super::{
        Addresses, Cloud, Images, Instances, KeyPairs, Objects, Observe, Parameters, Stacks,
        Volumes,
    };
}

/// Errors at the cloud boundary, classified so the executor knows what to retry.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CloudError {
    /// Throttling or a 5xx: worth retrying with backoff.
    #[error("{operation}: transient error: {message}")]
    Transient { operation: String, message: String },
    /// The thing to create exists already (SSM ParameterAlreadyExists, EC2 Duplicate, …).
    #[error("{operation}: {what} already exists")]
    AlreadyExists { operation: String, what: String },
    #[error("{operation}: {what} not found")]
    NotFound { operation: String, what: String },
    /// The thing is held by another (EC2's `VolumeInUse`: a volume still attached, as it is
    /// for a moment after its instance terminated): worth trying again once it is let go.
    #[error("{operation}: {what} is in use")]
    InUse { operation: String, what: String },
    /// A wait ran out of time.
    #[error("{operation}: gave up after {seconds} s waiting for {what}")]
    Timeout {
        operation: String,
        what: String,
        seconds: u64,
    },
    /// RunInstances answered with an instance that is already `shutting-down` or `terminated`:
    /// the client token belongs to an earlier launch, which EC2 keeps answering with for at
    /// least 24 hours after its instance terminated. The caller launches again under a new token.
    #[error("{operation}: the client token belongs to instance {instance_id}, which is {state}")]
    InstanceEnded {
        operation: String,
        instance_id: String,
        state: String,
    },
    /// The client token was used before with other parameters (EC2's
    /// `IdempotentParameterMismatch`): the caller launches again under a new token.
    #[error("{operation}: IdempotentParameterMismatch: {message}")]
    IdempotentParameterMismatch { operation: String, message: String },
    /// Credentials, region or endpoint are missing or wrong.
    #[error("{0}")]
    Config(String),
    /// Anything else: not retried.
    #[error("{operation}: {message}")]
    Permanent { operation: String, message: String },
}

impl CloudError {
    pub fn is_transient(&self) -> bool {
        matches!(self, CloudError::Transient { .. })
    }
    pub fn permanent(operation: impl Into<String>, message: impl Into<String>) -> Self {
        CloudError::Permanent {
            operation: operation.into(),
            message: message.into(),
        }
    }
}

pub type CloudResult<T> = Result<T, CloudError>;

/// What vibes does to AWS: every service's trait at once, as the executor holds it
/// (`&dyn Cloud`, `Arc<dyn Cloud>`); whatever implements them all is a `Cloud`. Every create
/// carries its tags at creation; every method is one logical operation and may be retried when
/// it fails with [`CloudError::Transient`]. Deleting something already gone succeeds (a rerun
/// after a crash converges); reading something missing answers `None` where the method returns
/// an `Option`, and [`CloudError::NotFound`] otherwise.
pub trait Cloud:
    Observe + KeyPairs + Parameters + Stacks + Objects + Images + Volumes + Instances + Addresses
{
}

impl<T> Cloud for T where
    T: Observe
        + KeyPairs
        + Parameters
        + Stacks
        + Objects
        + Images
        + Volumes
        + Instances
        + Addresses
{
}

/// The reads: what the project owns, and a bucket's objects.
#[async_trait]
pub trait Observe: Send + Sync {
    /// One read of everything the project owns (by tag), and of whatever holds the project's
    /// names whoever tagged it: the planner decides whose each one is.
    /// `sources_bucket`: the bucket whose objects to list, when known.
    async fn observe(&self, project: &str, sources_bucket: Option<&str>) -> CloudResult<Observed>;

    /// The objects of a bucket with their size and SHA-256 (the sources bucket, whose name is
    /// an output of the main stack and so is known only after `observe`). `None` when the
    /// bucket does not exist.
    async fn list_bucket(&self, bucket: &str) -> CloudResult<Option<ObservedBucket>>;
}

/// EC2 key pairs.
#[async_trait]
pub trait KeyPairs: Send + Sync {
    /// Generate a key pair; returns its private key.
    async fn create_key_pair(&self, key_name: &str, tags: &Tags) -> CloudResult<Secret>;
    async fn import_key_pair(
        &self,
        key_name: &str,
        public_key: &str,
        tags: &Tags,
    ) -> CloudResult<()>;
    async fn delete_key_pair(&self, key_name: &str) -> CloudResult<()>;
    async fn tag_key_pair(&self, key_name: &str, tags: &Tags) -> CloudResult<()>;
}

/// SSM parameters.
#[async_trait]
pub trait Parameters: Send + Sync {
    /// Put a String parameter, overwriting. Tags apply when the parameter is new.
    async fn put_parameter(&self, name: &str, value: &str, tags: &Tags) -> CloudResult<()>;
    /// Put a SecureString parameter. Tags apply when the parameter is new.
    async fn put_secure_parameter(
        &self,
        name: &str,
        value: &Secret,
        tags: &Tags,
        overwrite: bool,
    ) -> CloudResult<()>;
    /// Create a String parameter only if it does not exist (the apply lock):
    /// [`CloudError::AlreadyExists`] otherwise.
    async fn create_parameter_exclusive(
        &self,
        name: &str,
        value: &str,
        tags: &Tags,
    ) -> CloudResult<()>;
    /// A String parameter's value; `None` when the parameter does not exist. A SecureString is
    /// never read as plain text: an error.
    async fn get_parameter(&self, name: &str) -> CloudResult<Option<String>>;
    /// A parameter already gone is not an error.
    async fn delete_parameter(&self, name: &str) -> CloudResult<()>;
    async fn tag_parameter(&self, name: &str, tags: &Tags) -> CloudResult<()>;
}

/// CloudFormation stacks.
#[async_trait]
pub trait Stacks: Send + Sync {
    async fn create_stack(&self, req: &StackRequest) -> CloudResult<()>;
    async fn update_stack(&self, req: &StackRequest) -> CloudResult<StackUpdate>;
    async fn delete_stack(&self, stack_name: &str, token: &str) -> CloudResult<()>;
    /// Continue the rollback of a stack in `UPDATE_ROLLBACK_FAILED` (after whatever made it
    /// fail was fixed): it ends `UPDATE_ROLLBACK_COMPLETE`, or failed again.
    async fn continue_update_rollback(&self, stack_name: &str, token: &str) -> CloudResult<()>;
    /// Wait until the stack is no longer `*_IN_PROGRESS`, or `timeout`. A stack that does not
    /// exist (any more) reads as `DELETE_COMPLETE`: that is where a delete ends.
    async fn wait_stack(&self, stack_name: &str, timeout: Duration) -> CloudResult<StackState>;
    /// What the update would do to the stack's resources: a change set made, listed and
    /// deleted, the stack left as it was. An update that changes nothing lists nothing.
    async fn preview_update(
        &self,
        req: &crate::stack_changes::StackPreviewRequest,
    ) -> CloudResult<Vec<crate::stack_changes::ResourceChange>>;
}

/// S3 objects and buckets.
#[async_trait]
pub trait Objects: Send + Sync {
    async fn put_object_from_file(
        &self,
        bucket: &str,
        key: &str,
        file: &Path,
        sha256_hex: &str,
    ) -> CloudResult<()>;
    async fn put_object(&self, bucket: &str, key: &str, body: Vec<u8>) -> CloudResult<()>;
    async fn delete_objects(&self, bucket: &str, keys: &[String]) -> CloudResult<()>;
    /// Delete every version and delete marker in `bucket` (the sources bucket is versioned),
    /// then the bucket. `NotFound` when there is no such bucket.
    async fn delete_bucket(&self, bucket: &str) -> CloudResult<()>;
    /// Delete every object version and delete marker in `bucket` and keep the bucket: what a
    /// stack's own bucket needs before the stack is deleted, since CloudFormation deletes only
    /// an empty bucket. `NotFound` when there is no such bucket.
    async fn empty_bucket(&self, bucket: &str) -> CloudResult<()>;
    /// Record the bucket's manifest after a sync ([`crate::bucket_manifest`]): `uploaded` are
    /// the objects this sync wrote (size and SHA-256 as scanned); the manifest covers the whole
    /// bucket, with each object's ETag, so later reads need no per-object call. The default
    /// writes nothing: a cloud whose `list_bucket` is cheap anyway needs no manifest, and one
    /// without ETags could write only entries that are never trusted.
    async fn write_bucket_manifest(
        &self,
        bucket: &str,
        revision: &str,
        uploaded: &crate::bucket_manifest::Uploaded,
    ) -> CloudResult<()> {
        let _ = (bucket, revision, uploaded);
        Ok(())
    }
}

/// Images: CodeBuild builds of a Packer recipe, and the AMIs they register.
#[async_trait]
pub trait Images: Send + Sync {
    async fn start_image_build(&self, req: &ImageBuildRequest) -> CloudResult<String>;
    async fn wait_image_build(
        &self,
        build_id: &str,
        timeout: Duration,
    ) -> CloudResult<BuildOutcome>;
    /// The last `lines` lines of a build's log, oldest first: what explains a failed build.
    /// Empty when the build logged nothing that can be read.
    async fn image_build_log_tail(&self, build_id: &str, lines: usize) -> CloudResult<Vec<String>>;
    /// The newest available image carrying all of `tags`.
    async fn find_image(&self, tags: &Tags) -> CloudResult<Option<ObservedImage>>;
    /// An image already gone is not an error.
    async fn deregister_image(&self, image_id: &str) -> CloudResult<()>;
}

/// EBS volumes and snapshots.
#[async_trait]
pub trait Volumes: Send + Sync {
    async fn create_volume(
        &self,
        size_gib: u32,
        availability_zone: &str,
        tags: &Tags,
        token: &str,
    ) -> CloudResult<String>;
    async fn create_snapshot(&self, volume_id: &str, tags: &Tags) -> CloudResult<String>;
    async fn wait_snapshot(&self, snapshot_id: &str, timeout: Duration) -> CloudResult<()>;
    /// A snapshot already gone is not an error.
    async fn delete_snapshot(&self, snapshot_id: &str) -> CloudResult<()>;
    /// Delete a volume no instance holds (a standing builds volume of an earlier vibes, once
    /// its builds are in a snapshot). A volume already gone is not an error; one attached to an
    /// instance is refused with [`CloudError::InUse`].
    async fn delete_volume(&self, volume_id: &str) -> CloudResult<()>;
}

/// EC2 instances.
#[async_trait]
pub trait Instances: Send + Sync {
    /// One RunInstances: returns the instance id as soon as EC2 answers, without waiting for
    /// it to run. [`CloudError::InstanceEnded`] when the instance EC2 answers with is already
    /// `shutting-down` or `terminated` (the token was spent by an earlier launch), and
    /// [`CloudError::IdempotentParameterMismatch`] when the token was used with other
    /// parameters: in both cases the caller launches again under a new token.
    async fn run_instance(&self, req: &InstanceRequest) -> CloudResult<String>;
    /// Attach an existing volume as `device` once the instance runs, waiting up to `timeout`
    /// for that (and for the volume to be free, when a terminated instance still holds it),
    /// and through the moment after a launch when EC2's reads do not know the instance yet.
    /// Already attached to this instance is not an error.
    async fn attach_volume(
        &self,
        instance_id: &str,
        volume_id: &str,
        device: &str,
        timeout: Duration,
    ) -> CloudResult<()>;
    /// Wait until the instance is in one of `states` (e.g. `stopped`), or `timeout`. Right after
    /// a launch EC2 may answer [`CloudError::NotFound`] for a short while (its reads are
    /// eventually consistent): a caller that just launched the instance waits through that.
    async fn wait_instance(
        &self,
        instance_id: &str,
        states: &[&str],
        timeout: Duration,
    ) -> CloudResult<ObservedInstance>;
    /// An instance that does not exist is not an error. EC2 says so too of an instance launched
    /// a moment ago, which then goes on running: terminate only an instance a read has shown.
    async fn terminate_instance(&self, instance_id: &str) -> CloudResult<()>;
    /// What the instance's console printed lately (GetConsoleOutput, `Latest`: up to the last
    /// 64 KB): systemd's lines and those of units writing to the console. Empty while there is
    /// none yet.
    async fn console_output(&self, instance_id: &str) -> CloudResult<String>;
    /// The region's availability zones that offer every one of `instance_types`
    /// (DescribeInstanceTypeOfferings by availability zone), sorted by name: not every zone
    /// offers every type, and a volume can be attached only in its own zone.
    async fn zones_offering(&self, instance_types: &[String]) -> CloudResult<Vec<String>>;
}

/// Elastic IP addresses: the server's stable address (`[server] elastic_ip = true`).
#[async_trait]
pub trait Addresses: Send + Sync {
    /// Allocate an address for use in a VPC, tagged at creation; returns its allocation id and
    /// its public IP. AllocateAddress takes no client token: an address allocated by a call
    /// whose answer was lost carries the tags, and the next plan finds it.
    async fn allocate_address(&self, tags: &Tags) -> CloudResult<(String, String)>;
    /// Associate the address with a running instance, moving it from another if it is
    /// associated already (AllowReassociation).
    async fn associate_address(&self, allocation_id: &str, instance_id: &str) -> CloudResult<()>;
    /// Release the address, disassociating it first if it is associated. An address already
    /// released is not an error.
    async fn release_address(&self, allocation_id: &str) -> CloudResult<()>;
}
