//! `[stacks.NAME]` and the stacks the config implies: the VPC for `[network] create = true`, the
//! main stack for the sections that need it, with their templates, parameters and references.

use super::project::Network;
use super::Resolver;
use crate::address::{Address, Kind};
use crate::config::builtin;
use crate::config::error::FaultKind;
use crate::config::names;
use crate::config::raw::*;
use crate::config::refs::{self, Reference};
use crate::model::*;
use std::collections::{BTreeMap, BTreeSet};
use toml::Spanned;

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

impl Resolver<'_> {
    pub(super) fn stacks(
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
            Ok((_, body)) if body.len() > crate::bounded::TEMPLATE_BODY_LIMIT => {
                self.fault(
                    FaultKind::InvalidValue,
                    written.span(),
                    format!(
                        "the template of {what} is {} bytes; CloudFormation takes at most {} in a request",
                        body.len(),
                        crate::bounded::TEMPLATE_BODY_LIMIT
                    ),
                    "too large for TemplateBody",
                )
                .set_help("split it into nested stacks or stacks of their own under [stacks], or shorten it (comments count)");
                None
            }
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
            // Packer's build instance goes in the project's public subnet: without it, it needs
            // the region's default VPC, which an account may have deleted (or never had).
            p.insert(
                "ImageBuildSubnetId".into(),
                Value::Output {
                    address: Address::stack("vpc"),
                    output: "PublicSubnetId".into(),
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
            // The server's subnet, public: Packer reaches its build instance there over SSH.
            p.insert("ImageBuildSubnetId".into(), Value::literal(&n.subnet_id));
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
