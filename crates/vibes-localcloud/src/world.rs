//! What the runner knows and holds: its settings, clients to moto, and the state of each
//! part it plays.

use crate::codebuild::Builds;
use crate::ebs::Disks;
use crate::instances::Instances;
use crate::s3_reads::S3Reads;
use crate::stacks::Stacks;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

/// The account moto answers as.
pub const ACCOUNT: &str = "123456789012";

/// Credentials a program is handed (an instance's role's, through instance metadata).
#[derive(Debug, Clone)]
pub struct Keys {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
}

#[derive(Clone)]
struct Clients {
    ec2: aws_sdk_ec2::Client,
    cfn: aws_sdk_cloudformation::Client,
    s3: aws_sdk_s3::Client,
}

pub struct Settings {
    /// moto's endpoint, without a trailing slash.
    pub moto: String,
    /// The runner's own endpoint: what builds and instances are given as AWS.
    pub endpoint: String,
    pub state: PathBuf,
    pub vibes: PathBuf,
    pub region: String,
}

pub struct World {
    pub settings: Settings,
    /// Straight to moto: the runner's own reads must not pass through its hooks. One set of
    /// clients per region asked for: each request is answered in the region its signature names.
    sdk: aws_config::SdkConfig,
    clients: Mutex<BTreeMap<String, Clients>>,
    pub disks: std::sync::Arc<Disks>,
    pub builds: Builds,
    pub stacks: Stacks,
    pub instances: Instances,
    /// The architecture each image was registered for (moto drops it).
    pub architectures: crate::amis::Architectures,
    /// What S3 served through the proxy, for `GET /_localcloud/stats`.
    pub s3_reads: S3Reads,
    /// The role sessions handed out, whose requests IAM authorizes.
    pub sessions: crate::iam::Sessions,
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
            sdk,
            clients: Mutex::default(),
            disks: std::sync::Arc::new(Disks::new(settings.state.join("ebs"))?),
            builds: Builds::new(settings.state.join("codebuild"))?,
            stacks: Stacks::default(),
            instances: Instances::new(settings.state.join("instances"))?,
            architectures: Default::default(),
            s3_reads: S3Reads::default(),
            sessions: Default::default(),
            settings,
        })
    }

    fn clients(&self, region: &str) -> Clients {
        let mut clients = self.clients.lock().unwrap();
        clients
            .entry(region.to_string())
            .or_insert_with(|| {
                let sdk = self
                    .sdk
                    .to_builder()
                    .region(aws_config::Region::new(region.to_string()))
                    .build();
                let s3 = aws_sdk_s3::config::Builder::from(&sdk)
                    .force_path_style(true)
                    .build();
                Clients {
                    ec2: aws_sdk_ec2::Client::new(&sdk),
                    cfn: aws_sdk_cloudformation::Client::new(&sdk),
                    s3: aws_sdk_s3::Client::from_conf(s3),
                }
            })
            .clone()
    }

    /// EC2 in `region`, straight to moto.
    pub fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        self.clients(region).ec2
    }

    /// CloudFormation in `region`, straight to moto.
    pub fn cfn(&self, region: &str) -> aws_sdk_cloudformation::Client {
        self.clients(region).cfn
    }

    /// S3 in `region`, straight to moto.
    pub fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        self.clients(region).s3
    }

    /// IAM (global), straight to moto.
    pub fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.sdk)
    }

    /// Where an image's id is mapped to its root file system (written by the Packer stand-in).
    pub fn images_dir(&self) -> std::path::PathBuf {
        self.settings.state.join("images")
    }

    /// The root file system an image boots, when the local cloud built it.
    pub fn image_rootfs(&self, image: &str) -> Option<std::path::PathBuf> {
        let recorded = std::fs::read_to_string(self.images_dir().join(image)).ok()?;
        Some(std::path::PathBuf::from(recorded.trim()))
    }

    /// Every region a request has been answered in, and the runner's default.
    pub fn regions(&self) -> Vec<String> {
        let mut r: Vec<String> = self.clients.lock().unwrap().keys().cloned().collect();
        if !r.contains(&self.settings.region) {
            r.push(self.settings.region.clone());
        }
        r
    }

    /// The environment a program on "AWS" in `region` gets to reach AWS: this runner as the
    /// endpoint, the region, and moto's dummy credentials.
    pub fn aws_env(&self, region: &str) -> Vec<(String, String)> {
        let key = |k: &str, default: &str| std::env::var(k).unwrap_or_else(|_| default.into());
        vec![
            ("AWS_ENDPOINT_URL".into(), self.settings.endpoint.clone()),
            ("AWS_REGION".into(), region.to_string()),
            ("AWS_DEFAULT_REGION".into(), region.to_string()),
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
