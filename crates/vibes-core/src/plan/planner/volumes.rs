//! The standing builds volume of an earlier vibes. The compile now runs on a volume made for
//! each run (from the newest builds snapshot, deleted with the worker), so a standing
//! `volume.builds` only costs while idle: vibes retires the one it made, once a completed
//! snapshot of it holds its builds (else it snapshots it first). A volume not ours is never
//! touched; without `[compile]` the builds volume is data, deleted only with `--include-data`.

use super::{action, seen, Cx};
use crate::address::Address;
use crate::observed::{Observed, ObservedSnapshot, ObservedVolume};
use crate::plan::action::{Action, Attribute, Effect, Op};
use crate::plan::reliance::Reliance;
use crate::tags::fingerprint_of;

impl<'a> Cx<'a> {
    /// The standing builds volumes vibes made for this project, not already on their way out.
    fn standing_builds_volumes(&self) -> Vec<&'a ObservedVolume> {
        Observed::tagged(
            self.observed.volumes.values(),
            &Address::volume("builds").to_string(),
        )
        .into_iter()
        .filter(|v| self.ours(&v.tags) && !v.state.is_gone())
        .collect()
    }

    /// The newest completed builds snapshot taken of `volume`: it holds the volume's builds
    /// (a compile snapshots the volume only after it succeeded, so whatever a failed compile
    /// left on the volume since is not builds anyone relies on).
    fn holding_snapshot(&self, volume: &ObservedVolume) -> Option<&'a ObservedSnapshot> {
        self.builds_snapshots()
            .into_iter()
            .find(|s| s.state.is_complete() && s.volume_id == volume.volume_id)
    }

    /// Whether retiring the standing volume snapshots it first: then the compile starts from
    /// that snapshot (the `SnapshotId` output of `volume.builds`), the newest there will be.
    pub(super) fn retire_snapshots_volume(&self) -> bool {
        self.desired.compile.is_some()
            && self
                .standing_builds_volumes()
                .iter()
                .any(|v| self.holding_snapshot(v).is_none())
    }

    pub(super) fn plan_volumes(&self) -> Vec<Action> {
        let address = Address::volume("builds");
        let standing = self.standing_builds_volumes();
        if standing.is_empty() {
            return Vec::new();
        }
        let ids = standing
            .iter()
            .map(|v| v.volume_id.clone())
            .collect::<Vec<_>>()
            .join(", ");
        let mut a = if self.desired.compile.is_some() {
            let mut effects = Vec::new();
            let mut held = Vec::new();
            for v in &standing {
                match self.holding_snapshot(v) {
                    Some(s) => held.push(format!(
                        "its builds are held by completed snapshot {}",
                        s.snapshot_id
                    )),
                    None => {
                        held.push(
                            "no completed snapshot holds its builds: it is snapshotted first, and the compile starts from that snapshot"
                                .to_string(),
                        );
                        let mut t =
                            self.tags(&Address::snapshot("builds"), &fingerprint_of(&v.volume_id));
                        // No `vibes:built-from`: what a standing volume holds is not known, so
                        // the compile runs over it and rebuilds only what is not up to date.
                        t.insert("vibes:retired-volume".into(), v.volume_id.clone());
                        t.insert("Name".into(), self.desired.project.aws_name("builds"));
                        effects.push(Effect::SnapshotVolume {
                            volume_id: v.volume_id.clone(),
                            tags: t,
                        });
                    }
                }
                effects.push(Effect::DeleteVolume {
                    volume_id: v.volume_id.clone(),
                    size_gib: v.size_gib,
                });
            }
            let mut a = action(
                address.clone(),
                Op::Delete,
                format!(
                    "standing builds volume {ids} of an earlier vibes is retired: the compile now makes its volume from the newest builds snapshot for each run and deletes it after; {}",
                    held.join("; ")
                ),
            );
            a.effects = effects;
            a
        } else if self.options.include_data {
            let mut a = action(
                address.clone(),
                Op::Delete,
                "no longer in the config, and --include-data allows deleting data",
            );
            a.effects = standing
                .iter()
                .map(|v| Effect::DeleteVolume {
                    volume_id: v.volume_id.clone(),
                    size_gib: v.size_gib,
                })
                .collect();
            a
        } else {
            action(
                address.clone(),
                Op::Blocked,
                format!("volume {ids} holds compiled music and is no longer in the config; vibes deletes data only with --include-data"),
            )
        };
        a.attributes.push(Attribute::new(
            "size",
            format!(
                "{} GiB",
                standing.iter().map(|v| u64::from(v.size_gib)).sum::<u64>()
            ),
        ));
        a.relies_on
            .insert(Reliance::volumes(&address), seen(Some(&standing)));
        a.relies_on.insert(
            Reliance::snapshots(&Address::snapshot("builds")),
            seen(Some(&self.builds_snapshots())),
        );
        vec![a]
    }
}
