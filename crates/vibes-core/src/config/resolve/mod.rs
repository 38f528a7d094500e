//! [`RawConfig`] → [`Desired`]: names, defaults, files read and hashed, stacks and their
//! references, every fault collected on the way. One [`Resolver`] walks the config; each
//! section has its own module, and the checks they share (names, claims, paths, counts) are here.

mod keys;
mod project;
mod sections;
mod stacks;

use super::error::{Fault, FaultKind, Faults, Source};
use super::files::{ConfigDir, PathFault};
use super::names::NameRule;
use super::raw::*;
use crate::model::*;
use std::collections::BTreeMap;
use toml::Spanned;

pub const DEFAULT_COMPILE_INSTANCE: &str = "c7a.xlarge";
pub const DEFAULT_BUILDS_VOLUME_GIB: u32 = 100;
pub const DEFAULT_TIMEOUT_MINUTES: u32 = 240;
pub const DEFAULT_SERVER_INSTANCE: &str = "t4g.small";
pub const DEFAULT_IMAGE_KEEP: u32 = 2;
pub const DEFAULT_SNAPSHOT_KEEP: u32 = 3;
/// The largest gp3 volume EBS makes.
const MAX_VOLUME_GIB: i64 = 16_384;

pub(crate) struct Resolver<'a> {
    pub src: &'a Source,
    pub dir: ConfigDir,
    pub faults: &'a mut Faults,
    /// AWS-side names already taken, by namespace: the second use of one is a duplicate.
    taken: BTreeMap<(&'static str, String), (Span, String)>,
}

impl<'a> Resolver<'a> {
    pub fn new(src: &'a Source, dir: ConfigDir, faults: &'a mut Faults) -> Self {
        Resolver {
            src,
            dir,
            faults,
            taken: BTreeMap::new(),
        }
    }

    pub fn fault(
        &mut self,
        kind: FaultKind,
        span: Span,
        message: impl Into<String>,
        label: impl Into<String>,
    ) -> &mut Fault {
        self.faults
            .push_mut(Fault::at(kind, self.src, span, message, label))
    }

    pub fn resolve(mut self, raw: RawConfig) -> Desired {
        let project = self.project(raw.project.as_ref());
        let mut desired = Desired::empty(&project.name);
        desired.project = project;

        let network = self.network(raw.network.as_ref(), &mut desired);
        desired.keys = self.keys(&raw.keys, &desired.project);
        desired.profiles = raw
            .profiles
            .iter()
            .filter_map(|p| self.profile(p, &desired.project))
            .collect();
        desired.images = raw
            .images
            .iter()
            .filter_map(|i| self.image(i, &desired.project))
            .collect();
        desired.sources = raw
            .sources
            .as_ref()
            .map(|s| self.sources(s, &desired.project));
        desired.compile = raw.compile.as_ref().map(|c| self.compile(c));
        desired.snapshots = raw.snapshots.as_ref().map(|s| self.snapshots(s));
        desired.server = raw.server.as_ref().map(|s| self.server(s));
        desired.budget = raw.budget.as_ref().map(|b| self.budget(b));
        desired.prices = raw.prices.as_ref().map(|p| self.prices(p));
        desired.stacks = self.stacks(&raw, &network, &desired);
        desired.settle_image_arches();
        desired
    }

    pub fn check_name(&mut self, name: &Spanned<String>, rule: &NameRule, what: &str) -> bool {
        match rule.violation(name.get_ref()) {
            None => true,
            Some(why) => {
                self.fault(
                    FaultKind::InvalidName,
                    name.span(),
                    format!("`{}` is not a valid {what} name: {why}", name.get_ref()),
                    format!("must match {}", rule.pattern),
                );
                false
            }
        }
    }

    /// Claims an AWS-side name; a second claim is a duplicate, reported at both places.
    pub fn claim(&mut self, namespace: &'static str, name: String, span: Span, what: String) {
        match self.taken.get(&(namespace, name.clone())) {
            Some((first_span, first_what)) => {
                let (first_span, first_what) = (first_span.clone(), first_what.clone());
                self.fault(
                    FaultKind::Duplicate,
                    span,
                    format!("{what} and {first_what} would both be the {namespace} `{name}`"),
                    "second use",
                )
                .add_label(first_span, "first use");
            }
            None => {
                self.taken.insert((namespace, name), (span, what));
            }
        }
    }

    /// Reports a path fault at `span`: missing files and escaping paths have their own kinds.
    pub fn path_fault(&mut self, span: Span, what: &str, e: &PathFault) {
        let kind = match e {
            e if e.escapes() => FaultKind::OutsideConfigDir,
            PathFault::Missing { .. } | PathFault::NotAFile { .. } | PathFault::NotADir { .. } => {
                FaultKind::MissingFile
            }
            _ => FaultKind::InvalidValue,
        };
        let label = match kind {
            FaultKind::OutsideConfigDir => "paths must stay inside the config's directory",
            FaultKind::MissingFile => "not found",
            _ => "cannot use this",
        };
        let fault = self.fault(kind, span, format!("{what}: {e}"), label);
        if let PathFault::TooLarge { .. } = e {
            fault.set_help("name the file meant here: templates, public keys and profiles are small text files");
        }
    }

    /// A count with bounds; `keep = 0` and friends are reported at the value.
    pub(super) fn count(
        &mut self,
        raw: Option<&Spanned<i64>>,
        min: i64,
        max: i64,
        default: u32,
        key: &str,
    ) -> u32 {
        let Some(v) = raw else { return default };
        let n = *v.get_ref();
        if n < min {
            self.fault(
                FaultKind::TooSmall,
                v.span(),
                format!("`{key}` must be at least {min}"),
                format!("{n} is less than {min}"),
            );
            return default;
        }
        if n > max {
            self.fault(
                FaultKind::InvalidValue,
                v.span(),
                format!("`{key}` must be at most {max}"),
                format!("{n} is more than {max}"),
            );
            return default;
        }
        n as u32
    }
}
