//! The planner: one pure function from (desired, observed) to a plan. Each `plan_*` function
//! looks at one kind and returns its actions (stacks and keys in their own modules, whose is
//! what in `ownership`); `relates` says which addresses wait on which; `check::assemble` turns
//! the lot into a checked DAG.

use super::action::{Action, Attribute, Effect, Op, TextChange};
use super::check::{assemble, PlanError};
use super::ownership::{self as owner, leftover, standing, Leftover, Standing, Thing};
use super::Plan;
use crate::address::{Address, Kind};
use crate::model::{Desired, Value, ENGINE_VERSION};
use crate::observed::{
    Observed, ObservedImage, ObservedInstance, ObservedParameter, ObservedSnapshot,
};
use crate::tags::{self, fingerprint_of, idempotency_token, ownership, Tags};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

/// How a plan is made, beyond desired and observed.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Allow deleting data (snapshots, volumes, bucket objects) that the config no longer names.
    pub include_data: bool,
    /// Plan only these addresses and what they depend on.
    pub targets: Vec<Address>,
    /// Plan the removal of everything the project owns (`vibes destroy`).
    pub destroy: bool,
    /// Replace these even where vibes would otherwise only adopt (tag) or decline: a key pair
    /// made by hand, a stack or profile made by hand that differs from the config. Never
    /// another project's resource. See [`super::replaceable`].
    pub replace: Vec<Address>,
    /// Let a sources sync delete objects even when the local tree is empty or the sync would
    /// delete more than [`MASS_DELETE_SHARE_PERCENT`] of the bucket (`--allow-mass-delete`).
    pub allow_mass_delete: bool,
}

/// A sources sync that would delete more than this share (in percent) of the bucket's objects
/// is blocked without `--allow-mass-delete`: a tree that lost most of its files (a half-copied
/// or wrongly mounted disk) must not empty the bucket, and the compile after it the builds.
pub const MASS_DELETE_SHARE_PERCENT: usize = 50;

/// Outputs of `stack.main` that later actions use.
pub mod outputs {
    pub const SOURCES_BUCKET: &str = "SourcesBucket";
    pub const ARTIFACTS_BUCKET: &str = "ArtifactsBucket";
    pub const IMAGE_BUILD_PROJECT: &str = "ImageBuildProject";
    pub const WORKER_LAUNCH_TEMPLATE: &str = "WorkerLaunchTemplate";
    pub const SERVER_LAUNCH_TEMPLATE: &str = "ServerLaunchTemplate";
    pub const AVAILABILITY_ZONE: &str = "AvailabilityZone";
    /// Output of `volume.NAME` actions.
    pub const VOLUME_ID: &str = "VolumeId";
    /// Output of the `compile` action: the new builds snapshot.
    pub const SNAPSHOT_ID: &str = "SnapshotId";
    /// Output of `image.NAME` actions: the AMI just built.
    pub const IMAGE_ID: &str = "ImageId";
}

pub fn plan(
    desired: &Desired,
    observed: &Observed,
    options: &PlanOptions,
) -> Result<Plan, PlanError> {
    let empty;
    // Priced in the config's region, whatever the plan does.
    let priced = desired;
    let desired = if options.destroy {
        empty = Desired::empty(&desired.project.name);
        &empty
    } else {
        desired
    };
    let cx = Cx {
        d: desired,
        o: observed,
        opt: options,
        project: &desired.project.name,
        notes: RefCell::new(Vec::new()),
        replace_used: RefCell::new(BTreeSet::new()),
    };
    let mut actions = Vec::new();
    actions.extend(cx.plan_stacks());
    actions.extend(cx.plan_keys());
    actions.extend(cx.plan_profiles());
    actions.extend(cx.plan_images());
    actions.extend(cx.plan_sources());
    actions.extend(cx.plan_volumes());
    let compile = cx.plan_compile();
    let compile_runs = compile.as_ref().is_some_and(|a| {
        a.effects
            .iter()
            .any(|e| matches!(e, Effect::RunCompile { .. }))
    });
    actions.extend(compile);
    // The server first: retention spares the snapshot a server serves only while that server
    // stays; a server this plan relaunches or stops runs before retention (an edge), so that a
    // failed relaunch skips retention and leaves the served snapshot in place.
    let server = cx.plan_server(compile_runs);
    let server_changes = server.iter().any(|a| a.op != Op::Blocked);
    actions.extend(cx.plan_snapshots(compile_runs, server_changes));
    actions.extend(server);
    let mut notes = cx.notes.take();
    notes.extend(cx.replace_unused());
    if !options.targets.is_empty() {
        let (kept, idle) = cx.restrict_to_targets(actions);
        actions = kept;
        for t in idle {
            notes.push(format!(
                "--target {t}: the config does not name it and the account holds nothing of it"
            ));
        }
        notes.push(format!(
            "--target limits this plan to {} and what they depend on: the result is partial, and a full plan may show more",
            options.targets.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
        ));
    }
    let mut plan = assemble(&desired.project.name, actions, notes, |a, b| {
        cx.relates(a, b)
    })?;
    crate::cost::annotate(&mut plan, priced, observed, options.destroy);
    Ok(plan)
}

pub(super) struct Cx<'a> {
    pub(super) d: &'a Desired,
    pub(super) o: &'a Observed,
    pub(super) opt: &'a PlanOptions,
    pub(super) project: &'a str,
    /// What the planner noticed that needs no action, for the plan's notes.
    notes: RefCell<Vec<String>>,
    /// The `--replace` addresses that changed an action.
    replace_used: RefCell<BTreeSet<Address>>,
}

pub(super) fn action(address: Address, op: Op, reason: impl Into<String>) -> Action {
    Action {
        address,
        op,
        reason: reason.into(),
        attributes: Vec::new(),
        changes: Vec::new(),
        effects: Vec::new(),
        relies_on: BTreeMap::new(),
    }
}

/// A fingerprint of an observed thing, for saved-plan staleness checks.
pub(crate) fn seen<T: serde::Serialize>(thing: Option<&T>) -> String {
    match thing {
        Some(t) => fingerprint_of(t),
        None => "absent".to_string(),
    }
}

fn owner_of(tags: &Tags) -> Option<&str> {
    tags.get(tags::PROJECT).map(String::as_str)
}

fn address_of(tags: &Tags) -> Option<Address> {
    tags.get(tags::ADDRESS).and_then(|a| a.parse().ok())
}

pub(super) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Newest first, by creation time then id (deterministic).
fn newest_first<T, F: Fn(&T) -> (&str, &str)>(mut v: Vec<T>, key: F) -> Vec<T> {
    v.sort_by(|a, b| key(b).cmp(&key(a)));
    v
}

impl<'a> Cx<'a> {
    pub(super) fn tags(&self, address: &Address, fingerprint: &str) -> Tags {
        ownership(self.project, address, fingerprint)
    }

    pub(super) fn ours(&self, tags: &Tags) -> bool {
        owner_of(tags) == Some(self.project)
    }

    pub(super) fn note(&self, note: String) {
        self.notes.borrow_mut().push(note);
    }

    /// Whether `--replace` names this address; asked only where the answer changes the action,
    /// so that a `--replace` that changed nothing can be reported.
    pub(super) fn replace_requested(&self, address: &Address) -> bool {
        let asked = self.opt.replace.contains(address);
        if asked {
            self.replace_used.borrow_mut().insert(address.clone());
        }
        asked
    }

    pub(super) fn replace_asked(&self, address: &Address) -> bool {
        self.opt.replace.contains(address)
    }

    /// Notes for each `--replace` that changed nothing, so that a typo or a needless opt-in shows.
    fn replace_unused(&self) -> Vec<String> {
        let used = self.replace_used.borrow();
        self.opt
            .replace
            .iter()
            .filter(|a| !used.contains(*a))
            .map(|a| {
                if self.is_desired(a) {
                    format!("--replace {a}: nothing of it needed the opt-in (it is missing, vibes' own, or adopted without change): nothing is replaced")
                } else {
                    format!("--replace {a}: the config does not name it: nothing is replaced")
                }
            })
            .collect()
    }

    pub(super) fn main_output(&self, output: &str) -> Value {
        Value::Output {
            address: Address::stack("main"),
            output: output.into(),
        }
    }

    /// The value of a stack output as observed now, if the stack exists and has it.
    pub(super) fn observed_output(&self, stack: &str, output: &str) -> Option<&'a str> {
        let spec = self.d.stacks.get(stack);
        let name = spec
            .map(|s| s.stack_name.clone())
            .unwrap_or_else(|| self.d.project.aws_name(stack));
        self.o
            .stacks
            .get(&name)
            .and_then(|s| s.outputs.get(output))
            .map(String::as_str)
    }

    pub(super) fn resolve_now(&self, v: &Value) -> Option<String> {
        match v {
            Value::Literal { value } => Some(value.clone()),
            Value::Output { address, output } if address.kind == Kind::Stack => self
                .observed_output(address.name(), output)
                .map(str::to_string),
            Value::Output { .. } => None,
        }
    }

    /// A value as a plan shows it: known now, or the output it waits for.
    pub(super) fn describe_value(&self, v: &Value) -> String {
        match (self.resolve_now(v), v) {
            (Some(now), _) => now,
            (None, Value::Output { address, output }) => {
                format!("output {output} of {address} (known after apply)")
            }
            (None, Value::Literal { value }) => value.clone(),
        }
    }

    // ---------------------------------------------------------------- profiles

    fn plan_profiles(&self) -> Vec<Action> {
        let mut out = Vec::new();
        for (name, spec) in &self.d.profiles {
            let address = Address::profile(name);
            let fp = fingerprint_of(&spec.text);
            let tags = self.tags(&address, &fp);
            let seen_p = self.o.parameters.get(&spec.parameter);
            let thing = Thing {
                what: "parameter",
                name: &spec.parameter,
            };
            let same = seen_p.is_some_and(|p| p.value.as_deref() == Some(spec.text.as_str()));
            let put = Effect::PutParameter {
                name: spec.parameter.clone(),
                value: Value::literal(&spec.text),
                tags: tags.clone(),
            };
            let text_change = || TextChange {
                label: "value".into(),
                before: seen_p.and_then(|p| p.value.clone()),
                after: Some(spec.text.clone()),
            };
            let st = standing(self.project, &address, seen_p.map(|p| &p.tags), || same);
            let mut a = match st {
                Standing::Missing => {
                    let mut a = action(address.clone(), Op::Create, "not found");
                    a.changes.push(text_change());
                    a.effects.push(put);
                    a
                }
                Standing::Foreign { owner } => {
                    action(address.clone(), Op::Blocked, owner::foreign(thing, owner))
                }
                Standing::Misaddressed { tagged } => action(
                    address.clone(),
                    Op::Blocked,
                    owner::misaddressed(thing, tagged, &address),
                ),
                _ if seen_p.is_some_and(|p| p.secure) => action(
                    address.clone(),
                    Op::Blocked,
                    format!("parameter {} is a SecureString; profiles are plain String parameters: delete it or rename the profile", spec.parameter),
                ),
                Standing::InSync => continue,
                Standing::Drifted => {
                    let mut a = action(address.clone(), Op::Update, "profile text changed");
                    a.changes.push(text_change());
                    a.effects.push(put);
                    a
                }
                Standing::Untagged { same: true } => {
                    let mut a = action(address.clone(), Op::Adopt, format!("parameter {} exists without vibes tags: it is tagged", spec.parameter));
                    // PutParameter cannot change tags of an existing parameter: tag separately.
                    a.effects.push(Effect::TagParameter { name: spec.parameter.clone(), tags });
                    a
                }
                Standing::Untagged { same: false } => {
                    let mut a = if self.replace_requested(&address) {
                        let mut a = action(address.clone(), Op::Adopt, format!("parameter {} exists without vibes tags; --replace {address}: it is tagged and its text is replaced", spec.parameter));
                        a.effects.push(put);
                        a.effects.push(Effect::TagParameter { name: spec.parameter.clone(), tags });
                        a
                    } else {
                        action(address.clone(), Op::Blocked, owner::differs(thing, "its text", &address))
                    };
                    a.changes.push(text_change());
                    a
                }
            };
            a.attributes
                .insert(0, Attribute::new("parameter", &spec.parameter));
            if a.op != Op::Blocked {
                a.attributes
                    .insert(1, Attribute::new("encoder", &spec.encoder));
            }
            a.relies_on
                .insert(format!("parameter:{}", spec.parameter), seen(seen_p));
            out.push(a);
        }
        for p in self.o.parameters.values() {
            let thing = Thing {
                what: "parameter",
                name: &p.name,
            };
            let address = match leftover(self.project, Kind::Profile, thing, &p.tags, |a| {
                self.d.project.ssm_path(&format!("profiles/{}", a.name()))
            }) {
                Leftover::NotOurs => continue,
                Leftover::Misnamed { note, .. } => {
                    self.note(note);
                    continue;
                }
                Leftover::Ours(address) => address,
            };
            if self.d.profiles.contains_key(address.name()) {
                continue;
            }
            let mut a = action(address, Op::Delete, "no longer in the config");
            a.attributes.push(Attribute::new("parameter", &p.name));
            a.changes.push(TextChange {
                label: "value".into(),
                before: p.value.clone(),
                after: None,
            });
            a.effects.push(Effect::DeleteParameter {
                name: p.name.clone(),
            });
            a.relies_on
                .insert(format!("parameter:{}", p.name), seen(Some(p)));
            out.push(a);
        }
        out
    }

    /// A parameter vibes writes as bookkeeping (an image's id, the sources bucket's name) is
    /// another project's: the reason to block the action that would overwrite it.
    pub(super) fn pointer_blocked(
        &self,
        address: &Address,
        p: Option<&ObservedParameter>,
    ) -> Option<String> {
        let p = p?;
        let thing = Thing {
            what: "parameter",
            name: &p.name,
        };
        match standing(self.project, address, Some(&p.tags), || true) {
            Standing::Foreign { owner } => Some(owner::foreign(thing, owner)),
            Standing::Misaddressed { tagged } => Some(owner::misaddressed(thing, tagged, address)),
            _ => None,
        }
    }

    // ---------------------------------------------------------------- images

    fn images_of(&self, address: &Address) -> Vec<&'a ObservedImage> {
        let v: Vec<_> = Observed::tagged(self.o.images.values(), &address.to_string())
            .into_iter()
            .filter(|i| self.ours(&i.tags) && i.state != "deregistered")
            .collect();
        newest_first(v, |i| (i.created.as_str(), i.image_id.as_str()))
    }

    /// What an instance of image `name` launches from: the current AMI, or the one this plan
    /// builds. `None` when the config names no such image.
    fn image_value(&self, name: &str) -> Option<Value> {
        let spec = self.d.images.get(name)?;
        let address = Address::image(name);
        let current = self.images_of(&address).into_iter().find(|i| {
            i.tags.get(tags::FINGERPRINT) == Some(&spec.recipe_hash) && i.state == "available"
        });
        Some(match current {
            Some(i) => Value::literal(&i.image_id),
            None => Value::Output {
                address,
                output: outputs::IMAGE_ID.into(),
            },
        })
    }

    fn plan_images(&self) -> Vec<Action> {
        let mut out = Vec::new();
        for (name, spec) in &self.d.images {
            let address = Address::image(name);
            let tags = self.tags(&address, &spec.recipe_hash);
            let existing = self.images_of(&address);
            let current = existing.iter().find(|i| {
                i.tags.get(tags::FINGERPRINT) == Some(&spec.recipe_hash) && i.state == "available"
            });
            let pointer = self.o.parameters.get(&spec.parameter);
            let keep = spec.keep.max(1) as usize;
            let blocked = self.pointer_blocked(&address, pointer);
            let mut a = match current {
                // Every path below writes the pointer when it is not vibes' own.
                _ if blocked.is_some() => {
                    action(address.clone(), Op::Blocked, blocked.unwrap_or_default())
                }
                Some(cur) => {
                    // Built already: keep the pointer right and prune old images.
                    let mut prune: Vec<&ObservedImage> = existing
                        .iter()
                        .filter(|i| i.image_id != cur.image_id)
                        .copied()
                        .collect();
                    prune = prune.into_iter().skip(keep - 1).collect();
                    let pointer_ok = pointer.is_some_and(|p| {
                        p.value.as_deref() == Some(cur.image_id.as_str()) && self.ours(&p.tags)
                    });
                    if pointer_ok && prune.is_empty() {
                        continue;
                    }
                    let mut why = Vec::new();
                    let mut a = action(address.clone(), Op::Update, "");
                    if !pointer_ok {
                        why.push(format!(
                            "{} does not point at the current image {}",
                            spec.parameter, cur.image_id
                        ));
                        a.changes.push(TextChange {
                            label: "value".into(),
                            before: pointer.and_then(|p| p.value.clone()),
                            after: Some(cur.image_id.clone()),
                        });
                        a.effects.push(Effect::PutParameter {
                            name: spec.parameter.clone(),
                            value: Value::literal(&cur.image_id),
                            tags: tags.clone(),
                        });
                    }
                    if !prune.is_empty() {
                        why.push(format!(
                            "{} beyond the newest {keep}",
                            plural(prune.len(), "old image", "old images")
                        ));
                        for i in &prune {
                            a.attributes.push(Attribute::new(
                                "deregister",
                                format!("{} ({})", i.image_id, i.created),
                            ));
                            a.effects.push(Effect::DeregisterImage {
                                image_id: i.image_id.clone(),
                            });
                        }
                    }
                    a.reason = why.join("; ");
                    a
                }
                None => {
                    let (op, reason) =
                        match existing.first() {
                            Some(prev) => (
                                Op::Replace,
                                format!(
                                "recipe changed: image {} was built from {}, the recipe is now {}",
                                prev.image_id,
                                prev.tags.get(tags::FINGERPRINT).map(String::as_str).unwrap_or("?"),
                                spec.recipe_hash
                            ),
                            ),
                            None => (
                                Op::Create,
                                "no image built from this recipe yet".to_string(),
                            ),
                        };
                    let mut a = action(address.clone(), op, reason);
                    a.effects.push(Effect::BuildImage {
                        image: name.clone(),
                        recipe: spec.recipe.display().to_string(),
                        files: spec.files.clone(),
                        built_in: spec.built_in.clone(),
                        recipe_hash: spec.recipe_hash.clone(),
                        parameter: spec.parameter.clone(),
                        artifacts_bucket: self.main_output(outputs::ARTIFACTS_BUCKET),
                        codebuild_project: self.main_output(outputs::IMAGE_BUILD_PROJECT),
                        tags: tags.clone(),
                    });
                    // After the build the new image is the newest: keep `keep - 1` of the old ones.
                    for i in existing.iter().skip(keep - 1) {
                        a.attributes.push(Attribute::new(
                            "deregister",
                            format!("{} ({}) after the build", i.image_id, i.created),
                        ));
                        a.effects.push(Effect::DeregisterImage {
                            image_id: i.image_id.clone(),
                        });
                    }
                    a
                }
            };
            a.attributes
                .insert(0, Attribute::new("recipe", spec.recipe_shown()));
            a.attributes
                .insert(1, Attribute::new("recipe_hash", &spec.recipe_hash));
            a.relies_on
                .insert(format!("images:{address}"), seen(Some(&existing)));
            a.relies_on
                .insert(format!("parameter:{}", spec.parameter), seen(pointer));
            out.push(a);
        }
        // Images of recipes the config no longer names.
        let mut gone: BTreeMap<Address, Vec<&ObservedImage>> = BTreeMap::new();
        for i in self.o.images.values() {
            if let Some(address) =
                address_of(&i.tags).filter(|a| a.kind == Kind::Image && self.ours(&i.tags))
            {
                if !self.d.images.contains_key(address.name()) && i.state != "deregistered" {
                    gone.entry(address).or_default().push(i);
                }
            }
        }
        for (address, images) in gone {
            let mut a = action(address.clone(), Op::Delete, "no longer in the config");
            for i in newest_first(images.clone(), |i| {
                (i.created.as_str(), i.image_id.as_str())
            }) {
                a.attributes.push(Attribute::new(
                    "deregister",
                    format!("{} ({})", i.image_id, i.created),
                ));
                a.effects.push(Effect::DeregisterImage {
                    image_id: i.image_id.clone(),
                });
            }
            let param = self.d.project.ssm_path(&format!("ami/{}", address.name()));
            if let Some(p) = self.o.parameters.get(&param).filter(|p| self.ours(&p.tags)) {
                a.effects.push(Effect::DeleteParameter {
                    name: p.name.clone(),
                });
            }
            a.relies_on
                .insert(format!("images:{address}"), seen(Some(&images)));
            out.push(a);
        }
        out
    }

    // ---------------------------------------------------------------- volumes

    fn plan_volumes(&self) -> Vec<Action> {
        let mut out = Vec::new();
        let address = Address::volume("builds");
        let seen_v: Vec<_> = Observed::tagged(self.o.volumes.values(), &address.to_string())
            .into_iter()
            .filter(|v| self.ours(&v.tags) && v.state != "deleting" && v.state != "deleted")
            .collect();
        match &self.d.compile {
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
                    .insert(format!("volumes:{address}"), seen(Some(&seen_v)));
                out.push(a);
            }
            None if !seen_v.is_empty() => {
                let ids = seen_v
                    .iter()
                    .map(|v| v.volume_id.clone())
                    .collect::<Vec<_>>()
                    .join(", ");
                let a = if self.opt.include_data {
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

    // ---------------------------------------------------------------- compile

    /// What a builds snapshot is made from: sources, profiles, engine and worker image.
    fn built_from(&self) -> Option<(String, Tags)> {
        let manifest = self.d.sources.as_ref()?.manifest.as_ref()?;
        let revision = manifest.revision();
        let profiles: BTreeMap<&String, &String> =
            self.d.profiles.iter().map(|(k, v)| (k, &v.text)).collect();
        let profiles_hash = fingerprint_of(&profiles);
        let worker = self
            .d
            .images
            .get("worker")
            .map(|i| i.recipe_hash.clone())
            .unwrap_or_default();
        let built_from = fingerprint_of(&(&revision, &profiles_hash, ENGINE_VERSION, &worker));
        let mut t = Tags::new();
        t.insert(tags::BUILT_FROM.into(), built_from.clone());
        t.insert(tags::SOURCES_REVISION.into(), revision);
        t.insert("vibes:profiles".into(), profiles_hash);
        t.insert("vibes:engine".into(), ENGINE_VERSION.into());
        t.insert("vibes:worker-image".into(), worker);
        Some((built_from, t))
    }

    fn builds_snapshots(&self) -> Vec<&'a ObservedSnapshot> {
        let v: Vec<_> = Observed::tagged(
            self.o.snapshots.values(),
            &Address::snapshot("builds").to_string(),
        )
        .into_iter()
        .filter(|s| self.ours(&s.tags) && s.state != "error")
        .collect();
        newest_first(v, |s| (s.started.as_str(), s.snapshot_id.as_str()))
    }

    fn workers(&self) -> Vec<&'a ObservedInstance> {
        Observed::tagged(self.o.instances.values(), &Address::compile().to_string())
            .into_iter()
            .filter(|i| {
                self.ours(&i.tags) && !matches!(i.state.as_str(), "terminated" | "shutting-down")
            })
            .collect()
    }

    fn plan_compile(&self) -> Option<Action> {
        let address = Address::compile();
        let leftovers = self.workers();
        let terminate: Vec<Effect> = leftovers
            .iter()
            .map(|i| Effect::TerminateInstance {
                instance_id: i.instance_id.clone(),
            })
            .collect();
        let leftover_note = || {
            format!(
                "worker {} left over from an interrupted compile is terminated",
                leftovers
                    .iter()
                    .map(|i| i.instance_id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let mut a = match &self.d.compile {
            None => {
                if leftovers.is_empty() {
                    return None;
                }
                let mut a = action(address.clone(), Op::Delete, leftover_note());
                a.effects = terminate;
                a
            }
            Some(c) => {
                let Some((built_from, snapshot_tags)) = self.built_from() else {
                    return Some(action(
                        address,
                        Op::Blocked,
                        "the sources tree has not been read (run plan, not validate)",
                    ));
                };
                let newest = self
                    .builds_snapshots()
                    .into_iter()
                    .find(|s| s.state == "completed");
                let why = match newest {
                    Some(s) if s.tags.get(tags::BUILT_FROM) == Some(&built_from) => None,
                    Some(s) => {
                        let mut parts = Vec::new();
                        for (tag, what) in [
                            (tags::SOURCES_REVISION, "sources"),
                            ("vibes:profiles", "profiles"),
                            ("vibes:engine", "compile engine"),
                            ("vibes:worker-image", "worker image"),
                        ] {
                            let was = s.tags.get(tag).map(String::as_str).unwrap_or("?");
                            let now = snapshot_tags.get(tag).map(String::as_str).unwrap_or("?");
                            if was != now {
                                parts.push(format!("{what} changed ({was} -> {now})"));
                            }
                        }
                        if parts.is_empty() {
                            parts.push(
                                "the newest builds snapshot was made from something else".into(),
                            );
                        }
                        Some(format!(
                            "{} since snapshot {}",
                            parts.join(", "),
                            s.snapshot_id
                        ))
                    }
                    None => Some("no builds snapshot yet".to_string()),
                };
                match why {
                    None if leftovers.is_empty() => return None,
                    None => {
                        let mut a = action(address.clone(), Op::Delete, leftover_note());
                        a.effects = terminate;
                        a
                    }
                    Some(why) => {
                        let reason = if leftovers.is_empty() {
                            why
                        } else {
                            format!("{why}; {}", leftover_note())
                        };
                        let mut a = action(address.clone(), Op::Run, reason);
                        a.effects = terminate;
                        let volume =
                            match Observed::tagged(self.o.volumes.values(), "volume.builds")
                                .into_iter()
                                .find(|v| self.ours(&v.tags))
                            {
                                Some(v) => Value::literal(&v.volume_id),
                                None => Value::Output {
                                    address: Address::volume("builds"),
                                    output: outputs::VOLUME_ID.into(),
                                },
                            };
                        let mut instance_tags = self.tags(&address, &built_from);
                        instance_tags.insert("Name".into(), self.d.project.aws_name("worker"));
                        let mut st = self.tags(&Address::snapshot("builds"), &built_from);
                        st.extend(snapshot_tags.clone());
                        a.attributes
                            .push(Attribute::new("instance_type", &c.instance_type));
                        a.attributes.push(Attribute::new("built_from", &built_from));
                        let Some(image) = self.image_value("worker") else {
                            return Some(action(
                                address,
                                Op::Blocked,
                                "[compile] needs [images.worker]: the worker image carries the encoders and the compile engine",
                            ));
                        };
                        a.effects.push(Effect::RunCompile {
                            launch_template: self.main_output(outputs::WORKER_LAUNCH_TEMPLATE),
                            image,
                            instance_type: c.instance_type.clone(),
                            builds_volume: volume,
                            built_from: built_from.clone(),
                            sources_revision: snapshot_tags
                                .get(tags::SOURCES_REVISION)
                                .cloned()
                                .unwrap_or_default(),
                            timeout_minutes: c.timeout_minutes,
                            snapshot_tags: st,
                            instance_tags,
                            // What the launch is for; apply makes each attempt's ClientToken
                            // from it (apply::launch): a rerun must never get the worker of a
                            // failed or interrupted compile back.
                            token: idempotency_token(self.project, &address, &built_from),
                        });
                        a
                    }
                }
            }
        };
        a.relies_on
            .insert("instances:compile".into(), seen(Some(&leftovers)));
        a.relies_on.insert(
            "snapshots:snapshot.builds".into(),
            seen(Some(&self.builds_snapshots())),
        );
        Some(a)
    }

    // ---------------------------------------------------------------- snapshots

    fn plan_snapshots(&self, compile_runs: bool, server_changes: bool) -> Vec<Action> {
        let address = Address::snapshot("builds");
        let snaps = self.builds_snapshots();
        if snaps.is_empty() {
            return Vec::new();
        }
        let keep_configured = self.d.snapshots.as_ref().map(|s| s.keep.max(1) as usize);
        let mut a = match keep_configured {
            Some(keep) if self.d.compile.is_some() || self.d.snapshots.is_some() => {
                // The compile adds one: then only `keep - 1` of today's may stay.
                let room = if compile_runs { keep - 1 } else { keep };
                // Never the newest completed one, whatever `keep` says: the retention action
                // runs only after a successful compile, and a failed compile makes no snapshot.
                let newest_good = snaps
                    .iter()
                    .find(|s| s.state == "completed")
                    .map(|s| s.snapshot_id.clone());
                // Nor the one a server of the project serves (its `vibes:snapshot` tag) while
                // that server stays: its snapshot is then the only copy of what it serves. A
                // server this plan relaunches or stops is done before retention runs (and a
                // failure there skips retention), so what it served may go with it.
                let served: BTreeSet<String> =
                    Observed::tagged(self.o.instances.values(), &Address::server().to_string())
                        .into_iter()
                        .filter(|_| !server_changes)
                        .filter(|i| {
                            self.ours(&i.tags)
                                && i.state != "terminated"
                                && i.state != "shutting-down"
                        })
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
            Some(_) | None if self.d.compile.is_some() => return Vec::new(),
            _ => {
                let ids: Vec<_> = snaps.iter().map(|s| s.snapshot_id.clone()).collect();
                if self.opt.include_data {
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
        a.relies_on
            .insert("snapshots:snapshot.builds".into(), seen(Some(&snaps)));
        vec![a]
    }

    // ---------------------------------------------------------------- server

    fn plan_server(&self, compile_runs: bool) -> Vec<Action> {
        let address = Address::server();
        let servers: Vec<_> = Observed::tagged(self.o.instances.values(), "server")
            .into_iter()
            .filter(|i| {
                self.ours(&i.tags) && !matches!(i.state.as_str(), "terminated" | "shutting-down")
            })
            .collect();
        let want = self.d.server.as_ref().filter(|s| s.running);
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
                    if self.d.server.is_some() {
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
                    .find(|s| s.state == "completed")
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
                tags.insert("Name".into(), self.d.project.aws_name("server"));
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
        a.relies_on
            .insert("instances:server".into(), seen(Some(&servers)));
        vec![a]
    }

    // ---------------------------------------------------------------- graph

    /// Does `a` depend on `b` (must `b`'s change be done before `a`'s)?
    fn relates(&self, a: &Address, b: &Address) -> bool {
        use Kind::*;
        let named = |x: &Address, n: &str| x.name.as_deref() == Some(n);
        match (a.kind, b.kind) {
            (Stack, Stack) => {
                let declared = self
                    .d
                    .stacks
                    .get(a.name())
                    .is_some_and(|s| s.depends_on.contains(b));
                declared || (named(a, "main") && named(b, "vpc"))
            }
            (Image, Stack) => named(b, "main"),
            (Image, Key) => named(b, "builds"),
            // The sources bucket outlives the main stack: destroy deletes it (with
            // --include-data) only once the stack, and the bucket policy in it, are gone.
            (Sources, Stack) => named(b, "main") && !self.opt.destroy,
            (Stack, Sources) => named(a, "main") && self.opt.destroy,
            (Volume, Stack) => named(b, "main"),
            (Compile, Stack) => named(b, "main"),
            (Compile, Image) => named(b, "worker"),
            (Compile, Key) => named(b, "worker") || named(b, "builds"),
            (Compile, Profile) | (Compile, Sources) => true,
            (Compile, Volume) => named(b, "builds"),
            (Snapshot, Compile) => true,
            (Snapshot, Server) => true,
            (Server, Stack) => named(b, "main"),
            (Server, Image) => named(b, "server"),
            (Server, Key) => named(b, "server"),
            (Server, Compile) => true,
            _ => false,
        }
    }

    /// Does the config name this address?
    fn is_desired(&self, a: &Address) -> bool {
        let d = self.d;
        match a.kind {
            Kind::Stack => d.stacks.contains_key(a.name()),
            Kind::Key => d.keys.contains_key(a.name()),
            Kind::Profile => d.profiles.contains_key(a.name()),
            Kind::Image => d.images.contains_key(a.name()),
            Kind::Sources => d.sources.is_some(),
            Kind::Volume => d.compile.is_some() && a.name() == "builds",
            Kind::Compile => d.compile.is_some(),
            Kind::Snapshot => {
                (d.compile.is_some() || d.snapshots.is_some()) && a.name() == "builds"
            }
            Kind::Server => d.server.is_some(),
        }
    }

    /// The targets, and what they depend on. A target that neither the config names nor the plan
    /// acts on pulls in nothing: targeting `server` without a `[server]` must not create stacks.
    fn restrict_to_targets(&self, actions: Vec<Action>) -> (Vec<Action>, Vec<Address>) {
        let (seeds, idle): (Vec<Address>, Vec<Address>) = self
            .opt
            .targets
            .iter()
            .cloned()
            .partition(|t| self.is_desired(t) || actions.iter().any(|a| &a.address == t));
        let mut keep: BTreeSet<Address> = seeds.into_iter().collect();
        loop {
            let before = keep.len();
            for a in &actions {
                if keep.iter().any(|t| self.relates(t, &a.address)) {
                    keep.insert(a.address.clone());
                }
            }
            if keep.len() == before {
                break;
            }
        }
        (
            actions
                .into_iter()
                .filter(|a| keep.contains(&a.address))
                .collect(),
            idle,
        )
    }
}
