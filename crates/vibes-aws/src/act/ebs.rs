//! EBS volumes and snapshots, tagged at creation.

use super::keys::tag_spec;
use super::poll::poll;
use crate::error::{cloud_err, Failure};
use crate::AwsCloud;
use aws_sdk_ec2::types::{ResourceType, SnapshotState, VolumeType};
use std::time::Duration;
use vibes_core::cloud::{CloudError, CloudResult};
use vibes_core::tags::Tags;

impl AwsCloud {
    /// A gp3 volume; the client token makes a retried create return the same volume.
    pub(crate) async fn create_volume_impl(
        &self,
        size_gib: u32,
        availability_zone: &str,
        tags: &Tags,
        token: &str,
    ) -> CloudResult<String> {
        let out = self
            .ec2
            .create_volume()
            .size(size_gib as i32)
            .availability_zone(availability_zone)
            .volume_type(VolumeType::Gp3)
            .client_token(token)
            .tag_specifications(tag_spec(ResourceType::Volume, tags))
            .send()
            .await
            .map_err(|e| {
                cloud_err(
                    "CreateVolume",
                    &format!("{size_gib} GiB in {availability_zone}"),
                    e,
                )
            })?;
        out.volume_id
            .ok_or_else(|| CloudError::permanent("CreateVolume", "no volume id returned"))
    }

    pub(crate) async fn create_snapshot_impl(
        &self,
        volume_id: &str,
        tags: &Tags,
    ) -> CloudResult<String> {
        let description = tags
            .get(vibes_core::tags::ADDRESS)
            .map(|a| format!("vibes {a}"))
            .unwrap_or_else(|| "vibes".into());
        let out = self
            .ec2
            .create_snapshot()
            .volume_id(volume_id)
            .description(description)
            .tag_specifications(tag_spec(ResourceType::Snapshot, tags))
            .send()
            .await
            .map_err(|e| cloud_err("CreateSnapshot", volume_id, e))?;
        out.snapshot_id.ok_or_else(|| {
            CloudError::permanent(
                "CreateSnapshot",
                format!("{volume_id}: no snapshot id returned"),
            )
        })
    }

    /// Until `completed`; a snapshot in `error` fails at once.
    pub(crate) async fn wait_snapshot_impl(
        &self,
        snapshot_id: &str,
        timeout: Duration,
    ) -> CloudResult<()> {
        poll(
            "WaitSnapshot",
            &format!("snapshot {snapshot_id}"),
            timeout,
            || async {
                let out = self
                    .ec2
                    .describe_snapshots()
                    .snapshot_ids(snapshot_id)
                    .send()
                    .await
                    .map_err(|e| cloud_err("DescribeSnapshots", snapshot_id, e))?;
                let Some(s) = out.snapshots().first() else {
                    return Err(CloudError::NotFound {
                        operation: "DescribeSnapshots".into(),
                        what: snapshot_id.into(),
                    });
                };
                match s.state() {
                    Some(SnapshotState::Completed) => Ok(Some(())),
                    Some(SnapshotState::Error) => Err(CloudError::permanent(
                        "WaitSnapshot",
                        format!(
                            "snapshot {snapshot_id} failed: {}",
                            s.state_message().unwrap_or("no reason given")
                        ),
                    )),
                    _ => Ok(None),
                }
            },
        )
        .await
    }

    /// A snapshot already gone is not an error.
    pub(crate) async fn delete_snapshot_impl(&self, snapshot_id: &str) -> CloudResult<()> {
        match self
            .ec2
            .delete_snapshot()
            .snapshot_id(snapshot_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match Failure::from_sdk(&e).into_cloud("DeleteSnapshot", snapshot_id, &[]) {
                CloudError::NotFound { .. } => Ok(()),
                other => Err(other),
            },
        }
    }

    /// DeleteVolume: a volume already gone is done; EC2 refuses one attached to an instance
    /// (`VolumeInUse`), which is passed on as it is.
    pub(crate) async fn delete_volume_impl(&self, volume_id: &str) -> CloudResult<()> {
        match self.ec2.delete_volume().volume_id(volume_id).send().await {
            Ok(_) => Ok(()),
            Err(e) => match Failure::from_sdk(&e).into_cloud("DeleteVolume", volume_id, &[]) {
                CloudError::NotFound { .. } => Ok(()),
                other => Err(other),
            },
        }
    }
}
