//! One read of everything a project owns, all services at once.
//!
//! AWS calls per observe, with `k` key pairs etc. never mattering except where said:
//! - EC2: describe-key-pairs 1 (all: key pairs are few, and another project's under our names
//!   must be seen), describe-images 1, describe-volumes/-snapshots/-instances 1 each
//!   per page of 1000 (tag-filtered on the server);
//! - SSM: get-parameters-by-path 1 per 10 parameters and describe-parameters (filtered on the
//!   project tag) 1 per 50, side by side; list-tags-for-resource only for parameters not
//!   tagged for the project or at a path vibes does not name (see [`ssm`]);
//! - CloudFormation: describe-stacks 1 per 100 stacks in the region, plus get-template 1 per
//!   stack tagged for the project or named `<project>-…` without another project's tag (an
//!   untagged one is adopted only when its template is vibes');
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
    url_decoded as s3_url_decoded,
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

/// Whether the planner must see a resource: tagged for `project`, or under the project's names
/// (`<project>-…`) whoever tagged it. Whose it is, is the planner's question
/// (`plan::ownership`): an untagged one is adopted, another project's is left alone and shown
/// blocked, rather than mistaken for "not found" and created over.
pub(crate) fn in_view(project: &str, name: &str, tags: &Tags) -> bool {
    tags.get(PROJECT).map(String::as_str) == Some(project)
        || name.starts_with(&format!("{project}-"))
}

/// Whether a resource in view carries another project's tag: its details are not read.
pub(crate) fn foreign(project: &str, tags: &Tags) -> bool {
    tags.get(PROJECT).is_some_and(|p| p != project)
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
    fn what_is_seen_is_what_is_tagged_for_the_project_or_named_like_it() {
        let mut tagged = Tags::new();
        tagged.insert(PROJECT.into(), "vibes".into());
        assert!(in_view("vibes", "anything", &tagged));
        assert!(
            in_view("other", "other-builds", &tagged),
            "another project's tag under our name is seen, to be shown blocked"
        );
        assert!(foreign("other", &tagged));
        assert!(!foreign("vibes", &tagged) && !foreign("vibes", &Tags::new()));
        assert!(in_view("vibes", "vibes-builds", &Tags::new()));
        assert!(!in_view("vibes", "vibesx-builds", &Tags::new()));
        assert!(!in_view("vibes", "builds", &Tags::new()));
    }
}
