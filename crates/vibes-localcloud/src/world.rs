//! What the runner knows and holds: its settings, clients to moto, and the state of each
//! part it plays.

use crate::codebuild::Builds;
use crate::ebs::Disks;
use crate::instances::Instances;
use crate::s3_reads::S3Reads;
use crate::stacks::Stacks;
use std::path::PathBuf;

pub struct Settings {
    /// moto's endpoint, without a trailing slash.
    pub moto: String,
    /// The runner's own endpoint: what builds and instances are given as AWS.
    pub endpoint: String,
    pub state: PathBuf,
    pub vibes: PathBuf,
    pub platform: PathBuf,
    pub region: String,
}

pub struct World {
    pub settings: Settings,
    /// Straight to moto: the runner's own reads must not pass through its hooks.
    pub ec2: aws_sdk_ec2::Client,
    pub cfn: aws_sdk_cloudformation::Client,
    pub disks: std::sync::Arc<Disks>,
    pub builds: Builds,
    pub stacks: Stacks,
    pub instances: Instances,
    /// What S3 served through the proxy, for `GET /_localcloud/stats`.
    pub s3_reads: S3Reads,
}

impl World {
    pub async fn new(settings: Settings) -> Result<World, String> {
        std::fs::create_dir_all(&settings.state)
            .map_err(|e| format!("create {}: {e}", settings.state.display()))?;
        // moto accepts any credentials; these never leave the machine.
        let creds = aws_sdk_ec2::config::Credentials::new(
            std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_else(|_| "testing".into()),
            std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|_| "testing".into()),
            None,
            None,
            "vibes-localcloud",
        );
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(settings.region.clone()))
            .endpoint_url(&settings.moto)
            .credentials_provider(creds)
            .load()
            .await;
        Ok(World {
            ec2: aws_sdk_ec2::Client::new(&sdk),
            cfn: aws_sdk_cloudformation::Client::new(&sdk),
            disks: std::sync::Arc::new(Disks::new(settings.state.join("ebs"))?),
            builds: Builds::new(settings.state.join("codebuild"))?,
            stacks: Stacks::default(),
            instances: Instances::new(settings.state.join("instances"))?,
            s3_reads: S3Reads::default(),
            settings,
        })
    }

    /// The environment a program on "AWS" gets to reach AWS: this runner as the endpoint,
    /// the region, and moto's dummy credentials.
    pub fn aws_env(&self) -> Vec<(String, String)> {
        let key = |k: &str, default: &str| std::env::var(k).unwrap_or_else(|_| default.into());
        vec![
            ("AWS_ENDPOINT_URL".into(), self.settings.endpoint.clone()),
            ("AWS_REGION".into(), self.settings.region.clone()),
            ("AWS_DEFAULT_REGION".into(), self.settings.region.clone()),
            (
                "AWS_ACCESS_KEY_ID".into(),
                key("AWS_ACCESS_KEY_ID", "testing"),
            ),
            (
                "AWS_SECRET_ACCESS_KEY".into(),
                key("AWS_SECRET_ACCESS_KEY", "testing"),
            ),
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
            // Packer and the aws CLI must not phone home: nothing leaves 127.0.0.1.
            ("CHECKPOINT_DISABLE".into(), "1".into()),
        ]
    }
}
