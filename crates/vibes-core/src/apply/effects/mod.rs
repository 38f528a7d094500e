//! What each [`Effect`] does against the [`Cloud`]. An action's effects run in order; the
//! first error fails the action. Every cloud call goes through the retrier, so a transient
//! error (throttling, 5xx) is retried with backoff and a permanent one fails at once.

mod compile;
mod console;
mod ended;
mod files;
mod images;
mod instances;
mod keys;
pub mod launch;
mod sources;
mod stacks;
mod volumes;

use super::options::ApplyOptions;
use super::outputs::{Outputs, Unresolved};
use super::reporter::Reporter;
use super::retry::Retrier;
use crate::address::Address;
use crate::cloud::{Cloud, CloudError, CloudResult};
use crate::model::Value;
use crate::plan::{Action, Effect};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The device the builds volume (worker) or builds snapshot (server) is attached as.
pub const DATA_DEVICE: &str = "/dev/sdf";

pub use super::options::SourceArchive;
pub use compile::compile_status_parameter;
pub use instances::SERVES_TAG;
pub use sources::{DELETE_BATCH, UPLOAD_CONCURRENCY};

/// Why an action failed. Messages name the resource and, where there is one, the way out.
/// None of them holds a secret: secrets are only ever handed to the cloud, never formatted.
/// How many lines of a failed image build's log an error shows.
pub const LOG_TAIL_LINES: usize = 20;

/// The end of a build log under an error.
fn log_tail_text(lines: &[String]) -> String {
    if lines.is_empty() {
        return ": see the CodeBuild log".to_string();
    }
    format!("; the end of its log:{}", quoted(lines))
}

/// Lines from outside (a log, a console) quoted under an error, one per line, each escaped, so
/// that they cannot move the terminal's cursor or forge lines of vibes' own output.
fn quoted(lines: &[String]) -> String {
    lines
        .iter()
        .map(|l| format!("\n    | {}", crate::render::printable(l.trim_end())))
        .collect()
}

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
    #[error(
        "image build {build_id} of image.{image} ended {status}{}",
        log_tail_text(log_tail)
    )]
    ImageBuildFailed {
        image: String,
        build_id: String,
        status: String,
        /// The end of the build's log (CloudWatch Logs), when it could be read.
        log_tail: Vec<String>,
    },
    #[error("image build {build_id} of image.{image} succeeded but no image carries vibes:address={address} and vibes:fingerprint={fingerprint}: the recipe must tag the AMI it makes")]
    NoImage {
        image: String,
        build_id: String,
        address: String,
        fingerprint: String,
    },
    #[error("image.{image}: the build was asked for {asked} (PKR_VAR_arch) and registered {image_id} for {registered}: the recipe does not build for its `arch` variable; make it use var.arch (as packer/worker.pkr.hcl does), or set arch = \"{registered}\" under [images.{image}] with instance types of that architecture")]
    WrongArchitecture {
        image: String,
        image_id: String,
        asked: crate::arch::Arch,
        registered: crate::arch::Arch,
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

/// Hands `effect` to the module of its kind. The match is exhaustive, so a new effect must be
/// given a module here; each module's own match takes only the effects routed to it.
async fn run_effect(
    cx: &Context,
    index: usize,
    address: &Address,
    effect: &Effect,
) -> Result<(), EffectError> {
    match effect {
        Effect::CreateKeyPair { .. }
        | Effect::ImportKeyPair { .. }
        | Effect::DeleteKeyPair { .. }
        | Effect::TagKeyPair { .. }
        | Effect::PutParameter { .. }
        | Effect::DeleteParameter { .. }
        | Effect::TagParameter { .. } => keys::run(cx, effect).await,
        Effect::CreateStack { .. }
        | Effect::UpdateStack { .. }
        | Effect::DeleteStack { .. }
        | Effect::ContinueRollback { .. } => stacks::run(cx, index, address, effect).await,
        Effect::BuildImage { .. } | Effect::DeregisterImage { .. } => {
            images::run(cx, index, effect).await
        }
        Effect::SyncSources { .. } | Effect::DeleteBucket { .. } => {
            sources::run(cx, index, effect).await
        }
        Effect::SnapshotVolume { .. }
        | Effect::DeleteVolume { .. }
        | Effect::DeleteSnapshot { .. } => volumes::run(cx, effect).await,
        Effect::RunCompile { .. }
        | Effect::LaunchServer { .. }
        | Effect::TerminateInstance { .. }
        | Effect::AllocateAddress { .. }
        | Effect::AssociateAddress { .. }
        | Effect::ReleaseAddress { .. } => instances::run(cx, index, address, effect).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::{human_bytes, human_duration};
    use std::time::Duration;

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
