//! The standing builds volume of an earlier vibes and the builds snapshots: the volume
//! snapshotted (its id recorded for the compile to start from) and deleted; snapshots deleted
//! by retention or with `--include-data`.

use super::{Context, EffectError};
use crate::address::Address;
use crate::plan::outputs::SNAPSHOT_ID;
use crate::plan::Effect;

/// Runs a volume or snapshot effect.
pub(super) async fn run(cx: &Context, effect: &Effect) -> Result<(), EffectError> {
    let cloud = cx.cloud.as_ref();
    let name = effect.name();
    match effect {
        Effect::SnapshotVolume { volume_id, tags } => {
            let snapshot = cx
                .call(name, |_| cloud.create_snapshot(volume_id, tags))
                .await?;
            // Deleting the volume waits for this: the snapshot must hold its builds first.
            cx.call("wait for snapshot", |_| {
                cloud.wait_snapshot(&snapshot, cx.options.timeouts.snapshot)
            })
            .await?;
            cx.outputs
                .set(&Address::volume("builds"), SNAPSHOT_ID, &snapshot);
            Ok(())
        }
        Effect::DeleteVolume { volume_id, .. } => {
            cx.call_gone(name, |_| cloud.delete_volume(volume_id)).await
        }
        Effect::DeleteSnapshot { snapshot_id } => {
            cx.call_gone(name, |_| cloud.delete_snapshot(snapshot_id))
                .await
        }
        _ => unreachable!("{name} is not a volume or snapshot effect"),
    }
}
