//! EC2 reads: key pairs, images, volumes, snapshots, instances. All but key pairs are
//! filtered on the project tag by EC2 itself; key pairs are few, so all are read and those
//! under the project's names kept too, whoever tagged them (see [`super::in_view`]).

use super::{in_view, project_filter};
use crate::error::cloud_err;
use aws_sdk_ec2::types::{Filter, Tag};
use std::collections::BTreeMap;
use vibes_core::cloud::CloudResult;
use vibes_core::observed::{
    ObservedImage, ObservedInstance, ObservedKeyPair, ObservedSnapshot, ObservedVolume,
};
use vibes_core::tags::Tags;

pub(crate) fn tags_of(tags: &[Tag]) -> Tags {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

pub(crate) async fn key_pairs(
    ec2: &aws_sdk_ec2::Client,
    project: &str,
) -> CloudResult<BTreeMap<String, ObservedKeyPair>> {
    let out = ec2
        .describe_key_pairs()
        .send()
        .await
        .map_err(|e| cloud_err("DescribeKeyPairs", "key pairs", e))?;
    Ok(out
        .key_pairs()
        .iter()
        .filter_map(|k| {
            let name = k.key_name()?.to_string();
            let tags = tags_of(k.tags());
            in_view(project, &name, &tags).then(|| {
                let pair = ObservedKeyPair {
                    key_name: name.clone(),
                    key_pair_id: k.key_pair_id().unwrap_or_default().into(),
                    tags,
                };
                (name, pair)
            })
        })
        .collect())
}

pub(crate) async fn images(
    ec2: &aws_sdk_ec2::Client,
    project: &str,
) -> CloudResult<BTreeMap<String, ObservedImage>> {
    let mut out = BTreeMap::new();
    let mut pages = ec2
        .describe_images()
        .owners("self")
        .filters(project_filter(project))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| cloud_err("DescribeImages", "images", e))?;
        for i in page.images() {
            let Some(id) = i.image_id() else { continue };
            out.insert(id.to_string(), image_of(i));
        }
    }
    Ok(out)
}

pub(crate) fn image_of(i: &aws_sdk_ec2::types::Image) -> ObservedImage {
    ObservedImage {
        image_id: i.image_id().unwrap_or_default().into(),
        name: i.name().unwrap_or_default().into(),
        state: i
            .state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        created: i.creation_date().unwrap_or_default().into(),
        tags: tags_of(i.tags()),
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
                        .unwrap_or_default(),
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
            .unwrap_or_default(),
        started: s
            .start_time()
            .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
            .unwrap_or_default(),
        tags: tags_of(s.tags()),
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
            .unwrap_or_default(),
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
    }
}
