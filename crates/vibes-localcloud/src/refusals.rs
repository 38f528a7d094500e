//! What AWS refuses and moto accepts, refused here before the request reaches moto, with AWS's
//! own error code and words, so that vibes meets the refusal in the local cloud as on AWS.
//!
//! - RunInstances of an image on an instance type of another architecture. EC2 answers
//!   `InvalidParameterValue: The architecture 'x86_64' of the specified instance type does not
//!   match the architecture 'arm64' of the specified AMI. …`; moto launches it. The type's
//!   architectures come from moto's own instance type catalogue (DescribeInstanceTypes), the
//!   image's from DescribeImages.
//!   (<https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-launch-troubleshoot.html>)
//! - StopInstances of a one-time Spot instance: EC2 answers `UnsupportedOperation` (only Spot
//!   instances of persistent requests can be stopped); moto stops it.
//!   (<https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-instances-stop-start.html>)

use crate::world::World;
use std::collections::BTreeMap;

/// An EC2 error: the status and the XML body EC2 sends.
pub struct Refusal {
    pub status: u16,
    pub body: String,
}

fn ec2_error(code: &str, message: &str) -> Refusal {
    Refusal {
        status: 400,
        body: format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>{}</Message></Error></Errors><RequestID>localcloud-refusal</RequestID></Response>",
            crate::aws_wire::escape(message)
        ),
    }
}

/// The refusal AWS would answer `action` with, if any.
pub async fn before(
    world: &World,
    region: &str,
    service: &str,
    action: &str,
    params: &BTreeMap<String, String>,
) -> Option<Refusal> {
    match (service, action) {
        ("ec2", "RunInstances") => architecture_mismatch(world, region, params).await,
        ("ec2", "StopInstances") => one_time_spot_stop(world, params),
        _ => None,
    }
}

fn one_time_spot_stop(world: &World, params: &BTreeMap<String, String>) -> Option<Refusal> {
    let id = crate::aws_wire::list(params, "InstanceId")
        .into_iter()
        .find(|id| world.instances.is_one_time_spot(id))?;
    Some(ec2_error(
        "UnsupportedOperation",
        &format!("You can't stop the Spot Instance '{id}' because it is associated with a one-time Spot Instance request. You can only stop Spot Instances associated with persistent Spot Instance requests."),
    ))
}

async fn architecture_mismatch(
    world: &World,
    region: &str,
    params: &BTreeMap<String, String>,
) -> Option<Refusal> {
    let image_id = params.get("ImageId")?;
    let instance_type = params.get("InstanceType")?;
    let ec2 = world.ec2(region);
    // Kept by the runner when the image was registered (moto drops it), else moto's own.
    let image_arch = match world.architectures.of(image_id) {
        Some(a) => a,
        None => ec2
            .describe_images()
            .image_ids(image_id)
            .send()
            .await
            .ok()?
            .images()
            .first()?
            .architecture()?
            .as_str()
            .to_string(),
    };
    let types = ec2
        .describe_instance_types()
        .instance_types(instance_type.as_str().into())
        .send()
        .await
        .ok()?;
    let supported: Vec<String> = types
        .instance_types()
        .first()?
        .processor_info()?
        .supported_architectures()
        .iter()
        .map(|a| a.as_str().to_string())
        .collect();
    if supported.is_empty() || supported.contains(&image_arch) {
        return None;
    }
    tracing::info!(%image_id, %instance_type, %image_arch, ?supported, "RunInstances refused: architecture");
    Some(ec2_error(
        "InvalidParameterValue",
        &format!(
            "The architecture '{}' of the specified instance type does not match the architecture '{image_arch}' of the specified AMI. Specify an instance type and an AMI that have matching architectures, and try again. You can use 'describe-instance-types' or 'describe-images' to discover the architecture of the instance type or AMI.",
            supported.iter().find(|a| *a != "i386").unwrap_or(&supported[0])
        ),
    ))
}
