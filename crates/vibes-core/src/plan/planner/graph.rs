//! The dependency graph: which address's change must be done before which, for
//! `check::assemble` to order the plan and for `--target` to pull in what a target needs.

use super::Cx;
use crate::address::{Address, Kind};

impl Cx<'_> {
    /// Does `a` depend on `b` (must `b`'s change be done before `a`'s)?
    pub(super) fn relates(&self, a: &Address, b: &Address) -> bool {
        use Kind::*;
        let named = |x: &Address, n: &str| x.name.as_deref() == Some(n);
        match (a.kind, b.kind) {
            (Stack, Stack) => {
                let declared = self
                    .desired
                    .stacks
                    .get(a.name())
                    .is_some_and(|s| s.depends_on.contains(b));
                declared || (named(a, "main") && named(b, "vpc"))
            }
            (Image, Stack) => named(b, "main"),
            (Image, Key) => named(b, "builds"),
            // The sources bucket outlives the main stack: destroy deletes it (with
            // --include-data) only once the stack, and the bucket policy in it, are gone.
            (Sources, Stack) => named(b, "main") && !self.options.destroy,
            (Stack, Sources) => named(a, "main") && self.options.destroy,
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
}
