//! How an apply runs: its options, timeouts, and vibes' own source for the worker image.
//! Shared by the executor and the effects, so it depends on neither.

use super::retry::RetryPolicy;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// CodeBuild's limit on an image build in the built-in cfn/main.yaml (`TimeoutInMinutes`).
pub const IMAGE_BUILD_LIMIT_MINUTES: u64 = 120;

/// How long to wait for the slow things before giving up on them.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeouts {
    /// A stack create, update or delete.
    pub stack: Duration,
    /// A CodeBuild run of Packer. Longer than the build's own limit (the built-in template's
    /// ImageBuildProject `TimeoutInMinutes`), so that CodeBuild ends a build that runs too long
    /// and says so in its status, rather than vibes giving up on a build that goes on.
    pub image_build: Duration,
    /// A compile run; `None` takes the plan's `timeout_minutes` (from `[compile]`).
    pub compile: Option<Duration>,
    /// A builds snapshot to complete.
    pub snapshot: Duration,
    /// An instance to reach `running`.
    pub instance: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            stack: Duration::from_secs(60 * 60),
            image_build: Duration::from_secs((IMAGE_BUILD_LIMIT_MINUTES + 10) * 60),
            compile: None,
            snapshot: Duration::from_secs(4 * 60 * 60),
            instance: Duration::from_secs(15 * 60),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Actions running at once. At least 1.
    pub parallelism: usize,
    /// The directory the config's paths are relative to (recipe files, the sources root).
    pub base_dir: PathBuf,
    /// The project name: SSM paths `/<project>/…` and stack names `<project>-NAME`.
    pub project: String,
    pub retry: RetryPolicy,
    pub timeouts: Timeouts,
    /// vibes' own source, which the worker image builds the vibes binary from. `None` where vibes
    /// is used as a library: a worker image that names the archive then fails to build.
    pub engine_source: Option<SourceArchive>,
    /// The apply's run id: the part of every launch token that makes a launch of a later apply
    /// a new one ([`super::launch`]). `None` (the default) draws a fresh one for each apply;
    /// tests set one to replay an apply's tokens.
    pub run_id: Option<String>,
    /// How often a running compile's progress (`/<project>/compile/progress`) is read.
    pub progress_poll: Duration,
}

/// The worker publishes its progress every 30 s; reading it as often shows each report.
pub const DEFAULT_PROGRESS_POLL: Duration = Duration::from_secs(30);

impl ApplyOptions {
    pub fn new(project: impl Into<String>, base_dir: impl Into<PathBuf>) -> Self {
        ApplyOptions {
            parallelism: 10,
            base_dir: base_dir.into(),
            project: project.into(),
            retry: RetryPolicy::default(),
            timeouts: Timeouts::default(),
            engine_source: None,
            run_id: None,
            progress_poll: DEFAULT_PROGRESS_POLL,
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vibes_waits_for_an_image_build_longer_than_codebuild_lets_it_run() {
        let template = crate::config::builtin::template("cfn/main.yaml");
        let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(template).unwrap();
        let limit = doc["Resources"]["ImageBuildProject"]["Properties"]["TimeoutInMinutes"]
            .as_u64()
            .expect("ImageBuildProject has a TimeoutInMinutes");
        assert_eq!(limit, IMAGE_BUILD_LIMIT_MINUTES);
        assert!(Timeouts::default().image_build > Duration::from_secs(limit * 60));
    }
}
