//! The rsync server: launched over the newest builds snapshot (or the one the compile makes),
//! replaced when that or its instance type changes, terminated when not wanted.

use super::{action, outputs, seen, Cx};
use crate::address::Address;
use crate::model::Value;
use crate::observed::Observed;
use crate::plan::action::{Action, Attribute, Effect, Op};
use crate::plan::reliance::Reliance;
use crate::tags::{self, fingerprint_of, idempotency_token};

impl Cx<'_> {
    pub(super) fn plan_server(&self, compile_runs: bool) -> Vec<Action> {
        let address = Address::server();
        let servers: Vec<_> = Observed::tagged(self.observed.instances.values(), "server")
            .into_iter()
            .filter(|i| self.ours(&i.tags) && i.state.is_live())
            .collect();
        let want = self.desired.server.as_ref().filter(|s| s.running);
        let terminate = |a: &mut Action| {
            for i in &servers {
                a.effects.push(Effect::TerminateInstance {
                    instance_id: i.instance_id.clone(),
                });
            }
        };
        let mut a = match want {
            None if servers.is_empty() => return Vec::new(),
            None => {
                let mut a = action(
                    address.clone(),
                    Op::Delete,
                    if self.desired.server.is_some() {
                        "[server] running = false"
                    } else {
                        "no longer in the config"
                    },
                );
                terminate(&mut a);
                a
            }
            Some(spec) => {
                let newest = self
                    .builds_snapshots()
                    .into_iter()
                    .find(|s| s.state.is_complete())
                    .map(|s| s.snapshot_id.clone());
                let snapshot = if compile_runs {
                    Value::Output {
                        address: Address::compile(),
                        output: outputs::SNAPSHOT_ID.into(),
                    }
                } else {
                    match &newest {
                        Some(id) => Value::literal(id),
                        None => {
                            return vec![action(
                            address,
                            Op::Blocked,
                            "there is no builds snapshot to serve yet: add [compile] to build one",
                        )]
                        }
                    }
                };
                let serving = servers
                    .first()
                    .and_then(|i| i.tags.get("vibes:snapshot").cloned());
                // The fingerprint tag covers what the instance is (its type); what it serves is
                // compared through its `vibes:snapshot` tag, since a snapshot the compile makes
                // is only known after apply. The token names both (the snapshot by its id or by
                // what the compile builds from): it is what the launch is for, and apply makes
                // each attempt's ClientToken from it, the launch parameters and the run
                // (apply::launch), since the same server over the same snapshot may be launched
                // again after an earlier one was terminated.
                let fp = fingerprint_of(&spec.instance_type);
                let serves_key = match &snapshot {
                    Value::Literal { value } => value.clone(),
                    _ => format!(
                        "compile:{}",
                        self.built_from().map(|(b, _)| b).unwrap_or_default()
                    ),
                };
                let token = idempotency_token(
                    self.project,
                    &address,
                    &fingerprint_of(&(&serves_key, &spec.instance_type)),
                );
                let mut tags = self.tags(&address, &fp);
                tags.insert("Name".into(), self.desired.project.aws_name("server"));
                if let Value::Literal { value } = &snapshot {
                    tags.insert("vibes:snapshot".into(), value.clone());
                }
                let Some(image) = self.image_value("server") else {
                    return vec![action(
                        address,
                        Op::Blocked,
                        "[server] needs [images.server]: the server image carries the rsync daemon",
                    )];
                };
                let launch = Effect::LaunchServer {
                    launch_template: self.main_output(outputs::SERVER_LAUNCH_TEMPLATE),
                    image,
                    instance_type: spec.instance_type.clone(),
                    snapshot: snapshot.clone(),
                    tags,
                    token,
                };
                let same_type = servers
                    .first()
                    .is_some_and(|i| i.tags.get(tags::FINGERPRINT) == Some(&fp));
                let mut a = match servers.first() {
                    None => {
                        let mut a = action(
                            address.clone(),
                            Op::Create,
                            "[server] running = true and no server runs",
                        );
                        a.effects.push(launch);
                        a
                    }
                    Some(_)
                        if !compile_runs
                            && serving == newest
                            && same_type
                            && servers.len() == 1 =>
                    {
                        return Vec::new()
                    }
                    Some(i) => {
                        let reason = if compile_runs {
                            "the compile makes a new builds snapshot: the server is replaced to serve it".to_string()
                        } else if serving != newest {
                            format!(
                                "server {} serves {}, the newest builds snapshot is {}",
                                i.instance_id,
                                serving.as_deref().unwrap_or("?"),
                                newest.as_deref().unwrap_or("?")
                            )
                        } else {
                            "instance type changed".to_string()
                        };
                        let mut a = action(address.clone(), Op::Replace, reason);
                        terminate(&mut a);
                        a.effects.push(launch);
                        a
                    }
                };
                // What the new server will be: its type and the snapshot it serves.
                a.attributes
                    .push(Attribute::new("instance_type", &spec.instance_type));
                let serves = match &snapshot {
                    Value::Literal { value } => value.clone(),
                    _ => "the builds snapshot the compile makes".to_string(),
                };
                a.attributes.push(Attribute::new("snapshot", serves));
                a
            }
        };
        // The running server(s) this action terminates; on a replace, set apart from the new one.
        let label = if a.op == Op::Replace {
            "replaces"
        } else {
            "instance"
        };
        for i in &servers {
            let addr = i
                .public_ip
                .as_deref()
                .or(i.private_ip.as_deref())
                .unwrap_or("(no address yet)");
            a.attributes.push(Attribute::new(
                label,
                format!("{} rsync://{addr}/", i.instance_id),
            ));
        }
        a.relies_on.insert(
            Reliance::instances(&Address::server()),
            seen(Some(&servers)),
        );
        vec![a]
    }
}
