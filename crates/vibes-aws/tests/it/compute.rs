//! EBS, instances, images and CodeBuild against a moto server: everything is tagged at
//! creation and seen by observe; the builds volume is attached after launch, snapshots for the
//! server map at launch.

use crate::support::{cloud, sdk, tags, Moto};
use std::time::Duration;
use vibes_core::cloud::prelude::*;
use vibes_core::cloud::{ImageBuildRequest, InstanceRequest};
use vibes_core::tags::{ADDRESS, PROJECT};

const AZ: &str = "us-east-1a";
const WAIT: Duration = Duration::from_secs(30);

/// Any image moto knows, standing in for one vibes built.
async fn some_ami(ec2: &aws_sdk_ec2::Client) -> String {
    let images = ec2.describe_images().owners("amazon").send().await.unwrap();
    images
        .images()
        .first()
        .and_then(|i| i.image_id())
        .unwrap()
        .to_string()
}

/// A compile worker of `project`, launched as vibes launches one, on a t3.micro, no volume.
fn worker_launch(launch_template: String, image_id: String, project: &str) -> InstanceRequest {
    InstanceRequest {
        launch_template,
        image_id,
        instance_type: "t3.micro".into(),
        tags: tags(project, "compile"),
        client_token: format!("{project}-compile-1"),
        volumes: Default::default(),
        volume_sizes: Default::default(),
        empty_volumes: Default::default(),
        spot: false,
    }
}

/// A launch template as the main stack makes one (the image is given per launch).
async fn launch_template(ec2: &aws_sdk_ec2::Client, name: &str) -> String {
    let data = aws_sdk_ec2::types::RequestLaunchTemplateData::builder()
        .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
        .placement(
            aws_sdk_ec2::types::LaunchTemplatePlacementRequest::builder()
                .availability_zone(AZ)
                .build(),
        )
        .build();
    let out = ec2
        .create_launch_template()
        .launch_template_name(name)
        .launch_template_data(data)
        .send()
        .await
        .unwrap();
    out.launch_template()
        .and_then(|t| t.launch_template_id())
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn volumes_snapshots_and_instances_are_tagged_and_observed() {
    let moto = Moto::start();
    let aws = cloud(&moto).await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk(&moto).await);
    let template_id = launch_template(&ec2, "ebs-worker").await;
    let ami = some_ami(&ec2).await;

    let volume = aws
        .create_volume(
            10,
            AZ,
            &tags("ebs", "volume.builds"),
            "ebs-volume-builds-fp0001",
        )
        .await
        .unwrap();
    let snapshot = aws
        .create_snapshot(&volume, &tags("ebs", "snapshot.builds"))
        .await
        .unwrap();
    aws.wait_snapshot(&snapshot, WAIT).await.unwrap();

    // The server: a fresh volume from the builds snapshot, mapped at launch, by template name.
    let server = aws
        .run_instance(&InstanceRequest {
            launch_template: "ebs-worker".into(),
            image_id: ami.clone(),
            instance_type: "t3.small".into(),
            tags: tags("ebs", "server"),
            client_token: "ebs-server-fp0001".into(),
            volumes: [("/dev/sdf".to_string(), snapshot.clone())].into(),
            volume_sizes: Default::default(),
            empty_volumes: Default::default(),
            spot: false,
        })
        .await
        .unwrap();
    // The worker, by template id; its builds volume is attached once it runs.
    let worker = aws
        .run_instance(&InstanceRequest {
            launch_template: template_id,
            image_id: ami.clone(),
            instance_type: "t3.micro".into(),
            tags: tags("ebs", "compile"),
            client_token: "ebs-compile-fp0001".into(),
            volumes: Default::default(),
            volume_sizes: Default::default(),
            empty_volumes: Default::default(),
            spot: false,
        })
        .await
        .unwrap();
    aws.attach_volume(&worker, &volume, "/dev/sdg", WAIT)
        .await
        .unwrap();

    let running = aws
        .wait_instance(&worker, &["running"], WAIT)
        .await
        .unwrap();
    assert_eq!(
        running.tags.get(ADDRESS).map(String::as_str),
        Some("compile")
    );
    let attached = ec2
        .describe_volumes()
        .volume_ids(&volume)
        .send()
        .await
        .unwrap();
    let attachment = &attached.volumes()[0].attachments()[0];
    assert_eq!(attachment.instance_id(), Some(worker.as_str()));
    assert_eq!(attachment.device(), Some("/dev/sdg"));

    let seen = aws.observe("ebs", None).await.unwrap();
    assert_eq!(seen.volumes[&volume].size_gib, 10);
    assert_eq!(
        seen.volumes[&volume].tags.get(ADDRESS).map(String::as_str),
        Some("volume.builds")
    );
    assert_eq!(seen.snapshots[&snapshot].volume_id, volume);
    assert_eq!(seen.snapshots[&snapshot].state.as_str(), "completed");
    assert!(!seen.snapshots[&snapshot].started.is_empty());
    assert_eq!(
        seen.instances
            .keys()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>(),
        [server.clone(), worker.clone()].into()
    );
    assert_eq!(
        seen.instances[&server]
            .tags
            .get(PROJECT)
            .map(String::as_str),
        Some("ebs")
    );
    assert!(seen.instances[&server].private_ip.is_some());
    // The server's volume made from the snapshot carries the server's tags too.
    let server_volumes: Vec<_> = seen
        .volumes
        .values()
        .filter(|v| v.tags.get(ADDRESS).map(String::as_str) == Some("server"))
        .collect();
    assert_eq!(server_volumes.len(), 1, "{:?}", seen.volumes);

    aws.terminate_instance(&server).await.unwrap();
    aws.terminate_instance(&worker).await.unwrap();
    aws.wait_instance(&worker, &["terminated"], WAIT)
        .await
        .unwrap();
    aws.delete_snapshot(&snapshot).await.unwrap();
    aws.delete_snapshot(&snapshot)
        .await
        .expect("deleting a gone snapshot succeeds");
    let after = aws.observe("ebs", None).await.unwrap();
    assert!(
        after.instances.is_empty(),
        "terminated instances are left out: {:?}",
        after.instances
    );
    assert!(after.snapshots.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn images_are_found_by_tags_and_deregistered_with_their_snapshots() {
    let moto = Moto::start();
    let aws = cloud(&moto).await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk(&moto).await);
    launch_template(&ec2, "img-builder").await;
    let ami = some_ami(&ec2).await;
    let builder = aws
        .run_instance(&InstanceRequest {
            launch_template: "img-builder".into(),
            image_id: ami.clone(),
            instance_type: "t3.micro".into(),
            tags: tags("img", "image.worker"),
            client_token: "img-builder-1".into(),
            volumes: Default::default(),
            volume_sizes: Default::default(),
            empty_volumes: Default::default(),
            spot: false,
        })
        .await
        .unwrap();
    // What Packer does at the end of a build: an image tagged at creation.
    let mut image_tags = tags("img", "image.worker");
    image_tags.insert("vibes:recipe".into(), "abc123".into());
    let spec = aws_sdk_ec2::types::TagSpecification::builder()
        .resource_type(aws_sdk_ec2::types::ResourceType::Image)
        .set_tags(Some(
            image_tags
                .iter()
                .map(|(k, v)| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build())
                .collect(),
        ))
        .build();
    let made = ec2
        .create_image()
        .instance_id(&builder)
        .name("img-worker-abc123")
        .tag_specifications(spec)
        .send()
        .await
        .unwrap();
    let image_id = made.image_id().unwrap().to_string();

    let found = aws
        .find_image(&image_tags)
        .await
        .unwrap()
        .expect("image found by its tags");
    assert_eq!(found.image_id, image_id);
    assert_eq!(found.state.as_str(), "available");
    let mut other = image_tags.clone();
    other.insert("vibes:recipe".into(), "def456".into());
    assert_eq!(aws.find_image(&other).await.unwrap(), None);
    assert!(aws
        .observe("img", None)
        .await
        .unwrap()
        .images
        .contains_key(&image_id));

    aws.deregister_image(&image_id).await.unwrap();
    assert!(aws.observe("img", None).await.unwrap().images.is_empty());
    aws.deregister_image(&image_id)
        .await
        .expect("deregistering a gone image succeeds");
    aws.terminate_instance(&builder).await.unwrap();
}

/// moto's CodeBuild reports SUCCEEDED at once and runs nothing, so no AMI appears after the
/// build (find_image has nothing to find): the test stops at the build's outcome.
#[tokio::test(flavor = "multi_thread")]
async fn an_image_build_starts_with_its_recipe_and_tags_and_is_waited_for() {
    let moto = Moto::start();
    let aws = cloud(&moto).await;
    let codebuild = aws_sdk_codebuild::Client::new(&sdk(&moto).await);
    codebuild
        .create_project()
        .name("cb-images")
        .source(
            aws_sdk_codebuild::types::ProjectSource::builder()
                .r#type(aws_sdk_codebuild::types::SourceType::NoSource)
                .location("none")
                .build()
                .unwrap(),
        )
        .artifacts(
            aws_sdk_codebuild::types::ProjectArtifacts::builder()
                .r#type(aws_sdk_codebuild::types::ArtifactsType::NoArtifacts)
                .build()
                .unwrap(),
        )
        .environment(
            aws_sdk_codebuild::types::ProjectEnvironment::builder()
                .r#type(aws_sdk_codebuild::types::EnvironmentType::LinuxContainer)
                .image("aws/codebuild/standard:7.0")
                .compute_type(aws_sdk_codebuild::types::ComputeType::BuildGeneral1Small)
                .build()
                .unwrap(),
        )
        .service_role("arn:aws:iam::123456789012:role/cb-images")
        .send()
        .await
        .unwrap();

    let req = ImageBuildRequest {
        codebuild_project: "cb-images".into(),
        artifacts_bucket: "cb-artifacts".into(),
        recipe_prefix: "recipes/worker/abc123/".into(),
        recipe: "worker.pkr.hcl".into(),
        tags: tags("cb", "image.worker"),
        arch: vibes_core::arch::Arch::X86_64,
        token: "cb-image-worker-abc123".into(),
    };
    let build_id = aws.start_image_build(&req).await.unwrap();
    let outcome = aws.wait_image_build(&build_id, WAIT).await.unwrap();
    assert_eq!(outcome.build_id, build_id);
    assert_eq!(outcome.status.as_str(), "SUCCEEDED");

    // moto's build records the project's environment, not the per-build overrides, so the
    // VIBES_* variables cannot be read back here; the build exists under the project.
    let builds = codebuild
        .batch_get_builds()
        .ids(&build_id)
        .send()
        .await
        .unwrap();
    assert_eq!(builds.builds()[0].project_name(), Some("cb-images"));
}

/// A launch template as a stack makes it, its key named by a parameter (any field of the
/// template would show the version; the key is one moto carries onto the instance).
const TEMPLATED_LAUNCH: &str = r#"
Parameters:
  Key:
    Type: String
Resources:
  Worker:
    Type: AWS::EC2::LaunchTemplate
    Properties:
      LaunchTemplateName: lt-versions-worker
      LaunchTemplateData:
        InstanceType: t3.micro
        KeyName: !Ref Key
Outputs:
  WorkerLaunchTemplate:
    Value: !Ref Worker
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_launch_uses_the_template_as_the_last_stack_update_left_it() {
    // CloudFormation updates a launch template by adding a version and leaving the default
    // version as it was: a launch by `$Default` would ignore every change since the first create.
    let moto = Moto::start();
    let aws = cloud(&moto).await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk(&moto).await);
    let stack = |key: &str, token: &str| vibes_core::cloud::StackRequest {
        stack_name: "lt-versions-main".into(),
        template_body: TEMPLATED_LAUNCH.into(),
        parameters: [("Key".to_string(), key.to_string())].into(),
        tags: tags("lt-versions", "stack.main"),
        token: token.into(),
    };
    aws.create_stack(&stack("first-key", "create"))
        .await
        .unwrap();
    aws.wait_stack("lt-versions-main", WAIT).await.unwrap();
    aws.update_stack(&stack("second-key", "update"))
        .await
        .unwrap();
    let updated = aws.wait_stack("lt-versions-main", WAIT).await.unwrap();
    let template = updated.outputs["WorkerLaunchTemplate"].clone();

    let worker = aws
        .run_instance(&worker_launch(
            template,
            some_ami(&ec2).await,
            "lt-versions",
        ))
        .await
        .unwrap();
    let seen = ec2
        .describe_instances()
        .instance_ids(&worker)
        .send()
        .await
        .unwrap();
    let instance = &seen.reservations()[0].instances()[0];
    assert_eq!(
        instance.key_name(),
        Some("second-key"),
        "the worker was launched from the launch template's first version, not the one the \
         stack update wrote ($Default instead of $Latest)"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_volume_vibes_makes_is_encrypted() {
    // The launch templates encrypt the root volume; the builds are the user's music too.
    let moto = Moto::start();
    let aws = cloud(&moto).await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk(&moto).await);
    let template = launch_template(&ec2, "enc-worker").await;
    let made = aws
        .create_volume(5, AZ, &tags("enc", "volume.builds"), "enc-volume-1")
        .await
        .unwrap();
    let worker = aws
        .run_instance(&InstanceRequest {
            empty_volumes: [("/dev/sdf".to_string(), 7)].into(),
            ..worker_launch(template, some_ami(&ec2).await, "enc")
        })
        .await
        .unwrap();
    let mapped = aws
        .wait_instance(&worker, &["running"], WAIT)
        .await
        .unwrap()
        .volumes["/dev/sdf"]
        .clone();
    let seen = ec2
        .describe_volumes()
        .volume_ids(&made)
        .volume_ids(&mapped)
        .send()
        .await
        .unwrap();
    assert_eq!(seen.volumes().len(), 2);
    for v in seen.volumes() {
        assert_eq!(
            v.encrypted(),
            Some(true),
            "{:?} is not encrypted",
            v.volume_id()
        );
    }
}
