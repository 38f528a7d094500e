//! [`RawConfig`] → [`Desired`]: names, defaults, files read and hashed, stacks and their
//! references, every fault collected on the way.

use super::builtin;
use super::error::{Fault, FaultKind, Faults, Source};
use super::files::{self, ConfigDir, PathFault};
use super::names::{self, NameRule};
use super::raw::*;
use super::refs::{self, Reference};
use crate::address::{Address, Kind};
use crate::model::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use toml::Spanned;

/// The formats a sources tree may be in (docs/source-formats.md); `auto` reads it from its files.
pub const SOURCE_FORMATS: [&str; 3] = ["auto", "vibes", "mustup"];

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

/// A stack's template: a file under the config's directory, or one of the built-in platform.
struct Template {
    path: String,
    body: String,
    built_in: bool,
}

impl Template {
    fn built_in(path: &str) -> Self {
        Template {
            path: path.to_string(),
            body: builtin::template(path).to_string(),
            built_in: true,
        }
    }

    fn stack(
        self,
        stack_name: String,
        parameters: BTreeMap<String, Value>,
        depends_on: Vec<Address>,
    ) -> StackSpec {
        StackSpec {
            stack_name,
            template_path: self.path.into(),
            template_built_in: self.built_in,
            template_body: self.body,
            parameters,
            depends_on,
        }
    }
}

/// How the config provides a network for the main stack.
enum Network {
    /// No [network] section.
    Absent,
    /// [network] is there but faulty (already reported).
    Broken,
    Create {
        span: Span,
    },
    Reuse(ExistingNetwork),
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
        desired.stacks = self.stacks(&raw, &network, &desired);
        desired
    }

    // ---- project -------------------------------------------------------------------------

    fn project(&mut self, raw: Option<&RawProject>) -> Project {
        let name = match raw.and_then(|p| p.name.as_ref()) {
            Some(name) => {
                self.check_name(name, &names::PROJECT, "project");
                name.get_ref().clone()
            }
            // Missing: already reported; go on to find the other faults.
            None => "project".to_string(),
        };
        let region = raw.and_then(|p| p.region.as_ref()).map(|r| {
            if !looks_like_region(r.get_ref()) {
                self.fault(
                    FaultKind::InvalidValue,
                    r.span(),
                    format!("`{}` is not an AWS region", r.get_ref()),
                    "expected a region such as us-east-1",
                )
                .set_help("regions look like us-east-1, eu-west-1, ap-southeast-2");
            }
            r.get_ref().clone()
        });
        Project { name, region }
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

    // ---- network -------------------------------------------------------------------------

    fn network(&mut self, raw: Option<&RawNetwork>, desired: &mut Desired) -> Network {
        let Some(n) = raw else { return Network::Absent };
        let create = n.create.as_ref().filter(|c| *c.get_ref());
        if let (Some(create), Some(vpc)) = (create, n.vpc_id.as_ref()) {
            self.fault(
                FaultKind::Conflict,
                vpc.span(),
                "[network] cannot both create a VPC and reuse one",
                "reuses this VPC",
            )
            .add_label(create.span(), "creates a VPC");
            return Network::Broken;
        }
        if let Some(create) = create {
            if let Some(subnet) = &n.subnet_id {
                self.fault(
                    FaultKind::Conflict,
                    subnet.span(),
                    "[network] cannot both create a VPC and reuse a subnet",
                    "reuses this subnet",
                )
                .add_label(create.span(), "creates a VPC");
                return Network::Broken;
            }
            return Network::Create {
                span: create.span(),
            };
        }
        if let Some(template) = &n.template {
            self.fault(
                FaultKind::Conflict,
                template.span(),
                "[network] template is only used with create = true",
                "no VPC is created",
            );
        }
        match (&n.vpc_id, &n.subnet_id) {
            (Some(vpc), Some(subnet)) => {
                let ok_vpc = self.check_id(vpc, "vpc-", "VPC");
                let ok_subnet = self.check_id(subnet, "subnet-", "subnet");
                if !(ok_vpc && ok_subnet) {
                    return Network::Broken;
                }
                let Some(zone) = &n.availability_zone else {
                    self.fault(FaultKind::MissingKey, n.span.clone(), "[network] needs `availability_zone` to reuse a network", "`availability_zone` is missing here")
                        .set_help("give the availability zone of subnet_id, e.g. availability_zone = \"eu-west-1a\": the builds volume is made there");
                    return Network::Broken;
                };
                let existing = ExistingNetwork {
                    vpc_id: vpc.get_ref().clone(),
                    subnet_id: subnet.get_ref().clone(),
                    availability_zone: zone.get_ref().clone(),
                };
                desired.network = Some(existing.clone());
                Network::Reuse(existing)
            }
            (Some(_), None) | (None, Some(_)) => {
                let missing = if n.vpc_id.is_none() {
                    "vpc_id"
                } else {
                    "subnet_id"
                };
                self.fault(
                    FaultKind::MissingKey,
                    n.span.clone(),
                    format!("[network] needs `{missing}` to reuse a network"),
                    format!("`{missing}` is missing here"),
                )
                .set_help("give both vpc_id and subnet_id, or create = true to make a VPC");
                Network::Broken
            }
            (None, None) => {
                self.fault(
                    FaultKind::MissingKey,
                    n.span.clone(),
                    "[network] says neither what to create nor what to reuse",
                    "empty network",
                )
                .set_help(
                    "add create = true to make a VPC, or vpc_id and subnet_id of one to reuse",
                );
                Network::Broken
            }
        }
    }

    fn check_id(&mut self, id: &Spanned<String>, prefix: &str, what: &str) -> bool {
        let ok = id.get_ref().strip_prefix(prefix).is_some_and(|hex| {
            (8..=17).contains(&hex.len()) && hex.chars().all(|c| c.is_ascii_hexdigit())
        });
        if !ok {
            self.fault(
                FaultKind::InvalidValue,
                id.span(),
                format!("`{}` is not a {what} id", id.get_ref()),
                format!("expected {prefix} followed by 8 or 17 hex digits"),
            );
        }
        ok
    }

    // ---- stacks --------------------------------------------------------------------------

    fn stacks(
        &mut self,
        raw: &RawConfig,
        network: &Network,
        desired: &Desired,
    ) -> BTreeMap<String, StackSpec> {
        let project = &desired.project;
        let mut out = BTreeMap::new();

        // Every stack that will exist, with the place that asks for it.
        let mut known: BTreeSet<String> = BTreeSet::new();
        if let Network::Create { span } = network {
            known.insert("vpc".into());
            self.claim(
                "CloudFormation stack",
                project.aws_name("vpc"),
                span.clone(),
                "[network] create = true".into(),
            );
        }
        for s in &raw.stacks {
            if self.check_name(&s.name, &names::STACK, "stack") {
                self.claim(
                    "CloudFormation stack",
                    project.aws_name(s.name.get_ref()),
                    s.name.span(),
                    format!("[stacks.{}]", s.name.get_ref()),
                );
            }
            known.insert(s.name.get_ref().clone());
        }
        let implier = main_implied_by(raw);
        let explicit_main = raw.stacks.iter().any(|s| s.name.get_ref() == "main");
        if let Some((section, span)) = &implier {
            if !explicit_main {
                known.insert("main".into());
                if matches!(network, Network::Absent) {
                    self.fault(FaultKind::NeedsNetwork, span.clone(), format!("[{section}] needs a network"), "needs the main stack, which needs a VPC")
                        .set_help("add [network] with create = true, or vpc_id and subnet_id of a VPC to reuse");
                }
            }
        }

        if let Network::Create { .. } = network {
            let template = match raw.network.as_ref().and_then(|n| n.template.as_ref()) {
                Some(written) => self.template_file(written, "stack vpc"),
                None => Some(Template::built_in(builtin::VPC_TEMPLATE)),
            };
            if let Some(template) = template {
                let parameters =
                    BTreeMap::from([("Project".to_string(), Value::literal(&project.name))]);
                out.insert(
                    "vpc".into(),
                    template.stack(project.aws_name("vpc"), parameters, Vec::new()),
                );
            }
        }

        let main_defaults = |desired: &Desired| main_parameters(desired, network);
        if let (Some(_), false) = (&implier, explicit_main) {
            let depends_on = if matches!(network, Network::Create { .. }) {
                vec![Address::stack("vpc")]
            } else {
                Vec::new()
            };
            out.insert(
                "main".into(),
                Template::built_in(builtin::MAIN_TEMPLATE).stack(
                    project.aws_name("main"),
                    main_defaults(desired),
                    depends_on,
                ),
            );
        }

        for s in &raw.stacks {
            let name = s.name.get_ref();
            let is_main = name == "main";
            let template = match (&s.template, is_main) {
                (Some(written), _) => self.template_file(written, &format!("stack {name}")),
                (None, true) => Some(Template::built_in(builtin::MAIN_TEMPLATE)),
                (None, false) => {
                    self.fault(
                        FaultKind::MissingKey,
                        s.name.span(),
                        format!("[stacks.{name}] needs `template`"),
                        "`template` is missing here",
                    )
                    .set_help("add template = \"cfn/NAME.yaml\", relative to the config file");
                    continue;
                }
            };
            let mut parameters = if is_main {
                main_defaults(desired)
            } else {
                BTreeMap::new()
            };
            let mut depends_on: BTreeSet<Address> = BTreeSet::new();
            if is_main && matches!(network, Network::Create { .. }) {
                depends_on.insert(Address::stack("vpc"));
            }
            for (key, value) in &s.parameters {
                if !key.get_ref().chars().all(|c| c.is_ascii_alphanumeric())
                    || key.get_ref().is_empty()
                {
                    self.fault(
                        FaultKind::InvalidName,
                        key.span(),
                        format!("`{}` is not a CloudFormation parameter name", key.get_ref()),
                        "parameter names are letters and digits",
                    );
                    continue;
                }
                match refs::parse(value.get_ref()) {
                    Ok(None) => {
                        parameters.insert(key.get_ref().clone(), Value::literal(value.get_ref()));
                    }
                    Ok(Some(Reference { stack, output })) => {
                        if self.check_stack_ref(&stack, name, &known, value.span()) {
                            depends_on.insert(Address::stack(&stack));
                            parameters.insert(
                                key.get_ref().clone(),
                                Value::Output {
                                    address: Address::stack(&stack),
                                    output,
                                },
                            );
                        }
                    }
                    Err(why) => {
                        self.fault(FaultKind::BadReference, value.span(), format!("`{}` is not a reference: {why}", value.get_ref()), "expected ${stack.NAME.Output}")
                            .set_help("a parameter is a plain string, or exactly ${stack.NAME.Output} for an output of another stack");
                    }
                }
            }
            for dep in &s.depends_on {
                match dep.get_ref().parse::<Address>() {
                    Ok(a) if a.kind == Kind::Stack => {
                        if self.check_stack_ref(a.name(), name, &known, dep.span()) {
                            depends_on.insert(a);
                        }
                    }
                    _ => {
                        self.fault(
                            FaultKind::BadReference,
                            dep.span(),
                            format!("`{}` is not a stack address", dep.get_ref()),
                            "expected stack.NAME",
                        );
                    }
                }
            }
            if let Some(template) = template {
                out.insert(
                    name.clone(),
                    template.stack(
                        project.aws_name(name),
                        parameters,
                        depends_on.into_iter().collect(),
                    ),
                );
            }
        }
        out
    }

    fn check_stack_ref(
        &mut self,
        target: &str,
        from: &str,
        known: &BTreeSet<String>,
        span: Span,
    ) -> bool {
        if target == from {
            self.fault(
                FaultKind::BadReference,
                span,
                format!("stack {from} refers to itself"),
                "a stack cannot depend on itself",
            );
            return false;
        }
        if !known.contains(target) {
            let candidates: Vec<&str> = known.iter().map(String::as_str).collect();
            let help = match names::suggest(target, &candidates) {
                Some(s) => format!("did you mean stack.{s}?"),
                None if candidates.is_empty() => "the config defines no stacks".to_string(),
                None => format!("stacks in this config: {}", candidates.join(", ")),
            };
            self.fault(
                FaultKind::BadReference,
                span,
                format!("no stack `{target}` in this config"),
                "unknown stack",
            )
            .set_help(&help);
            return false;
        }
        true
    }

    /// The template file the config names for a stack, faults reported at the setting.
    fn template_file(&mut self, written: &Spanned<String>, what: &str) -> Option<Template> {
        match self
            .dir
            .read_text(written.get_ref(), crate::bounded::TEXT_FILE_LIMIT)
        {
            Ok((_, body)) => Some(Template {
                path: written.get_ref().clone(),
                body,
                built_in: false,
            }),
            Err(e) => {
                self.path_fault(written.span(), &format!("template of {what}"), &e);
                None
            }
        }
    }

    // ---- keys ----------------------------------------------------------------------------

    fn keys(&mut self, raw: &[RawKey], project: &Project) -> BTreeMap<String, KeySpec> {
        let mut out = BTreeMap::new();
        for k in raw {
            let name = k.name.get_ref();
            if !self.check_name(&k.name, &names::RESOURCE, "key") {
                continue;
            }
            let private_key_path = project.ssm_path(&format!("ec2/keys/{name}"));
            self.claim(
                "SSM parameter",
                private_key_path.clone(),
                k.name.span(),
                format!("key {name}"),
            );
            let public_key = k.public_key.as_ref().and_then(|p| self.public_key(p));
            out.insert(
                name.clone(),
                KeySpec {
                    key_name: project.aws_name(name),
                    private_key_path,
                    public_key,
                },
            );
        }
        out
    }

    fn public_key(&mut self, written: &Spanned<String>) -> Option<String> {
        let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
        let path = files::public_key_path(&self.dir, written.get_ref(), home.as_deref());
        let text = match files::read_text(&path, crate::bounded::TEXT_FILE_LIMIT) {
            Ok(t) => t,
            Err(e) => {
                self.path_fault(written.span(), "public_key", &e);
                return None;
            }
        };
        match files::openssh_public_key(&text) {
            Ok(key) => Some(key),
            Err(why) => {
                self.fault(
                    FaultKind::InvalidValue,
                    written.span(),
                    format!("{} is not an OpenSSH public key: {why}", path.display()),
                    "not a public key",
                );
                None
            }
        }
    }

    // ---- sources, compile, snapshots, server ---------------------------------------------

    fn sources(&mut self, raw: &RawSources, project: &Project) -> SourcesSpec {
        // Kept relative to the config's directory, as the config spells it (like templates and
        // recipes): the plan, a saved plan and the apply then mean the same tree whatever the
        // working directory, and whoever reads it joins the config's directory exactly once.
        let path = match &raw.path {
            Some(p) => {
                if let Err(e) = self.dir.dir(p.get_ref()) {
                    self.path_fault(p.span(), "[sources] path", &e);
                }
                files::relative(p.get_ref())
            }
            None => PathBuf::from("."),
        };
        let parameter = project.ssm_path("sources");
        self.claim(
            "SSM parameter",
            parameter.clone(),
            raw.span.clone(),
            "[sources]".into(),
        );
        let format = raw.format.as_ref().map(|f| {
            if !SOURCE_FORMATS.contains(&f.get_ref().as_str()) {
                self.fault(
                    FaultKind::InvalidValue,
                    f.span(),
                    format!("`{}` is not a sources format", f.get_ref()),
                    "expected \"vibes\" or \"mustup\" (or \"auto\": read from the tree's files)",
                );
            }
            f.get_ref().clone()
        });
        SourcesSpec {
            path,
            delete: raw.delete.as_ref().is_some_and(|d| *d.get_ref()),
            format,
            parameter,
            manifest: None,
        }
    }

    fn compile(&mut self, raw: &RawCompile) -> CompileSpec {
        CompileSpec {
            instance_type: self.instance_type(raw.instance_type.as_ref(), DEFAULT_COMPILE_INSTANCE),
            builds_volume_gib: self.count(
                raw.builds_volume_gib.as_ref(),
                1,
                MAX_VOLUME_GIB,
                DEFAULT_BUILDS_VOLUME_GIB,
                "builds_volume_gib",
            ),
            timeout_minutes: self.count(
                raw.timeout_minutes.as_ref(),
                1,
                7 * 24 * 60,
                DEFAULT_TIMEOUT_MINUTES,
                "timeout_minutes",
            ),
        }
    }

    fn snapshots(&mut self, raw: &RawSnapshots) -> SnapshotsSpec {
        SnapshotsSpec {
            keep: self.count(
                raw.keep.as_ref(),
                1,
                i64::from(u32::MAX),
                DEFAULT_SNAPSHOT_KEEP,
                "keep",
            ),
        }
    }

    fn server(&mut self, raw: &RawServer) -> ServerSpec {
        ServerSpec {
            running: raw.running.as_ref().map(|r| *r.get_ref()).unwrap_or(true),
            instance_type: self.instance_type(raw.instance_type.as_ref(), DEFAULT_SERVER_INSTANCE),
        }
    }

    fn instance_type(&mut self, raw: Option<&Spanned<String>>, default: &str) -> String {
        let Some(t) = raw else {
            return default.to_string();
        };
        let ok = t.get_ref().split_once('.').is_some_and(|(family, size)| {
            family
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase())
                && family
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !size.is_empty()
                && size
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        });
        if !ok {
            self.fault(
                FaultKind::InvalidValue,
                t.span(),
                format!("`{}` is not an EC2 instance type", t.get_ref()),
                format!("expected FAMILY.SIZE, such as {default}"),
            );
        }
        t.get_ref().clone()
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

/// The first section that needs the main stack (the buckets, roles and launch templates).
fn main_implied_by(raw: &RawConfig) -> Option<(&'static str, Span)> {
    let mut found: Vec<(&'static str, Span)> = Vec::new();
    if let Some(s) = &raw.sources {
        found.push(("sources", s.span.clone()));
    }
    if let Some(i) = raw.images.first() {
        found.push(("images", i.name.span()));
    }
    if let Some(c) = &raw.compile {
        found.push(("compile", c.span.clone()));
    }
    if let Some(s) = &raw.server {
        found.push(("server", s.span.clone()));
    }
    found.into_iter().min_by_key(|(_, span)| span.start)
}

/// What the main stack is given without being told: the project, the network, and the key
/// pairs the worker and server launch with.
fn main_parameters(desired: &Desired, network: &Network) -> BTreeMap<String, Value> {
    let mut p = BTreeMap::new();
    p.insert("Project".to_string(), Value::literal(&desired.project.name));
    match network {
        Network::Create { .. } => {
            p.insert(
                "VpcId".into(),
                Value::Output {
                    address: Address::stack("vpc"),
                    output: "VpcId".into(),
                },
            );
            p.insert(
                "SubnetId".into(),
                Value::Output {
                    address: Address::stack("vpc"),
                    output: "PublicSubnetId".into(),
                },
            );
            p.insert(
                "WorkerSubnetId".into(),
                Value::Output {
                    address: Address::stack("vpc"),
                    output: "WorkerSubnetId".into(),
                },
            );
            p.insert(
                "AvailabilityZone".into(),
                Value::Output {
                    address: Address::stack("vpc"),
                    output: "AvailabilityZone".into(),
                },
            );
        }
        Network::Reuse(n) => {
            p.insert("VpcId".into(), Value::literal(&n.vpc_id));
            p.insert("SubnetId".into(), Value::literal(&n.subnet_id));
            p.insert(
                "AvailabilityZone".into(),
                Value::literal(&n.availability_zone),
            );
        }
        Network::Absent | Network::Broken => {}
    }
    for (key, param) in [("worker", "WorkerKeyName"), ("server", "ServerKeyName")] {
        if let Some(k) = desired.keys.get(key) {
            p.insert(param.into(), Value::literal(&k.key_name));
        }
    }
    p
}

fn looks_like_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
        && parts[0].chars().all(|c| c.is_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::looks_like_region;

    #[test]
    fn regions() {
        for ok in ["us-east-1", "eu-west-1", "ap-southeast-2", "us-gov-west-1"] {
            assert!(looks_like_region(ok), "{ok}");
        }
        for bad in ["useast1", "US-EAST-1", "us-east-", "eu-west-x"] {
            assert!(!looks_like_region(bad), "{bad}");
        }
    }
}
