//! The availability zone of the network vibes makes. Not every zone offers every instance type
//! (DescribeInstanceTypeOfferings), and the builds volume attaches only to an instance of its own
//! zone: the network goes where both the worker's and the server's types run. Chosen once, when
//! the vpc stack is made; afterwards its live value is kept, since changing a subnet's zone
//! replaces the subnet and everything in it.

use super::stack_reads::declares;
use super::Cx;
use crate::model::{StackSpec, Value, VPC_STACK};
use std::borrow::Cow;

/// The vpc stack's parameter (cfn/vpc.yaml; empty: the region's first zone).
pub(super) const ZONE_PARAMETER: &str = "AvailabilityZone";

impl Cx<'_> {
    /// The spec as applied: the built-in vpc stack with its zone, or why it cannot be made.
    pub(super) fn with_zone<'s>(
        &self,
        name: &str,
        spec: Cow<'s, StackSpec>,
    ) -> Result<Cow<'s, StackSpec>, String> {
        if name != VPC_STACK
            || !spec.template_built_in
            || spec.parameters.contains_key(ZONE_PARAMETER)
            || !declares(&spec.template_body, ZONE_PARAMETER)
        {
            return Ok(spec);
        }
        let zone = match self.observed.stacks.get(&spec.stack_name) {
            // Kept as it is; a stack made before the parameter existed keeps its default.
            Some(live) => live.parameters.get(ZONE_PARAMETER).cloned(),
            None => match &self.observed.zones {
                // Not read (no instance type to serve): the template's default.
                None => None,
                Some(offer) => match offer.zones.first() {
                    Some(zone) => Some(zone.clone()),
                    None => {
                        return Err(format!(
                            "no availability zone of the region offers {}: choose instance types that share a zone ([compile] instance_type, [server] instance_type)",
                            offer.instance_types.join(" and ")
                        ))
                    }
                },
            },
        };
        Ok(match zone {
            Some(zone) => {
                let mut spec = spec.into_owned();
                spec.parameters
                    .insert(ZONE_PARAMETER.into(), Value::literal(&zone));
                Cow::Owned(spec)
            }
            None => spec,
        })
    }
}
