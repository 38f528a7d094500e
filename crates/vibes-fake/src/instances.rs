//! The fake's instances: launches under client tokens ([`super::tokens`]), reads that may lag a
//! launch ([`super::lag`]), volumes mapped at launch (from a snapshot or empty) and deleted with
//! the instance, volumes attached after launch, and workers that compile once they have their
//! builds volume.
//!
//! Block device mappings as EC2 documents them (RunInstances, `BlockDeviceMapping.Ebs`): each
//! mapping makes a new volume, from `SnapshotId` (at the snapshot's size) or empty of
//! `VolumeSize` GiB; with `DeleteOnTermination` (which vibes always sets) the volume is deleted
//! when the instance terminates. The new volumes carry the tags of the launch's
//! `TagSpecifications` for volumes, which vibes gives the instance's tags.

use super::tokens::{parameters_hash, Claim};
use super::world::{CompileBehaviour, Instance, Worker, World};
use super::{not_found, FakeCloud};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;
use vibes_core::arch::Arch;
use vibes_core::cloud::Instances;
use vibes_core::cloud::{CloudError, CloudResult, InstanceRequest};
use vibes_core::observed::{ObservedInstance, ObservedVolume};
use vibes_core::states::InstanceState;
use vibes_core::tags;

/// The device the worker's builds volume is mapped or attached as.
const DATA_DEVICE: &str = "/dev/sdf";

/// Everything RunInstances is asked, the token left out: what a repeated token must match.
fn launch_parameters(req: &InstanceRequest) -> String {
    parameters_hash(&(
        &req.launch_template,
        &req.image_id,
        &req.instance_type,
        &req.tags,
        &req.volumes,
        &req.volume_sizes,
        &req.empty_volumes,
        req.spot,
    ))
}

/// The instance that holds `volume_id` attached, if one not terminated does.
fn holder_of<'w>(w: &'w World, volume_id: &str) -> Option<&'w str> {
    w.instances
        .iter()
        .find(|(_, i)| {
            i.observed.state != InstanceState::Terminated
                && i.volumes.values().any(|v| v == volume_id)
        })
        .map(|(id, _)| id.as_str())
}

#[async_trait]
impl Instances for FakeCloud {
    async fn run_instance(&self, req: &InstanceRequest) -> CloudResult<String> {
        let _s = self.enter("run_instance", &req.client_token).await?;
        let (start, run, behaviour, lag) = {
            let mut k = self.knobs();
            let behaviour = k.compile.clone();
            // An interruption takes one worker; the capacity is back for the next.
            if behaviour == CompileBehaviour::SpotInterruption
                && req.tags.get(tags::ADDRESS).map(String::as_str) == Some("compile")
            {
                k.compile = CompileBehaviour::Succeed;
            }
            (
                k.latency.get("instance_start").copied().unwrap_or_default(),
                k.latency.get("compile_run").copied().unwrap_or_default(),
                behaviour,
                k.read_lag,
            )
        };
        let parameters = launch_parameters(req);
        let mut w = self.world();
        // EC2 launches an image only on an instance type of its architecture.
        let image_arch = w.images.get(&req.image_id).and_then(|i| i.architecture);
        if let (Some(image), Some(runs)) = (image_arch, Arch::of_instance_type(&req.instance_type))
        {
            if image != runs {
                return Err(CloudError::permanent(
                    "run_instance",
                    format!(
                        "InvalidParameterValue: The architecture '{runs}' of the specified instance type does not match \
                         the architecture '{image}' of the specified AMI. Specify an instance type and an AMI that have \
                         matching architectures, and try again."
                    ),
                ));
            }
        }
        match w.instance_tokens.claim(&req.client_token, &parameters) {
            Claim::New => {}
            Claim::Repeat(id) => {
                // The same answer as the first time, with the instance's state as it is now.
                let state = &w.instances[&id].observed.state;
                if !state.is_live() {
                    return Err(CloudError::InstanceEnded {
                        operation: "run_instance".into(),
                        instance_id: id,
                        state: state.to_string(),
                    });
                }
                return Ok(id);
            }
            Claim::Mismatch => {
                return Err(CloudError::IdempotentParameterMismatch {
                    operation: "run_instance".into(),
                    message: format!(
                        "client token {} was used with other parameters",
                        req.client_token
                    ),
                })
            }
        }
        if req.launch_template.is_empty() {
            return Err(CloudError::permanent(
                "run_instance",
                "InvalidLaunchTemplateName: empty",
            ));
        }
        for (device, source) in &req.volumes {
            let ready = w
                .snapshots
                .get(source)
                .is_some_and(|(s, _)| s.state.is_complete());
            if !ready {
                return Err(CloudError::permanent(
                    "run_instance",
                    format!("{source} (for {device}) is not a completed snapshot"),
                ));
            }
        }
        for (device, size) in &req.empty_volumes {
            // EC2: VolumeSize 1-16384 GiB for gp3; a device mapped twice is refused.
            if !(1..=16384).contains(size) || req.volumes.contains_key(device) {
                return Err(CloudError::permanent(
                    "run_instance",
                    format!("InvalidBlockDeviceMapping: {device} ({size} GiB)"),
                ));
            }
        }
        let id = w.id("i");
        let n = w.ids_issued("i");
        let now = Instant::now();
        let worker =
            (req.tags.get(tags::ADDRESS).map(String::as_str) == Some("compile")).then(|| Worker {
                project: req.tags.get(tags::PROJECT).cloned().unwrap_or_default(),
                built_from: req.tags.get(tags::FINGERPRINT).cloned().unwrap_or_default(),
                run,
                done_at: None,
                behaviour,
                reported: false,
            });
        // One new volume per mapping, tagged like the instance, in use from the launch.
        let mut mapped = BTreeMap::new();
        let sources = req
            .volumes
            .iter()
            .map(|(d, snap)| {
                // EC2 makes the volume as big as asked when that is more than the snapshot.
                let of_snapshot = w.snapshot_gib.get(snap).copied().unwrap_or(1);
                let asked = req.volume_sizes.get(d).copied().unwrap_or(0);
                (d, Some(snap), of_snapshot.max(asked))
            })
            .chain(req.empty_volumes.iter().map(|(d, size)| (d, None, *size)))
            .collect::<Vec<_>>();
        for (device, _, size_gib) in sources {
            let volume_id = w.id("vol");
            w.volumes.insert(
                volume_id.clone(),
                ObservedVolume {
                    volume_id: volume_id.clone(),
                    size_gib,
                    state: "in-use".into(),
                    tags: req.tags.clone(),
                },
            );
            // A Spot instance's volumes are kept at termination (DeleteOnTermination false).
            if !req.spot {
                w.deleted_with.insert(volume_id.clone(), id.clone());
            }
            mapped.insert(device.clone(), volume_id);
        }
        let mut launched = req.volumes.clone();
        for d in req.empty_volumes.keys() {
            launched.insert(d.clone(), mapped[d].clone());
        }
        let mut worker = worker;
        // A worker launched with its builds volume mapped starts compiling once it runs.
        if let Some(worker) = worker.as_mut().filter(|_| mapped.contains_key(DATA_DEVICE)) {
            worker.start(now + start, now);
        }
        let observed = ObservedInstance {
            instance_id: id.clone(),
            state: "pending".into(),
            public_ip: worker
                .is_none()
                .then(|| format!("203.0.113.{}", n % 250 + 1)),
            private_ip: Some(format!("10.0.1.{}", n % 250 + 1)),
            tags: req.tags.clone(),
            volumes: mapped,
            state_reason: None,
        };
        w.instance_tokens
            .record(&req.client_token, &parameters, &id);
        if !lag.is_zero() {
            w.visibility.hide_until(&id, now + lag);
        }
        w.instances.insert(
            id.clone(),
            Instance {
                observed,
                running_at: now + start,
                worker,
                volumes: launched,
                spot: req.spot,
                console: String::new(),
            },
        );
        Ok(id)
    }

    async fn attach_volume(
        &self,
        instance_id: &str,
        volume_id: &str,
        device: &str,
        timeout: Duration,
    ) -> CloudResult<()> {
        let _s = self.enter("attach_volume", instance_id).await?;
        let what = format!("{volume_id} to attach to {instance_id}");
        self.wait_for("attach_volume", what, timeout, |w| {
            let now = Instant::now();
            let Some(i) = w.instances.get(instance_id) else {
                return Err(not_found(
                    "attach_volume",
                    format!("instance {instance_id}"),
                ));
            };
            if !w.volumes.contains_key(volume_id) {
                return Err(not_found("attach_volume", format!("volume {volume_id}")));
            }
            if i.volumes.get(device).map(String::as_str) == Some(volume_id) {
                return Ok(Some(()));
            }
            let state = &i.observed.state;
            if !state.is_live() {
                return Err(CloudError::permanent(
                    "attach_volume",
                    format!("IncorrectInstanceState: {instance_id} is {state}"),
                ));
            }
            // Not known to reads yet, not running yet, or the volume still held by an instance
            // on its way out: wait, as the adapter does.
            if w.visibility.hidden(instance_id, now)
                || *state == InstanceState::Pending
                || holder_of(w, volume_id).is_some()
            {
                return Ok(None);
            }
            if let Some(v) = w.volumes.get_mut(volume_id) {
                v.state = "in-use".into();
            }
            let i = w.instances.get_mut(instance_id).expect("looked up");
            i.volumes.insert(device.to_string(), volume_id.to_string());
            i.observed
                .volumes
                .insert(device.to_string(), volume_id.to_string());
            let running_at = i.running_at;
            if let Some(worker) = i.worker.as_mut() {
                worker.start(running_at, now);
            }
            Ok(Some(()))
        })
        .await
    }

    async fn wait_instance(
        &self,
        instance_id: &str,
        states: &[&str],
        timeout: Duration,
    ) -> CloudResult<ObservedInstance> {
        let _s = self.enter("wait_instance", instance_id).await?;
        self.wait_for(
            "wait_instance",
            format!("{instance_id} to be {}", states.join(" or ")),
            timeout,
            |w| {
                let unknown = || not_found("wait_instance", format!("instance {instance_id}"));
                if w.visibility.hidden(instance_id, Instant::now()) {
                    return Err(unknown());
                }
                let i = w.instances.get(instance_id).ok_or_else(unknown)?;
                if states.contains(&i.observed.state.as_str()) {
                    return Ok(Some(i.observed.clone()));
                }
                if !i.observed.state.is_live() {
                    // EC2's state reason, as the adapter quotes it.
                    let why = i
                        .observed
                        .state_reason
                        .as_deref()
                        .unwrap_or("no reason given");
                    return Err(CloudError::permanent(
                        "wait_instance",
                        format!("{instance_id} is {} ({why})", i.observed.state),
                    ));
                }
                Ok(None)
            },
        )
        .await
    }

    /// A missing instance is not an error (as in the adapter, which takes EC2's NotFound for
    /// "already gone") — and neither is one reads do not know yet, which is left running.
    async fn terminate_instance(&self, instance_id: &str) -> CloudResult<()> {
        let _s = self.enter("terminate_instance", instance_id).await?;
        let mut w = self.world();
        if w.visibility.hidden(instance_id, Instant::now()) {
            return Ok(());
        }
        w.terminated(instance_id);
        Ok(())
    }
    async fn zones_offering(&self, instance_types: &[String]) -> CloudResult<Vec<String>> {
        let _s = self
            .enter("zones_offering", &instance_types.join(","))
            .await?;
        let offerings = self.knobs().offerings.clone();
        Ok(crate::world::ZONES
            .iter()
            .filter(|zone| {
                // A name that is no instance type is offered nowhere.
                instance_types.iter().all(|t| {
                    Arch::of_instance_type(t).is_some()
                        && offerings
                            .get(t)
                            .is_none_or(|offered| offered.iter().any(|o| o == *zone))
                })
            })
            .map(|z| z.to_string())
            .collect())
    }

    async fn console_output(&self, instance_id: &str) -> CloudResult<String> {
        let _s = self.enter("console_output", instance_id).await?;
        let mut w = self.world();
        w.advance(Instant::now());
        match w.instances.get(instance_id) {
            Some(i) => Ok(i.console.clone()),
            None => Err(not_found("GetConsoleOutput", instance_id)),
        }
    }
}

impl FakeCloud {
    /// The instances `observe` shows: the project's, not terminated, known to reads.
    pub(super) fn observed_instances(
        w: &World,
        project: &str,
    ) -> BTreeMap<String, ObservedInstance> {
        let now = Instant::now();
        w.instances
            .iter()
            .filter(|(id, i)| {
                super::owned_by(&i.observed.tags, project)
                    && i.observed.state != InstanceState::Terminated
                    && !w.visibility.hidden(id, now)
            })
            .map(|(k, i)| (k.clone(), i.observed.clone()))
            .collect()
    }
}
