//! SSM parameters. PutParameter refuses tags together with Overwrite, so a put is a create
//! with tags first and, only when the parameter exists, an overwrite without them (1 call for
//! a new parameter, 2 for a changed one).

use crate::error::{cloud_err, Failure};
use crate::AwsCloud;
use aws_sdk_ssm::types::{ParameterType, Tag};
use vibes_core::cloud::{CloudError, CloudResult};
use vibes_core::secret::Secret;
use vibes_core::tags::Tags;

fn ssm_tags(tags: &Tags) -> CloudResult<Vec<Tag>> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| CloudError::permanent("PutParameter", format!("tag {k}: {e}")))
        })
        .collect()
}

impl AwsCloud {
    /// Create `name` with `tags`, or (when `overwrite`) overwrite it when it exists. The value
    /// is scrubbed from any error as a secret when `secure`.
    async fn put(
        &self,
        name: &str,
        value: &str,
        kind: ParameterType,
        tags: &Tags,
        overwrite: bool,
    ) -> CloudResult<()> {
        let secrets: &[&str] = if kind == ParameterType::SecureString {
            &[value]
        } else {
            &[]
        };
        let created = self
            .ssm
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(kind.clone())
            .overwrite(false)
            .set_tags(Some(ssm_tags(tags)?))
            .send()
            .await;
        let err = match created {
            Ok(_) => return Ok(()),
            Err(e) => Failure::from_sdk(&e).into_cloud("PutParameter", name, secrets),
        };
        match err {
            CloudError::AlreadyExists { .. } if overwrite => {
                let updated = self
                    .ssm
                    .put_parameter()
                    .name(name)
                    .value(value)
                    .r#type(kind)
                    .overwrite(true)
                    .send()
                    .await;
                updated
                    .map(|_| ())
                    .map_err(|e| Failure::from_sdk(&e).into_cloud("PutParameter", name, secrets))
            }
            other => Err(other),
        }
    }

    pub(crate) async fn put_parameter_impl(
        &self,
        name: &str,
        value: &str,
        tags: &Tags,
    ) -> CloudResult<()> {
        self.put(name, value, ParameterType::String, tags, true)
            .await
    }

    pub(crate) async fn put_secure_parameter_impl(
        &self,
        name: &str,
        value: &Secret,
        tags: &Tags,
        overwrite: bool,
    ) -> CloudResult<()> {
        self.put(
            name,
            value.expose(),
            ParameterType::SecureString,
            tags,
            overwrite,
        )
        .await
    }

    pub(crate) async fn create_parameter_exclusive_impl(
        &self,
        name: &str,
        value: &str,
        tags: &Tags,
    ) -> CloudResult<()> {
        self.put(name, value, ParameterType::String, tags, false)
            .await
    }

    /// A plain parameter's value; `None` when it does not exist. SecureStrings are refused:
    /// their value is a secret and has no business in a `String`.
    pub(crate) async fn get_parameter_impl(&self, name: &str) -> CloudResult<Option<String>> {
        match self
            .ssm
            .get_parameter()
            .name(name)
            .with_decryption(false)
            .send()
            .await
        {
            Ok(out) => {
                let Some(p) = out.parameter else {
                    return Ok(None);
                };
                if matches!(p.r#type(), Some(ParameterType::SecureString)) {
                    return Err(CloudError::permanent(
                        "GetParameter",
                        format!("{name} is a SecureString; its value is not read as plain text"),
                    ));
                }
                Ok(p.value)
            }
            Err(e) => match Failure::from_sdk(&e).into_cloud("GetParameter", name, &[]) {
                CloudError::NotFound { .. } => Ok(None),
                other => Err(other),
            },
        }
    }

    /// Deleting a parameter that is already gone succeeds: a rerun after a crash converges.
    pub(crate) async fn delete_parameter_impl(&self, name: &str) -> CloudResult<()> {
        match self.ssm.delete_parameter().name(name).send().await {
            Ok(_) => Ok(()),
            Err(e) => match Failure::from_sdk(&e).into_cloud("DeleteParameter", name, &[]) {
                CloudError::NotFound { .. } => Ok(()),
                other => Err(other),
            },
        }
    }

    /// Tags an existing parameter (PutParameter cannot tag one that exists).
    pub(crate) async fn tag_parameter_impl(&self, name: &str, tags: &Tags) -> CloudResult<()> {
        self.ssm
            .add_tags_to_resource()
            .resource_type(aws_sdk_ssm::types::ResourceTypeForTagging::Parameter)
            .resource_id(name)
            .set_tags(Some(ssm_tags(tags)?))
            .send()
            .await
            .map_err(|e| cloud_err("AddTagsToResource", name, e))?;
        Ok(())
    }
}
