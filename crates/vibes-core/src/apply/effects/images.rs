//! Images: a recipe's files uploaded, a CodeBuild run of Packer, the AMI it made found by its
//! tags and recorded in the image's parameter; old images deregistered.

use super::files::check_hash;
use super::{Context, EffectError};
use crate::address::Address;
use crate::arch::Arch;
use crate::cloud::ImageBuildRequest;
use crate::model::Value;
use crate::plan::outputs::IMAGE_ID;
use crate::plan::Effect;
use crate::tags::{self, idempotency_token, Tags};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// Runs an image effect.
pub(super) async fn run(cx: &Context, index: usize, effect: &Effect) -> Result<(), EffectError> {
    let cloud = cx.cloud.as_ref();
    let name = effect.name();
    match effect {
        Effect::BuildImage {
            image,
            recipe,
            files,
            built_in,
            recipe_hash,
            parameter,
            artifacts_bucket,
            codebuild_project,
            tags,
            arch,
            rebuilds,
        } => {
            let recipe = Recipe {
                image,
                recipe,
                files,
                built_in,
                recipe_hash,
                arch: *arch,
                rebuilds: rebuilds.as_deref(),
            };
            build_image(
                cx,
                index,
                &recipe,
                parameter,
                artifacts_bucket,
                codebuild_project,
                tags,
            )
            .await
        }
        Effect::DeregisterImage { image_id } => {
            cx.call_gone(name, |_| cloud.deregister_image(image_id))
                .await
        }
        _ => unreachable!("{name} is not an image effect"),
    }
}

/// What an image is built from, as the plan has it.
struct Recipe<'a> {
    image: &'a str,
    recipe: &'a str,
    /// Upload path → SHA-256.
    files: &'a BTreeMap<String, String>,
    /// Upload path → path in the built-in platform, for the files carried in the binary.
    built_in: &'a BTreeMap<String, String>,
    recipe_hash: &'a str,
    arch: Arch,
    /// The image of the same recipe this build replaces (`--replace image.NAME`).
    rebuilds: Option<&'a str>,
}

/// The body of one recipe file, checked against the hash the plan was made with: read from
/// under the config's directory, or — for the built-in platform's files and the worker's source
/// archive, which is vibes' own source — taken from the binary.
async fn recipe_file(
    cx: &Context,
    recipe: &Recipe<'_>,
    rel: &str,
    expected: &str,
) -> Result<Vec<u8>, EffectError> {
    let image = recipe.image;
    if let Some(platform_path) = recipe.built_in.get(rel) {
        let body = crate::config::builtin::file(platform_path).ok_or_else(|| {
            EffectError::BuiltInMissing {
                image: image.to_string(),
                path: platform_path.clone(),
            }
        })?;
        let actual = hex::encode(Sha256::digest(body));
        if !expected.eq_ignore_ascii_case(&actual) {
            return Err(EffectError::BuiltInChanged {
                image: image.to_string(),
                path: platform_path.clone(),
                expected: expected.to_string(),
                actual,
            });
        }
        return Ok(body.to_vec());
    }
    if image == crate::config::WORKER_IMAGE
        && rel == crate::config::source_archive_path(Path::new(recipe.recipe))
    {
        let source =
            cx.options
                .engine_source
                .as_ref()
                .ok_or_else(|| EffectError::NoEngineSource {
                    image: image.to_string(),
                })?;
        if !expected.eq_ignore_ascii_case(source.sha256()) {
            return Err(EffectError::EngineSourceChanged {
                image: image.to_string(),
                expected: expected.to_string(),
                actual: source.sha256().to_string(),
            });
        }
        return Ok(source.bytes().to_vec());
    }
    let path = cx.path(rel);
    let body = tokio::fs::read(&path)
        .await
        .map_err(|e| EffectError::File {
            path: path.clone(),
            message: e.to_string(),
        })?;
    check_hash(&path, expected, &hex::encode(Sha256::digest(&body)))?;
    Ok(body)
}

async fn build_image(
    cx: &Context,
    index: usize,
    recipe: &Recipe<'_>,
    parameter: &str,
    artifacts_bucket: &Value,
    codebuild_project: &Value,
    tags: &Tags,
) -> Result<(), EffectError> {
    let cloud = cx.cloud.as_ref();
    let bucket = cx.resolve(artifacts_bucket)?;
    let project = cx.resolve(codebuild_project)?;
    let (image, recipe_hash) = (recipe.image, recipe.recipe_hash);
    let prefix = format!("recipes/{image}/{recipe_hash}/");
    for (rel, expected) in recipe.files {
        let body = recipe_file(cx, recipe, rel, expected).await?;
        let key = format!("{prefix}{rel}");
        cx.call("upload recipe", |_| {
            cloud.put_object(&bucket, &key, body.clone())
        })
        .await?;
    }
    let address = Address::image(image);
    let mut image_tags = tags.clone();
    image_tags.insert(tags::ARCH.into(), recipe.arch.as_str().into());
    // The same recipe built for another architecture is another build, not a repeat of the
    // one CodeBuild would answer the old token with.
    let arch = recipe.arch;
    let req = ImageBuildRequest {
        codebuild_project: project,
        artifacts_bucket: bucket,
        recipe_prefix: prefix,
        recipe: recipe.recipe.to_string(),
        tags: image_tags,
        arch,
        token: match recipe.rebuilds {
            Some(old) => idempotency_token(
                &cx.options.project,
                &address,
                &format!("{recipe_hash}:{arch}:replacing:{old}"),
            ),
            None => idempotency_token(
                &cx.options.project,
                &address,
                &format!("{recipe_hash}:{arch}"),
            ),
        },
    };
    let build_id = cx
        .call("build image", |_| cloud.start_image_build(&req))
        .await?;
    cx.reporter
        .action_progress(index, &format!("image build {build_id} running"));
    let outcome = cx
        .call("wait for image build", |_| {
            cloud.wait_image_build(&build_id, cx.options.timeouts.image_build)
        })
        .await?;
    if outcome.status != "SUCCEEDED" {
        // Only explains a failure already known: a log that cannot be read is no second error.
        let log_tail = cloud
            .image_build_log_tail(&build_id, super::LOG_TAIL_LINES)
            .await
            .unwrap_or_default();
        return Err(EffectError::ImageBuildFailed {
            image: image.to_string(),
            build_id,
            status: outcome.status,
            log_tail,
        });
    }
    let mut wanted = Tags::new();
    for key in [tags::PROJECT, tags::ADDRESS, tags::FINGERPRINT, tags::ARCH] {
        if let Some(v) = req.tags.get(key) {
            wanted.insert(key.to_string(), v.clone());
        }
    }
    let found = cx.call("find image", |_| cloud.find_image(&wanted)).await?;
    let Some(ami) = found else {
        return Err(EffectError::NoImage {
            image: image.to_string(),
            build_id,
            address: address.to_string(),
            fingerprint: tags.get(tags::FINGERPRINT).cloned().unwrap_or_default(),
        });
    };
    if let Some(registered) = ami.architecture.filter(|a| *a != arch) {
        return Err(EffectError::WrongArchitecture {
            image: image.to_string(),
            image_id: ami.image_id,
            asked: arch,
            registered,
        });
    }
    cx.outputs.set(&address, IMAGE_ID, &ami.image_id);
    cx.call("record image id", |_| {
        cloud.put_parameter(parameter, &ami.image_id, tags)
    })
    .await
}
