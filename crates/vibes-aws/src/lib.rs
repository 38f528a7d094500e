//! The AWS side of vibes: [`connect`] to an account (or an emulator), then use [`AwsCloud`]
//! through the [`vibes_core::cloud::Cloud`] trait. Each service's module holds its reads and
//! implements its trait directly: [`ec2`] (key pairs, images and their CodeBuild builds,
//! volumes and snapshots, instances), [`ssm`], [`cloudformation`], [`s3`]; [`observe`] is the
//! one concurrent read of everything the project owns, made of the services' reads.

mod calls;
pub mod cloudformation;
pub mod connect;
mod download;
pub mod ec2;
mod error;
pub mod observe;
mod poll;
pub mod s3;
mod scope;
pub mod ssm;

pub use connect::{connect, ConnectError, ConnectOptions};
pub use s3::SHA256_METADATA;

use calls::CallCounter;

/// Files this large or larger go up in parts, each with its own SHA-256.
pub const MULTIPART_THRESHOLD: u64 = 64 * 1024 * 1024;

/// The service clients vibes uses, sharing one configuration and one call counter.
#[derive(Debug, Clone)]
pub struct AwsCloud {
    pub(crate) ec2: aws_sdk_ec2::Client,
    pub(crate) ssm: aws_sdk_ssm::Client,
    pub(crate) s3: aws_sdk_s3::Client,
    pub(crate) cfn: aws_sdk_cloudformation::Client,
    pub(crate) codebuild: aws_sdk_codebuild::Client,
    /// CloudWatch Logs, where CodeBuild writes a build's log.
    pub(crate) logs: aws_sdk_cloudwatchlogs::Client,
    calls: CallCounter,
    pub(crate) multipart_threshold: u64,
    pub(crate) region: Option<String>,
}

impl AwsCloud {
    /// Clients from a loaded SDK configuration. `path_style`: address S3 buckets in the path
    /// (emulators and private endpoints) rather than as a host name.
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig, path_style: bool) -> Self {
        let calls = CallCounter::default();
        let ec2 = aws_sdk_ec2::config::Builder::from(sdk)
            .interceptor(calls.clone())
            .build();
        let ssm = aws_sdk_ssm::config::Builder::from(sdk)
            .interceptor(calls.clone())
            .build();
        let s3 = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(path_style)
            .interceptor(calls.clone())
            .build();
        let cfn = aws_sdk_cloudformation::config::Builder::from(sdk)
            .interceptor(calls.clone())
            .build();
        let codebuild = aws_sdk_codebuild::config::Builder::from(sdk)
            .interceptor(calls.clone())
            .build();
        let logs = aws_sdk_cloudwatchlogs::config::Builder::from(sdk)
            .interceptor(calls.clone())
            .build();
        AwsCloud {
            ec2: aws_sdk_ec2::Client::from_conf(ec2),
            ssm: aws_sdk_ssm::Client::from_conf(ssm),
            s3: aws_sdk_s3::Client::from_conf(s3),
            cfn: aws_sdk_cloudformation::Client::from_conf(cfn),
            codebuild: aws_sdk_codebuild::Client::from_conf(codebuild),
            logs: aws_sdk_cloudwatchlogs::Client::from_conf(logs),
            calls,
            multipart_threshold: MULTIPART_THRESHOLD,
            region: sdk.region().map(|r| r.to_string()),
        }
    }

    /// S3 at `endpoint_url` (path-style, as for any endpoint given), the other services as
    /// `sdk` says; S3 calls still count in [`AwsCloud::calls`].
    pub fn with_s3_endpoint(mut self, sdk: &aws_config::SdkConfig, endpoint_url: &str) -> Self {
        let s3 = aws_sdk_s3::config::Builder::from(sdk)
            .endpoint_url(endpoint_url)
            .force_path_style(true)
            .interceptor(self.calls.clone())
            .build();
        self.s3 = aws_sdk_s3::Client::from_conf(s3);
        self
    }

    /// AWS operations made through this value since it was created (retries not counted).
    pub fn calls(&self) -> u64 {
        self.calls.get()
    }

    /// The region requests go to.
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    /// Upload files of at least `bytes` in parts (default [`MULTIPART_THRESHOLD`]); S3 needs
    /// every part but the last to be at least 5 MiB.
    pub fn with_multipart_threshold(mut self, bytes: u64) -> Self {
        self.multipart_threshold = bytes.max(5 * 1024 * 1024);
        self
    }
}
