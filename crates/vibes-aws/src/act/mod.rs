//! What vibes does to AWS: [`Cloud`] for [`AwsCloud`], one module per service area. Every
//! create tags at creation and passes an idempotency token where the API takes one.

mod ebs;
mod images;
mod instances;
mod keys;
mod objects;
mod params;
mod poll;
mod stacks;

use crate::AwsCloud;
use async_trait::async_trait;
use std::path::Path;
use std::time::Duration;
use vibes_core::cloud::{
    BuildOutcome, Cloud, CloudResult, ImageBuildRequest, InstanceRequest, StackRequest, StackState,
    StackUpdate,
};
use vibes_core::observed::{ObservedBucket, ObservedImage, ObservedInstance};
use vibes_core::tags::Tags;
use vibes_core::{Observed, Secret};

#[async_trait]
impl Cloud for AwsCloud {
    async fn observe(&self, project: &str, sources_bucket: Option<&str>) -> CloudResult<Observed> {
        let before = self.calls();
        let observed = self.observe_project(project, sources_bucket).await;
        // `vibes -v` shows what a read of the account cost; bench/plan.sh counts with it.
        tracing::debug!(
            aws_calls = self.calls() - before,
            "observed project {project}"
        );
        observed
    }
    async fn list_bucket(&self, bucket: &str) -> CloudResult<Option<ObservedBucket>> {
        let before = self.calls();
        let listed = crate::observe::list_bucket(&self.s3, bucket).await;
        tracing::debug!(aws_calls = self.calls() - before, "listed bucket {bucket}");
        listed
    }

    async fn create_key_pair(&self, key_name: &str, tags: &Tags) -> CloudResult<Secret> {
        self.create_key_pair_impl(key_name, tags).await
    }
    async fn import_key_pair(
        &self,
        key_name: &str,
        public_key: &str,
        tags: &Tags,
    ) -> CloudResult<()> {
        self.import_key_pair_impl(key_name, public_key, tags).await
    }
    async fn delete_key_pair(&self, key_name: &str) -> CloudResult<()> {
        self.delete_key_pair_impl(key_name).await
    }
    async fn tag_key_pair(&self, key_name: &str, tags: &Tags) -> CloudResult<()> {
        self.tag_key_pair_impl(key_name, tags).await
    }

    async fn put_parameter(&self, name: &str, value: &str, tags: &Tags) -> CloudResult<()> {
        self.put_parameter_impl(name, value, tags).await
    }
    async fn put_secure_parameter(
        &self,
        name: &str,
        value: &Secret,
        tags: &Tags,
        overwrite: bool,
    ) -> CloudResult<()> {
        self.put_secure_parameter_impl(name, value, tags, overwrite)
            .await
    }
    async fn create_parameter_exclusive(
        &self,
        name: &str,
        value: &str,
        tags: &Tags,
    ) -> CloudResult<()> {
        self.create_parameter_exclusive_impl(name, value, tags)
            .await
    }
    async fn get_parameter(&self, name: &str) -> CloudResult<Option<String>> {
        self.get_parameter_impl(name).await
    }
    async fn delete_parameter(&self, name: &str) -> CloudResult<()> {
        self.delete_parameter_impl(name).await
    }
    async fn tag_parameter(&self, name: &str, tags: &Tags) -> CloudResult<()> {
        self.tag_parameter_impl(name, tags).await
    }

    async fn create_stack(&self, req: &StackRequest) -> CloudResult<()> {
        self.create_stack_impl(req).await
    }
    async fn update_stack(&self, req: &StackRequest) -> CloudResult<StackUpdate> {
        self.update_stack_impl(req).await
    }
    async fn delete_stack(&self, stack_name: &str, token: &str) -> CloudResult<()> {
        self.delete_stack_impl(stack_name, token).await
    }
    async fn wait_stack(&self, stack_name: &str, timeout: Duration) -> CloudResult<StackState> {
        self.wait_stack_impl(stack_name, timeout).await
    }

    async fn put_object_from_file(
        &self,
        bucket: &str,
        key: &str,
        file: &Path,
        sha256_hex: &str,
    ) -> CloudResult<()> {
        self.put_object_from_file_impl(bucket, key, file, sha256_hex)
            .await
    }
    async fn put_object(&self, bucket: &str, key: &str, body: Vec<u8>) -> CloudResult<()> {
        self.put_object_impl(bucket, key, body).await
    }
    async fn write_bucket_manifest(
        &self,
        bucket: &str,
        revision: &str,
        uploaded: &vibes_core::bucket_manifest::Uploaded,
    ) -> CloudResult<()> {
        self.write_bucket_manifest_impl(bucket, revision, uploaded)
            .await
    }
    async fn delete_objects(&self, bucket: &str, keys: &[String]) -> CloudResult<()> {
        self.delete_objects_impl(bucket, keys).await
    }
    async fn delete_bucket(&self, bucket: &str) -> CloudResult<()> {
        self.delete_bucket_impl(bucket).await
    }

    async fn start_image_build(&self, req: &ImageBuildRequest) -> CloudResult<String> {
        self.start_image_build_impl(req).await
    }
    async fn wait_image_build(
        &self,
        build_id: &str,
        timeout: Duration,
    ) -> CloudResult<BuildOutcome> {
        self.wait_image_build_impl(build_id, timeout).await
    }
    async fn find_image(&self, tags: &Tags) -> CloudResult<Option<ObservedImage>> {
        self.find_image_impl(tags).await
    }
    async fn deregister_image(&self, image_id: &str) -> CloudResult<()> {
        self.deregister_image_impl(image_id).await
    }

    async fn create_volume(
        &self,
        size_gib: u32,
        availability_zone: &str,
        tags: &Tags,
        token: &str,
    ) -> CloudResult<String> {
        self.create_volume_impl(size_gib, availability_zone, tags, token)
            .await
    }
    async fn create_snapshot(&self, volume_id: &str, tags: &Tags) -> CloudResult<String> {
        self.create_snapshot_impl(volume_id, tags).await
    }
    async fn wait_snapshot(&self, snapshot_id: &str, timeout: Duration) -> CloudResult<()> {
        self.wait_snapshot_impl(snapshot_id, timeout).await
    }
    async fn delete_snapshot(&self, snapshot_id: &str) -> CloudResult<()> {
        self.delete_snapshot_impl(snapshot_id).await
    }
    async fn delete_volume(&self, volume_id: &str) -> CloudResult<()> {
        self.delete_volume_impl(volume_id).await
    }

    async fn run_instance(&self, req: &InstanceRequest) -> CloudResult<String> {
        self.run_instance_impl(req).await
    }
    async fn attach_volume(
        &self,
        instance_id: &str,
        volume_id: &str,
        device: &str,
        timeout: Duration,
    ) -> CloudResult<()> {
        self.attach_volume_impl(instance_id, volume_id, device, timeout)
            .await
    }
    async fn wait_instance(
        &self,
        instance_id: &str,
        states: &[&str],
        timeout: Duration,
    ) -> CloudResult<ObservedInstance> {
        self.wait_instance_impl(instance_id, states, timeout).await
    }
    async fn terminate_instance(&self, instance_id: &str) -> CloudResult<()> {
        self.terminate_instance_impl(instance_id).await
    }
}
