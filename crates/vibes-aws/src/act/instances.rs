//! Instances from the stack's launch templates.
//!
//! Volumes in [`InstanceRequest::volumes`] are handled by what they name:
//! - a snapshot (`snap-…`, the server's builds) becomes a BlockDeviceMapping at launch: a fresh
//!   volume from the snapshot, deleted with the instance;
//! - a volume (`vol-…`, the worker's builds volume, which must outlive the instance) is
//!   attached once the instance runs (a launch cannot attach an existing volume). The launch
//!   template's subnet must be in the volume's availability zone; the worker waits for the
//!   device to appear before compiling.

use super::keys::tag_spec;
use super::poll::poll;
use crate::error::{cloud_err, Failure};
use crate::observe::instance_of;
use crate::AwsCloud;
use aws_sdk_ec2::types::{
    BlockDeviceMapping, EbsBlockDevice, InstanceType, LaunchTemplateSpecification, ResourceType,
    VolumeType,
};
use std::time::Duration;
use vibes_core::cloud::{CloudError, CloudResult, InstanceRequest};
use vibes_core::observed::ObservedInstance;

/// How long a launched instance may take to reach `running` before its volume is attached.
const RUNNING_TIMEOUT: Duration = Duration::from_secs(600);

fn launch_template(name_or_id: &str) -> LaunchTemplateSpecification {
    let b = LaunchTemplateSpecification::builder().version("$Default");
    if name_or_id.starts_with("lt-") {
        b.launch_template_id(name_or_id).build()
    } else {
        b.launch_template_name(name_or_id).build()
    }
}

impl AwsCloud {
    pub(crate) async fn run_instance_impl(&self, req: &InstanceRequest) -> CloudResult<String> {
        let mut mappings = Vec::new();
        let mut attach = Vec::new();
        for (device, id) in &req.volumes {
            if id.starts_with("snap-") {
                let ebs = EbsBlockDevice::builder()
                    .snapshot_id(id)
                    .volume_type(VolumeType::Gp3)
                    .delete_on_termination(true)
                    .build();
                mappings.push(
                    BlockDeviceMapping::builder()
                        .device_name(device)
                        .ebs(ebs)
                        .build(),
                );
            } else if id.starts_with("vol-") {
                attach.push((device.clone(), id.clone()));
            } else {
                return Err(CloudError::permanent(
                    "RunInstances",
                    format!("{device}: `{id}` is neither a snap- nor a vol- id"),
                ));
            }
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
            .tag_specifications(tag_spec(ResourceType::Instance, &req.tags))
            .tag_specifications(tag_spec(ResourceType::Volume, &req.tags))
            .send()
            .await
            .map_err(|e| cloud_err("RunInstances", &req.launch_template, e))?;
        let id = out
            .instances()
            .first()
            .and_then(|i| i.instance_id())
            .ok_or_else(|| {
                CloudError::permanent(
                    "RunInstances",
                    format!("{}: no instance returned", req.launch_template),
                )
            })?
            .to_string();
        if !attach.is_empty() {
            self.wait_instance_impl(&id, &["running"], RUNNING_TIMEOUT)
                .await?;
            for (device, volume) in attach {
                self.attach_once(&id, &volume, &device).await?;
            }
        }
        Ok(id)
    }

    /// Attach unless already attached to this instance (a rerun with the same client token
    /// gets the same instance back, volume and all).
    async fn attach_once(
        &self,
        instance_id: &str,
        volume_id: &str,
        device: &str,
    ) -> CloudResult<()> {
        let described = self
            .ec2
            .describe_volumes()
            .volume_ids(volume_id)
            .send()
            .await
            .map_err(|e| cloud_err("DescribeVolumes", volume_id, e))?;
        let attached_here = described
            .volumes()
            .iter()
            .flat_map(|v| v.attachments())
            .any(|a| a.instance_id() == Some(instance_id));
        if attached_here {
            return Ok(());
        }
        self.ec2
            .attach_volume()
            .volume_id(volume_id)
            .instance_id(instance_id)
            .device(device)
            .send()
            .await
            .map_err(|e| cloud_err("AttachVolume", &format!("{volume_id} to {instance_id}"), e))?;
        Ok(())
    }

    /// Until the instance is in one of `states`; an instance that terminates on the way
    /// (and `terminated` was not asked for) fails at once with the reason EC2 gives.
    pub(crate) async fn wait_instance_impl(
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
                if matches!(seen.state.as_str(), "terminated" | "shutting-down") {
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

    /// An instance already gone is not an error.
    pub(crate) async fn terminate_instance_impl(&self, instance_id: &str) -> CloudResult<()> {
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
}
