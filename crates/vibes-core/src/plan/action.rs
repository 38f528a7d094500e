//! The values a plan is made of: actions (what and why) and effects (exactly what to do).

use crate::address::Address;
use crate::model::Value;
use crate::plan::reliance::Reliance;
use crate::tags::Tags;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What an action does to its resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Create,
    /// Change in place.
    Update,
    /// Delete and create again (or build anew, for images).
    Replace,
    Delete,
    /// Run a job (a compile, a sources sync, snapshot retention).
    Run,
    /// Exists with the seed's name but no vibes tags: tag it, don't recreate it.
    Adopt,
    /// Would act, but declined; the reason says why and what would let it go on.
    Blocked,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::Update => "update",
            Op::Replace => "replace",
            Op::Delete => "delete",
            Op::Run => "run",
            Op::Adopt => "adopt",
            Op::Blocked => "blocked",
        }
    }
}

/// A text change to show as a unified diff (profile configs, templates, parameter values).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextChange {
    /// What the text is: `value`, `template`, `parameters`.
    pub label: String,
    /// `None` when the text does not exist yet (or is sensitive and not shown).
    pub before: Option<String>,
    /// `None` when the text goes away.
    pub after: Option<String>,
}

/// A field shown under an action: `key_name = "vibes-builds"`, `private_key = (sensitive)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribute {
    pub name: String,
    /// `None` for sensitive values, rendered as `(sensitive)`.
    pub value: Option<String>,
}

impl Attribute {
    pub fn new(name: &str, value: impl Into<String>) -> Self {
        Attribute {
            name: name.into(),
            value: Some(value.into()),
        }
    }
    pub fn sensitive(name: &str) -> Self {
        Attribute {
            name: name.into(),
            value: None,
        }
    }
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub address: Address,
    pub op: Op,
    /// Why, in a sentence: "not found", "profile text changed", "recipe hash abc → def", …
    pub reason: String,
    /// Fields worth showing.
    pub attributes: Vec<Attribute>,
    /// Text diffs worth showing.
    pub changes: Vec<TextChange>,
    /// What to do, as values the executor interprets. Empty for blocked actions.
    pub effects: Vec<Effect>,
    /// Observed resources this action relies on, with a fingerprint of each as seen
    /// (`kind:id` → hash); a saved plan is refused when any of them moved.
    pub relies_on: BTreeMap<Reliance, String>,
}

/// One operation against the cloud. A plan is data: these are interpreted by `apply`.
/// No effect holds a secret: private keys are made during apply and go straight to SSM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    /// Generate a key pair in EC2; its private key goes straight into an SSM SecureString.
    CreateKeyPair {
        key_name: String,
        private_key_parameter: String,
        tags: Tags,
        /// Whether the SecureString may be overwritten: only when the plan saw there a private
        /// key vibes wrote, or `--replace` asked for it. Otherwise a secret that turned up
        /// after the plan is kept and the new key pair deleted again.
        #[serde(default)]
        overwrite: bool,
    },
    /// Import an OpenSSH public key as a key pair.
    ImportKeyPair {
        key_name: String,
        public_key: String,
        tags: Tags,
    },
    DeleteKeyPair {
        key_name: String,
    },
    TagKeyPair {
        key_name: String,
        tags: Tags,
    },

    /// Put a plain String parameter (overwrite on).
    PutParameter {
        name: String,
        value: Value,
        tags: Tags,
    },
    DeleteParameter {
        name: String,
    },
    TagParameter {
        name: String,
        tags: Tags,
    },

    CreateStack {
        stack_name: String,
        template_body: String,
        parameters: BTreeMap<String, Value>,
        tags: Tags,
        token: String,
    },
    /// Update in place (also how an untagged stack is adopted: tags go with the update).
    UpdateStack {
        stack_name: String,
        template_body: String,
        parameters: BTreeMap<String, Value>,
        tags: Tags,
        token: String,
    },
    DeleteStack {
        stack_name: String,
        token: String,
        /// Buckets the stack made that vibes filled (the image recipes in the artifacts
        /// bucket), emptied first: CloudFormation deletes only an empty bucket, and the stack's
        /// delete would otherwise end in DELETE_FAILED.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        empties: Vec<String>,
    },
    /// Continue a failed rollback (`UPDATE_ROLLBACK_FAILED`), so that the stack takes
    /// updates again.
    ContinueRollback {
        stack_name: String,
        token: String,
    },

    /// Upload the recipe files keyed by content hash, start the CodeBuild project that runs
    /// Packer, wait, find the new AMI by tag and record its id in `parameter`.
    BuildImage {
        image: String,
        recipe: String,
        /// Relative path → SHA-256; the files are read from disk at apply time and checked.
        files: BTreeMap<String, String>,
        /// The files of `files` carried in the binary (vibes' built-in platform) rather than read
        /// from disk: path in `files` → path in the platform. Also checked against `files`.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        built_in: BTreeMap<String, String>,
        recipe_hash: String,
        parameter: String,
        artifacts_bucket: Value,
        codebuild_project: Value,
        tags: Tags,
        /// What the image is built for (the recipe's `arch` variable).
        #[serde(default)]
        arch: crate::arch::Arch,
        /// `--replace image.NAME`: the image built from this same recipe that this build
        /// replaces. Part of the build's idempotency token, so that CodeBuild starts a new build
        /// rather than answering with the one that made it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rebuilds: Option<String>,
    },
    DeregisterImage {
        image_id: String,
    },

    /// Upload and delete objects so that the bucket holds the local tree.
    SyncSources {
        bucket: Value,
        root: String,
        /// Relative paths to upload, with their SHA-256.
        upload: BTreeMap<String, String>,
        delete: Vec<String>,
        revision: String,
    },

    /// Snapshot a standing volume (a builds volume of an earlier vibes whose builds no snapshot
    /// holds) and wait for the snapshot; its id is the action's `SnapshotId` output.
    SnapshotVolume {
        volume_id: String,
        tags: Tags,
    },
    /// Delete a standing volume vibes made (retiring the builds volume of an earlier vibes).
    DeleteVolume {
        volume_id: String,
        size_gib: u32,
    },

    /// Launch a worker from its launch template with a builds volume made for the run (from
    /// `builds_snapshot`, or empty of `builds_volume_gib` the first time), wait for the compile
    /// to finish, snapshot that volume tagged with what it was built from, and terminate the
    /// worker (also on failure): the volume is deleted with it.
    RunCompile {
        launch_template: Value,
        /// The worker image (AMI id): its launch template names none, so that the platform
        /// stack can be made before any image exists.
        image: Value,
        instance_type: String,
        /// The builds snapshot the run's volume is made from: the newest good one, so that what
        /// is up to date in it is not compiled again.
        builds_snapshot: Option<Value>,
        /// The size of the empty volume the first compile runs on.
        builds_volume_gib: u32,
        built_from: String,
        sources_revision: String,
        timeout_minutes: u32,
        snapshot_tags: Tags,
        instance_tags: Tags,
        /// What the launch is for (address and what it builds from). Not the ClientToken
        /// itself: apply makes one per launch attempt from it ([`crate::apply::launch`]).
        token: String,
        /// Run the worker on Spot capacity (`[compile] spot = true`).
        #[serde(default)]
        spot: bool,
        /// A builds volume an interrupted compile left: the worker is launched without one
        /// and this is attached instead, so what was built before the interruption stays built.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume_volume: Option<String>,
    },
    DeleteSnapshot {
        snapshot_id: String,
    },
    /// Empty the sources bucket of every object version and delete marker, then delete it
    /// (`vibes destroy --include-data`).
    DeleteBucket {
        bucket: String,
    },

    /// Launch the rsync server from the newest builds snapshot.
    LaunchServer {
        launch_template: Value,
        image: Value,
        instance_type: String,
        snapshot: Value,
        tags: Tags,
        /// What the launch is for; apply makes each attempt's ClientToken from it.
        token: String,
    },
    /// Allocate the server's Elastic IP (outputs `AllocationId` and `PublicIp`).
    AllocateAddress {
        tags: Tags,
    },
    /// Associate the Elastic IP with the server (a new one: its `InstanceId` output).
    AssociateAddress {
        allocation_id: Value,
        instance_id: Value,
    },
    ReleaseAddress {
        allocation_id: String,
        public_ip: String,
    },
    TerminateInstance {
        instance_id: String,
    },
}

impl Effect {
    /// A short name for logs and progress lines.
    pub fn name(&self) -> &'static str {
        match self {
            Effect::CreateKeyPair { .. } => "create key pair",
            Effect::ImportKeyPair { .. } => "import key pair",
            Effect::DeleteKeyPair { .. } => "delete key pair",
            Effect::TagKeyPair { .. } => "tag key pair",
            Effect::PutParameter { .. } => "put parameter",
            Effect::DeleteParameter { .. } => "delete parameter",
            Effect::TagParameter { .. } => "tag parameter",
            Effect::CreateStack { .. } => "create stack",
            Effect::UpdateStack { .. } => "update stack",
            Effect::DeleteStack { .. } => "delete stack",
            Effect::ContinueRollback { .. } => "continue rollback",
            Effect::BuildImage { .. } => "build image",
            Effect::DeregisterImage { .. } => "deregister image",
            Effect::SyncSources { .. } => "sync sources",
            Effect::SnapshotVolume { .. } => "snapshot volume",
            Effect::DeleteVolume { .. } => "delete volume",
            Effect::RunCompile { .. } => "compile",
            Effect::DeleteSnapshot { .. } => "delete snapshot",
            Effect::DeleteBucket { .. } => "delete bucket",
            Effect::LaunchServer { .. } => "launch server",
            Effect::TerminateInstance { .. } => "terminate instance",
            Effect::AllocateAddress { .. } => "allocate address",
            Effect::AssociateAddress { .. } => "associate address",
            Effect::ReleaseAddress { .. } => "release address",
        }
    }
}
