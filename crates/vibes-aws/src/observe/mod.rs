//! One read of everything a project owns, all services at once.
//!
//! AWS calls per observe, with `k` key pairs etc. never mattering except where said:
//! - EC2: describe-key-pairs 1, describe-images 1, describe-volumes/-snapshots/-instances 1 each
//!   per page of 1000 (tag-filtered on the server);
//! - SSM: get-parameters-by-path 1 per 10 parameters and describe-parameters (filtered on the
//!   project tag) 1 per 50, side by side; list-tags-for-resource only for parameters not
//!   tagged for the project or at a path vibes does not name (see [`ssm`]);
//! - CloudFormation: describe-stacks 1 per 100 stacks in the region, plus get-template 1 per
//!   stack the project owns;
//! - S3 (when the sources bucket is known): list-objects-v2 1 per 1000 objects, get-object 1
//!   for vibes' manifest, plus head-object 1 per object the manifest does not vouch for (see
//!   [`s3`]).
//!
//! An empty project costs 8 calls; one with 3 stacks, 12 parameters and 500 synced sources ≈ 15.

mod cfn;
pub(crate) use cfn::outputs_of as cfn_outputs;
pub(crate) use ec2::{image_of, instance_of};
mod ec2;
mod s3;
pub(crate) use s3::bucket as list_bucket_opt;
pub use s3::SHA256_METADATA;
pub(crate) use s3::{
    listing as s3_listing, object_sha256 as s3_object_sha256, read_manifest as s3_read_manifest,
};
mod ssm;

use crate::AwsCloud;
use vibes_core::cloud::CloudResult;
use vibes_core::tags::{Tags, PROJECT};
use vibes_core::Observed;

/// How many per-resource reads (tags, templates, object heads) run at once.
pub(crate) const READ_CONCURRENCY: usize = 16;

impl AwsCloud {
    /// One concurrent read of what `project` owns; `sources_bucket`'s objects too when given.
    pub async fn observe_project(
        &self,
        project: &str,
        sources_bucket: Option<&str>,
    ) -> CloudResult<Observed> {
        let (key_pairs, parameters, stacks, images, volumes, snapshots, instances, sources_bucket) =
            tokio::try_join!(
                ec2::key_pairs(&self.ec2, project),
                ssm::parameters(&self.ssm, project),
                cfn::stacks(&self.cfn, project),
                ec2::images(&self.ec2, project),
                ec2::volumes(&self.ec2, project),
                ec2::snapshots(&self.ec2, project),
                ec2::instances(&self.ec2, project),
                s3::bucket(&self.s3, sources_bucket),
            )?;
        Ok(Observed {
            stacks,
            key_pairs,
            parameters,
            images,
            volumes,
            snapshots,
            instances,
            sources_bucket,
        })
    }
}

/// The objects of `bucket` with their SHA-256; `None` when the bucket does not exist.
pub(crate) async fn list_bucket(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
) -> CloudResult<Option<vibes_core::observed::ObservedBucket>> {
    list_bucket_opt(s3, Some(bucket)).await
}

/// Whether a resource belongs to `project`: by its tag, or, untagged, by the seed's naming
/// (`<project>-…`) so that a hand-built account is adopted rather than duplicated.
pub(crate) fn owned(project: &str, name: &str, tags: &Tags) -> bool {
    match tags.get(PROJECT) {
        Some(p) => p == project,
        None => name.starts_with(&format!("{project}-")),
    }
}

/// The server-side filter on the project tag, for EC2 describe calls.
pub(crate) fn project_filter(project: &str) -> aws_sdk_ec2::types::Filter {
    aws_sdk_ec2::types::Filter::builder()
        .name(format!("tag:{PROJECT}"))
        .values(project)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ownership_is_by_tag_first_then_by_seed_name() {
        let mut tagged = Tags::new();
        tagged.insert(PROJECT.into(), "vibes".into());
        assert!(owned("vibes", "anything", &tagged));
        assert!(
            !owned("other", "other-builds", &tagged),
            "a tag naming another project wins over the name"
        );
        assert!(owned("vibes", "vibes-builds", &Tags::new()));
        assert!(!owned("vibes", "vibesx-builds", &Tags::new()));
        assert!(!owned("vibes", "builds", &Tags::new()));
    }
}
