//! Instances from the stack's launch templates.
//!
//! A launch is one RunInstances and nothing more: it returns as soon as EC2 answers, so that
//! the caller holds the instance (and can terminate it) before anything else happens. EC2
//! answers a repeated client token with the instance it first launched, whatever its state
//! (for at least 24 hours after it terminated); such an answer is told apart at once
//! ([`CloudError::InstanceEnded`]) so the caller launches again under a new token instead of
//! waiting on an instance that is gone.
//!
//! Snapshots in [`InstanceRequest::volumes`] (the builds the server serves or the worker
//! compiles onto) and sizes in [`InstanceRequest::empty_volumes`] (the worker's first builds
//! volume) become BlockDeviceMappings (EC2 API reference, `EbsBlockDevice`: `SnapshotId`, or
//! `VolumeSize` alone for an empty volume; `DeleteOnTermination`): a fresh gp3 volume each, in
//! the instance's availability zone, deleted with the instance. The boot scripts wait for the
//! device to appear. [`Instances::attach_volume`] attaches an existing volume after launch.
//!
//! A Spot launch ([`InstanceRequest::spot`]) asks for a one-time Spot instance that terminates
//! when interrupted (`InstanceMarketOptions`, `SpotMarketOptions`), and overrides the launch
//! template's shutdown behaviour with `terminate`: a one-time Spot instance cannot stop. Its
//! mapped volumes are kept at termination (`DeleteOnTermination` false), for the caller to
//! resume on or delete.
//!
//! Observe reads the project's instances that are not terminated.

use super::{project_filter, tag_spec, tags_of};
use crate::error::{cloud_err, Failure};
use crate::poll::poll;
use crate::AwsCloud;
use async_trait::async_trait;
use aws_sdk_ec2::types::{
    BlockDeviceMapping, EbsBlockDevice, Filter, Instance, InstanceInterruptionBehavior,
    InstanceMarketOptionsRequest, InstanceStateName, InstanceType, LaunchTemplateSpecification,
    MarketType, ResourceType, ShutdownBehavior, SpotInstanceType, SpotMarketOptions, VolumeState,
    VolumeType,
};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio::time::Instant;
use vibes_core::apply::launch::VISIBILITY_GRACE;
use vibes_core::cloud::{CloudError, CloudResult, InstanceRequest, Instances};
use vibes_core::observed::ObservedInstance;

/// The launch template's newest version. CloudFormation writes a new version of the template on
/// each stack update and leaves the default version where it was (the first), so `$Default` would
/// launch the template as the stack was first created. vibes' launch templates belong to its
/// stacks, which write every version, so the newest is the one the stack describes now.
/// <https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/manage-launch-template-versions.html>
const LAUNCH_TEMPLATE_VERSION: &str = "$Latest";

fn launch_template(name_or_id: &str) -> LaunchTemplateSpecification {
    let b = LaunchTemplateSpecification::builder().version(LAUNCH_TEMPLATE_VERSION);
    if name_or_id.starts_with("lt-") {
        b.launch_template_id(name_or_id).build()
    } else {
        b.launch_template_name(name_or_id).build()
    }
}

/// The state of an instance RunInstances answered with, when it has already ended: the
/// answer to a token an earlier launch spent.
fn ended_state(instance: &Instance) -> Option<&'static str> {
    match instance.state().and_then(|s| s.name()) {
        Some(InstanceStateName::ShuttingDown) => Some("shutting-down"),
        Some(InstanceStateName::Terminated) => Some("terminated"),
        _ => None,
    }
}

#[async_trait]
impl Instances for AwsCloud {
    async fn run_instance(&self, req: &InstanceRequest) -> CloudResult<String> {
        let mut mappings = Vec::new();
        for (device, id) in &req.volumes {
            if !id.starts_with("snap-") {
                return Err(CloudError::permanent(
                    "RunInstances",
                    format!("{device}: `{id}` is not a snapshot id; an existing volume is attached after launch"),
                ));
            }
            // At least the size asked: a snapshot smaller than that gets a bigger volume (EC2
            // refuses a VolumeSize below the snapshot's, so it is asked only when above it).
            let size = match req.volume_sizes.get(device) {
                Some(&least) => self
                    .snapshot_gib(id)
                    .await?
                    .filter(|&s| s < least)
                    .map(|_| least),
                None => None,
            };
            let ebs = EbsBlockDevice::builder()
                .snapshot_id(id)
                .set_volume_size(size.map(|s| s as i32))
                .volume_type(VolumeType::Gp3)
                .encrypted(true)
                .delete_on_termination(!req.spot)
                .build();
            mappings.push(
                BlockDeviceMapping::builder()
                    .device_name(device)
                    .ebs(ebs)
                    .build(),
            );
        }
        for (device, size_gib) in &req.empty_volumes {
            // Encrypted as the root volume is (cfn/main.yaml's launch templates): the builds
            // are the user's music, and a volume from an encrypted snapshot is encrypted anyway.
            let ebs = EbsBlockDevice::builder()
                .volume_size(*size_gib as i32)
                .volume_type(VolumeType::Gp3)
                .encrypted(true)
                .delete_on_termination(!req.spot)
                .build();
            mappings.push(
                BlockDeviceMapping::builder()
                    .device_name(device)
                    .ebs(ebs)
                    .build(),
            );
        }
        let out = self
            .ec2
            .run_instances()
            .launch_template(launch_template(&req.launch_template))
            // The templates carry no image: the AMI is chosen per launch (the newest built).
            .set_image_id((!req.image_id.is_empty()).then(|| req.image_id.clone()))
            .instance_type(InstanceType::from(req.instance_type.as_str()))
            .min_count(1)
            .max_count(1)
            .client_token(&req.client_token)
            .set_block_device_mappings((!mappings.is_empty()).then_some(mappings))
            .set_instance_market_options(req.spot.then(|| {
                InstanceMarketOptionsRequest::builder()
                    .market_type(MarketType::Spot)
                    .spot_options(
                        SpotMarketOptions::builder()
                            .spot_instance_type(SpotInstanceType::OneTime)
                            .instance_interruption_behavior(InstanceInterruptionBehavior::Terminate)
                            .build(),
                    )
                    .build()
            }))
            .set_instance_initiated_shutdown_behavior(
                req.spot.then_some(ShutdownBehavior::Terminate),
            )
            .tag_specifications(tag_spec(ResourceType::Instance, &req.tags))
            .tag_specifications(tag_spec(ResourceType::Volume, &req.tags))
            .send()
            .await
            .map_err(|e| cloud_err("RunInstances", &req.launch_template, e))?;
        let instance = out.instances().first();
        let id = instance
            .and_then(|i| i.instance_id())
            .ok_or_else(|| {
                CloudError::permanent(
                    "RunInstances",
                    format!("{}: no instance returned", req.launch_template),
                )
            })?
            .to_string();
        // Before anything else: an ended instance is an earlier launch's, not this one's.
        if let Some(state) = instance.and_then(ended_state) {
            return Err(CloudError::InstanceEnded {
                operation: "RunInstances".into(),
                instance_id: id,
                state: state.into(),
            });
        }
        Ok(id)
    }

    /// Waits for the instance to run (through the moment after its launch when EC2's reads do
    /// not know it yet) and for the volume to be free (a terminated worker may still hold it),
    /// then attaches it. Already attached to this instance is done.
    async fn attach_volume(
        &self,
        instance_id: &str,
        volume_id: &str,
        device: &str,
        timeout: Duration,
    ) -> CloudResult<()> {
        let started = Instant::now();
        let grace = VISIBILITY_GRACE.min(timeout);
        poll(
            "AttachVolume",
            &format!("instance {instance_id} to run"),
            timeout,
            || async {
                match self
                    .wait_instance(instance_id, &["running", "stopped"], Duration::ZERO)
                    .await
                {
                    Ok(_) => Ok(Some(())),
                    Err(CloudError::Timeout { .. }) => Ok(None),
                    Err(CloudError::NotFound { .. }) if started.elapsed() < grace => Ok(None),
                    Err(e) => Err(e),
                }
            },
        )
        .await?;
        let left = timeout.saturating_sub(started.elapsed());
        poll(
            "AttachVolume",
            &format!("volume {volume_id} to be free for {instance_id}"),
            left,
            || self.attach_if_free(instance_id, volume_id, device),
        )
        .await
    }

    /// Until the instance is in one of `states`; an instance that terminates on the way
    /// (and `terminated` was not asked for) fails at once with the reason EC2 gives.
    async fn wait_instance(
        &self,
        instance_id: &str,
        states: &[&str],
        timeout: Duration,
    ) -> CloudResult<ObservedInstance> {
        let wanted = states.join(" or ");
        poll(
            "WaitInstance",
            &format!("instance {instance_id} to be {wanted}"),
            timeout,
            || async {
                let out = self
                    .ec2
                    .describe_instances()
                    .instance_ids(instance_id)
                    .send()
                    .await
                    .map_err(|e| cloud_err("DescribeInstances", instance_id, e))?;
                let Some(i) = out.reservations().iter().flat_map(|r| r.instances()).next() else {
                    return Err(CloudError::NotFound {
                        operation: "DescribeInstances".into(),
                        what: instance_id.into(),
                    });
                };
                let seen = instance_of(i);
                if states.contains(&seen.state.as_str()) {
                    return Ok(Some(seen));
                }
                if !seen.state.is_live() {
                    let why = i
                        .state_reason()
                        .and_then(|r| r.message())
                        .unwrap_or("no reason given");
                    return Err(CloudError::permanent(
                        "WaitInstance",
                        format!("{instance_id} is {} ({why})", seen.state),
                    ));
                }
                Ok(None)
            },
        )
        .await
    }

    /// An instance already gone is not an error. (EC2 also says "not found" of an instance
    /// launched a moment ago; the core terminates only instances a read has shown.)
    async fn terminate_instance(&self, instance_id: &str) -> CloudResult<()> {
        match self
            .ec2
            .terminate_instances()
            .instance_ids(instance_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                match Failure::from_sdk(&e).into_cloud("TerminateInstances", instance_id, &[]) {
                    CloudError::NotFound { .. } => Ok(()),
                    other => Err(other),
                }
            }
        }
    }

    async fn console_output(&self, instance_id: &str) -> CloudResult<String> {
        self.read_console(instance_id).await
    }

    async fn zones_offering(&self, instance_types: &[String]) -> CloudResult<Vec<String>> {
        let mut offered: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut pages = self
            .ec2
            .describe_instance_type_offerings()
            .location_type(aws_sdk_ec2::types::LocationType::AvailabilityZone)
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("instance-type")
                    .set_values(Some(instance_types.to_vec()))
                    .build(),
            )
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                cloud_err(
                    "DescribeInstanceTypeOfferings",
                    &instance_types.join(","),
                    e,
                )
            })?;
            for o in page.instance_type_offerings() {
                if let (Some(zone), Some(t)) = (o.location(), o.instance_type()) {
                    offered
                        .entry(zone.to_string())
                        .or_default()
                        .insert(t.as_str().to_string());
                }
            }
        }
        Ok(offered
            .into_iter()
            .filter(|(_, types)| instance_types.iter().all(|t| types.contains(t)))
            .map(|(zone, _)| zone)
            .collect())
    }
}

impl AwsCloud {
    /// GetConsoleOutput with `Latest` (the newest 64 KB, on Nitro instances), decoded.
    pub(crate) async fn read_console(&self, instance_id: &str) -> CloudResult<String> {
        use base64::Engine;
        let out = self
            .ec2
            .get_console_output()
            .instance_id(instance_id)
            .latest(true)
            .send()
            .await
            .map_err(|e| cloud_err("GetConsoleOutput", instance_id, e))?;
        let encoded = out.output().unwrap_or_default();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|e| {
                CloudError::permanent(
                    "GetConsoleOutput",
                    format!("{instance_id}: not base64: {e}"),
                )
            })?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// One look at the volume: attached here is done; available is attached now; attached
    /// elsewhere is waited for.
    async fn attach_if_free(
        &self,
        instance_id: &str,
        volume_id: &str,
        device: &str,
    ) -> CloudResult<Option<()>> {
        let described = self
            .ec2
            .describe_volumes()
            .volume_ids(volume_id)
            .send()
            .await
            .map_err(|e| cloud_err("DescribeVolumes", volume_id, e))?;
        let Some(volume) = described.volumes().first() else {
            return Err(CloudError::NotFound {
                operation: "DescribeVolumes".into(),
                what: volume_id.into(),
            });
        };
        if volume
            .attachments()
            .iter()
            .any(|a| a.instance_id() == Some(instance_id))
        {
            return Ok(Some(()));
        }
        if volume.state() != Some(&VolumeState::Available) {
            return Ok(None);
        }
        self.ec2
            .attach_volume()
            .volume_id(volume_id)
            .instance_id(instance_id)
            .device(device)
            .send()
            .await
            .map_err(|e| cloud_err("AttachVolume", &format!("{volume_id} to {instance_id}"), e))?;
        Ok(Some(()))
    }
}

/// Instance states worth knowing about: terminated ones are history.
const LIVE_STATES: [&str; 5] = ["pending", "running", "shutting-down", "stopping", "stopped"];

pub(crate) async fn instances(
    ec2: &aws_sdk_ec2::Client,
    project: &str,
) -> CloudResult<BTreeMap<String, ObservedInstance>> {
    let mut out = BTreeMap::new();
    let live = Filter::builder()
        .name("instance-state-name")
        .set_values(Some(LIVE_STATES.map(String::from).to_vec()))
        .build();
    let mut pages = ec2
        .describe_instances()
        .filters(project_filter(project))
        .filters(live)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| cloud_err("DescribeInstances", "instances", e))?;
        for r in page.reservations() {
            for i in r.instances() {
                let Some(id) = i.instance_id() else { continue };
                out.insert(id.to_string(), instance_of(i));
            }
        }
    }
    Ok(out)
}

pub(crate) fn instance_of(i: &aws_sdk_ec2::types::Instance) -> ObservedInstance {
    ObservedInstance {
        instance_id: i.instance_id().unwrap_or_default().into(),
        state: i
            .state()
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_string())
            .unwrap_or_default()
            .into(),
        public_ip: i.public_ip_address().map(str::to_string),
        private_ip: i.private_ip_address().map(str::to_string),
        tags: tags_of(i.tags()),
        volumes: i
            .block_device_mappings()
            .iter()
            .filter_map(|m| {
                Some((
                    m.device_name()?.to_string(),
                    m.ebs()?.volume_id()?.to_string(),
                ))
            })
            .collect(),
        state_reason: i.state_reason().and_then(|r| r.code()).map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::types::InstanceState;

    fn answered(state: InstanceStateName) -> Instance {
        Instance::builder()
            .instance_id("i-0123456789abcdef0")
            .state(InstanceState::builder().name(state).build())
            .build()
    }

    #[test]
    fn an_answer_with_an_ended_instance_is_told_apart() {
        assert_eq!(
            ended_state(&answered(InstanceStateName::Terminated)),
            Some("terminated")
        );
        assert_eq!(
            ended_state(&answered(InstanceStateName::ShuttingDown)),
            Some("shutting-down")
        );
        for live in [
            InstanceStateName::Pending,
            InstanceStateName::Running,
            InstanceStateName::Stopping,
            InstanceStateName::Stopped,
        ] {
            assert_eq!(ended_state(&answered(live)), None);
        }
        assert_eq!(ended_state(&Instance::builder().build()), None);
    }
}
