//! What each [`Effect`] does against the [`Cloud`]. An action's effects run in order; the
//! first error fails the action. Every cloud call goes through the retrier, so a transient
//! error (throttling, 5xx) is retried with backoff and a permanent one fails at once.

use super::compile::{run_compile, CompileRun};
use super::executor::ApplyOptions;
use super::launch::{launch, wait_launched};
use super::outputs::{Outputs, Unresolved};
use super::reporter::Reporter;
use super::retry::Retrier;
use crate::address::Address;
use crate::cloud::{
    Cloud, CloudError, CloudResult, ImageBuildRequest, InstanceRequest, StackRequest, StackUpdate,
};
use crate::model::Value;
use crate::observed::ObservedObject;
use crate::plan::outputs::{IMAGE_ID, VOLUME_ID};
use crate::plan::{Action, Effect};
use crate::tags::{self, idempotency_token, Tags};
use crate::units::human_bytes;
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

pub use super::compile::compile_status_parameter;

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
    #[error("cannot read {}: {message}", crate::render::printable(&path.display().to_string()))]
    File { path: PathBuf, message: String },
    #[error("{} changed since the plan was made (its SHA-256 is {actual}, the plan has {expected}); run vibes plan again", crate::render::printable(&path.display().to_string()))]
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
    #[error("image.{image}: the plan has {path} from vibes' built-in platform, and this vibes carries none; run vibes plan again")]
    BuiltInMissing { image: String, path: String },
    #[error("image.{image}: the plan was made by another vibes (its built-in {path} has SHA-256 {expected}, this vibes carries {actual}); run vibes plan again")]
    BuiltInChanged {
        image: String,
        path: String,
        expected: String,
        actual: String,
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
    #[error("{address}: each of {attempts} launch tokens tried was answered with an instance of an earlier launch, or refused")]
    Launch { address: Address, attempts: u32 },
}

impl EffectError {
    /// Whether the cloud itself failed to answer: a transient error that outlasted every retry.
    pub fn is_outage(&self) -> bool {
        matches!(
            self,
            EffectError::Cloud {
                source: CloudError::Transient { .. },
                ..
            }
        )
    }
}

/// What every effect of one apply shares.
pub struct Context {
    pub cloud: Arc<dyn Cloud>,
    pub outputs: Outputs,
    pub options: ApplyOptions,
    pub retrier: Retrier,
    pub reporter: Arc<dyn Reporter>,
    pub cancel: CancellationToken,
    /// This apply's run id ([`ApplyOptions::run_id`], or a fresh one).
    pub run_id: String,
}

impl Context {
    /// One cloud operation under the retry policy, its error labelled with the effect.
    pub(super) async fn call<T, F, Fut>(
        &self,
        effect: &'static str,
        op: F,
    ) -> Result<T, EffectError>
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
    pub(super) async fn call_gone<F, Fut>(
        &self,
        effect: &'static str,
        op: F,
    ) -> Result<(), EffectError>
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

    /// A path of the plan on disk. The plan's paths are relative to the config's directory
    /// (never to the working directory, which may differ between plan and apply): joined here,
    /// and only here.
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
            built_in,
            recipe_hash,
            parameter,
            artifacts_bucket,
            codebuild_project,
            tags,
        } => {
            let recipe = Recipe {
                image,
                recipe,
                files,
                built_in,
                recipe_hash,
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
            let launch = InstanceRequest {
                launch_template: cx.resolve(launch_template)?,
                image_id: cx.resolve(image)?,
                instance_type: instance_type.clone(),
                tags: instance_tags.clone(),
                // Set per launch attempt.
                client_token: String::new(),
                // The builds volume outlives the worker: attached after the launch.
                volumes: BTreeMap::new(),
            };
            let timeout = cx
                .options
                .timeouts
                .compile
                .unwrap_or(Duration::from_secs(u64::from(*timeout_minutes) * 60));
            let run = CompileRun {
                launch,
                builds_volume: cx.resolve(builds_volume)?,
                plan_token: token,
                built_from,
                timeout,
                snapshot_tags,
            };
            run_compile(cx, index, run).await
        }
        Effect::DeleteSnapshot { snapshot_id } => {
            cx.call_gone(name, |_| cloud.delete_snapshot(snapshot_id))
                .await
        }
        Effect::DeleteBucket { bucket } => {
            cx.reporter
                .action_progress(index, &format!("emptying and deleting {bucket}"));
            cx.call_gone(name, |_| cloud.delete_bucket(bucket)).await
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
            let req = InstanceRequest {
                launch_template: cx.resolve(launch_template)?,
                image_id: cx.resolve(image)?,
                instance_type: instance_type.clone(),
                tags,
                // Set per launch attempt: each launch of the server is a new one, also over a
                // snapshot an earlier (since terminated) server served.
                client_token: String::new(),
                volumes: BTreeMap::from([(DATA_DEVICE.to_string(), snapshot)]),
            };
            let id = launch(cx, name, address, &[token], req).await?;
            cx.reporter
                .action_progress(index, &format!("waiting for {id} to run"));
            wait_launched(
                cx,
                "wait for server",
                &id,
                &["running"],
                cx.options.timeouts.instance,
            )
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
    let parameters = cx.outputs.resolve_all(parameters)?;
    let mut tags = tags.clone();
    // CloudFormation never shows a NoEcho value again: a salted hash of it, kept in a tag, is
    // what the next plan compares the config against.
    if let Some(record) =
        crate::noecho::record(&crate::noecho::declared(template_body), &parameters)
    {
        tags.insert(crate::tags::NOECHO.to_string(), record);
    }
    Ok(StackRequest {
        stack_name: stack_name.to_string(),
        template_body: template_body.to_string(),
        parameters,
        tags,
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

/// What an image is built from, as the plan has it.
struct Recipe<'a> {
    image: &'a str,
    recipe: &'a str,
    /// Upload path → SHA-256.
    files: &'a BTreeMap<String, String>,
    /// Upload path → path in the built-in platform, for the files carried in the binary.
    built_in: &'a BTreeMap<String, String>,
    recipe_hash: &'a str,
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
    let req = ImageBuildRequest {
        codebuild_project: project,
        artifacts_bucket: bucket,
        recipe_prefix: prefix,
        recipe: recipe.recipe.to_string(),
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
    let result = if let Some(first) = errors.first() {
        Err(EffectError::Uploads {
            bucket: bucket.clone(),
            failed: errors.len(),
            total,
            first: first.to_string(),
        })
    } else {
        delete_extra(cx, index, &bucket, delete).await
    };
    // The manifest is written even after a failed upload or delete: it records only what the
    // bucket holds now (each object with the ETag it is listed with, and a SHA-256 only for
    // what this sync uploaded or an earlier manifest vouched for), so it never vouches for
    // content that is not there — and without it every later plan would read each object on
    // its own until the next sync that succeeds.
    let revision = if result.is_ok() {
        revision.to_string()
    } else {
        format!("{revision} (incomplete)")
    };
    let manifest = cx
        .call("write bucket manifest", |_| {
            cloud.write_bucket_manifest(&bucket, &revision, &uploaded)
        })
        .await;
    match (result, manifest) {
        (Err(e), _) | (Ok(()), Err(e)) => Err(e),
        (Ok(()), Ok(())) => Ok(()),
    }
}

/// Deletes the objects the tree no longer holds, a batch at a time.
async fn delete_extra(
    cx: &Context,
    index: usize,
    bucket: &str,
    delete: &[String],
) -> Result<(), EffectError> {
    let cloud = cx.cloud.as_ref();
    for (n, batch) in delete.chunks(DELETE_BATCH).enumerate() {
        cx.call("delete objects", |_| cloud.delete_objects(bucket, batch))
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
    Ok(())
}

/// One file's upload: its key, size and SHA-256 once done.
type Upload<'a> =
    Pin<Box<dyn Future<Output = Result<(&'a String, ObservedObject), EffectError>> + Send + 'a>>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::human_duration;

    #[test]
    fn file_names_in_sync_errors_are_escaped() {
        let path = PathBuf::from("music/\u{1b}[2J\nx.wav");
        let read = EffectError::File {
            path: path.clone(),
            message: "gone".into(),
        };
        let changed = EffectError::Changed {
            path,
            expected: "a".into(),
            actual: "b".into(),
        };
        for e in [read.to_string(), changed.to_string()] {
            assert!(!e.contains(['\u{1b}', '\n']), "{e:?}");
            assert!(e.contains(r"music/\u{1b}[2J\nx.wav"), "{e}");
        }
    }

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(human_bytes(900), "900 B");
        assert_eq!(human_bytes(3 * 1024 * 1024 + 100 * 1024), "3.1 MiB");
        assert_eq!(human_duration(Duration::from_secs(3600)), "60 min");
        assert_eq!(human_duration(Duration::from_secs(192)), "3m 12s");
        assert_eq!(human_duration(Duration::from_millis(40)), "40 ms");
    }
}
