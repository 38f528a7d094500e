//! EBS volumes and snapshots, tagged at creation; observe reads the project's.

use super::{project_filter, tag_spec, tags_of};
use crate::error::{cloud_err, Failure};
use crate::poll::poll;
use crate::AwsCloud;
use async_trait::async_trait;
use aws_sdk_ec2::types::{ResourceType, SnapshotState, VolumeType};
use std::collections::BTreeMap;
use std::time::Duration;
use vibes_core::cloud::{CloudError, CloudResult, Volumes};
use vibes_core::observed::{ObservedSnapshot, ObservedVolume};
use vibes_core::tags::Tags;

impl AwsCloud {
    /// One snapshot, as DescribeSnapshots tells it; `None` when it answers with none.
    async fn describe_snapshot(
        &self,
        snapshot_id: &str,
    ) -> CloudResult<Option<aws_sdk_ec2::types::Snapshot>> {
        let out = self
            .ec2
            .describe_snapshots()
            .snapshot_ids(snapshot_id)
            .send()
            .await
            .map_err(|e| cloud_err("DescribeSnapshots", snapshot_id, e))?;
        Ok(out.snapshots().first().cloned())
    }

    /// The size in GiB of the volume `snapshot_id` was taken of (what a volume from it is made
    /// at unless asked for more); `None` when EC2 does not say.
    pub(crate) async fn snapshot_gib(&self, snapshot_id: &str) -> CloudResult<Option<u32>> {
        Ok(self
            .describe_snapshot(snapshot_id)
            .await?
            .and_then(|s| s.volume_size())
            .map(|g| g.max(0) as u32))
    }
}

#[async_trait]
impl Volumes for AwsCloud {
    /// A gp3 volume; the client token makes a retried create return the same volume.
    async fn create_volume(
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
            .encrypted(true)
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

    async fn create_snapshot(&self, volume_id: &str, tags: &Tags) -> CloudResult<String> {
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
    async fn wait_snapshot(&self, snapshot_id: &str, timeout: Duration) -> CloudResult<()> {
        poll(
            "WaitSnapshot",
            &format!("snapshot {snapshot_id}"),
            timeout,
            || async {
                let Some(s) = self.describe_snapshot(snapshot_id).await? else {
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
    async fn delete_snapshot(&self, snapshot_id: &str) -> CloudResult<()> {
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
    /// (`VolumeInUse`): [`CloudError::InUse`].
    async fn delete_volume(&self, volume_id: &str) -> CloudResult<()> {
        match self.ec2.delete_volume().volume_id(volume_id).send().await {
            Ok(_) => Ok(()),
            Err(e) => match Failure::from_sdk(&e).into_cloud("DeleteVolume", volume_id, &[]) {
                CloudError::NotFound { .. } => Ok(()),
                other => Err(other),
            },
        }
    }
}

pub(crate) async fn volumes(
    ec2: &aws_sdk_ec2::Client,
    project: &str,
) -> CloudResult<BTreeMap<String, ObservedVolume>> {
    let mut out = BTreeMap::new();
    let mut pages = ec2
        .describe_volumes()
        .filters(project_filter(project))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| cloud_err("DescribeVolumes", "volumes", e))?;
        for v in page.volumes() {
            let Some(id) = v.volume_id() else { continue };
            out.insert(
                id.to_string(),
                ObservedVolume {
                    volume_id: id.into(),
                    size_gib: v.size().unwrap_or_default().max(0) as u32,
                    state: v
                        .state()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default()
                        .into(),
                    tags: tags_of(v.tags()),
                },
            );
        }
    }
    Ok(out)
}

pub(crate) async fn snapshots(
    ec2: &aws_sdk_ec2::Client,
    project: &str,
) -> CloudResult<BTreeMap<String, ObservedSnapshot>> {
    let mut out = BTreeMap::new();
    let mut pages = ec2
        .describe_snapshots()
        .owner_ids("self")
        .filters(project_filter(project))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| cloud_err("DescribeSnapshots", "snapshots", e))?;
        for s in page.snapshots() {
            let Some(id) = s.snapshot_id() else { continue };
            out.insert(id.to_string(), snapshot_of(s));
        }
    }
    Ok(out)
}

pub(crate) fn snapshot_of(s: &aws_sdk_ec2::types::Snapshot) -> ObservedSnapshot {
    ObservedSnapshot {
        snapshot_id: s.snapshot_id().unwrap_or_default().into(),
        volume_id: s.volume_id().unwrap_or_default().into(),
        state: s
            .state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default()
            .into(),
        started: s
            .start_time()
            .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
            .unwrap_or_default(),
        tags: tags_of(s.tags()),
    }
}
