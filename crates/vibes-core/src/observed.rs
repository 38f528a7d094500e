//! What live AWS holds, as one read (possibly stale by the time it is used).
//!
//! Each collection holds what carries the project's `vibes:project` tag, plus whatever holds the
//! project's names (key pairs and stacks `<project>-<name>`, parameters under `/<project>/`)
//! whoever tagged it: an account built by hand is adopted rather than duplicated, and another
//! project's resource under these names is seen, and left alone, rather than created over.
//! Whose each one is, is decided by the planner (`plan::ownership`).

use crate::states::{ImageState, InstanceState, SnapshotState, StackStatus, VolumeState};
use crate::tags::Tags;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Observed {
    /// By CloudFormation stack name.
    pub stacks: BTreeMap<String, ObservedStack>,
    /// By EC2 key pair name.
    pub key_pairs: BTreeMap<String, ObservedKeyPair>,
    /// By SSM parameter name (full path).
    pub parameters: BTreeMap<String, ObservedParameter>,
    /// By AMI id.
    pub images: BTreeMap<String, ObservedImage>,
    /// By volume id.
    pub volumes: BTreeMap<String, ObservedVolume>,
    /// By snapshot id.
    pub snapshots: BTreeMap<String, ObservedSnapshot>,
    /// By instance id (terminated instances are left out).
    pub instances: BTreeMap<String, ObservedInstance>,
    /// The sources bucket's objects, when the bucket is known and exists.
    pub sources_bucket: Option<ObservedBucket>,
    /// By stack name: what a change set listed for the update a first plan wanted
    /// ([`crate::stack_changes`]); made by the workspace, not by `observe`.
    #[serde(default)]
    pub stack_changes: BTreeMap<String, crate::stack_changes::StackChanges>,
    /// The project's Elastic IP addresses, by allocation id.
    #[serde(default)]
    pub addresses: BTreeMap<String, ObservedAddress>,
    /// Where the network vibes is about to make may go: read by the workspace only then, not by
    /// `observe`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zones: Option<ZonesOffering>,
}

/// The region's availability zones that offer every instance type the network serves (the
/// worker's and the server's): a volume attaches only in its own zone, so the zone of the
/// network is one where both can run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZonesOffering {
    pub instance_types: Vec<String>,
    /// Sorted by name.
    pub zones: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObservedAddress {
    pub allocation_id: String,
    pub public_ip: String,
    /// The instance it is associated with.
    pub instance_id: Option<String>,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObservedStack {
    pub stack_name: String,
    pub stack_id: String,
    /// e.g. `CREATE_COMPLETE`, `UPDATE_ROLLBACK_COMPLETE`, `ROLLBACK_COMPLETE`.
    pub status: StackStatus,
    pub template_body: String,
    pub parameters: BTreeMap<String, String>,
    pub outputs: BTreeMap<String, String>,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObservedKeyPair {
    pub key_name: String,
    pub key_pair_id: String,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObservedParameter {
    pub name: String,
    pub secure: bool,
    /// The value of a plain String parameter. SecureString values are never read by observe.
    pub value: Option<String>,
    pub tags: Tags,
    /// Increases on every write; used to tell whether a parameter moved since a plan was made.
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObservedImage {
    pub image_id: String,
    pub name: String,
    /// `available`, `pending`, `failed`, …
    pub state: ImageState,
    /// RFC 3339, as EC2 reports it; sorts by time.
    pub created: String,
    pub tags: Tags,
    /// What EC2 says the image runs on; `None` for an architecture vibes does not build for.
    #[serde(default)]
    pub architecture: Option<crate::arch::Arch>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObservedVolume {
    pub volume_id: String,
    pub size_gib: u32,
    pub state: VolumeState,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObservedSnapshot {
    pub snapshot_id: String,
    pub volume_id: String,
    /// `pending`, `completed`, `error`.
    pub state: SnapshotState,
    /// RFC 3339; sorts by time.
    pub started: String,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObservedInstance {
    pub instance_id: String,
    /// `pending`, `running`, `stopping`, `stopped`, `shutting-down`.
    pub state: InstanceState,
    pub public_ip: Option<String>,
    pub private_ip: Option<String>,
    pub tags: Tags,
    /// The EBS volumes attached, by device name → volume id (those mapped at launch among
    /// them): how the compile finds the builds volume its worker was launched with.
    #[serde(default)]
    pub volumes: BTreeMap<String, String>,
    /// Why EC2 last changed its state (`StateReason.Code`): `Client.InstanceInitiatedShutdown`
    /// when its own operating system shut it down, `Server.SpotInstanceTermination` when EC2
    /// took a Spot instance's capacity back, `Client.UserInitiatedShutdown` for an API call.
    /// <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_StateReason.html>
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObservedBucket {
    pub bucket: String,
    /// Key → (size, hex SHA-256 where the object carries one).
    pub objects: BTreeMap<String, ObservedObject>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObservedObject {
    pub size: u64,
    pub sha256: Option<String>,
}

/// Where vibes keeps its manifest of the sources bucket ([`crate::bucket_manifest`]), in the
/// bucket itself. Never part of the sources tree: the planner leaves it out of the comparison
/// and never deletes it as an extra object.
pub const MANIFEST_KEY: &str = ".vibes/manifest.json";

/// Whether a bucket key is vibes' own bookkeeping rather than part of the sources tree.
pub fn is_bookkeeping(key: &str) -> bool {
    key == MANIFEST_KEY
}

impl ObservedBucket {
    /// The objects that are the sources tree (vibes' own manifest left out): how many, and
    /// their bytes.
    pub fn held(&self) -> (usize, u64) {
        self.objects
            .iter()
            .filter(|(k, _)| !is_bookkeeping(k))
            .fold((0, 0), |(n, bytes), (_, o)| (n + 1, bytes + o.size))
    }
}

impl Observed {
    /// Resources tagged with this address, whatever their kind, for the saved-plan check and
    /// for finding leftovers.
    pub fn tagged<'a, T: HasTags + 'a>(
        items: impl IntoIterator<Item = &'a T>,
        address: &str,
    ) -> Vec<&'a T> {
        items
            .into_iter()
            .filter(|i| i.tags().get(crate::tags::ADDRESS).map(String::as_str) == Some(address))
            .collect()
    }

    /// The project's rsync server: the one running before one still starting (a replace in
    /// flight), then a stopped one; an ended one is no server. `vibes status` shows it and
    /// `vibes fetch` reaches it.
    pub fn server(&self, project: &str) -> Option<&ObservedInstance> {
        let address = crate::address::Address::server().to_string();
        let mut servers: Vec<_> = Observed::tagged(self.instances.values(), &address)
            .into_iter()
            .filter(|i| i.tags.get(crate::tags::PROJECT).map(String::as_str) == Some(project))
            .filter(|i| i.state.is_live())
            .collect();
        let rank = |state: &InstanceState| match state {
            InstanceState::Running => 0,
            InstanceState::Pending => 1,
            _ => 2,
        };
        servers.sort_by_key(|i| (rank(&i.state), i.instance_id.clone()));
        servers.into_iter().next()
    }
}

pub trait HasTags {
    fn tags(&self) -> &Tags;
}

macro_rules! has_tags {
    ($($t:ty),*) => { $(impl HasTags for $t { fn tags(&self) -> &Tags { &self.tags } })* };
}
has_tags!(
    ObservedStack,
    ObservedKeyPair,
    ObservedParameter,
    ObservedImage,
    ObservedVolume,
    ObservedSnapshot,
    ObservedInstance,
    ObservedAddress
);
