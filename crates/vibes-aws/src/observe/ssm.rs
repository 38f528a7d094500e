//! SSM reads: every parameter under `/<project>/`, values of plain ones only (SecureStrings
//! are listed, never decrypted), and each parameter's tags.

use super::READ_CONCURRENCY;
use crate::error::cloud_err;
use aws_sdk_ssm::types::{ParameterType, ResourceTypeForTagging};
use futures_util::{stream, StreamExt, TryStreamExt};
use std::collections::BTreeMap;
use vibes_core::cloud::CloudResult;
use vibes_core::observed::ObservedParameter;
use vibes_core::tags::Tags;

pub(crate) async fn parameters(ssm: &aws_sdk_ssm::Client, project: &str) -> CloudResult<BTreeMap<String, ObservedParameter>> {
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
        let page = page.map_err(|e| cloud_err("GetParametersByPath", &format!("/{project}/"), e))?;
        for p in page.parameters() {
            let Some(name) = p.name() else { continue };
            let secure = matches!(p.r#type(), Some(ParameterType::SecureString));
            found.push(ObservedParameter {
                name: name.to_string(),
                secure,
                value: if secure { None } else { p.value().map(str::to_string) },
                tags: Tags::new(),
                version: p.version(),
            });
        }
    }
    // Tags are per resource in SSM (DescribeParameters can filter by tag but does not return
    // tags): one ListTagsForResource per parameter, a few at a time.
    let tagged: Vec<ObservedParameter> = stream::iter(found)
        .map(|mut p| async move {
            p.tags = parameter_tags(ssm, &p.name).await?;
            Ok::<_, vibes_core::cloud::CloudError>(p)
        })
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    Ok(tagged.into_iter().map(|p| (p.name.clone(), p)).collect())
}

pub(crate) async fn parameter_tags(ssm: &aws_sdk_ssm::Client, name: &str) -> CloudResult<Tags> {
    let out = ssm
        .list_tags_for_resource()
        .resource_type(ResourceTypeForTagging::Parameter)
        .resource_id(name)
        .send()
        .await
        .map_err(|e| cloud_err("ListTagsForResource", name, e))?;
    Ok(out.tag_list().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect())
}
