//! Addresses name every resource vibes manages: `key.worker`, `profile.phone`, `stack.main`,
//! `sources`, `compile`, `server`, … They are the keys of plans, tags and `--target`.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The kind of a managed resource. The order here is the order kinds are listed in a plan
/// when the dependency graph leaves a choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A CloudFormation stack (`stack.vpc`, `stack.main`).
    Stack,
    /// An EC2 key pair, its private key in an SSM SecureString (`key.builds`).
    Key,
    /// A compile profile in SSM (`profile.phone`).
    Profile,
    /// A Packer image built by CodeBuild (`image.worker`).
    Image,
    /// The sources bucket's content (`sources`).
    Sources,
    /// An EBS volume (`volume.builds`).
    Volume,
    /// The compile run on a worker instance (`compile`).
    Compile,
    /// EBS snapshots (`snapshot.builds`).
    Snapshot,
    /// The rsync server instance (`server`).
    Server,
}

impl Kind {
    pub const ALL: [Kind; 9] = [
        Kind::Stack,
        Kind::Key,
        Kind::Profile,
        Kind::Image,
        Kind::Sources,
        Kind::Volume,
        Kind::Compile,
        Kind::Snapshot,
        Kind::Server,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Stack => "stack",
            Kind::Key => "key",
            Kind::Profile => "profile",
            Kind::Image => "image",
            Kind::Sources => "sources",
            Kind::Volume => "volume",
            Kind::Compile => "compile",
            Kind::Snapshot => "snapshot",
            Kind::Server => "server",
        }
    }

    /// Singletons have no name part: `sources`, `compile`, `server`.
    pub fn is_singleton(self) -> bool {
        matches!(self, Kind::Sources | Kind::Compile | Kind::Server)
    }

    /// Data is never deleted without an explicit opt-in (`--include-data`).
    pub fn is_data(self) -> bool {
        matches!(self, Kind::Sources | Kind::Volume | Kind::Snapshot)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `kind.name`, or just `kind` for singletons.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address {
    pub kind: Kind,
    pub name: Option<String>,
}

impl Address {
    pub fn new(kind: Kind, name: impl Into<String>) -> Self {
        Address {
            kind,
            name: Some(name.into()),
        }
    }
    pub fn singleton(kind: Kind) -> Self {
        Address { kind, name: None }
    }
    pub fn stack(name: &str) -> Self {
        Self::new(Kind::Stack, name)
    }
    pub fn key(name: &str) -> Self {
        Self::new(Kind::Key, name)
    }
    pub fn profile(name: &str) -> Self {
        Self::new(Kind::Profile, name)
    }
    pub fn image(name: &str) -> Self {
        Self::new(Kind::Image, name)
    }
    pub fn volume(name: &str) -> Self {
        Self::new(Kind::Volume, name)
    }
    pub fn snapshot(name: &str) -> Self {
        Self::new(Kind::Snapshot, name)
    }
    pub fn sources() -> Self {
        Self::singleton(Kind::Sources)
    }
    pub fn compile() -> Self {
        Self::singleton(Kind::Compile)
    }
    pub fn server() -> Self {
        Self::singleton(Kind::Server)
    }
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or(self.kind.as_str())
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{}.{}", self.kind, n),
            None => write!(f, "{}", self.kind),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not an address: expected one of stack.NAME, key.NAME, profile.NAME, image.NAME, volume.NAME, snapshot.NAME, sources, compile, server")]
pub struct BadAddress(pub String);

impl FromStr for Address {
    type Err = BadAddress;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, name) = match s.split_once('.') {
            Some((k, n)) => (k, Some(n)),
            None => (s, None),
        };
        let kind = Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == kind)
            .ok_or_else(|| BadAddress(s.to_string()))?;
        match (kind.is_singleton(), name) {
            (true, None) => Ok(Address::singleton(kind)),
            (false, Some(n)) if !n.is_empty() => Ok(Address::new(kind, n)),
            _ => Err(BadAddress(s.to_string())),
        }
    }
}

impl Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip() {
        for s in [
            "stack.vpc",
            "key.builds",
            "profile.phone",
            "sources",
            "compile",
            "server",
            "snapshot.builds",
        ] {
            let a: Address = s.parse().unwrap();
            assert_eq!(a.to_string(), s);
        }
        assert!("server.x".parse::<Address>().is_err());
        assert!("key".parse::<Address>().is_err());
        assert!("bucket.x".parse::<Address>().is_err());
    }
}
