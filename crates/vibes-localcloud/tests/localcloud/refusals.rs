//! What AWS refuses and moto accepts is refused by the local cloud too, with AWS's error code
//! and words (crates/vibes-localcloud/src/refusals.rs; the list is in docs/guarantees.md).

use crate::support::LocalCloud;

/// An image registered as Packer registers one, for `arch`.
fn image_for(cloud: &LocalCloud, arch: &str) -> String {
    let name = format!("refusals-{arch}");
    let out = cloud.aws(&[
        "ec2",
        "register-image",
        "--name",
        &name,
        "--architecture",
        arch,
        "--root-device-name",
        "/dev/xvda",
    ]);
    out["ImageId"].as_str().expect("an image id").to_string()
}

fn run(cloud: &LocalCloud, image: &str, instance_type: &str) -> (bool, String) {
    cloud.aws_try(&[
        "ec2",
        "run-instances",
        "--image-id",
        image,
        "--instance-type",
        instance_type,
        "--count",
        "1",
    ])
}

#[test]
fn an_image_is_launched_only_on_an_instance_type_of_its_architecture() {
    let cloud = LocalCloud::start();
    let arm = image_for(&cloud, "arm64");
    let (launched, said) = run(&cloud, &arm, "c7a.large");
    assert!(
        !launched,
        "an arm64 image on c7a.large (x86_64) was launched: {said}"
    );
    assert!(
        said.contains("InvalidParameterValue")
            && said.contains("The architecture 'x86_64' of the specified instance type does not match the architecture 'arm64' of the specified AMI"),
        "{said}"
    );
    let (launched, said) = run(&cloud, &arm, "t4g.small");
    assert!(launched, "an arm64 image on t4g.small: {said}");
    let x86 = image_for(&cloud, "x86_64");
    let (launched, said) = run(&cloud, &x86, "c7a.large");
    assert!(launched, "an x86_64 image on c7a.large: {said}");
}

#[test]
fn a_one_time_spot_instance_is_not_stopped_only_terminated() {
    let cloud = LocalCloud::start();
    let image = image_for(&cloud, "x86_64");
    let (launched, said) = cloud.aws_try(&[
        "ec2",
        "run-instances",
        "--image-id",
        &image,
        "--instance-type",
        "c7a.large",
        "--count",
        "1",
        "--instance-market-options",
        "MarketType=spot,SpotOptions={SpotInstanceType=one-time,InstanceInterruptionBehavior=terminate}",
    ]);
    assert!(launched, "{said}");
    let launched: serde_json::Value = serde_json::from_str(&said).unwrap();
    let id = launched["Instances"][0]["InstanceId"].as_str().unwrap();
    let (stopped, said) = cloud.aws_try(&["ec2", "stop-instances", "--instance-ids", id]);
    assert!(!stopped, "a one-time Spot instance was stopped: {said}");
    assert!(
        said.contains("UnsupportedOperation")
            && said.contains("associated with a one-time Spot Instance request"),
        "{said}"
    );
    let (terminated, said) = cloud.aws_try(&["ec2", "terminate-instances", "--instance-ids", id]);
    assert!(terminated, "{said}");
}
