//! EC2 key pairs. Generated keys are ED25519 in OpenSSH form; the private key comes back once,
//! as a [`Secret`], and is never logged. Observe reads every key pair: they are few, and
//! another project's under our names must be seen.

use super::{ec2_tags, tag_spec, tags_of};
use crate::error::{cloud_err, Failure};
use crate::scope::in_view;
use crate::AwsCloud;
use async_trait::async_trait;
use aws_sdk_ec2::primitives::Blob;
use aws_sdk_ec2::types::{KeyFormat, KeyType, ResourceType};
use std::collections::BTreeMap;
use vibes_core::cloud::{CloudError, CloudResult, KeyPairs};
use vibes_core::observed::ObservedKeyPair;
use vibes_core::secret::Secret;
use vibes_core::tags::Tags;

#[async_trait]
impl KeyPairs for AwsCloud {
    async fn create_key_pair(&self, key_name: &str, tags: &Tags) -> CloudResult<Secret> {
        let out = self
            .ec2
            .create_key_pair()
            .key_name(key_name)
            .key_type(KeyType::Ed25519)
            .key_format(KeyFormat::Pem)
            .tag_specifications(tag_spec(ResourceType::KeyPair, tags))
            .send()
            .await
            .map_err(|e| cloud_err("CreateKeyPair", key_name, e))?;
        let material = out.key_material.ok_or_else(|| {
            CloudError::permanent(
                "CreateKeyPair",
                format!("{key_name}: AWS returned no private key"),
            )
        })?;
        Ok(Secret::new(material))
    }

    async fn import_key_pair(
        &self,
        key_name: &str,
        public_key: &str,
        tags: &Tags,
    ) -> CloudResult<()> {
        self.ec2
            .import_key_pair()
            .key_name(key_name)
            .public_key_material(Blob::new(public_key.trim().as_bytes()))
            .tag_specifications(tag_spec(ResourceType::KeyPair, tags))
            .send()
            .await
            .map_err(|e| cloud_err("ImportKeyPair", key_name, e))?;
        Ok(())
    }

    /// Deleting a key pair that is already gone succeeds (as EC2 itself does).
    async fn delete_key_pair(&self, key_name: &str) -> CloudResult<()> {
        match self.ec2.delete_key_pair().key_name(key_name).send().await {
            Ok(_) => Ok(()),
            Err(e) => match Failure::from_sdk(&e).into_cloud("DeleteKeyPair", key_name, &[]) {
                CloudError::NotFound { .. } => Ok(()),
                other => Err(other),
            },
        }
    }

    /// Tags an existing (adopted) key pair: CreateTags wants the key pair id, so this costs a
    /// describe first.
    async fn tag_key_pair(&self, key_name: &str, tags: &Tags) -> CloudResult<()> {
        let found = self
            .ec2
            .describe_key_pairs()
            .key_names(key_name)
            .send()
            .await
            .map_err(|e| cloud_err("DescribeKeyPairs", key_name, e))?;
        let id = found
            .key_pairs()
            .first()
            .and_then(|k| k.key_pair_id())
            .ok_or_else(|| CloudError::NotFound {
                operation: "DescribeKeyPairs".into(),
                what: key_name.into(),
            })?;
        self.ec2
            .create_tags()
            .resources(id)
            .set_tags(Some(ec2_tags(tags)))
            .send()
            .await
            .map_err(|e| cloud_err("CreateTags", key_name, e))?;
        Ok(())
    }
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
