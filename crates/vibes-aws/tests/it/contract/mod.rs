//! One contract, two clouds: every case here runs against the in-memory [`FakeCloud`] that the
//! plan and apply tests use, and against the AWS adapter ([`vibes_aws::AwsCloud`]) on a moto
//! server, so that the two cannot silently differ — a case that passes on one side and fails
//! on the other is a bug in one of them, fixed there.
//!
//! Each case is written once, over a [`Subject`] (a `&dyn Cloud` plus the set-up the platform
//! would have made: a launch template, an image, a bucket). Where moto cannot show what AWS
//! does (it ignores client tokens, and every read sees every create at once), the case runs
//! on the fake only, and says why.
//!
//! [`FakeCloud`]: vibes_fake::FakeCloud

mod ebs;
mod fake_only;
mod instances;
mod keys;
mod objects;
mod params;
mod stacks;
mod subject;

pub use subject::Subject;

/// `contract! { name => case; }` makes the tests `name::fake` and `name::aws`, each running
/// `case(&Subject)` against its cloud.
macro_rules! contract {
    ($($name:ident => $case:path;)*) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread")]
                async fn fake() {
                    $case(&crate::contract::Subject::fake()).await;
                }

                #[tokio::test(flavor = "multi_thread")]
                async fn aws() {
                    $case(&crate::contract::Subject::aws().await).await;
                }
            }
        )*
    };
}

/// `fake_only! { name => case; }`: the case shows an AWS behaviour moto does not have; it runs
/// on the fake, which models it.
macro_rules! fake_only {
    ($($name:ident => $case:path;)*) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread")]
                async fn fake() {
                    $case(&crate::contract::Subject::fake()).await;
                }
            }
        )*
    };
}

contract! {
    key_pairs_are_created_imported_tagged_and_deleted => crate::contract::keys::created_imported_tagged_and_deleted;
    parameters_are_put_overwritten_locked_read_and_deleted => crate::contract::params::put_overwritten_locked_read_and_deleted;
    parameters_are_tagged_when_new_and_on_request => crate::contract::params::tagged_when_new_and_on_request;
    parameter_names_prefixed_aws_or_ssm_are_refused => crate::contract::params::reserved_names_are_refused;
    stacks_are_created_updated_waited_for_and_deleted => crate::contract::stacks::created_updated_waited_for_and_deleted;
    a_stack_update_is_previewed_and_the_stack_left_as_it_was => crate::contract::stacks::an_update_is_previewed_and_the_stack_left_as_it_was;
    objects_are_listed_with_sizes_and_sha256_and_deleted => crate::contract::objects::listed_with_sizes_and_sha256_and_deleted;
    a_versioned_bucket_is_emptied_of_every_version_and_deleted => crate::contract::objects::versioned_bucket_emptied_and_deleted;
    volumes_and_snapshots_are_made_waited_for_and_deleted => crate::contract::ebs::volumes_and_snapshots_made_waited_for_and_deleted;
    instances_run_from_a_launch_template_and_terminate => crate::contract::instances::run_from_a_launch_template_and_terminate;
    a_volume_is_attached_to_a_running_instance_once => crate::contract::instances::a_volume_is_attached_once;
    images_are_found_by_their_tags => crate::contract::instances::images_are_found_by_their_tags;
    a_builds_volume_is_mapped_at_launch_and_goes_with_the_worker => crate::contract::instances::a_builds_volume_is_mapped_at_launch_and_goes_with_the_worker;
    an_elastic_ip_is_allocated_moved_and_released => crate::contract::instances::an_elastic_ip_is_allocated_moved_and_released;
    a_spot_workers_volume_outlives_it => crate::contract::instances::a_spot_workers_volume_outlives_it;
    a_standing_volume_is_deleted_once => crate::contract::ebs::a_standing_volume_is_deleted_once;
    a_snapshot_is_mapped_onto_a_volume_at_least_as_big_as_asked => crate::contract::instances::a_snapshot_is_mapped_onto_a_volume_at_least_as_big_as_asked;
    zones_offering_instance_types_are_of_the_region_and_sorted => crate::contract::instances::zones_offering_instance_types_are_of_the_region_and_sorted;
}

fake_only! {
    a_repeated_launch_token_answers_with_its_instance_or_a_mismatch => crate::contract::fake_only::launch_tokens;
    a_repeated_volume_token_answers_with_its_volume_or_a_mismatch => crate::contract::fake_only::volume_tokens;
    reads_do_not_know_an_instance_just_launched => crate::contract::fake_only::reads_lag_a_launch;
    a_standard_parameter_holds_4096_characters => crate::contract::params::a_standard_parameter_holds_4096_characters;
    a_template_body_over_51200_bytes_is_refused => crate::contract::stacks::a_template_body_over_51200_bytes_is_refused;
}
