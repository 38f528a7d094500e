//! Builds snapshots: retention of the newest `keep`, never the newest completed one nor one a
//! staying server serves; deleting them all only with `--include-data`.

use super::{action, plural, seen, Cx};
use crate::address::Address;
use crate::observed::Observed;
use crate::plan::action::{Action, Attribute, Effect, Op};
use crate::plan::reliance::Reliance;
use std::collections::BTreeSet;

impl Cx<'_> {
    pub(super) fn plan_snapshots(&self, compile_runs: bool, server_changes: bool) -> Vec<Action> {
        let address = Address::snapshot("builds");
        let snaps = self.builds_snapshots();
        if snaps.is_empty() {
            return Vec::new();
        }
        let keep_configured = self
            .desired
            .snapshots
            .as_ref()
            .map(|s| s.keep.max(1) as usize);
        let mut a = match keep_configured {
            Some(keep) if self.desired.compile.is_some() || self.desired.snapshots.is_some() => {
                // The compile adds one, and retiring a standing volume no snapshot holds adds
                // another (older than the compile's): only that many fewer of today's may stay.
                let adds = usize::from(compile_runs) + usize::from(self.retire_snapshots_volume());
                let room = keep.saturating_sub(adds);
                // Never the newest completed one, whatever `keep` says: the retention action
                // runs only after a successful compile, and a failed compile makes no snapshot.
                let newest_good = snaps
                    .iter()
                    .find(|s| s.state.is_complete())
                    .map(|s| s.snapshot_id.clone());
                // Nor the one a server of the project serves (its `vibes:snapshot` tag) while
                // that server stays: its snapshot is then the only copy of what it serves. A
                // server this plan relaunches or stops is done before retention runs (and a
                // failure there skips retention), so what it served may go with it.
                let served: BTreeSet<String> = Observed::tagged(
                    self.observed.instances.values(),
                    &Address::server().to_string(),
                )
                .into_iter()
                .filter(|_| !server_changes)
                .filter(|i| self.ours(&i.tags) && i.state.is_live())
                .filter_map(|i| i.tags.get("vibes:snapshot").cloned())
                .collect();
                let excess: Vec<_> = snaps
                    .iter()
                    .skip(room)
                    .filter(|s| compile_runs || Some(&s.snapshot_id) != newest_good.as_ref())
                    .filter(|s| !served.contains(&s.snapshot_id))
                    .collect();
                if excess.is_empty() {
                    return Vec::new();
                }
                let mut a = action(
                    address.clone(),
                    Op::Run,
                    format!(
                        "retention keeps the newest {keep}{}: {} to delete",
                        if compile_runs {
                            " including the one the compile makes"
                        } else {
                            ""
                        },
                        plural(excess.len(), "snapshot", "snapshots")
                    ),
                );
                for s in excess {
                    a.attributes.push(Attribute::new(
                        "delete",
                        format!("{} ({})", s.snapshot_id, s.started),
                    ));
                    a.effects.push(Effect::DeleteSnapshot {
                        snapshot_id: s.snapshot_id.clone(),
                    });
                }
                a
            }
            Some(_) | None if self.desired.compile.is_some() => return Vec::new(),
            _ => {
                let ids: Vec<_> = snaps.iter().map(|s| s.snapshot_id.clone()).collect();
                if self.options.include_data {
                    let mut a = action(
                        address.clone(),
                        Op::Delete,
                        "no longer in the config, and --include-data allows deleting data",
                    );
                    for id in &ids {
                        a.effects.push(Effect::DeleteSnapshot {
                            snapshot_id: id.clone(),
                        });
                    }
                    a.attributes
                        .push(Attribute::new("snapshots", ids.join(", ")));
                    a
                } else {
                    let mut a = action(
                        address.clone(),
                        Op::Blocked,
                        format!(
                            "{} compiled music and the config no longer names them; vibes deletes data only with --include-data",
                            plural(ids.len(), "snapshot holds", "snapshots hold")
                        ),
                    );
                    a.attributes
                        .push(Attribute::new("snapshots", ids.join(", ")));
                    a
                }
            }
        };
        a.relies_on.insert(
            Reliance::snapshots(&Address::snapshot("builds")),
            seen(Some(&snaps)),
        );
        vec![a]
    }
}
