//! The fake's resources, and how they move on with time: stacks settle, builds finish,
//! snapshots complete, instances start and workers stop. Nothing moves by itself: every call
//! first brings the world up to "now" ([`World::advance`]), so the fake needs no background task.

use super::lag::Visibility;
use super::tokens::ClientTokens;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;
use vibes_core::cloud::ImageBuildRequest;
use vibes_core::observed::{
    ObservedAddress, ObservedImage, ObservedInstance, ObservedObject, ObservedSnapshot,
    ObservedVolume,
};
use vibes_core::plan::outputs;
use vibes_core::states::{InstanceState, SnapshotState};
use vibes_core::tags::{self, Tags};

/// What a worker instance does once it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompileBehaviour {
    /// Writes `{"status":"succeeded"}` to `/<project>/compile/status` and stops.
    Succeed,
    /// Writes `{"status":"failed","message":…}` and stops.
    Fail(String),
    /// Runs forever (a hung compile): only a timeout or a terminate ends it.
    NeverFinish,
    /// A Spot worker whose capacity EC2 takes back halfway (EC2 gives a two-minute notice,
    /// shuts the OS down and terminates a one-time Spot instance:
    /// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-interruptions.html). The boot
    /// script, sent SIGTERM by the shutdown, reports "interrupted"; the instance is terminated.
    /// The next worker compiles as [`CompileBehaviour::Succeed`].
    SpotInterruption,
    /// systemd never starts the compile unit (an ordering cycle: the unit is skipped, as
    /// systemd 252 on Debian 12 skips a unit ordered after cloud-final.service and wanted by
    /// multi-user.target): the worker runs, idle, and its console says why.
    UnitSkipped,
    /// The compile ends but its status cannot be written (SSM refuses the write: a role
    /// without the permission, a throttle that outlasts the retries); the worker powers itself
    /// off without a report.
    StatusUnwritable,
    /// EC2 terminates the worker during its launch with this state reason code (capacity, an
    /// internal error, a KMS key the launch may not use:
    /// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_StateReason.html). It never
    /// runs, and writes nothing.
    LaunchFails(String),
}

/// The fake region's availability zones, in order.
pub const ZONES: [&str; 3] = ["us-east-1a", "us-east-1b", "us-east-1c"];

/// What systemd printed on the console of a worker whose compile unit it skipped.
pub const SKIPPED_UNIT_CONSOLE: &str = "\
[    1.021874] systemd[1]: multi-user.target: Found ordering cycle on vibes-compile.service/start
[    1.021880] systemd[1]: multi-user.target: Found dependency on cloud-final.service/start
[    1.021884] systemd[1]: multi-user.target: Found dependency on multi-user.target/start
[    1.021889] systemd[1]: multi-user.target: Job vibes-compile.service/start deleted to break ordering cycle starting with multi-user.target/start
[ SKIP ] Ordering cycle found, skipping vibes-compile.service - vibes: compile the sources into every profile
[  OK  ] Reached target multi-user.target - Multi-User System.
";

/// How an image build ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageBuildBehaviour {
    /// SUCCEEDED, with an available AMI carrying the request's tags.
    Succeed,
    /// FAILED, no AMI.
    Fail,
    /// SUCCEEDED, but the recipe forgot to tag its AMI: no image carries the tags.
    SucceedWithoutImage,
}

#[derive(Debug, Clone)]
pub(super) struct KeyPair {
    pub id: String,
    pub tags: Tags,
}

#[derive(Debug, Clone)]
pub(super) struct Param {
    pub value: String,
    pub secure: bool,
    pub tags: Tags,
    pub version: i64,
}

#[derive(Debug, Clone)]
pub(super) struct Stack {
    pub id: String,
    pub status: String,
    pub template: String,
    pub parameters: BTreeMap<String, String>,
    pub outputs: BTreeMap<String, String>,
    pub tags: Tags,
    /// The ClientRequestToken of every create and update it took: CloudFormation takes a
    /// request with one of them again as a retry of that request, and does nothing new.
    pub tokens: std::collections::BTreeSet<String>,
    pub reason: Option<String>,
    /// While in progress: when it settles, in which status, with which outputs.
    pub settles: Option<(Instant, String, BTreeMap<String, String>)>,
}

#[derive(Debug, Clone)]
pub(super) struct Build {
    pub req: ImageBuildRequest,
    pub done_at: Instant,
    pub behaviour: ImageBuildBehaviour,
    /// Recipe files were where the request said: otherwise Packer has nothing to run.
    pub recipe_present: bool,
    pub status: Option<String>,
    /// What it logs (CodeBuild's log in CloudWatch Logs).
    pub log: Vec<String>,
}

#[derive(Debug, Clone)]
pub(super) struct Worker {
    pub project: String,
    pub built_from: String,
    /// How long its compile takes once it has its builds volume.
    pub run: Duration,
    /// When the compile ends: unknown until the worker has its builds volume (mapped at launch;
    /// the worker's boot script waits for the device), and never for [`CompileBehaviour::NeverFinish`].
    pub done_at: Option<Instant>,
    pub behaviour: CompileBehaviour,
    /// Whether it has published its progress (once, halfway, as a worker's first report).
    pub reported: bool,
}

impl Worker {
    /// The worker has its builds volume at `now`: the compile starts once the instance runs.
    pub fn start(&mut self, running_at: Instant, now: Instant) {
        let runs = !matches!(
            self.behaviour,
            CompileBehaviour::NeverFinish
                | CompileBehaviour::UnitSkipped
                | CompileBehaviour::LaunchFails(_)
        );
        if self.done_at.is_none() && runs {
            self.done_at = Some(running_at.max(now) + self.run);
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct Instance {
    pub observed: ObservedInstance,
    pub running_at: Instant,
    pub worker: Option<Worker>,
    /// Device → snapshot mapped at launch, or volume made empty at launch or attached after it.
    pub volumes: BTreeMap<String, String>,
    /// A one-time Spot instance: it terminates, rather than stops, when it powers off.
    pub spot: bool,
    /// What its console printed.
    pub console: String,
}

#[derive(Debug, Default)]
pub(super) struct World {
    /// The logical clock: one tick per creation, so creation times sort like creation order.
    clock: u64,
    ids: BTreeMap<&'static str, u64>,
    pub key_pairs: BTreeMap<String, KeyPair>,
    pub parameters: BTreeMap<String, Param>,
    pub stacks: BTreeMap<String, Stack>,
    pub buckets: BTreeMap<String, BTreeMap<String, ObservedObject>>,
    pub builds: BTreeMap<String, Build>,
    pub build_tokens: BTreeMap<String, String>,
    pub images: BTreeMap<String, ObservedImage>,
    pub volumes: BTreeMap<String, ObservedVolume>,
    pub volume_tokens: ClientTokens,
    /// Volume → the instance it is deleted with (mapped at launch, DeleteOnTermination).
    pub deleted_with: BTreeMap<String, String>,
    /// Snapshot → the size of its volume: a volume made from it at launch has that size.
    pub snapshot_gib: BTreeMap<String, u32>,
    pub snapshots: BTreeMap<String, (ObservedSnapshot, Instant)>,
    pub instances: BTreeMap<String, Instance>,
    pub instance_tokens: ClientTokens,
    /// Elastic IPs by allocation id.
    pub addresses: BTreeMap<String, ObservedAddress>,
    /// Instances that reads do not know yet.
    pub visibility: Visibility,
}

/// 2024-01-01T00:00:00Z: the fake's clock starts here and moves a second per creation.
const EPOCH: u64 = 1_704_067_200;

impl World {
    /// The next id of a kind: `ami-00000001`, `vol-00000002`, …
    pub fn id(&mut self, prefix: &'static str) -> String {
        let n = self.ids.entry(prefix).or_default();
        *n += 1;
        format!("{prefix}-{:08x}", *n)
    }

    /// How many ids of a kind were issued.
    pub fn ids_issued(&self, prefix: &'static str) -> u64 {
        self.ids.get(prefix).copied().unwrap_or(0)
    }

    /// A creation time, later than every one before.
    pub fn stamp(&mut self) -> String {
        self.clock += 1;
        vibes_core::apply::lock::rfc3339(EPOCH + self.clock)
    }

    /// The outputs a stack gets when it settles: those set by the test, else the defaults of
    /// `<project>-main` and `<project>-vpc`.
    pub fn stack_outputs(
        &mut self,
        stack_name: &str,
        parameters: &BTreeMap<String, String>,
        set: Option<&BTreeMap<String, String>>,
    ) -> BTreeMap<String, String> {
        if let Some(set) = set {
            return set.clone();
        }
        let mut o = BTreeMap::new();
        if let Some(project) = stack_name.strip_suffix("-main") {
            o.insert(outputs::SOURCES_BUCKET.into(), format!("{project}-sources"));
            o.insert(
                outputs::ARTIFACTS_BUCKET.into(),
                format!("{project}-artifacts"),
            );
            o.insert(
                outputs::IMAGE_BUILD_PROJECT.into(),
                format!("{project}-image-build"),
            );
            o.insert(outputs::WORKER_LAUNCH_TEMPLATE.into(), self.id("lt"));
            o.insert(outputs::SERVER_LAUNCH_TEMPLATE.into(), self.id("lt"));
            // The main stack passes its AvailabilityZone parameter on (cfn/main.yaml).
            let zone = parameters
                .get(outputs::AVAILABILITY_ZONE)
                .filter(|z| !z.is_empty())
                .map_or(ZONES[0], String::as_str);
            o.insert(outputs::AVAILABILITY_ZONE.into(), zone.into());
        } else if stack_name.ends_with("-vpc") {
            o.insert("VpcId".into(), self.id("vpc"));
            o.insert("PublicSubnetId".into(), self.id("subnet"));
            let private = self.id("subnet");
            o.insert("PrivateSubnetId".into(), private.clone());
            // cfn/vpc.yaml's WorkerSubnet defaults to private.
            o.insert("WorkerSubnetId".into(), private);
            // The zone given, else the region's first (cfn/vpc.yaml).
            let zone = parameters
                .get(outputs::AVAILABILITY_ZONE)
                .filter(|z| !z.is_empty())
                .map_or(ZONES[0], String::as_str);
            o.insert(outputs::AVAILABILITY_ZONE.into(), zone.into());
        }
        o
    }

    /// The earliest moment after `now` something is due to change, to sleep until in a wait.
    pub fn next_event(&self, now: Instant) -> Option<Instant> {
        let stacks = self
            .stacks
            .values()
            .filter_map(|s| s.settles.as_ref().map(|(t, ..)| *t));
        let builds = self
            .builds
            .values()
            .filter(|b| b.status.is_none())
            .map(|b| b.done_at);
        let snaps = self
            .snapshots
            .values()
            .filter(|(s, _)| s.state == SnapshotState::Pending)
            .map(|(_, t)| *t);
        let instances = self.instances.values().flat_map(|i| {
            let start = (i.observed.state == InstanceState::Pending).then_some(i.running_at);
            let done = i
                .worker
                .as_ref()
                .filter(|_| i.observed.state == InstanceState::Running)
                .and_then(|w| w.done_at);
            start.into_iter().chain(done)
        });
        let reveal = self.visibility.next_reveal(now);
        stacks
            .chain(builds)
            .chain(snaps)
            .chain(instances)
            .chain(reveal)
            .min()
    }

    /// Everything due by `now` happens.
    pub fn advance(&mut self, now: Instant) {
        let names: Vec<String> = self.stacks.keys().cloned().collect();
        for name in names {
            let due = self.stacks[&name]
                .settles
                .as_ref()
                .is_some_and(|(t, ..)| *t <= now);
            if !due {
                continue;
            }
            let s = self.stacks.get_mut(&name).expect("listed");
            let (_, mut status, outputs) = s.settles.take().expect("due");
            if status == "DELETE_COMPLETE" {
                // CloudFormation deletes a bucket only when it is empty: "You can only delete
                // empty buckets. Deletion fails for buckets that have contents."
                // (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-s3-bucket.html)
                // The sources bucket is kept (DeletionPolicy: Retain); the artifacts bucket goes.
                let artifacts = s.outputs.get(outputs::ARTIFACTS_BUCKET).cloned();
                match artifacts.as_ref().and_then(|b| self.buckets.get(b)) {
                    Some(objects) if !objects.is_empty() => {
                        status = "DELETE_FAILED".into();
                        s.reason = Some(format!(
                            "The following resource(s) failed to delete: [ArtifactsBucket]. \
                             ArtifactsBucket: The bucket you tried to delete is not empty ({})",
                            artifacts.unwrap_or_default()
                        ));
                    }
                    Some(_) => {
                        self.buckets.remove(&artifacts.unwrap_or_default());
                    }
                    None => {}
                }
            }
            let s = self.stacks.get_mut(&name).expect("listed");
            let ok = status == "CREATE_COMPLETE" || status == "UPDATE_COMPLETE";
            s.status = status;
            if ok {
                s.outputs = outputs;
                // The main stack makes the buckets its outputs name.
                for key in [outputs::SOURCES_BUCKET, outputs::ARTIFACTS_BUCKET] {
                    if let Some(b) = s.outputs.get(key).cloned() {
                        self.buckets.entry(b).or_default();
                    }
                }
            }
        }

        let due: Vec<String> = self
            .builds
            .iter()
            .filter(|(_, b)| b.status.is_none() && b.done_at <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for id in due {
            let b = self.builds[&id].clone();
            let status = match (&b.behaviour, b.recipe_present) {
                (ImageBuildBehaviour::Fail, _) | (_, false) => "FAILED",
                _ => "SUCCEEDED",
            };
            if status == "SUCCEEDED" && b.behaviour == ImageBuildBehaviour::Succeed {
                let image_id = self.id("ami");
                let created = self.stamp();
                let name = format!(
                    "{}-{}",
                    b.req
                        .tags
                        .get(tags::ADDRESS)
                        .map(String::as_str)
                        .unwrap_or("image")
                        .replace('.', "-"),
                    b.req
                        .tags
                        .get(tags::FINGERPRINT)
                        .map(String::as_str)
                        .unwrap_or("x")
                );
                self.images.insert(
                    image_id.clone(),
                    ObservedImage {
                        image_id,
                        name,
                        state: "available".into(),
                        created,
                        tags: b.req.tags.clone(),
                        // Packer builds for the recipe's `arch` variable (PKR_VAR_arch).
                        architecture: Some(b.req.arch),
                    },
                );
            }
            self.builds.get_mut(&id).expect("listed").status = Some(status.into());
        }

        for (s, ready) in self.snapshots.values_mut() {
            if s.state == SnapshotState::Pending && *ready <= now {
                s.state = "completed".into();
            }
        }

        let mut statuses = Vec::new();
        let mut ended = Vec::new();
        for (id, i) in self.instances.iter_mut() {
            if i.observed.state == InstanceState::Pending && i.running_at <= now {
                if let Some(CompileBehaviour::LaunchFails(code)) =
                    i.worker.as_ref().map(|w| &w.behaviour)
                {
                    i.observed.state_reason = Some(code.clone());
                    ended.push(id.clone());
                    continue;
                }
                i.observed.state = "running".into();
                i.console = match i.worker.as_ref().map(|w| &w.behaviour) {
                    Some(CompileBehaviour::UnitSkipped) => SKIPPED_UNIT_CONSOLE.to_string(),
                    Some(_) => "[  OK  ] Started vibes-compile.service - vibes: compile the sources into every profile\n".to_string(),
                    None => String::new(),
                };
            }
            if i.observed.state != InstanceState::Running {
                continue;
            }
            let Some(w) = &mut i.worker else { continue };
            if !w.reported && w.done_at.is_some_and(|t| t > now) {
                w.reported = true;
                let value = serde_json::json!({ "built_from": w.built_from, "progress": { "done": 1, "total": 2 } }).to_string();
                statuses.push((format!("/{}/compile/progress", w.project), value));
            }
            if w.done_at.is_some_and(|t| t <= now) {
                let report = match &w.behaviour {
                    CompileBehaviour::Succeed => Some(("succeeded", String::new())),
                    CompileBehaviour::Fail(m) => Some(("failed", m.clone())),
                    CompileBehaviour::NeverFinish
                    | CompileBehaviour::UnitSkipped
                    | CompileBehaviour::LaunchFails(_) => continue,
                    // The shutdown sends the boot script SIGTERM: it reports "interrupted".
                    CompileBehaviour::SpotInterruption => Some((
                        "interrupted",
                        "shut down from outside while compiling (exit 143)".to_string(),
                    )),
                    CompileBehaviour::StatusUnwritable => None,
                };
                if let Some((status, message)) = report {
                    let value = serde_json::json!({ "built_from": w.built_from, "status": status, "message": message }).to_string();
                    statuses.push((format!("/{}/compile/status", w.project), value));
                }
                // Why EC2 says it ended: its own poweroff, or the Spot capacity taken back.
                i.observed.state_reason = Some(
                    if w.behaviour == CompileBehaviour::SpotInterruption {
                        "Server.SpotInstanceTermination"
                    } else {
                        "Client.InstanceInitiatedShutdown"
                    }
                    .into(),
                );
                // The worker powers itself off (or EC2 takes it back): a one-time Spot
                // instance terminates rather than stops.
                if i.spot || w.behaviour == CompileBehaviour::SpotInterruption {
                    ended.push(id.clone());
                } else {
                    i.observed.state = "stopped".into();
                }
            }
        }
        for id in ended {
            self.terminated(&id);
        }
        for (name, value) in statuses {
            self.put_param(&name, value, false, &Tags::new());
        }
    }

    /// An instance terminates: its Elastic IP is disassociated (EC2 does so), the volumes
    /// mapped at launch go with it (DeleteOnTermination), and the others (attached after
    /// launch, or a Spot instance's) are let go of. It still lists them, for tests to read
    /// what it ran with.
    pub fn terminated(&mut self, instance_id: &str) {
        let Some(i) = self.instances.get_mut(instance_id) else {
            return;
        };
        i.observed.state = "terminated".into();
        // Terminated by a call, unless it ended on its own first (its reason is kept).
        if i.observed.state_reason.is_none() {
            i.observed.state_reason = Some("Client.UserInitiatedShutdown".into());
        }
        i.worker = None;
        let held: Vec<String> = i.observed.volumes.values().cloned().collect();
        for a in self.addresses.values_mut() {
            if a.instance_id.as_deref() == Some(instance_id) {
                a.instance_id = None;
            }
        }
        for v in held {
            if let Some(v) = self.volumes.get_mut(&v) {
                v.state = "available".into();
            }
        }
        let gone: Vec<String> = self
            .deleted_with
            .iter()
            .filter(|(_, by)| by.as_str() == instance_id)
            .map(|(v, _)| v.clone())
            .collect();
        for v in gone {
            self.deleted_with.remove(&v);
            self.volumes.remove(&v);
        }
    }

    /// SSM PutParameter with overwrite: tags only on a new parameter.
    pub fn put_param(&mut self, name: &str, value: String, secure: bool, tags: &Tags) {
        match self.parameters.get_mut(name) {
            Some(p) => {
                p.value = value;
                p.secure = secure;
                p.version += 1;
            }
            None => {
                self.parameters.insert(
                    name.into(),
                    Param {
                        value,
                        secure,
                        tags: tags.clone(),
                        version: 1,
                    },
                );
            }
        }
    }
}
