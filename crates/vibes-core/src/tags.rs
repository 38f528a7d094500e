//! Ownership without a state file: every resource vibes creates carries these tags.

use crate::address::Address;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

pub const PROJECT: &str = "vibes:project";
pub const ADDRESS: &str = "vibes:address";
pub const FINGERPRINT: &str = "vibes:fingerprint";
/// On an image: the architecture vibes asked its build for (the recipe's `arch` variable). An
/// image registered for another one shows a recipe that ignores the variable.
pub const ARCH: &str = "vibes:arch";
/// The fingerprint of a resource vibes adopted as it found it (a key pair made by hand): not
/// made from a spec, so kept as it is until replaced on request (`--replace ADDR`).
pub const ADOPTED: &str = "adopted";
/// On builds snapshots: the compile fingerprint the snapshot was built from.
pub const BUILT_FROM: &str = "vibes:built-from";
/// On snapshots and volumes: the sources revision they hold.
pub const SOURCES_REVISION: &str = "vibes:sources-revision";
/// On workers and builds snapshots: the sources format vibes.toml names (`[sources] format`),
/// when it names one; the worker compiles with it.
pub const SOURCES_FORMAT: &str = "vibes:sources-format";
/// On a worker: `all` when `--replace compile` asked for every output to be encoded again; the
/// worker passes `--rebuild` to its build.
pub const REBUILD: &str = "vibes:rebuild";
/// On stacks: salted hashes of the NoEcho parameters' values ([`crate::noecho`]).
pub const NOECHO: &str = "vibes:noecho";

pub type Tags = BTreeMap<String, String>;

/// The three ownership tags.
pub fn ownership(project: &str, address: &Address, fingerprint: &str) -> Tags {
    let mut t = Tags::new();
    t.insert(PROJECT.into(), project.into());
    t.insert(ADDRESS.into(), address.to_string());
    t.insert(FINGERPRINT.into(), fingerprint.into());
    t
}

/// A stack's tags: its ownership without a fingerprint. CloudFormation copies a stack's tags
/// onto every resource of it that takes tags, so a fingerprint there would change with every
/// template or parameter edit and re-tag every resource of the stack; a stack's state is read
/// from its template and parameters instead.
/// (`Tags` in <https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html>)
pub fn stack_ownership(project: &str, address: &Address) -> Tags {
    let mut t = Tags::new();
    t.insert(PROJECT.into(), project.into());
    t.insert(ADDRESS.into(), address.to_string());
    t
}

/// A short, stable content hash (hex SHA-256, first 16 characters) used for fingerprints,
/// recipe identities and idempotency tokens.
pub fn short_hash(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    hex::encode(h.finalize())[..16].to_string()
}

/// The hash of a desired spec, through its JSON form (keys sorted: maps are BTreeMaps).
pub fn fingerprint_of<T: serde::Serialize>(spec: &T) -> String {
    let json = serde_json::to_vec(spec).expect("specs serialize");
    short_hash(&[&json])
}

/// An idempotency token from an address and fingerprint: a rerun after a crash sends the same
/// token and so never duplicates a create. Fits every API's limits (ClientToken ≤ 64 ASCII,
/// ClientRequestToken `[a-zA-Z0-9-]{1,128}`).
pub fn idempotency_token(project: &str, address: &Address, fingerprint: &str) -> String {
    format!("{}-{fingerprint}", token_name(project, address, 40))
}

/// `<project>-<address>` as a token may hold it: letters, digits and `-`, at most `max` long.
pub fn token_name(project: &str, address: &Address, max: usize) -> String {
    format!("{project}-{address}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(max)
        .collect()
}
