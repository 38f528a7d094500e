//! The builds volume the worker compiles onto. vibes makes it but never resizes or deletes it:
//! it holds compiled music.

use super::{action, outputs, seen, Cx};
use crate::address::Address;
use crate::observed::Observed;
use crate::plan::action::{Action, Attribute, Effect, Op};
use crate::plan::reliance::Reliance;
use crate::tags::{fingerprint_of, idempotency_token};

impl Cx<'_> {
    pub(super) fn plan_volumes(&self) -> Vec<Action> {
        let mut out = Vec::new();
        let address = Address::volume("builds");
        let seen_v: Vec<_> = Observed::tagged(self.observed.volumes.values(), &address.to_string())
            .into_iter()
            .filter(|v| self.ours(&v.tags) && v.state != "deleting" && v.state != "deleted")
            .collect();
        match &self.desired.compile {
            Some(c) => {
                let fp = fingerprint_of(&c.builds_volume_gib);
                let mut a = match seen_v.first() {
                    None => {
                        let mut a = action(address.clone(), Op::Create, "not found");
                        a.effects.push(Effect::CreateVolume {
                            name: "builds".into(),
                            size_gib: c.builds_volume_gib,
                            availability_zone: self.main_output(outputs::AVAILABILITY_ZONE),
                            tags: self.tags(&address, &fp),
                            token: idempotency_token(self.project, &address, &fp),
                        });
                        a
                    }
                    Some(v) if v.size_gib < c.builds_volume_gib => action(
                        address.clone(),
                        Op::Blocked,
                        format!(
                            "volume {} is {} GiB and the config asks for {} GiB; vibes does not resize volumes: grow it with ec2 modify-volume",
                            v.volume_id, v.size_gib, c.builds_volume_gib
                        ),
                    ),
                    Some(_) => return out,
                };
                a.attributes.insert(
                    0,
                    Attribute::new("size", format!("{} GiB", c.builds_volume_gib)),
                );
                a.relies_on
                    .insert(Reliance::volumes(&address), seen(Some(&seen_v)));
                out.push(a);
            }
            None if !seen_v.is_empty() => {
                let ids = seen_v
                    .iter()
                    .map(|v| v.volume_id.clone())
                    .collect::<Vec<_>>()
                    .join(", ");
                let a = if self.options.include_data {
                    // Deleting volumes is not an effect vibes has: the builds live on in snapshots.
                    action(address.clone(), Op::Blocked, format!("volume {ids} is no longer in the config; delete it with ec2 delete-volume once its snapshot is taken"))
                } else {
                    action(address.clone(), Op::Blocked, format!("volume {ids} holds compiled music and is no longer in the config; vibes deletes data only with --include-data"))
                };
                out.push(a);
            }
            None => {}
        }
        out
    }
}
