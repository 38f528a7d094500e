//! What goes in and comes out of the cloud traits ([`super`]): requests to create stacks,
//! image builds and instances, and where they ended.

use crate::tags::Tags;
use std::collections::BTreeMap;

/// A stack to create or update.
#[derive(Debug, Clone, PartialEq)]
pub struct StackRequest {
    pub stack_name: String,
    pub template_body: String,
    /// Resolved parameter values.
    pub parameters: BTreeMap<String, String>,
    pub tags: Tags,
    /// ClientRequestToken: a retried request with the same token is not done twice.
    pub token: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackUpdate {
    Started,
    /// "No updates are to be performed.": success, nothing to wait for.
    NoChanges,
}

/// Where a stack ended after a wait.
#[derive(Debug, Clone, PartialEq)]
pub struct StackState {
    pub status: String,
    pub outputs: BTreeMap<String, String>,
    /// The reason CloudFormation gives for a failure.
    pub reason: Option<String>,
}

impl StackState {
    pub fn succeeded(&self) -> bool {
        matches!(
            self.status.as_str(),
            "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "DELETE_COMPLETE" | "IMPORT_COMPLETE"
        )
    }
}

/// The environment variables an image build is started with. The buildspec of `cfn/main.yaml`
/// (ImageBuildProject) reads exactly these names; the local cloud runs that buildspec, so a
/// name changed on one side only fails the image build tests as it would fail on AWS.
pub mod image_build_env {
    /// The bucket the recipe files were uploaded to.
    pub const RECIPE_BUCKET: &str = "VIBES_RECIPE_BUCKET";
    /// Their key prefix, ending in `/`.
    pub const RECIPE_PREFIX: &str = "VIBES_RECIPE_PREFIX";
    /// The recipe's path under the prefix; Packer runs in its directory.
    pub const RECIPE: &str = "VIBES_RECIPE";
    /// A JSON object: the tags the image must carry, for vibes to find it by.
    pub const TAGS: &str = "VIBES_TAGS";
    /// The architecture to build for: Packer sets the recipe's `arch` variable from it.
    pub const ARCH: &str = "PKR_VAR_arch";
    pub const ALL: [&str; 5] = [RECIPE_BUCKET, RECIPE_PREFIX, RECIPE, TAGS, ARCH];
}

/// A CodeBuild build of a Packer recipe.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageBuildRequest {
    pub codebuild_project: String,
    pub artifacts_bucket: String,
    /// Where the recipe files were uploaded: `recipes/<image>/<recipe_hash>/`.
    pub recipe_prefix: String,
    pub recipe: String,
    /// Passed to the build as environment: the tags the image must carry.
    pub tags: Tags,
    /// What the image is built for (the recipe's `arch` variable).
    pub arch: crate::arch::Arch,
    pub token: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BuildOutcome {
    pub build_id: String,
    /// `SUCCEEDED`, `FAILED`, `FAULT`, `STOPPED`, `TIMED_OUT`.
    pub status: String,
}

/// A worker or server instance to launch: the parameters of one RunInstances.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceRequest {
    pub launch_template: String,
    /// The AMI to launch (the launch templates carry none).
    pub image_id: String,
    pub instance_type: String,
    pub tags: Tags,
    /// ClientToken: a repeated launch with the same token and parameters returns the same
    /// instance, whatever state it is in by then (see [`CloudError::InstanceEnded`]).
    pub client_token: String,
    /// Snapshots to map at launch: device name → snapshot id (the builds the server serves,
    /// or the worker compiles onto), each a fresh volume deleted with the instance.
    pub volumes: BTreeMap<String, String>,
    /// The least size in GiB of a volume of `volumes`, by device: a snapshot smaller than that
    /// (a builds snapshot made before `builds_volume_gib` grew) is mapped onto a volume this big,
    /// and the worker grows its file system to fill it. A device not named here gets its
    /// snapshot's size.
    pub volume_sizes: BTreeMap<String, u32>,
    /// Empty volumes to map at launch: device name → size in GiB (the worker's first builds
    /// volume, when there is no builds snapshot yet), each a fresh gp3 volume deleted with the
    /// instance. A device is in `volumes` or here, never both. The volume's id is in the
    /// instance's [`crate::observed::ObservedInstance::volumes`] once a read shows it.
    pub empty_volumes: BTreeMap<String, u32>,
    /// Run on Spot capacity, as a one-time request that terminates when EC2 reclaims the
    /// capacity and when the instance powers itself off (a one-time Spot instance cannot
    /// stop). Its volumes mapped at launch are then kept at termination, so that the builds on
    /// them outlive an interruption: the caller deletes them.
    #[doc(alias = "InstanceMarketOptions")]
    pub spot: bool,
}
