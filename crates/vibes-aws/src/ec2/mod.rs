//! EC2: key pairs ([`keys`]), images ([`images`], with the CodeBuild builds that make them),
//! EBS volumes and snapshots ([`volumes`]), instances ([`instances`]), Elastic IPs
//! ([`addresses`]); each module holds the
//! service's reads for observe and its trait's writes. All reads but key pairs are filtered on
//! the project tag by EC2 itself; key pairs are few, so all are read and those under the
//! project's names kept too, whoever tagged them (see [`crate::scope::in_view`]).

pub(crate) mod addresses;
pub(crate) mod images;
pub(crate) mod instances;
pub(crate) mod keys;
pub(crate) mod volumes;

use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
use vibes_core::tags::{Tags, PROJECT};

pub(crate) fn tags_of(tags: &[Tag]) -> Tags {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

pub(crate) fn ec2_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

pub(crate) fn tag_spec(resource: ResourceType, tags: &Tags) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(resource)
        .set_tags(Some(ec2_tags(tags)))
        .build()
}

/// The server-side filter on the project tag, for EC2 describe calls.
pub(crate) fn project_filter(project: &str) -> aws_sdk_ec2::types::Filter {
    aws_sdk_ec2::types::Filter::builder()
        .name(format!("tag:{PROJECT}"))
        .values(project)
        .build()
}
