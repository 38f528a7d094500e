//! SSM parameters. PutParameter refuses tags together with Overwrite, so a put is a create
//! with tags first and, only when the parameter exists, an overwrite without them (1 call for
//! a new parameter, 2 for a changed one).
//!
//! Observe: every parameter under `/<project>/`, values of plain ones only (SecureStrings
//! are listed, never decrypted), and each parameter's ownership tags.
//!
//! SSM returns tags one parameter at a time (ListTagsForResource), but DescribeParameters can
//! filter on a tag. So: GetParametersByPath (values, 10 a page) and DescribeParameters filtered
//! on `vibes:project=<project>` (names, 50 a page) run side by side; a parameter in the second
//! set is ours, and its `vibes:address` follows from its path, since vibes names parameters by
//! address (`/<p>/profiles/X` is `profile.X`, `/<p>/ec2/keys/X` is `key.X`, `/<p>/ami/X` is
//! `image.X`, `/<p>/sources` is `sources`, `/<p>/lock` carries no address). Only parameters
//! outside that set (untagged ones to adopt, or another project's) and ours at a path vibes
//! does not name cost a ListTagsForResource each. A converged project: 2 + n/10 + n/50 calls.
//!
//! The tags derived from a path are the ownership tags vibes reads back (project, address);
//! the fingerprint tag of a parameter is not read by the planner, and is not derived.

use crate::error::{cloud_err, Failure};
use crate::scope::READ_CONCURRENCY;
use crate::AwsCloud;
use async_trait::async_trait;
use aws_sdk_ssm::types::{ParameterStringFilter, ParameterType, ResourceTypeForTagging, Tag};
use futures_util::{stream, StreamExt, TryStreamExt};
use std::collections::{BTreeMap, BTreeSet};
use vibes_core::address::Address;
use vibes_core::cloud::{CloudError, CloudResult, Parameters};
use vibes_core::observed::ObservedParameter;
use vibes_core::secret::Secret;
use vibes_core::tags::{Tags, ADDRESS, PROJECT};

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

#[async_trait]
impl Parameters for AwsCloud {
    async fn put_parameter(&self, name: &str, value: &str, tags: &Tags) -> CloudResult<()> {
        self.put(name, value, ParameterType::String, tags, true)
            .await
    }

    async fn put_secure_parameter(
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

    async fn create_parameter_exclusive(
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
    async fn get_parameter(&self, name: &str) -> CloudResult<Option<String>> {
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
    async fn delete_parameter(&self, name: &str) -> CloudResult<()> {
        match self.ssm.delete_parameter().name(name).send().await {
            Ok(_) => Ok(()),
            Err(e) => match Failure::from_sdk(&e).into_cloud("DeleteParameter", name, &[]) {
                CloudError::NotFound { .. } => Ok(()),
                other => Err(other),
            },
        }
    }

    /// Tags an existing parameter (PutParameter cannot tag one that exists).
    async fn tag_parameter(&self, name: &str, tags: &Tags) -> CloudResult<()> {
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
}

pub(crate) async fn parameters(
    ssm: &aws_sdk_ssm::Client,
    project: &str,
) -> CloudResult<BTreeMap<String, ObservedParameter>> {
    let (found, tagged_ours) =
        tokio::try_join!(by_path(ssm, project), tagged_with_project(ssm, project))?;
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for mut p in found {
        let derived = tagged_ours
            .contains(&p.name)
            .then(|| address_of_path(project, &p.name))
            .flatten();
        match derived {
            Some(address) => {
                p.tags.insert(PROJECT.into(), project.into());
                if let Some(a) = address {
                    p.tags.insert(ADDRESS.into(), a.to_string());
                }
                known.push(p);
            }
            None => unknown.push(p),
        }
    }
    let read: Vec<ObservedParameter> = stream::iter(unknown)
        .map(|mut p| async move {
            p.tags = parameter_tags(ssm, &p.name).await?;
            Ok::<_, CloudError>(p)
        })
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    Ok(known
        .into_iter()
        .chain(read)
        .map(|p| (p.name.clone(), p))
        .collect())
}

/// Every parameter under `/<project>/` with its value (plain ones) and version, untagged.
async fn by_path(ssm: &aws_sdk_ssm::Client, project: &str) -> CloudResult<Vec<ObservedParameter>> {
    let mut found = Vec::new();
    // WithDecryption=false: SecureString values come back as ciphertext and are dropped below;
    // observe never holds a secret, so a plan can never show one.
    let mut pages = ssm
        .get_parameters_by_path()
        .path(format!("/{project}"))
        .recursive(true)
        .with_decryption(false)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| cloud_err("GetParametersByPath", &format!("/{project}/"), e))?;
        for p in page.parameters() {
            let Some(name) = p.name() else { continue };
            let secure = matches!(p.r#type(), Some(ParameterType::SecureString));
            found.push(ObservedParameter {
                name: name.to_string(),
                secure,
                value: if secure {
                    None
                } else {
                    p.value().map(str::to_string)
                },
                tags: Tags::new(),
                version: p.version(),
            });
        }
    }
    Ok(found)
}

/// Names of the parameters under `/<project>/` tagged `vibes:project=<project>`.
async fn tagged_with_project(
    ssm: &aws_sdk_ssm::Client,
    project: &str,
) -> CloudResult<BTreeSet<String>> {
    let filter = |key: String, option: Option<&str>, value: String| {
        ParameterStringFilter::builder()
            .key(key)
            .set_option(option.map(str::to_string))
            .values(value)
            .build()
            .map_err(|e| CloudError::permanent("DescribeParameters", e.to_string()))
    };
    let mut pages = ssm
        .describe_parameters()
        .parameter_filters(filter(format!("tag:{PROJECT}"), None, project.to_string())?)
        .parameter_filters(filter(
            "Path".into(),
            Some("Recursive"),
            format!("/{project}"),
        )?)
        .max_results(50)
        .into_paginator()
        .send();
    let mut names = BTreeSet::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            cloud_err(
                "DescribeParameters",
                &format!("/{project}/ tagged {PROJECT}={project}"),
                e,
            )
        })?;
        names.extend(
            page.parameters()
                .iter()
                .filter_map(|p| p.name())
                .map(str::to_string),
        );
    }
    Ok(names)
}

/// The address vibes gives the parameter at `name`: `Some(Some(a))` for an address,
/// `Some(None)` for a parameter that carries only the project tag (the apply lock), `None`
/// for a path vibes does not name (its tags are then read).
fn address_of_path(project: &str, name: &str) -> Option<Option<Address>> {
    let rest = name.strip_prefix(&format!("/{project}/"))?;
    let one = |prefix: &str| {
        rest.strip_prefix(prefix)
            .filter(|n| !n.is_empty() && !n.contains('/'))
    };
    if rest == "sources" {
        Some(Some(Address::sources()))
    } else if rest == "lock" {
        Some(None)
    } else if let Some(n) = one("profiles/") {
        Some(Some(Address::profile(n)))
    } else if let Some(n) = one("ec2/keys/") {
        Some(Some(Address::key(n)))
    } else {
        one("ami/").map(|n| Some(Address::image(n)))
    }
}

pub(crate) async fn parameter_tags(ssm: &aws_sdk_ssm::Client, name: &str) -> CloudResult<Tags> {
    let out = ssm
        .list_tags_for_resource()
        .resource_type(ResourceTypeForTagging::Parameter)
        .resource_id(name)
        .send()
        .await
        .map_err(|e| cloud_err("ListTagsForResource", name, e))?;
    Ok(out
        .tag_list()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_of_a_parameter_follows_from_its_path() {
        let a = |n: &str| address_of_path("vibes", n).map(|o| o.map(|a| a.to_string()));
        assert_eq!(a("/vibes/profiles/opus"), Some(Some("profile.opus".into())));
        assert_eq!(a("/vibes/ec2/keys/server"), Some(Some("key.server".into())));
        assert_eq!(a("/vibes/ami/worker"), Some(Some("image.worker".into())));
        assert_eq!(a("/vibes/sources"), Some(Some("sources".into())));
        assert_eq!(a("/vibes/lock"), Some(None));
        assert_eq!(a("/vibes/profiles/a/b"), None, "not a name vibes gives");
        assert_eq!(a("/vibes/profiles/"), None);
        assert_eq!(a("/vibes/other"), None);
        assert_eq!(a("/other/profiles/opus"), None);
    }
}
