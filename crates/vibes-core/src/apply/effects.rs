//! What each [`Effect`] does against the [`Cloud`]. An action's effects run in order; the
//! first error fails the action. Every cloud call goes through the retrier, so a transient
//! error (throttling, 5xx) is retried with backoff and a permanent one fails at once.

use super::executor::ApplyOptions;
use super::outputs::{Outputs, Unresolved};
use super::reporter::Reporter;
use super::retry::Retrier;
use crate::address::Address;
use crate::cloud::{
    Cloud, CloudError, CloudResult, ImageBuildRequest, InstanceRequest, StackRequest, StackUpdate,
};
use crate::model::Value;
use crate::observed::ObservedObject;
use crate::plan::outputs::{IMAGE_ID, SNAPSHOT_ID, VOLUME_ID};
use crate::plan::{Action, Effect};
use crate::tags::{self, idempotency_token, Tags};
use crate::units::{human_bytes, human_duration};
use futures_util::stream::{self, StreamExt};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::future::Future;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Files uploaded at once by a sources sync.
pub const UPLOAD_CONCURRENCY: usize = 16;
/// S3 DeleteObjects takes at most this many keys a call.
pub const DELETE_BATCH: usize = 1000;
/// The device the builds volume (worker) or builds snapshot (server) is attached as.
pub const DATA_DEVICE: &str = "/dev/sdf";

/// Why an action failed. Messages name the resource and, where there is one, the way out.
/// None of them holds a secret: secrets are only ever handed to the cloud, never formatted.
#[derive(Debug, thiserror::Error)]
pub enum EffectError {
    #[error("{effect}: {source}")]
    Cloud {
        effect: &'static str,
        source: CloudError,
    },
    #[error(transparent)]
    Unresolved(#[from] Unresolved),
    #[error("stack {stack} ended {status}{}", reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    StackFailed {
        stack: String,
        status: String,
        reason: Option<String>,
    },
    #[error("stack {stack} already exists, made by something other than this plan; run vibes plan again")]
    StackExists { stack: String },
    #[error("a SecureString appeared at {parameter} after the plan was made; vibes never overwrites a secret it did not write, so it is kept and key pair {key_name} was deleted again: run vibes plan again to see whose it is")]
    SecretInTheWay { parameter: String, key_name: String },
    #[error("cannot read {}: {message}", path.display())]
    File { path: PathBuf, message: String },
    #[error("{} changed since the plan was made (its SHA-256 is {actual}, the plan has {expected}); run vibes plan again", path.display())]
    Changed {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("image build {build_id} of image.{image} ended {status}: see the CodeBuild log")]
    ImageBuildFailed {
        image: String,
        build_id: String,
        status: String,
    },
    #[error("image build {build_id} of image.{image} succeeded but no image carries vibes:address={address} and vibes:fingerprint={fingerprint}: the recipe must tag the AMI it makes")]
    NoImage {
        image: String,
        build_id: String,
        address: String,
        fingerprint: String,
    },
    #[error("image.{image} is built from vibes' own source, and this vibes carries no source to build the worker image from")]
    NoEngineSource { image: String },
    #[error("image.{image}: the plan was made by another vibes (its source archive has SHA-256 {expected}, this vibes carries {actual}); run vibes plan again")]
    EngineSourceChanged {
        image: String,
        expected: String,
        actual: String,
    },
    #[error("{failed} of {total} uploads to {bucket} failed; the first: {first}")]
    Uploads {
        bucket: String,
        failed: usize,
        total: usize,
        first: String,
    },
    #[error("compile: {0}")]
    Compile(String),
}

/// What every effect of one apply shares.
pub struct Context {
    pub cloud: Arc<dyn Cloud>,
    pub outputs: Outputs,
    pub options: ApplyOptions,
    pub retrier: Retrier,
    pub reporter: Arc<dyn Reporter>,
    pub cancel: CancellationToken,
}

impl Context {
    /// One cloud operation under the retry policy, its error labelled with the effect.
    async fn call<T, F, Fut>(&self, effect: &'static str, op: F) -> Result<T, EffectError>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = CloudResult<T>>,
    {
        self.retrier
            .run(op)
            .await
            .map_err(|source| EffectError::Cloud { effect, source })
    }

    /// Like [`Context::call`], with "not found" counted as done (deletes).
    async fn call_gone<F, Fut>(&self, effect: &'static str, op: F) -> Result<(), EffectError>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = CloudResult<()>>,
    {
        match self.retrier.run(op).await {
            Ok(()) | Err(CloudError::NotFound { .. }) => Ok(()),
            Err(source) => Err(EffectError::Cloud { effect, source }),
        }
    }

    fn resolve(&self, v: &Value) -> Result<String, EffectError> {
        Ok(self.outputs.resolve(v)?)
    }

    fn path(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.options.base_dir.join(p)
        }
    }
}

/// Runs the effects of `action` in order.
pub async fn run_action(cx: &Context, index: usize, action: &Action) -> Result<(), EffectError> {
    for effect in &action.effects {
        run_effect(cx, index, &action.address, effect).await?;
    }
    Ok(())
}

async fn run_effect(
    cx: &Context,
    index: usize,
    address: &Address,
    effect: &Effect,
) -> Result<(), EffectError> {
    let cloud = cx.cloud.as_ref();
    let name = effect.name();
    match effect {
        Effect::CreateKeyPair {
            key_name,
            private_key_parameter,
            tags,
            overwrite,
        } => {
            let private = cx
                .call(name, |_| cloud.create_key_pair(key_name, tags))
                .await?;
            let stored = cx
                .retrier
                .run(|attempt| {
                    let private = &private;
                    async move {
                        match cloud
                            .put_secure_parameter(private_key_parameter, private, tags, *overwrite)
                            .await
                        {
                            // An earlier attempt of ours got through before its answer was lost.
                            Err(CloudError::AlreadyExists { .. }) if attempt > 1 => Ok(()),
                            other => other,
                        }
                    }
                })
                .await;
            match stored {
                Ok(()) => Ok(()),
                // A secret turned up at the path after the plan was made: it is kept, and the
                // key pair just made goes again, since nobody could ever hold its private key.
                Err(CloudError::AlreadyExists { .. }) => {
                    cx.call_gone("delete key pair", |_| cloud.delete_key_pair(key_name))
                        .await?;
                    Err(EffectError::SecretInTheWay {
                        parameter: private_key_parameter.clone(),
                        key_name: key_name.clone(),
                    })
                }
                Err(source) => Err(EffectError::Cloud {
                    effect: "store private key",
                    source,
                }),
            }
        }
        Effect::ImportKeyPair {
            key_name,
            public_key,
            tags,
        } => {
            cx.call(name, |_| cloud.import_key_pair(key_name, public_key, tags))
                .await
        }
        Effect::DeleteKeyPair { key_name } => {
            cx.call_gone(name, |_| cloud.delete_key_pair(key_name))
                .await
        }
        Effect::TagKeyPair { key_name, tags } => {
            cx.call(name, |_| cloud.tag_key_pair(key_name, tags)).await
        }
        Effect::PutParameter {
            name: param,
            value,
            tags,
        } => {
            let value = cx.resolve(value)?;
            cx.call(name, |_| cloud.put_parameter(param, &value, tags))
                .await
        }
        Effect::DeleteParameter { name: param } => {
            cx.call_gone(name, |_| cloud.delete_parameter(param)).await
        }
        Effect::TagParameter { name: param, tags } => {
            cx.call(name, |_| cloud.tag_parameter(param, tags)).await
        }
        Effect::CreateStack {
            stack_name,
            template_body,
            parameters,
            tags,
            token,
        } => {
            let req = stack_request(cx, stack_name, template_body, parameters, tags, token)?;
            let created = cx
                .retrier
                .run(|attempt| {
                    let req = &req;
                    async move {
                        match cloud.create_stack(req).await {
                            // An earlier attempt of ours got through before its answer was lost.
                            Err(CloudError::AlreadyExists { .. }) if attempt > 1 => Ok(()),
                            other => other,
                        }
                    }
                })
                .await;
            match created {
                Ok(()) => {}
                Err(CloudError::AlreadyExists { .. }) => {
                    return Err(EffectError::StackExists {
                        stack: stack_name.clone(),
                    })
                }
                Err(source) => {
                    return Err(EffectError::Cloud {
                        effect: name,
                        source,
                    })
                }
            }
            cx.reporter
                .action_progress(index, &format!("waiting for stack {stack_name}"));
            wait_stack_success(cx, address, stack_name).await
        }
        Effect::UpdateStack {
            stack_name,
            template_body,
            parameters,
            tags,
            token,
        } => {
            let req = stack_request(cx, stack_name, template_body, parameters, tags, token)?;
            let update = cx.call(name, |_| cloud.update_stack(&req)).await?;
            if update == StackUpdate::Started {
                cx.reporter
                    .action_progress(index, &format!("waiting for stack {stack_name}"));
                wait_stack_success(cx, address, stack_name).await
            } else {
                // Nothing to do; the wait returns at once with the current outputs.
                let state = cx
                    .call("read stack", |_| {
                        cloud.wait_stack(stack_name, cx.options.timeouts.stack)
                    })
                    .await?;
                cx.outputs.set_all(address, state.outputs);
                Ok(())
            }
        }
        Effect::DeleteStack { stack_name, token } => {
            cx.call_gone(name, |_| cloud.delete_stack(stack_name, token))
                .await?;
            cx.reporter
                .action_progress(index, &format!("waiting for stack {stack_name} to go"));
            match cx
                .retrier
                .run(|_| cloud.wait_stack(stack_name, cx.options.timeouts.stack))
                .await
            {
                Err(CloudError::NotFound { .. }) => {}
                Ok(state) if state.status == "DELETE_COMPLETE" => {}
                Ok(state) => {
                    return Err(EffectError::StackFailed {
                        stack: stack_name.clone(),
                        status: state.status,
                        reason: state.reason,
                    })
                }
                Err(source) => {
                    return Err(EffectError::Cloud {
                        effect: name,
                        source,
                    })
                }
            }
            cx.outputs.clear(address);
            Ok(())
        }
        Effect::BuildImage {
            image,
            recipe,
            files,
            recipe_hash,
            parameter,
            artifacts_bucket,
            codebuild_project,
            tags,
        } => {
            build_image(
                cx,
                index,
                image,
                recipe,
                files,
                recipe_hash,
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
        Effect::SyncSources {
            bucket,
            root,
            upload,
            delete,
            revision,
        } => sync_sources(cx, index, bucket, root, upload, delete, revision).await,
        Effect::CreateVolume {
            name: volume,
            size_gib,
            availability_zone,
            tags,
            token,
        } => {
            let az = cx.resolve(availability_zone)?;
            let id = cx
                .call(name, |_| cloud.create_volume(*size_gib, &az, tags, token))
                .await?;
            cx.outputs.set(&Address::volume(volume), VOLUME_ID, &id);
            Ok(())
        }
        Effect::RunCompile {
            launch_template,
            image,
            instance_type,
            builds_volume,
            built_from,
            sources_revision: _,
            timeout_minutes,
            snapshot_tags,
            instance_tags,
            token,
        } => {
            let req = InstanceRequest {
                launch_template: cx.resolve(launch_template)?,
                image_id: cx.resolve(image)?,
                instance_type: instance_type.clone(),
                tags: instance_tags.clone(),
                client_token: token.clone(),
                volumes: BTreeMap::from([(DATA_DEVICE.to_string(), cx.resolve(builds_volume)?)]),
            };
            let timeout = cx
                .options
                .timeouts
                .compile
                .unwrap_or(Duration::from_secs(u64::from(*timeout_minutes) * 60));
            run_compile(cx, index, req, built_from, timeout, snapshot_tags).await
        }
        Effect::DeleteSnapshot { snapshot_id } => {
            cx.call_gone(name, |_| cloud.delete_snapshot(snapshot_id))
                .await
        }
        Effect::LaunchServer {
            launch_template,
            image,
            instance_type,
            snapshot,
            tags,
            token,
        } => {
            let snapshot = cx.resolve(snapshot)?;
            let mut tags = tags.clone();
            // What the server serves, for the next plan to compare with the newest snapshot.
            tags.entry(SERVES_TAG.to_string())
                .or_insert_with(|| snapshot.clone());
            // The launch is this spec serving this snapshot: when the snapshot is known only now
            // (the compile just made it), a token from the plan alone would be the same for every
            // compile, and EC2 would hand back the server an earlier run launched.
            let client_token = idempotency_token(
                &cx.options.project,
                address,
                &tags::short_hash(&[token.as_bytes(), snapshot.as_bytes()]),
            );
            let req = InstanceRequest {
                launch_template: cx.resolve(launch_template)?,
                image_id: cx.resolve(image)?,
                instance_type: instance_type.clone(),
                tags,
                client_token,
                volumes: BTreeMap::from([(DATA_DEVICE.to_string(), snapshot)]),
            };
            let id = cx.call(name, |_| cloud.run_instance(&req)).await?;
            cx.reporter
                .action_progress(index, &format!("waiting for {id} to run"));
            cx.call("wait for server", |_| {
                cloud.wait_instance(&id, &["running"], cx.options.timeouts.instance)
            })
            .await?;
            Ok(())
        }
        Effect::TerminateInstance { instance_id } => {
            cx.call_gone(name, |_| cloud.terminate_instance(instance_id))
                .await
        }
    }
}

/// The tag on a server instance naming the builds snapshot it serves.
pub const SERVES_TAG: &str = "vibes:snapshot";

fn stack_request(
    cx: &Context,
    stack_name: &str,
    template_body: &str,
    parameters: &BTreeMap<String, Value>,
    tags: &Tags,
    token: &str,
) -> Result<StackRequest, EffectError> {
    Ok(StackRequest {
        stack_name: stack_name.to_string(),
        template_body: template_body.to_string(),
        parameters: cx.outputs.resolve_all(parameters)?,
        tags: tags.clone(),
        token: token.to_string(),
    })
}

/// Waits for a stack to settle; success records its outputs, anything else fails.
async fn wait_stack_success(
    cx: &Context,
    address: &Address,
    stack_name: &str,
) -> Result<(), EffectError> {
    let cloud = cx.cloud.as_ref();
    let state = cx
        .call("wait for stack", |_| {
            cloud.wait_stack(stack_name, cx.options.timeouts.stack)
        })
        .await?;
    if !state.succeeded() {
        return Err(EffectError::StackFailed {
            stack: stack_name.to_string(),
            status: state.status,
            reason: state.reason,
        });
    }
    cx.outputs.set_all(address, state.outputs);
    Ok(())
}

// ------------------------------------------------------------------ files

/// Hex SHA-256 and size of a file, read off the async threads.
async fn hash_file(path: PathBuf) -> Result<(String, u64), EffectError> {
    let p = path.clone();
    let res = tokio::task::spawn_blocking(move || -> std::io::Result<(String, u64)> {
        let mut f = std::fs::File::open(&p)?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut size = 0u64;
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            size += n as u64;
            h.update(&buf[..n]);
        }
        Ok((hex::encode(h.finalize()), size))
    })
    .await;
    match res {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(EffectError::File {
            path,
            message: e.to_string(),
        }),
        Err(e) => Err(EffectError::File {
            path,
            message: e.to_string(),
        }),
    }
}

fn check_hash(path: &Path, expected: &str, actual: &str) -> Result<(), EffectError> {
    if expected.eq_ignore_ascii_case(actual) {
        Ok(())
    } else {
        Err(EffectError::Changed {
            path: path.to_path_buf(),
            expected: expected.to_string(),
            actual: actual.to_string(),
        })
    }
}

// ------------------------------------------------------------------ images

/// vibes' own source as a gzipped tar, with its SHA-256 worked out once. The worker image's
/// recipe builds the vibes binary from it, so the worker runs the vibes that planned it.
#[derive(Clone)]
pub struct SourceArchive {
    bytes: Arc<[u8]>,
    sha256: String,
}

impl SourceArchive {
    pub fn new(bytes: impl Into<Arc<[u8]>>) -> Self {
        let bytes = bytes.into();
        let sha256 = hex::encode(Sha256::digest(&bytes));
        SourceArchive { bytes, sha256 }
    }
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
    /// Hex SHA-256 of the archive: its entry in the worker image's files.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }
}

/// The archive's size and hash, not its bytes: options are printed in debug logs.
impl std::fmt::Debug for SourceArchive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceArchive")
            .field("len", &self.bytes.len())
            .field("sha256", &self.sha256)
            .finish()
    }
}

/// The body of one recipe file: read from under the config's directory and checked against the
/// hash the plan was made with — except the worker's source archive, which is vibes' own source,
/// carried in the binary rather than on disk.
async fn recipe_file(
    cx: &Context,
    image: &str,
    recipe: &str,
    rel: &str,
    expected: &str,
) -> Result<Vec<u8>, EffectError> {
    if image == crate::config::WORKER_IMAGE
        && rel == crate::config::source_archive_path(Path::new(recipe))
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

#[allow(clippy::too_many_arguments)]
async fn build_image(
    cx: &Context,
    index: usize,
    image: &str,
    recipe: &str,
    files: &BTreeMap<String, String>,
    recipe_hash: &str,
    parameter: &str,
    artifacts_bucket: &Value,
    codebuild_project: &Value,
    tags: &Tags,
) -> Result<(), EffectError> {
    let cloud = cx.cloud.as_ref();
    let bucket = cx.resolve(artifacts_bucket)?;
    let project = cx.resolve(codebuild_project)?;
    let prefix = format!("recipes/{image}/{recipe_hash}/");
    for (rel, expected) in files {
        let body = recipe_file(cx, image, recipe, rel, expected).await?;
        let key = format!("{prefix}{rel}");
        cx.call("upload recipe", |_| {
            cloud.put_object(&bucket, &key, body.clone())
        })
        .await?;
    }
    let address = Address::image(image);
    let req = ImageBuildRequest {
        codebuild_project: project,
        artifacts_bucket: bucket,
        recipe_prefix: prefix,
        recipe: recipe.to_string(),
        tags: tags.clone(),
        token: idempotency_token(&cx.options.project, &address, recipe_hash),
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
        return Err(EffectError::ImageBuildFailed {
            image: image.to_string(),
            build_id,
            status: outcome.status,
        });
    }
    let mut wanted = Tags::new();
    for key in [tags::PROJECT, tags::ADDRESS, tags::FINGERPRINT] {
        if let Some(v) = tags.get(key) {
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
    cx.outputs.set(&address, IMAGE_ID, &ami.image_id);
    cx.call("record image id", |_| {
        cloud.put_parameter(parameter, &ami.image_id, tags)
    })
    .await
}

// ------------------------------------------------------------------ sources

async fn sync_sources(
    cx: &Context,
    index: usize,
    bucket: &Value,
    root: &str,
    upload: &BTreeMap<String, String>,
    delete: &[String],
    revision: &str,
) -> Result<(), EffectError> {
    let cloud = cx.cloud.as_ref();
    let bucket = cx.resolve(bucket)?;
    let root = cx.path(root);
    let total = upload.len();
    let mut done = 0usize;
    let mut bytes = 0u64;
    let mut errors: Vec<EffectError> = Vec::new();
    let mut uploaded = crate::bucket_manifest::Uploaded::new();
    let every = (total / 100).max(1);
    // Boxed as `dyn Future + Send`: the stream then holds one concrete type, and the task that
    // runs this action stays `Send` without higher-ranked closure bounds.
    let jobs: Vec<Upload<'_>> = upload
        .iter()
        .map(|(rel, expected)| {
            let (root, bucket) = (&root, &bucket);
            Box::pin(async move {
                let path = root.join(rel);
                let (actual, size) = hash_file(path.clone()).await?;
                check_hash(&path, expected, &actual)?;
                cx.call("upload", |_| {
                    cloud.put_object_from_file(bucket, rel, &path, expected)
                })
                .await?;
                Ok::<_, EffectError>((
                    rel,
                    ObservedObject {
                        size,
                        sha256: Some(expected.clone()),
                    },
                ))
            }) as Upload<'_>
        })
        .collect();
    let mut uploads = stream::iter(jobs).buffer_unordered(UPLOAD_CONCURRENCY);
    while let Some(r) = uploads.next().await {
        done += 1;
        match r {
            Ok((rel, object)) => {
                bytes += object.size;
                uploaded.insert(rel.clone(), object);
            }
            Err(e) => errors.push(e),
        }
        if done % every == 0 || done == total {
            cx.reporter.action_progress(
                index,
                &format!("{done}/{total} files, {}", human_bytes(bytes)),
            );
        }
    }
    drop(uploads);
    if let Some(first) = errors.first() {
        return Err(EffectError::Uploads {
            bucket,
            failed: errors.len(),
            total,
            first: first.to_string(),
        });
    }
    for (n, batch) in delete.chunks(DELETE_BATCH).enumerate() {
        cx.call("delete objects", |_| cloud.delete_objects(&bucket, batch))
            .await?;
        cx.reporter.action_progress(
            index,
            &format!(
                "deleted {}/{} objects",
                (n * DELETE_BATCH + batch.len()),
                delete.len()
            ),
        );
    }
    // Last, once the bucket holds the tree: a manifest written before a failed upload would
    // vouch for content that is not there.
    cx.call("write bucket manifest", |_| {
        cloud.write_bucket_manifest(&bucket, revision, &uploaded)
    })
    .await?;
    Ok(())
}

/// One file's upload: its key, size and SHA-256 once done.
type Upload<'a> =
    Pin<Box<dyn Future<Output = Result<(&'a String, ObservedObject), EffectError>> + Send + 'a>>;

// ------------------------------------------------------------------ compile

/// The worker's report, written to `/<project>/compile/status` before it stops itself.
#[derive(Debug, serde::Deserialize)]
struct CompileStatus {
    built_from: String,
    status: String,
    #[serde(default)]
    message: String,
}

/// The SSM parameter a worker writes its [`CompileStatus`] to.
pub fn compile_status_parameter(project: &str) -> String {
    format!("/{project}/compile/status")
}

/// Terminates a worker when dropped unless [`WorkerGuard::terminate`] ran: an apply task
/// that is dropped mid-compile does not leave a worker running.
struct WorkerGuard {
    cloud: Arc<dyn Cloud>,
    instance_id: String,
    armed: bool,
}

impl WorkerGuard {
    async fn terminate(mut self, cx: &Context) -> Result<(), EffectError> {
        self.armed = false;
        let cloud = self.cloud.as_ref();
        let id = self.instance_id.as_str();
        cx.call_gone("terminate worker", |_| cloud.terminate_instance(id))
            .await
    }
}

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let cloud = self.cloud.clone();
            let id = std::mem::take(&mut self.instance_id);
            tracing::warn!(instance = %id, "compile stopped early: terminating its worker");
            rt.spawn(async move {
                if let Err(e) = cloud.terminate_instance(&id).await {
                    tracing::error!(instance = %id, error = %e, "could not terminate the worker");
                }
            });
        }
    }
}

async fn run_compile(
    cx: &Context,
    index: usize,
    req: InstanceRequest,
    built_from: &str,
    timeout: Duration,
    snapshot_tags: &Tags,
) -> Result<(), EffectError> {
    let cloud = cx.cloud.as_ref();
    let status_parameter = compile_status_parameter(&cx.options.project);
    // A status left by an earlier run must not be taken for this run's.
    cx.call_gone("clear compile status", |_| {
        cloud.delete_parameter(&status_parameter)
    })
    .await?;
    let id = launch_worker(cx, req.clone()).await?;
    let guard = WorkerGuard {
        cloud: cx.cloud.clone(),
        instance_id: id.clone(),
        armed: true,
    };
    cx.reporter.action_progress(
        index,
        &format!("worker {id} compiling (up to {})", human_duration(timeout)),
    );
    let volume = &req.volumes[DATA_DEVICE];
    let result = compile_on(
        cx,
        index,
        &id,
        volume,
        &status_parameter,
        built_from,
        timeout,
        snapshot_tags,
    )
    .await;
    let terminated = guard.terminate(cx).await;
    match (result, terminated) {
        (Ok(snapshot), Ok(())) => {
            cx.outputs.set(&Address::compile(), SNAPSHOT_ID, &snapshot);
            Ok(())
        }
        (Ok(snapshot), Err(t)) => {
            cx.outputs.set(&Address::compile(), SNAPSHOT_ID, &snapshot);
            Err(EffectError::Compile(format!(
                "snapshot {snapshot} was made, but worker {id} could not be terminated: {t}"
            )))
        }
        (Err(e), Ok(())) => Err(e),
        (Err(e), Err(t)) => Err(EffectError::Compile(format!(
            "{e}; and worker {id} could not be terminated: {t}"
        ))),
    }
}

/// Launch the worker. The ClientToken makes a retried launch return the same instance; but
/// after a failed or interrupted compile, a rerun with the same inputs has the same token and
/// EC2 would hand back the terminated worker of that earlier attempt. Such an instance is
/// recognised by its state and the launch is made again under a token for the next attempt.
async fn launch_worker(cx: &Context, mut req: InstanceRequest) -> Result<String, EffectError> {
    const ANY_STATE: [&str; 6] = [
        "pending",
        "running",
        "stopping",
        "stopped",
        "shutting-down",
        "terminated",
    ];
    let base = req.client_token.clone();
    let cloud = cx.cloud.as_ref();
    for attempt in 1..=5 {
        let id = cx
            .call("launch worker", |_| cloud.run_instance(&req))
            .await?;
        let seen = cx
            .call("describe worker", |_| {
                cloud.wait_instance(&id, &ANY_STATE, cx.options.timeouts.instance)
            })
            .await?;
        if !matches!(seen.state.as_str(), "shutting-down" | "terminated") {
            return Ok(id);
        }
        tracing::info!(instance = %id, attempt, "the launch token belongs to a finished worker; launching under a new one");
        req.client_token = format!("{base}-{}", attempt + 1);
    }
    Err(EffectError::Compile(
        "every launch token tried returned a terminated worker".into(),
    ))
}

#[allow(clippy::too_many_arguments)]
async fn compile_on(
    cx: &Context,
    index: usize,
    id: &str,
    volume: &str,
    status_parameter: &str,
    built_from: &str,
    timeout: Duration,
    snapshot_tags: &Tags,
) -> Result<String, EffectError> {
    let cloud = cx.cloud.as_ref();
    let wait = cx
        .retrier
        .run(|_| cloud.wait_instance(id, &["stopped", "terminated"], timeout));
    let waited = tokio::select! {
        w = wait => w,
        _ = cx.cancel.cancelled() => {
            return Err(EffectError::Compile(format!("interrupted; worker {id} is terminated, run vibes apply again to compile")));
        }
    };
    match waited {
        Ok(_) => {}
        Err(CloudError::Timeout { .. }) => {
            return Err(EffectError::Compile(format!(
                "worker {id} did not finish within {}; it is terminated (raise [compile] timeout_minutes if the collection needs longer)",
                human_duration(timeout)
            )))
        }
        Err(source) => return Err(EffectError::Cloud { effect: "wait for worker", source }),
    }
    let raw = cx
        .call("read compile status", |_| {
            cloud.get_parameter(status_parameter)
        })
        .await?;
    let Some(raw) = raw else {
        return Err(EffectError::Compile(format!(
            "worker {id} stopped without writing {status_parameter}: see its console output"
        )));
    };
    let status: CompileStatus = serde_json::from_str(&raw).map_err(|e| {
        EffectError::Compile(format!("{status_parameter} is not a compile status ({e})"))
    })?;
    if status.built_from != built_from {
        return Err(EffectError::Compile(format!(
            "{status_parameter} reports a compile of {}, not of {built_from}: another compile ran meanwhile",
            status.built_from
        )));
    }
    if status.status != "succeeded" {
        let detail = if status.message.is_empty() {
            String::new()
        } else {
            format!(": {}", status.message)
        };
        return Err(EffectError::Compile(format!(
            "the compile on {id} {}{detail}",
            status.status
        )));
    }
    let snapshot = cx
        .call("snapshot builds", |_| {
            cloud.create_snapshot(volume, snapshot_tags)
        })
        .await?;
    cx.reporter
        .action_progress(index, &format!("waiting for snapshot {snapshot}"));
    cx.call("wait for snapshot", |_| {
        cloud.wait_snapshot(&snapshot, cx.options.timeouts.snapshot)
    })
    .await?;
    Ok(snapshot)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(human_bytes(900), "900 B");
        assert_eq!(human_bytes(3 * 1024 * 1024 + 100 * 1024), "3.1 MiB");
        assert_eq!(human_duration(Duration::from_secs(3600)), "60 min");
        assert_eq!(human_duration(Duration::from_secs(192)), "3m 12s");
        assert_eq!(human_duration(Duration::from_millis(40)), "40 ms");
    }
}
