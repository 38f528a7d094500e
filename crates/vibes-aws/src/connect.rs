//! Connecting to AWS: the SDK's default chain (AWS_PROFILE, AWS_REGION, SSO, environment
//! credentials, container and instance roles) with vibes' overrides, checked up front so a
//! missing region or credential is one clear error instead of a failure per action.

use crate::AwsCloud;
use aws_config::default_provider::credentials::DefaultCredentialsChain;
use aws_config::environment::EnvironmentVariableRegionProvider;
use aws_config::imds;
use aws_config::meta::region::RegionProviderChain;
use aws_config::profile::ProfileFileRegionProvider;
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::config::ProvideCredentials;
use std::time::Duration;

/// How to reach AWS. Every field overrides the environment; `None` means "as the SDK finds it".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectOptions {
    /// `--region`; else AWS_REGION / AWS_DEFAULT_REGION, the profile, instance metadata.
    pub region: Option<String>,
    /// `--endpoint-url`; else AWS_ENDPOINT_URL. An endpoint means an emulator or a private
    /// endpoint: S3 goes path-style and instance metadata is given only a short chance.
    /// Without `--endpoint-url`, AWS_ENDPOINT_URL_S3 sends S3 alone elsewhere (see [`connect`]).
    pub endpoint_url: Option<String>,
    /// `--profile`; else AWS_PROFILE.
    pub profile: Option<String>,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ConnectError {
    #[error("no AWS region: pass --region, set AWS_REGION, or set `region` in vibes.toml or in the AWS profile")]
    NoRegion,
    #[error("no AWS credentials{profile}: {detail}. Set AWS_PROFILE (and run `aws sso login` for SSO profiles), or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run where an instance or container role is available")]
    NoCredentials { profile: String, detail: String },
    #[error("invalid endpoint URL `{0}`: expected e.g. http://127.0.0.1:5000")]
    BadEndpoint(String),
}

/// Instance metadata normally gets a second of patience and retries; when the endpoint is
/// given (an emulator on a laptop) it is almost certainly absent, so it gets a short try.
fn imds_client(endpoint_given: bool) -> imds::Client {
    let b = imds::Client::builder();
    if endpoint_given {
        b.connect_timeout(Duration::from_millis(250))
            .read_timeout(Duration::from_millis(250))
            .operation_timeout(Duration::from_millis(600))
            .max_attempts(1)
            .build()
    } else {
        b.connect_timeout(Duration::from_secs(1))
            .read_timeout(Duration::from_secs(1))
            .max_attempts(2)
            .build()
    }
}

/// A non-empty environment variable.
fn env_set(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|s| !s.trim().is_empty())
}

fn checked_endpoint(e: Option<String>) -> Result<Option<String>, ConnectError> {
    match e {
        Some(e) if !(e.starts_with("http://") || e.starts_with("https://")) => {
            Err(ConnectError::BadEndpoint(e))
        }
        e => Ok(e),
    }
}

/// Connect as the `aws` CLI would, with the overrides in `opts`; fails at once, with what to
/// do, when there is no region or no credentials.
///
/// Endpoints follow the SDKs' order, most specific first: `--endpoint-url` for every service;
/// else AWS_ENDPOINT_URL_S3 for S3 and AWS_ENDPOINT_URL for the rest (and for S3 when the
/// former is unset). vibes passes the general endpoint to the SDK as its own configuration,
/// which would silence the SDK's reading of AWS_ENDPOINT_URL_S3, so it reads that one itself:
/// S3 can then go to another server than CloudFormation and SSM (a fast S3 server in front of
/// an emulator of the rest, as `bench/sync.sh` does).
pub async fn connect(opts: &ConnectOptions) -> Result<AwsCloud, ConnectError> {
    let endpoint = checked_endpoint(
        opts.endpoint_url
            .clone()
            .or_else(|| env_set("AWS_ENDPOINT_URL")),
    )?;
    let s3_endpoint = match &opts.endpoint_url {
        Some(_) => None,
        None => checked_endpoint(env_set("AWS_ENDPOINT_URL_S3"))?,
    };
    // Only an endpoint for everything means no EC2 around: with S3 alone elsewhere, the rest
    // (and the credentials) may come from a real instance's metadata.
    let imds = imds_client(endpoint.is_some());

    let mut profile_region = ProfileFileRegionProvider::builder();
    if let Some(p) = &opts.profile {
        profile_region = profile_region.profile_name(p);
    }
    let region_chain = RegionProviderChain::first_try(opts.region.clone().map(Region::new))
        .or_else(EnvironmentVariableRegionProvider::new())
        .or_else(profile_region.build())
        .or_else(
            imds::region::ImdsRegionProvider::builder()
                .imds_client(imds.clone())
                .build(),
        );
    let region = region_chain.region().await.ok_or(ConnectError::NoRegion)?;

    let mut creds = DefaultCredentialsChain::builder()
        .region(region.clone())
        .imds_client(imds);
    if let Some(p) = &opts.profile {
        creds = creds.profile_name(p);
    }
    let creds = creds.build().await;
    // Resolve once now: a missing credential is reported before any plan is made. The SDK
    // caches what it resolves, so this costs nothing later.
    if let Err(e) = creds.provide_credentials().await {
        let profile = opts
            .profile
            .clone()
            .or_else(|| std::env::var("AWS_PROFILE").ok())
            .map(|p| format!(" for profile `{p}`"))
            .unwrap_or_default();
        return Err(ConnectError::NoCredentials {
            profile,
            detail: error_chain(&e),
        });
    }

    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(region)
        .credentials_provider(creds)
        .retry_config(RetryConfig::adaptive().with_max_attempts(5));
    if let Some(p) = &opts.profile {
        loader = loader.profile_name(p);
    }
    if let Some(e) = &endpoint {
        loader = loader.endpoint_url(e);
    }
    let sdk = loader.load().await;
    let aws = AwsCloud::from_sdk_config(&sdk, endpoint.is_some());
    Ok(match &s3_endpoint {
        Some(e) => aws.with_s3_endpoint(&sdk, e),
        None => aws,
    })
}

fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut src = err.source();
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}
