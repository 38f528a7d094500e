//! The planner: one pure function from (desired, observed) to a plan. `Cx` holds both sides and
//! the helpers every kind shares; each kind's `plan_*` lives in a module of its own and returns
//! its actions (whose is what in `ownership`); `graph::relates` says which addresses wait on
//! which; `check::assemble` turns the lot into a checked DAG.

mod compile;
mod graph;
mod images;
mod keys;
mod profiles;
mod server;
mod snapshots;
mod source_faults;
mod sources;
pub use sources::{sources_bucket_names, SourcesBucketNames};
mod stack_reads;
mod stacks;
mod targets;
mod volumes;
mod zone;

use super::action::{Action, Effect, Op};
use super::check::{assemble, PlanError};
use super::ownership::{self as owner, standing, Standing, Thing};
use super::Plan;
use crate::address::{Address, Kind};
use crate::model::{Desired, Value};
use crate::observed::{Observed, ObservedParameter};
use crate::stack_changes::StackPreviewRequest;
use crate::tags::{self, fingerprint_of, ownership, Tags};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

/// How a plan is made, beyond desired and observed.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Allow deleting data (snapshots, volumes, bucket objects) that the config no longer names.
    pub include_data: bool,
    /// Plan only these addresses and what they depend on.
    pub targets: Vec<Address>,
    /// Leave these out, and everything that depends on them (`--exclude`).
    pub exclude: Vec<Address>,
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
    /// Outputs of the `server` action: the server launched, and its Elastic IP's allocation.
    pub const INSTANCE_ID: &str = "InstanceId";
    pub const ALLOCATION_ID: &str = "AllocationId";
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
    let cx = Cx::new(desired, observed, options);
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
    if !options.exclude.is_empty() {
        let (kept, left_out) = cx.exclude(actions);
        actions = kept;
        notes.push(if left_out.is_empty() {
            format!(
                "--exclude {}: the plan has nothing to leave out",
                options
                    .exclude
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            format!(
                "--exclude leaves out {}: the result is partial, and a full plan may show more",
                left_out
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        });
    }
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

/// The stack updates in `plan` that want a change set listed before the plan is final
/// ([`crate::stack_changes`]): the workspace makes them, records them in
/// [`Observed::stack_changes`] and plans again.
pub fn stack_previews_wanted(
    desired: &Desired,
    observed: &Observed,
    options: &PlanOptions,
    plan: &Plan,
) -> Vec<StackPreviewRequest> {
    if options.destroy {
        return Vec::new();
    }
    let cx = Cx::new(desired, observed, options);
    cx.previews_wanted(&plan.actions)
}

pub(super) struct Cx<'a> {
    pub(super) desired: &'a Desired,
    pub(super) observed: &'a Observed,
    pub(super) options: &'a PlanOptions,
    pub(super) project: &'a str,
    /// What the planner noticed that needs no action, for the plan's notes.
    notes: RefCell<Vec<String>>,
    /// The `--replace` addresses that changed an action.
    replace_used: RefCell<BTreeSet<Address>>,
}

impl<'a> Cx<'a> {
    fn new(desired: &'a Desired, observed: &'a Observed, options: &'a PlanOptions) -> Cx<'a> {
        Cx {
            desired,
            observed,
            options,
            project: &desired.project.name,
            notes: RefCell::new(Vec::new()),
            replace_used: RefCell::new(BTreeSet::new()),
        }
    }
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

    /// A resource of `kind` this project made, by its tags *and* under the name `conventional`
    /// gives its address: its address. Anything else is not ours to delete; this project's
    /// tags under another name are noted and left alone.
    pub(super) fn ours_by_name(
        &self,
        kind: Kind,
        thing: Thing,
        tags: &Tags,
        conventional: impl FnOnce(&Address) -> String,
    ) -> Option<Address> {
        match owner::leftover(self.project, kind, thing, tags, conventional) {
            owner::Leftover::NotOurs => None,
            owner::Leftover::Misnamed { note, .. } => {
                self.note(note);
                None
            }
            owner::Leftover::Ours(address) => Some(address),
        }
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
        let asked = self.options.replace.contains(address);
        if asked {
            self.replace_used.borrow_mut().insert(address.clone());
        }
        asked
    }

    pub(super) fn replace_asked(&self, address: &Address) -> bool {
        self.options.replace.contains(address)
    }

    /// Notes for each `--replace` that changed nothing, so that a typo or a needless opt-in shows.
    fn replace_unused(&self) -> Vec<String> {
        let used = self.replace_used.borrow();
        self.options
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
        let spec = self.desired.stacks.get(stack);
        let name = spec
            .map(|s| s.stack_name.clone())
            .unwrap_or_else(|| self.desired.project.aws_name(stack));
        self.observed
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
}
