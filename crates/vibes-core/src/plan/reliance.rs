//! What an action relies on: the observed resources a saved plan checks again before it runs.
//! The keys are made here only, one constructor per kind, so that every planner names a
//! resource the same way and the saved-plan check compares like with like. They serialize as
//! the strings saved plans have always held (`stack:NAME`, `parameter:/p/x`, …).

use crate::address::Address;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Reliance(String);

impl Reliance {
    /// A CloudFormation stack, by its name.
    pub fn stack(stack_name: &str) -> Self {
        Reliance(format!("stack:{stack_name}"))
    }
    /// An EC2 key pair, by its name.
    pub fn key_pair(key_name: &str) -> Self {
        Reliance(format!("key_pair:{key_name}"))
    }
    /// An SSM parameter, by its full name.
    pub fn parameter(name: &str) -> Self {
        Reliance(format!("parameter:{name}"))
    }
    /// The images tagged with an address.
    pub fn images(address: &Address) -> Self {
        Reliance(format!("images:{address}"))
    }
    /// The volumes tagged with an address.
    pub fn volumes(address: &Address) -> Self {
        Reliance(format!("volumes:{address}"))
    }
    /// The snapshots tagged with an address.
    pub fn snapshots(address: &Address) -> Self {
        Reliance(format!("snapshots:{address}"))
    }
    /// The instances tagged with an address (the compile's workers, the server).
    pub fn instances(address: &Address) -> Self {
        Reliance(format!("instances:{address}"))
    }
    /// The Elastic IPs tagged with an address (the server's).
    pub fn addresses(address: &Address) -> Self {
        Reliance(format!("addresses:{address}"))
    }
    /// The sources bucket's objects.
    pub fn sources_bucket() -> Self {
        Reliance("bucket:sources".into())
    }
}

impl fmt::Display for Reliance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_the_strings_saved_plans_hold() {
        assert_eq!(
            Reliance::stack("tunes-main").to_string(),
            "stack:tunes-main"
        );
        assert_eq!(
            Reliance::snapshots(&Address::snapshot("builds")).to_string(),
            "snapshots:snapshot.builds"
        );
        assert_eq!(
            Reliance::instances(&Address::compile()).to_string(),
            "instances:compile"
        );
        assert_eq!(Reliance::sources_bucket().to_string(), "bucket:sources");
        let json = serde_json::to_string(&Reliance::parameter("/tunes/sources")).unwrap();
        assert_eq!(json, "\"parameter:/tunes/sources\"");
    }
}
