//! EC2 key pairs. Generated keys are ED25519 in OpenSSH form; the private key comes back once,
//! as a [`Secret`], and is never logged.

use crate::error::{cloud_err, Failure};
use crate::AwsCloud;
use aws_sdk_ec2::primitives::Blob;
use aws_sdk_ec2::types::{KeyFormat, KeyType, ResourceType, Tag, TagSpecification};
use vibes_core::cloud::{CloudError, CloudResult};
use vibes_core::secret::Secret;
use vibes_core::tags::Tags;

pub(crate) fn ec2_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

pub(crate) fn tag_spec(resource: ResourceType, tags: &Tags) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(resource)
        .set_tags(Some(ec2_tags(tags)))
        .build()
}

impl AwsCloud {
    pub(crate) async fn create_key_pair_impl(
        &self,
        key_name: &str,
        tags: &Tags,
    ) -> CloudResult<Secret> {
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

    pub(crate) async fn import_key_pair_impl(
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
    pub(crate) async fn delete_key_pair_impl(&self, key_name: &str) -> CloudResult<()> {
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
    pub(crate) async fn tag_key_pair_impl(&self, key_name: &str, tags: &Tags) -> CloudResult<()> {
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
