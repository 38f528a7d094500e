//! The fake's image builds and images: a build finishes after the `image_build` latency as
//! [`super::ImageBuildBehaviour`] says, and images are found by tags, newest first.

use super::world::Build;
use super::{not_found, FakeCloud};
use async_trait::async_trait;
use std::time::Duration;
use tokio::time::Instant;
use vibes_core::cloud::Images;
use vibes_core::cloud::{BuildOutcome, CloudError, CloudResult, ImageBuildRequest};
use vibes_core::observed::ObservedImage;
use vibes_core::tags::Tags;

#[async_trait]
impl Images for FakeCloud {
    async fn start_image_build(&self, req: &ImageBuildRequest) -> CloudResult<String> {
        let _s = self
            .enter("start_image_build", &req.codebuild_project)
            .await?;
        let (latency, behaviour, log) = {
            let k = self.knobs();
            (
                k.latency.get("image_build").copied().unwrap_or_default(),
                k.image_build.clone(),
                k.image_build_log.clone(),
            )
        };
        let mut w = self.world();
        if let Some(id) = w.build_tokens.get(&req.token) {
            return Ok(id.clone());
        }
        if req.codebuild_project.is_empty() {
            return Err(CloudError::permanent(
                "start_image_build",
                "InvalidInputException: no project name",
            ));
        }
        let recipe_key = format!("{}{}", req.recipe_prefix, req.recipe);
        let recipe_present = w
            .buckets
            .get(&req.artifacts_bucket)
            .is_some_and(|b| b.contains_key(&recipe_key));
        let id = format!("{}:{}", req.codebuild_project, w.id("build"));
        w.build_tokens.insert(req.token.clone(), id.clone());
        w.builds.insert(
            id.clone(),
            Build {
                req: req.clone(),
                done_at: Instant::now() + latency,
                behaviour,
                recipe_present,
                status: None,
                log,
            },
        );
        Ok(id)
    }

    async fn wait_image_build(
        &self,
        build_id: &str,
        timeout: Duration,
    ) -> CloudResult<BuildOutcome> {
        let _s = self.enter("wait_image_build", build_id).await?;
        self.wait_for(
            "wait_image_build",
            format!("build {build_id}"),
            timeout,
            |w| {
                let b = w
                    .builds
                    .get(build_id)
                    .ok_or_else(|| not_found("wait_image_build", format!("build {build_id}")))?;
                Ok(b.status.clone().map(|status| BuildOutcome {
                    build_id: build_id.into(),
                    status,
                }))
            },
        )
        .await
    }

    /// What the build logged (set by [`FakeCloud::set_image_build_log`]), its end only.
    async fn image_build_log_tail(&self, build_id: &str, lines: usize) -> CloudResult<Vec<String>> {
        let _s = self.enter("image_build_log_tail", build_id).await?;
        let w = self.world();
        let b = w
            .builds
            .get(build_id)
            .ok_or_else(|| not_found("image_build_log_tail", format!("build {build_id}")))?;
        Ok(b.log[b.log.len().saturating_sub(lines)..].to_vec())
    }

    async fn find_image(&self, tags: &Tags) -> CloudResult<Option<ObservedImage>> {
        let _s = self.enter("find_image", &format!("{tags:?}")).await?;
        let w = self.world();
        let newest = w
            .images
            .values()
            .filter(|i| i.state.is_available() && has_tags(&i.tags, tags))
            .max_by(|a, b| (&a.created, &a.image_id).cmp(&(&b.created, &b.image_id)));
        Ok(newest.cloned())
    }

    async fn deregister_image(&self, image_id: &str) -> CloudResult<()> {
        let _s = self.enter("deregister_image", image_id).await?;
        // Already gone is not an error.
        self.world().images.remove(image_id);
        Ok(())
    }
}

fn has_tags(have: &Tags, want: &Tags) -> bool {
    want.iter().all(|(k, v)| have.get(k) == Some(v))
}
