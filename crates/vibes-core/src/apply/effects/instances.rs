//! Instances: the compile's worker with its builds volume mapped at launch (run in `compile`), the rsync server launched over a builds
//! snapshot and waited on until it runs, and terminations.

use super::compile::{run_compile, CompileRun};
use super::launch::{launch, wait_launched};
use super::{Context, EffectError, DATA_DEVICE};
use crate::address::Address;
use crate::cloud::InstanceRequest;
use crate::plan::outputs::{ALLOCATION_ID, INSTANCE_ID};
use crate::plan::Effect;
use std::collections::BTreeMap;
use std::time::Duration;

/// The tag on a server instance naming the builds snapshot it serves.
pub const SERVES_TAG: &str = "vibes:snapshot";

/// Runs an instance effect.
pub(super) async fn run(
    cx: &Context,
    index: usize,
    address: &Address,
    effect: &Effect,
) -> Result<(), EffectError> {
    let cloud = cx.cloud.as_ref();
    let name = effect.name();
    match effect {
        Effect::RunCompile {
            launch_template,
            image,
            instance_type,
            builds_snapshot,
            builds_volume_gib,
            built_from,
            sources_revision: _,
            timeout_minutes,
            snapshot_tags,
            instance_tags,
            token,
            spot,
            resume_volume,
        } => {
            // The builds volume lives only while the compile runs: mapped at launch from the
            // newest builds snapshot (or empty the first time), deleted with the worker; or a
            // volume an unfinished compile kept, attached once the worker runs.
            let (volumes, empty_volumes) = match builds_snapshot {
                _ if resume_volume.is_some() => (BTreeMap::new(), BTreeMap::new()),
                Some(s) => (
                    BTreeMap::from([(DATA_DEVICE.to_string(), cx.resolve(s)?)]),
                    BTreeMap::new(),
                ),
                None => (
                    BTreeMap::new(),
                    BTreeMap::from([(DATA_DEVICE.to_string(), *builds_volume_gib)]),
                ),
            };
            // From a snapshot, at least `builds_volume_gib`: a larger setting takes effect at
            // the next compile (the worker grows the file system into it), not only for an
            // account without builds.
            let volume_sizes = volumes
                .keys()
                .map(|d| (d.clone(), *builds_volume_gib))
                .collect();
            let launch = InstanceRequest {
                launch_template: cx.resolve(launch_template)?,
                image_id: cx.resolve(image)?,
                instance_type: instance_type.clone(),
                tags: instance_tags.clone(),
                // Set per launch attempt.
                client_token: String::new(),
                volumes,
                volume_sizes,
                empty_volumes,
                spot: *spot,
            };
            let timeout = cx
                .options
                .timeouts
                .compile
                .unwrap_or(Duration::from_secs(u64::from(*timeout_minutes) * 60));
            let run = CompileRun {
                launch,
                plan_token: token,
                built_from,
                timeout,
                snapshot_tags,
                resume_volume: resume_volume.clone(),
            };
            run_compile(cx, index, run).await
        }
        Effect::LaunchServer {
            launch_template,
            image,
            instance_type,
            snapshot,
            tags,
            token,
        } => {
            let snapshot = cx.resolve(snapshot)?;
            let mut tags = tags.clone();
            // What the server serves, for the next plan to compare with the newest snapshot.
            tags.entry(SERVES_TAG.to_string())
                .or_insert_with(|| snapshot.clone());
            let req = InstanceRequest {
                launch_template: cx.resolve(launch_template)?,
                image_id: cx.resolve(image)?,
                instance_type: instance_type.clone(),
                tags,
                // Set per launch attempt: each launch of the server is a new one, also over a
                // snapshot an earlier (since terminated) server served.
                client_token: String::new(),
                volumes: BTreeMap::from([(DATA_DEVICE.to_string(), snapshot)]),
                volume_sizes: Default::default(),
                empty_volumes: BTreeMap::new(),
                spot: false,
            };
            let id = launch(cx, name, address, &[token], req).await?;
            cx.reporter
                .action_progress(index, &format!("waiting for {id} to run"));
            wait_launched(
                cx,
                "wait for server",
                &id,
                &["running"],
                cx.options.timeouts.instance,
            )
            .await?;
            cx.outputs.set(address, INSTANCE_ID, &id);
            Ok(())
        }
        Effect::AllocateAddress { tags } => {
            let (allocation_id, public_ip) =
                cx.call(name, |_| cloud.allocate_address(tags)).await?;
            cx.outputs.set(address, ALLOCATION_ID, &allocation_id);
            cx.reporter
                .action_progress(index, &format!("Elastic IP {public_ip} allocated"));
            Ok(())
        }
        Effect::AssociateAddress {
            allocation_id,
            instance_id,
        } => {
            let (allocation_id, instance_id) =
                (cx.resolve(allocation_id)?, cx.resolve(instance_id)?);
            cx.call(name, |_| {
                cloud.associate_address(&allocation_id, &instance_id)
            })
            .await
        }
        Effect::ReleaseAddress { allocation_id, .. } => {
            cx.call_gone(name, |_| cloud.release_address(allocation_id))
                .await
        }
        Effect::TerminateInstance { instance_id } => {
            cx.call_gone(name, |_| cloud.terminate_instance(instance_id))
                .await
        }
        _ => unreachable!("{name} is not an instance effect"),
    }
}
