//! The rsync server: launched over the newest builds snapshot (or the one the compile makes),
//! replaced when that or its instance type changes, terminated when not wanted. A replacement
//! starts the new server before the old one stops: clients are served throughout, and a
//! launch that fails leaves the old server serving.
//!
//! With `[server] elastic_ip = true` the server is reached at an Elastic IP of the project's,
//! allocated once and moved to each new server; it is kept while the server is stopped
//! (`running = false`), and released when the config no longer asks for it.

use super::{action, outputs, seen, Cx};
use crate::address::Address;
use crate::model::Value;
use crate::observed::{Observed, ObservedAddress};
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
        let eips = self.server_addresses();
        // The address stays while the config asks for it, the server stopped or not.
        let keep_eip = self.desired.server.as_ref().is_some_and(|s| s.elastic_ip);
        let release = |a: &mut Action, skip: usize| {
            for e in eips.iter().skip(skip) {
                a.effects.push(Effect::ReleaseAddress {
                    allocation_id: e.allocation_id.clone(),
                    public_ip: e.public_ip.clone(),
                });
            }
        };
        let mut a = match want {
            None if servers.is_empty() && (keep_eip || eips.is_empty()) => return Vec::new(),
            None => {
                let mut reason = if self.desired.server.is_some() {
                    "[server] running = false".to_string()
                } else {
                    "no longer in the config".to_string()
                };
                if !keep_eip && !eips.is_empty() {
                    reason.push_str(&format!(
                        "; Elastic IP {} is released",
                        eips.iter()
                            .map(|e| e.public_ip.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                let mut a = action(address.clone(), Op::Delete, reason);
                terminate(&mut a);
                if !keep_eip {
                    release(&mut a, 0);
                }
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
                if let Some(why) =
                    self.architecture_mismatch("server", "[server]", &spec.instance_type)
                {
                    return vec![action(address, Op::Blocked, why)];
                }
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
                // The Elastic IP, when asked for: the project's first (`eips` puts the one a
                // server holds first), or one allocated now; any other is released.
                let new_server = Value::Output {
                    address: address.clone(),
                    output: outputs::INSTANCE_ID.into(),
                };
                let kept_eips = usize::from(spec.elastic_ip);
                let with_eip = |a: &mut Action, instance: Value| {
                    if spec.elastic_ip {
                        let allocation_id = match eips.first() {
                            Some(e) => Value::literal(&e.allocation_id),
                            None => {
                                let mut tags = self.tags(&address, "elastic-ip");
                                tags.insert("Name".into(), self.desired.project.aws_name("server"));
                                a.effects.push(Effect::AllocateAddress { tags });
                                Value::Output {
                                    address: address.clone(),
                                    output: outputs::ALLOCATION_ID.into(),
                                }
                            }
                        };
                        a.effects.push(Effect::AssociateAddress {
                            allocation_id,
                            instance_id: instance,
                        });
                    }
                    release(a, kept_eips);
                };
                let mut a = match servers.first() {
                    None => {
                        let mut a = action(
                            address.clone(),
                            Op::Create,
                            "[server] running = true and no server runs",
                        );
                        a.effects.push(launch);
                        with_eip(&mut a, new_server);
                        a
                    }
                    Some(i)
                        if !compile_runs
                            && serving == newest
                            && same_type
                            && servers.len() == 1 =>
                    {
                        // The server stays; its address may still change.
                        let associated = eips
                            .first()
                            .is_some_and(|e| e.instance_id.as_deref() == Some(&i.instance_id));
                        let mut why = Vec::new();
                        if spec.elastic_ip && !associated {
                            why.push(match eips.first() {
                                Some(e) => format!("Elastic IP {} is moved to server {}", e.public_ip, i.instance_id),
                                None => format!("[server] elastic_ip = true: an Elastic IP is allocated for server {}", i.instance_id),
                            });
                        }
                        if eips.len() > kept_eips {
                            why.push(format!(
                                "Elastic IP {} is released",
                                eips.iter()
                                    .skip(kept_eips)
                                    .map(|e| e.public_ip.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ));
                        }
                        if why.is_empty() {
                            return Vec::new();
                        }
                        let mut a = action(address.clone(), Op::Update, why.join("; "));
                        if spec.elastic_ip && !associated {
                            with_eip(&mut a, Value::literal(&i.instance_id));
                        } else {
                            release(&mut a, kept_eips);
                        }
                        a
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
                        // The new server first: the old one serves until it runs.
                        a.effects.push(launch);
                        with_eip(&mut a, new_server);
                        terminate(&mut a);
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
                if spec.elastic_ip {
                    a.attributes.push(Attribute::new(
                        "elastic_ip",
                        eips.first()
                            .map(|e| e.public_ip.clone())
                            .unwrap_or_else(|| "(allocated by apply)".into()),
                    ));
                }
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
        // Only where addresses matter, so that plans without them read as before.
        if keep_eip || !eips.is_empty() {
            a.relies_on
                .insert(Reliance::addresses(&Address::server()), seen(Some(&eips)));
        }
        vec![a]
    }

    /// The project's Elastic IPs for the server, the one a live instance holds first: with
    /// two (an allocation whose answer was lost, then made again), the address clients reach
    /// today is the one kept.
    fn server_addresses(&self) -> Vec<&'_ ObservedAddress> {
        let mut eips: Vec<_> = Observed::tagged(
            self.observed.addresses.values(),
            &Address::server().to_string(),
        )
        .into_iter()
        .filter(|e| self.ours(&e.tags))
        .collect();
        let held = |e: &ObservedAddress| {
            e.instance_id
                .as_ref()
                .and_then(|i| self.observed.instances.get(i))
                .is_some_and(|i| i.state.is_live())
        };
        eips.sort_by_key(|e| (!held(e), e.allocation_id.clone()));
        eips
    }
}
