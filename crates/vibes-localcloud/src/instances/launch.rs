//! What a RunInstances request and the launch template version it resolves say an instance
//! is: its user data, its shutdown behaviour, whether its tags are in its metadata, and its
//! instance profile. The request's own values win over the template's, as in EC2.

use crate::world::World;

/// Which launch template a RunInstances request named.
#[derive(Debug, Clone, Default)]
pub struct LaunchTemplateRef {
    pub id: Option<String>,
    pub name: Option<String>,
    pub version: Option<String>,
}

/// What the RunInstances request itself said.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub template: LaunchTemplateRef,
    pub shutdown: Option<String>,
    /// A one-time Spot instance (the default Spot request type): it cannot be stopped, and it
    /// terminates when it shuts down.
    pub spot: bool,
    pub metadata_tags: Option<String>,
    pub profile: Option<String>,
}

impl Request {
    /// From RunInstances' query parameters.
    pub fn from_params(params: &std::collections::BTreeMap<String, String>) -> Request {
        let get = |k: &str| params.get(k).cloned();
        Request {
            template: LaunchTemplateRef {
                id: get("LaunchTemplate.LaunchTemplateId"),
                name: get("LaunchTemplate.LaunchTemplateName"),
                version: get("LaunchTemplate.Version"),
            },
            shutdown: get("InstanceInitiatedShutdownBehavior"),
            spot: get("InstanceMarketOptions.MarketType").as_deref() == Some("spot")
                && get("InstanceMarketOptions.SpotOptions.SpotInstanceType").as_deref()
                    != Some("persistent"),
            metadata_tags: get("MetadataOptions.InstanceMetadataTags"),
            profile: get("IamInstanceProfile.Arn").or_else(|| get("IamInstanceProfile.Name")),
        }
    }
}

/// How an instance powering itself off ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    Stop,
    Terminate,
}

/// The instance as launched.
#[derive(Debug, Clone)]
pub struct Launched {
    /// The user data, as cloud-init reads it (decoded).
    pub user_data: String,
    pub shutdown: Shutdown,
    pub tags_in_metadata: bool,
    /// The instance profile's role.
    pub role: Option<String>,
}

pub async fn resolve(world: &World, region: &str, req: &Request) -> Result<Launched, String> {
    use base64::Engine;
    let data = template_data(world, region, &req.template).await?;
    let encoded = data
        .as_ref()
        .and_then(|d| d.user_data())
        .unwrap_or_default();
    let user_data = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|e| format!("user data is not base64: {e}"))?;
    let user_data = String::from_utf8(user_data).map_err(|_| "user data is not text")?;
    let shutdown = req.shutdown.clone().or_else(|| {
        data.as_ref()
            .and_then(|d| d.instance_initiated_shutdown_behavior())
            .map(|b| b.as_str().to_string())
    });
    // A one-time Spot instance terminates when it shuts down, whatever else is asked.
    let shutdown = if req.spot || shutdown.as_deref() == Some("terminate") {
        Shutdown::Terminate
    } else {
        Shutdown::Stop
    };
    let tags = req.metadata_tags.clone().or_else(|| {
        data.as_ref()
            .and_then(|d| d.metadata_options())
            .and_then(|m| m.instance_metadata_tags())
            .map(|t| t.as_str().to_string())
    });
    let profile = req.profile.clone().or_else(|| {
        data.as_ref()
            .and_then(|d| d.iam_instance_profile())
            .and_then(|p| p.arn().or(p.name()))
            .map(str::to_string)
    });
    let role = match profile {
        Some(p) => Some(role_of(world, &p).await?),
        None => None,
    };
    Ok(Launched {
        user_data,
        shutdown,
        tags_in_metadata: tags.as_deref() == Some("enabled"),
        role,
    })
}

/// The launch template version RunInstances resolves: the one named, else `$Default`.
async fn template_data(
    world: &World,
    region: &str,
    template: &LaunchTemplateRef,
) -> Result<Option<aws_sdk_ec2::types::ResponseLaunchTemplateData>, String> {
    let ec2 = world.ec2(region);
    let version = template
        .version
        .clone()
        .unwrap_or_else(|| "$Default".into());
    let req = ec2.describe_launch_template_versions().versions(version);
    let req = match (&template.id, &template.name) {
        (Some(id), _) => req.launch_template_id(id),
        (None, Some(name)) => req.launch_template_name(name),
        (None, None) => return Ok(None),
    };
    let out = req
        .send()
        .await
        .map_err(|e| format!("DescribeLaunchTemplateVersions: {e:?}"))?;
    Ok(out
        .launch_template_versions()
        .first()
        .and_then(|v| v.launch_template_data())
        .cloned())
}

/// The role of an instance profile named by ARN or name.
async fn role_of(world: &World, profile: &str) -> Result<String, String> {
    let name = profile.rsplit('/').next().unwrap_or(profile);
    let out = world
        .iam()
        .get_instance_profile()
        .instance_profile_name(name)
        .send()
        .await
        .map_err(|e| format!("GetInstanceProfile {name}: {e:?}"))?;
    out.instance_profile()
        .and_then(|p| p.roles().first())
        .map(|r| r.role_name().to_string())
        .ok_or_else(|| format!("the instance profile {name} has no role"))
}
