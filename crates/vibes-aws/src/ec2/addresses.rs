//! Elastic IPs: the server's stable address (`[server] elastic_ip = true`), allocated with the
//! project's tags (AllocateAddress `TagSpecifications`, resource type `elastic-ip`), moved to each
//! new server (AssociateAddress with `AllowReassociation`), and released once disassociated
//! (ReleaseAddress refuses an address that is still associated).
//!
//! Observe reads the project's addresses, filtered on the project tag by EC2 (one call).

use super::{project_filter, tag_spec, tags_of};
use crate::error::{cloud_err, Failure};
use crate::AwsCloud;
use async_trait::async_trait;
use aws_sdk_ec2::types::{DomainType, ResourceType};
use std::collections::BTreeMap;
use vibes_core::cloud::{Addresses, CloudError, CloudResult};
use vibes_core::observed::ObservedAddress;
use vibes_core::tags::Tags;

pub(crate) async fn addresses(
    ec2: &aws_sdk_ec2::Client,
    project: &str,
) -> CloudResult<BTreeMap<String, ObservedAddress>> {
    let out = ec2
        .describe_addresses()
        .filters(project_filter(project))
        .send()
        .await
        .map_err(|e| cloud_err("DescribeAddresses", "addresses", e))?;
    Ok(out
        .addresses()
        .iter()
        .filter_map(|a| {
            let id = a.allocation_id()?.to_string();
            Some((
                id.clone(),
                ObservedAddress {
                    allocation_id: id,
                    public_ip: a.public_ip().unwrap_or_default().to_string(),
                    instance_id: a
                        .instance_id()
                        .filter(|i| !i.is_empty())
                        .map(str::to_string),
                    tags: tags_of(a.tags()),
                },
            ))
        })
        .collect())
}

#[async_trait]
impl Addresses for AwsCloud {
    async fn allocate_address(&self, tags: &Tags) -> CloudResult<(String, String)> {
        let out = self
            .ec2
            .allocate_address()
            .domain(DomainType::Vpc)
            .tag_specifications(tag_spec(ResourceType::ElasticIp, tags))
            .send()
            .await
            .map_err(|e| cloud_err("AllocateAddress", "elastic ip", e))?;
        match (out.allocation_id(), out.public_ip()) {
            (Some(id), Some(ip)) => Ok((id.to_string(), ip.to_string())),
            _ => Err(CloudError::permanent(
                "AllocateAddress",
                "no allocation id or address in the answer",
            )),
        }
    }

    async fn associate_address(&self, allocation_id: &str, instance_id: &str) -> CloudResult<()> {
        self.ec2
            .associate_address()
            .allocation_id(allocation_id)
            .instance_id(instance_id)
            .allow_reassociation(true)
            .send()
            .await
            .map_err(|e| cloud_err("AssociateAddress", allocation_id, e))?;
        Ok(())
    }

    async fn release_address(&self, allocation_id: &str) -> CloudResult<()> {
        let found = self
            .ec2
            .describe_addresses()
            .allocation_ids(allocation_id)
            .send()
            .await;
        let association = match found {
            Ok(out) => out
                .addresses()
                .first()
                .and_then(|a| a.association_id())
                .map(str::to_string),
            Err(e) => {
                return match Failure::from_sdk(&e).into_cloud(
                    "DescribeAddresses",
                    allocation_id,
                    &[],
                ) {
                    CloudError::NotFound { .. } => Ok(()),
                    other => Err(other),
                }
            }
        };
        if let Some(association) = association {
            // Gone already (its instance terminated meanwhile): the release goes on.
            if let Err(e) = self
                .ec2
                .disassociate_address()
                .association_id(&association)
                .send()
                .await
            {
                match Failure::from_sdk(&e).into_cloud("DisassociateAddress", allocation_id, &[]) {
                    CloudError::NotFound { .. } => {}
                    other => return Err(other),
                }
            }
        }
        match self
            .ec2
            .release_address()
            .allocation_id(allocation_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                match Failure::from_sdk(&e).into_cloud("ReleaseAddress", allocation_id, &[]) {
                    CloudError::NotFound { .. } => Ok(()),
                    other => Err(other),
                }
            }
        }
    }
}
