//! Images: a CodeBuild project runs Packer on the uploaded recipe; vibes starts the build,
//! waits for it, then finds the AMI by the tags the build was asked to put on it. The builds
//! sit here, with the AMIs they make, rather than in a CodeBuild module of their own: starting
//! and waiting on a build is all vibes does with CodeBuild. Observe reads the project's AMIs.

use super::{project_filter, tags_of};
use crate::error::{cloud_err, Failure};
use crate::poll::poll;
use crate::AwsCloud;
use async_trait::async_trait;
use aws_sdk_codebuild::types::{EnvironmentVariable, EnvironmentVariableType, StatusType};
use aws_sdk_ec2::types::Filter;
use std::collections::BTreeMap;
use std::time::Duration;
use vibes_core::arch::Arch;
use vibes_core::cloud::{
    image_build_env, BuildOutcome, CloudError, CloudResult, ImageBuildRequest, Images, Volumes,
};
use vibes_core::observed::ObservedImage;
use vibes_core::tags::Tags;

/// How long a deregistered image's snapshot may stay in use before its delete gives up.
const SNAPSHOT_RELEASE: std::time::Duration = std::time::Duration::from_secs(5 * 60);

fn env(name: &str, value: impl Into<String>) -> CloudResult<EnvironmentVariable> {
    EnvironmentVariable::builder()
        .name(name)
        .value(value)
        .r#type(EnvironmentVariableType::Plaintext)
        .build()
        .map_err(|e| CloudError::permanent("StartBuild", e.to_string()))
}

#[async_trait]
impl Images for AwsCloud {
    /// Starts the build with the recipe's location and the tags as environment
    /// ([`image_build_env`]: the names the buildspec reads), which the buildspec hands to
    /// Packer. The idempotency token makes a retried start return the same build.
    async fn start_image_build(&self, req: &ImageBuildRequest) -> CloudResult<String> {
        let tags = serde_json::to_string(&req.tags)
            .map_err(|e| CloudError::permanent("StartBuild", e.to_string()))?;
        let vars = vec![
            env(image_build_env::RECIPE_BUCKET, &req.artifacts_bucket)?,
            env(image_build_env::RECIPE_PREFIX, &req.recipe_prefix)?,
            env(image_build_env::RECIPE, &req.recipe)?,
            env(image_build_env::TAGS, tags)?,
            env(image_build_env::ARCH, req.arch.as_str())?,
        ];
        let out = self
            .codebuild
            .start_build()
            .project_name(&req.codebuild_project)
            .set_environment_variables_override(Some(vars))
            .idempotency_token(&req.token)
            .send()
            .await
            .map_err(|e| cloud_err("StartBuild", &req.codebuild_project, e))?;
        out.build_value()
            .and_then(|b| b.id())
            .map(str::to_string)
            .ok_or_else(|| {
                CloudError::permanent(
                    "StartBuild",
                    format!("{}: no build id returned", req.codebuild_project),
                )
            })
    }

    async fn wait_image_build(
        &self,
        build_id: &str,
        timeout: Duration,
    ) -> CloudResult<BuildOutcome> {
        poll(
            "WaitBuild",
            &format!("build {build_id}"),
            timeout,
            || async {
                let b = self.build(build_id).await?;
                // Status, not `buildComplete`: the latter lags behind the status on AWS at the very
                // end of a build (and the emulator never sets it).
                match b.build_status() {
                    None | Some(StatusType::InProgress) => Ok(None),
                    Some(s) => Ok(Some(BuildOutcome {
                        build_id: build_id.to_string(),
                        status: s.as_str().to_string(),
                    })),
                }
            },
        )
        .await
    }

    /// The build's log group and stream from BatchGetBuilds, then the stream's last events
    /// (GetLogEvents from the end).
    async fn image_build_log_tail(&self, build_id: &str, lines: usize) -> CloudResult<Vec<String>> {
        let Some((group, stream)) = self
            .build(build_id)
            .await?
            .logs()
            .and_then(|l| Some((l.group_name()?.to_string(), l.stream_name()?.to_string())))
        else {
            return Ok(Vec::new());
        };
        let events = self
            .logs
            .get_log_events()
            .log_group_name(&group)
            .log_stream_name(&stream)
            .start_from_head(false)
            .limit(lines.clamp(1, 10_000) as i32)
            .send()
            .await
            .map_err(|e| cloud_err("GetLogEvents", &format!("{group} {stream}"), e))?;
        Ok(events
            .events()
            .iter()
            .filter_map(|e| e.message())
            .flat_map(str::lines)
            .map(str::to_string)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .take(lines)
            .rev()
            .collect())
    }

    /// The newest `available` image of this account carrying every one of `tags`.
    async fn find_image(&self, tags: &Tags) -> CloudResult<Option<ObservedImage>> {
        let mut req = self
            .ec2
            .describe_images()
            .owners("self")
            .filters(Filter::builder().name("state").values("available").build());
        for (k, v) in tags {
            req = req.filters(Filter::builder().name(format!("tag:{k}")).values(v).build());
        }
        let out = req
            .send()
            .await
            .map_err(|e| cloud_err("DescribeImages", "images", e))?;
        Ok(out
            .images()
            .iter()
            .map(image_of)
            .max_by(|a, b| a.created.cmp(&b.created)))
    }

    /// Deregisters the image and deletes the snapshots behind it (deregistering alone leaves
    /// them, and they are billed). An image already gone is not an error.
    async fn deregister_image(&self, image_id: &str) -> CloudResult<()> {
        let described = match self.ec2.describe_images().image_ids(image_id).send().await {
            Ok(out) => out,
            Err(e) => {
                return match Failure::from_sdk(&e).into_cloud("DescribeImages", image_id, &[]) {
                    CloudError::NotFound { .. } => Ok(()),
                    other => Err(other),
                }
            }
        };
        let Some(image) = described.images().first() else {
            return Ok(());
        };
        let snapshots: Vec<String> = image
            .block_device_mappings()
            .iter()
            .filter_map(|m| m.ebs()?.snapshot_id().map(str::to_string))
            .collect();
        self.ec2
            .deregister_image()
            .image_id(image_id)
            .send()
            .await
            .map_err(|e| cloud_err("DeregisterImage", image_id, e))?;
        // The image is gone now, and with it the only record of its snapshots: each is deleted
        // here or never. EC2 lets go of them a moment after DeregisterImage answers
        // (InvalidSnapshot.InUse until then), so each delete is tried until it is released.
        for s in snapshots {
            crate::poll::poll("DeleteSnapshot", &s, SNAPSHOT_RELEASE, || async {
                match self.delete_snapshot(&s).await {
                    Ok(()) => Ok(Some(())),
                    Err(CloudError::InUse { .. }) => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .await?;
        }
        Ok(())
    }
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
            .unwrap_or_default()
            .into(),
        created: i.creation_date().unwrap_or_default().into(),
        tags: tags_of(i.tags()),
        architecture: i.architecture().and_then(|a| Arch::parse(a.as_str())),
    }
}

impl AwsCloud {
    /// One build, by BatchGetBuilds.
    async fn build(&self, build_id: &str) -> CloudResult<aws_sdk_codebuild::types::Build> {
        let out = self
            .codebuild
            .batch_get_builds()
            .ids(build_id)
            .send()
            .await
            .map_err(|e| cloud_err("BatchGetBuilds", build_id, e))?;
        out.builds()
            .first()
            .cloned()
            .ok_or_else(|| CloudError::NotFound {
                operation: "BatchGetBuilds".into(),
                what: format!("build {build_id}"),
            })
    }
}
