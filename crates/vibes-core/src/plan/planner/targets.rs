//! `--target` and `--exclude`: what the config names; the plan cut down to the targets and
//! what they depend on, or without the excluded addresses and what depends on them.

use super::Cx;
use crate::address::{Address, Kind};
use crate::plan::action::Action;
use std::collections::BTreeSet;

impl Cx<'_> {
    /// Does the config name this address?
    pub(super) fn is_desired(&self, a: &Address) -> bool {
        let d = self.desired;
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
    pub(super) fn restrict_to_targets(&self, actions: Vec<Action>) -> (Vec<Action>, Vec<Address>) {
        let (seeds, idle): (Vec<Address>, Vec<Address>) = self
            .options
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

    /// The plan without the excluded addresses and every action that waits on one of them
    /// (it could not run without it); also the addresses left out, in plan order.
    pub(super) fn exclude(&self, actions: Vec<Action>) -> (Vec<Action>, Vec<Address>) {
        let mut out: BTreeSet<Address> = self.options.exclude.iter().cloned().collect();
        loop {
            let before = out.len();
            for a in &actions {
                if out.iter().any(|x| self.relates(&a.address, x)) {
                    out.insert(a.address.clone());
                }
            }
            if out.len() == before {
                break;
            }
        }
        let (left_out, kept): (Vec<Action>, Vec<Action>) =
            actions.into_iter().partition(|a| out.contains(&a.address));
        (kept, left_out.into_iter().map(|a| a.address).collect())
    }
}
