//! The cloud a contract case runs against, and the set-up the platform would have made around
//! vibes (the main stack's launch template, a built image, the buckets): on the fake by its
//! knobs, on moto through the SDK, never through the `Cloud` under test.

use crate::support::{self, Moto};
use std::sync::Arc;
use vibes_core::cloud::prelude::*;
use vibes_core::tags::Tags;
use vibes_fake::FakeCloud;

/// The availability zone volumes are made in, and launch templates place instances in.
pub const AZ: &str = "us-east-1a";

enum Side {
    Fake(Arc<FakeCloud>),
    Aws(Box<OnMoto>),
}

struct OnMoto {
    cloud: vibes_aws::AwsCloud,
    sdk: aws_config::SdkConfig,
    // Last: the server goes once the clients are dropped.
    _moto: Moto,
}

pub struct Subject {
    side: Side,
}

impl Subject {
    pub fn fake() -> Subject {
        Subject {
            side: Side::Fake(Arc::new(FakeCloud::new())),
        }
    }

    pub async fn aws() -> Subject {
        let moto = Moto::start();
        let cloud = support::cloud(&moto).await;
        let sdk = support::sdk(&moto).await;
        Subject {
            side: Side::Aws(Box::new(OnMoto {
                cloud,
                sdk,
                _moto: moto,
            })),
        }
    }

    pub fn cloud(&self) -> &dyn Cloud {
        match &self.side {
            Side::Fake(f) => f.as_ref(),
            Side::Aws(m) => &m.cloud,
        }
    }

    /// Whether this side is the fake (for what moto does not say).
    pub fn is_fake(&self) -> bool {
        matches!(self.side, Side::Fake(_))
    }

    /// The fake, for the cases only it can run.
    pub fn as_fake(&self) -> &FakeCloud {
        match &self.side {
            Side::Fake(f) => f,
            Side::Aws(_) => panic!("a fake-only case ran against moto"),
        }
    }

    fn ec2(&self) -> Option<aws_sdk_ec2::Client> {
        match &self.side {
            Side::Fake(_) => None,
            Side::Aws(m) => Some(aws_sdk_ec2::Client::new(&m.sdk)),
        }
    }

    /// A launch template as the main stack makes one (placing instances in [`AZ`], naming no
    /// image), made the first time it is asked for; returns the name to launch it by. The fake
    /// takes any name.
    pub async fn launch_template(&self, name: &str) -> String {
        if let Some(ec2) = self.ec2() {
            let data = aws_sdk_ec2::types::RequestLaunchTemplateData::builder()
                .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
                .placement(
                    aws_sdk_ec2::types::LaunchTemplatePlacementRequest::builder()
                        .availability_zone(AZ)
                        .build(),
                )
                .build();
            let made = ec2
                .create_launch_template()
                .launch_template_name(name)
                .launch_template_data(data)
                .send()
                .await;
            // Asked for again by a case's second launch: the first one made it.
            if let Err(e) = made {
                let code = aws_sdk_ec2::error::ProvideErrorMetadata::code(&e);
                assert_eq!(
                    code,
                    Some("InvalidLaunchTemplateName.AlreadyExistsException"),
                    "create launch template: {e:?}"
                );
            }
        }
        name.to_string()
    }

    /// An image to launch: any moto knows, or one registered in the fake.
    pub async fn launchable_image(&self) -> String {
        match &self.side {
            Side::Fake(f) => f.add_image("base", Tags::new()),
            Side::Aws(_) => {
                let ec2 = self.ec2().expect("aws");
                let images = ec2
                    .describe_images()
                    .owners("amazon")
                    .send()
                    .await
                    .expect("describe images");
                images
                    .images()
                    .first()
                    .and_then(|i| i.image_id())
                    .expect("moto knows an image")
                    .to_string()
            }
        }
    }

    /// An image carrying `tags`, registered as Packer registers one at the end of a build
    /// (on moto: CreateImage of an instance, tagged at creation).
    pub async fn register_image(&self, name: &str, tags: &Tags) -> String {
        match &self.side {
            Side::Fake(f) => f.add_image(name, tags.clone()),
            Side::Aws(_) => {
                let ec2 = self.ec2().expect("aws");
                let base = self.launchable_image().await;
                let builder = ec2
                    .run_instances()
                    .image_id(base)
                    .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
                    .min_count(1)
                    .max_count(1)
                    .send()
                    .await
                    .expect("run the image builder");
                let builder = builder.instances()[0].instance_id().unwrap().to_string();
                let spec = aws_sdk_ec2::types::TagSpecification::builder()
                    .resource_type(aws_sdk_ec2::types::ResourceType::Image)
                    .set_tags(Some(
                        tags.iter()
                            .map(|(k, v)| {
                                aws_sdk_ec2::types::Tag::builder().key(k).value(v).build()
                            })
                            .collect(),
                    ))
                    .build();
                let made = ec2
                    .create_image()
                    .instance_id(&builder)
                    .name(name)
                    .tag_specifications(spec)
                    .send()
                    .await
                    .expect("create image");
                made.image_id().expect("image id").to_string()
            }
        }
    }

    /// A bucket made outside vibes (the main stack makes the real ones).
    pub async fn bucket(&self, name: &str) {
        match &self.side {
            Side::Fake(f) => f.add_bucket(name),
            Side::Aws(m) => {
                let s3 = aws_sdk_s3::Client::from_conf(
                    aws_sdk_s3::config::Builder::from(&m.sdk)
                        .force_path_style(true)
                        .build(),
                );
                s3.create_bucket()
                    .bucket(name)
                    .send()
                    .await
                    .expect("create bucket");
            }
        }
    }

    /// A bucket with versioning on, as the main stack makes the sources bucket. The fake keeps
    /// no versions (nothing it does depends on them).
    pub async fn versioned_bucket(&self, name: &str) {
        self.bucket(name).await;
        if let Side::Aws(m) = &self.side {
            let s3 = aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&m.sdk)
                    .force_path_style(true)
                    .build(),
            );
            s3.put_bucket_versioning()
                .bucket(name)
                .versioning_configuration(
                    aws_sdk_s3::types::VersioningConfiguration::builder()
                        .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                        .build(),
                )
                .send()
                .await
                .expect("versioning");
        }
    }

    /// A key pair made by hand, without tags (to be adopted).
    pub async fn hand_made_key_pair(&self, name: &str, public_key: &str) {
        match &self.side {
            Side::Fake(f) => f.add_key_pair(name, Tags::new()),
            Side::Aws(_) => {
                self.ec2()
                    .expect("aws")
                    .import_key_pair()
                    .key_name(name)
                    .public_key_material(aws_sdk_ec2::primitives::Blob::new(public_key))
                    .send()
                    .await
                    .expect("import key pair");
            }
        }
    }

    /// What the stack named `stack_name` outputs once made from [`crate::contract::stacks`]' template:
    /// moto evaluates the template; the fake has no template engine and is told.
    pub fn expect_stack_outputs(&self, stack_name: &str, outputs: &[(&str, &str)]) {
        if let Side::Fake(f) = &self.side {
            f.set_stack_outputs(
                stack_name,
                outputs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            );
        }
    }
}
