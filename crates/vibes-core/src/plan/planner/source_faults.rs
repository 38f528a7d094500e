//! Faults in the sources tree, found before anything is paid for: the workspace reads the tree
//! with the compile engine's own reader, and a fault that would leave tracks out of the compile
//! blocks it, so that no worker is launched for a typo.

use super::{action, Cx};
use crate::address::Address;
use crate::plan::action::{Action, Attribute, Op};

/// How many faults the reason names; the action's attributes (and the JSON) hold them all.
const NAMED: usize = 3;

impl Cx<'_> {
    /// The compile blocked by the tree's faults, if it has any.
    pub(super) fn blocked_by_source_faults(&self, address: &Address) -> Option<Action> {
        let faults = &self.desired.sources.as_ref()?.faults;
        if faults.is_empty() {
            return None;
        }
        let named: Vec<&str> = faults
            .iter()
            .take(NAMED)
            .map(|f| f.fault.as_str())
            .collect();
        let more = match faults.len().saturating_sub(NAMED) {
            0 => String::new(),
            n => format!("; and {n} more (each in the plan's attributes and JSON)"),
        };
        let mut a = action(
            address.clone(),
            Op::Blocked,
            format!(
                "the sources have {} that would leave tracks out of the compile: {}{more}; fix {}, or see what vibes build makes of the tree without them",
                super::plural(faults.len(), "fault", "faults"),
                named.join("; "),
                if faults.len() == 1 { "it" } else { "them" },
            ),
        );
        for f in faults {
            a.attributes
                .push(Attribute::new(&format!("fault in {}", f.source), &f.fault));
        }
        Some(a)
    }
}
