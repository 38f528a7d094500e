//! `[project]` and `[network]`: the project's name and region, and whether the main stack gets
//! a VPC made for it or reuses one the config names.

use super::Resolver;
use crate::config::error::FaultKind;
use crate::config::names;
use crate::config::raw::*;
use crate::model::*;
use toml::Spanned;

/// How the config provides a network for the main stack.
pub(super) enum Network {
    /// No [network] section.
    Absent,
    /// [network] is there but faulty (already reported).
    Broken,
    Create {
        span: Span,
    },
    Reuse(ExistingNetwork),
}

impl Resolver<'_> {
    // ---- project -------------------------------------------------------------------------

    pub(super) fn project(&mut self, raw: Option<&RawProject>) -> Project {
        let name = match raw.and_then(|p| p.name.as_ref()) {
            Some(name) => {
                if self.check_name(name, &names::PROJECT, "project") {
                    self.ssm_prefix(name);
                }
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

    /// Every parameter of the project is named `/<project>/…`, and SSM refuses a name prefixed
    /// with `aws` or `ssm` ("A parameter name can't be prefixed with "aws" or "ssm"
    /// (case-insensitive)", PutParameter): such a project would fail at its first profile.
    fn ssm_prefix(&mut self, name: &Spanned<String>) {
        let lower = name.get_ref().to_ascii_lowercase();
        if let Some(prefix) = ["aws", "ssm"].into_iter().find(|p| lower.starts_with(p)) {
            self.fault(
                FaultKind::InvalidName,
                name.span(),
                format!(
                    "`{}` is not a valid project name: SSM refuses parameter names that start with `{prefix}`, and every parameter of the project is named /{}/…",
                    name.get_ref(),
                    name.get_ref()
                ),
                format!("starts with `{prefix}`"),
            )
            .set_help("choose a name that does not start with aws or ssm, e.g. music or my-aws-music");
        }
    }

    // ---- network -------------------------------------------------------------------------

    pub(super) fn network(&mut self, raw: Option<&RawNetwork>, desired: &mut Desired) -> Network {
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
