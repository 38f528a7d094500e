//! One read of everything a project owns, all services at once ([`Observe`] for [`AwsCloud`]),
//! each service's part read by that service's module.
//!
//! AWS calls per observe, with `k` key pairs etc. never mattering except where said:
//! - EC2: describe-key-pairs 1 (all: key pairs are few, and another project's under our names
//!   must be seen), describe-images 1, describe-volumes/-snapshots/-instances 1 each
//!   per page of 1000, describe-addresses 1 (tag-filtered on the server);
//! - SSM: get-parameters-by-path 1 per 10 parameters and describe-parameters (filtered on the
//!   project tag) 1 per 50, side by side; list-tags-for-resource only for parameters not
//!   tagged for the project or at a path vibes does not name (see [`crate::ssm`]);
//! - CloudFormation: describe-stacks 1 per 100 stacks in the region, plus get-template 1 per
//!   stack tagged for the project or named `<project>-…` without another project's tag (an
//!   untagged one is adopted only when its template is vibes');
//! - S3 (when the sources bucket is known): list-objects-v2 1 per 1000 objects, get-object 1
//!   for vibes' manifest, plus head-object 1 per object the manifest does not vouch for (see
//!   [`crate::s3::read`]).
//!
//! An empty project costs 9 calls; one with 3 stacks, 12 parameters and 500 synced sources ≈ 16.

use crate::ec2::{addresses, images, instances, keys, volumes};
use crate::{cloudformation, s3, ssm, AwsCloud};
use async_trait::async_trait;
use vibes_core::cloud::{CloudResult, Observe};
use vibes_core::observed::ObservedBucket;
use vibes_core::Observed;

#[async_trait]
impl Observe for AwsCloud {
    async fn observe(&self, project: &str, sources_bucket: Option<&str>) -> CloudResult<Observed> {
        let before = self.calls();
        let read = tokio::try_join!(
            keys::key_pairs(&self.ec2, project),
            ssm::parameters(&self.ssm, project),
            cloudformation::stacks(&self.cfn, project),
            images::images(&self.ec2, project),
            volumes::volumes(&self.ec2, project),
            volumes::snapshots(&self.ec2, project),
            instances::instances(&self.ec2, project),
            addresses::addresses(&self.ec2, project),
            s3::read::bucket(&self.s3, sources_bucket),
        );
        // `vibes -v` shows what a read of the account cost; bench/plan.sh counts with it.
        tracing::debug!(
            aws_calls = self.calls() - before,
            "observed project {project}"
        );
        let (
            key_pairs,
            parameters,
            stacks,
            images,
            volumes,
            snapshots,
            instances,
            addresses,
            sources_bucket,
        ) = read?;
        Ok(Observed {
            stacks,
            key_pairs,
            parameters,
            images,
            volumes,
            snapshots,
            instances,
            sources_bucket,
            stack_changes: Default::default(),
            addresses,
            zones: None,
        })
    }

    async fn list_bucket(&self, bucket: &str) -> CloudResult<Option<ObservedBucket>> {
        let before = self.calls();
        let listed = s3::read::bucket(&self.s3, Some(bucket)).await;
        tracing::debug!(aws_calls = self.calls() - before, "listed bucket {bucket}");
        listed
    }
}
