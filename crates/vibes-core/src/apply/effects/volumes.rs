//! The builds volume and its snapshots: the volume made in the main stack's zone, its id
//! recorded for the compile; snapshots deleted by retention or with `--include-data`.

use super::{Context, EffectError};
use crate::address::Address;
use crate::plan::outputs::VOLUME_ID;
use crate::plan::Effect;

/// Runs a volume or snapshot effect.
pub(super) async fn run(cx: &Context, effect: &Effect) -> Result<(), EffectError> {
    let cloud = cx.cloud.as_ref();
    let name = effect.name();
    match effect {
        Effect::CreateVolume {
            name: volume,
            size_gib,
            availability_zone,
            tags,
            token,
        } => {
            let az = cx.resolve(availability_zone)?;
            let id = cx
                .call(name, |_| cloud.create_volume(*size_gib, &az, tags, token))
                .await?;
            cx.outputs.set(&Address::volume(volume), VOLUME_ID, &id);
            Ok(())
        }
        Effect::DeleteSnapshot { snapshot_id } => {
            cx.call_gone(name, |_| cloud.delete_snapshot(snapshot_id))
                .await
        }
        _ => unreachable!("{name} is not a volume or snapshot effect"),
    }
}
