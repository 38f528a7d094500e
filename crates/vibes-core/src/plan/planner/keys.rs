//! Key pairs, and the SecureStrings that hold the private keys vibes generates.
//!
//! A key pair cannot be compared with the config (EC2 keeps no private key, and a hand-made
//! key's public half is whatever its maker chose), so a key pair made by hand is adopted as it
//! is, whether or not its private key is in SSM, and tagged `vibes:fingerprint=adopted`: vibes
//! keeps it until `--replace key.NAME`. A private key in SSM that vibes did not write is never
//! overwritten unasked, and another project's never.

use super::{action, seen, Cx};
use crate::address::{Address, Kind};
use crate::model::KeySpec;
use crate::plan::action::{Action, Attribute, Effect, Op};
use crate::plan::ownership::{self, standing, Standing, Thing};
use crate::plan::reliance::Reliance;
use crate::tags::{self, fingerprint_of};

/// Where a generated key's private key is, as the plan shows it.
const NOT_HELD: &str = "not held by vibes";

impl Cx<'_> {
    pub(super) fn plan_keys(&self) -> Vec<Action> {
        let mut out: Vec<Action> = self
            .desired
            .keys
            .iter()
            .filter_map(|(name, spec)| self.plan_key(name, spec))
            .collect();
        out.extend(self.keys_no_longer_named());
        out
    }

    fn plan_key(&self, name: &str, spec: &KeySpec) -> Option<Action> {
        let address = Address::key(name);
        let generated = spec.public_key.is_none();
        let fp = match &spec.public_key {
            Some(pk) => fingerprint_of(&("import", pk.trim())),
            None => fingerprint_of(&("generate",)),
        };
        let pair = self.observed.key_pairs.get(&spec.key_name);
        let private = self.observed.parameters.get(&spec.private_key_path);
        // Asked here without counting as used: it counts where it changes the action.
        let replace = self.replace_asked(&address);
        let pair_fp = pair.and_then(|p| p.tags.get(tags::FINGERPRINT));
        let adopted = pair_fp.map(String::as_str) == Some(tags::ADOPTED);
        let pair_thing = Thing {
            what: "key pair",
            name: &spec.key_name,
        };
        let private_thing = Thing {
            what: "SecureString",
            name: &spec.private_key_path,
        };
        let pair_st = standing(self.project, &address, pair.map(|p| &p.tags), || {
            adopted || pair_fp == Some(&fp)
        });
        // Only a generated key keeps its private key in SSM; an imported one has none there.
        let private_st = if generated {
            standing(self.project, &address, private.map(|p| &p.tags), || true)
        } else {
            Standing::Missing
        };
        // Whether making the key may overwrite what is at its private key's path.
        let overwrite = match private_st {
            Standing::Missing => Ok(false),
            Standing::InSync | Standing::Drifted => Ok(true),
            Standing::Untagged { .. } if replace => Ok(true),
            Standing::Untagged { .. } => Err(format!(
                "a SecureString that vibes did not write is at {path}, where the new key's private key would go, and vibes never overwrites a secret it did not write: \
                 if it is not needed, delete it (aws ssm delete-parameter --name {path}); if it is the private key of a key pair made by hand, \
                 make that key pair {key} again; or pass --replace {address} to overwrite it",
                path = spec.private_key_path,
                key = spec.key_name,
            )),
            Standing::Foreign { owner } => Err(ownership::foreign(private_thing, owner)),
            Standing::Misaddressed { tagged } => {
                Err(ownership::misaddressed(private_thing, tagged, &address))
            }
        };
        let tags = self.tags(&address, &fp);
        let create = |overwrite: bool| match &spec.public_key {
            Some(pk) => Effect::ImportKeyPair {
                key_name: spec.key_name.clone(),
                public_key: pk.trim().to_string(),
                tags: tags.clone(),
            },
            None => Effect::CreateKeyPair {
                key_name: spec.key_name.clone(),
                private_key_parameter: spec.private_key_path.clone(),
                tags: tags.clone(),
                overwrite,
            },
        };
        // Makes the key (anew, when `delete`), unless its private key's path is not vibes' to write.
        let make = |op: Op, reason: String, delete: bool| match &overwrite {
            Err(why) => action(address.clone(), Op::Blocked, why.clone()),
            Ok(overwrite) => {
                let mut a = action(address.clone(), op, reason);
                if delete {
                    a.effects.push(Effect::DeleteKeyPair {
                        key_name: spec.key_name.clone(),
                    });
                }
                a.effects.push(create(*overwrite));
                a
            }
        };
        let mut a = match pair_st {
            Standing::Foreign { owner } => action(
                address.clone(),
                Op::Blocked,
                ownership::foreign(pair_thing, owner),
            ),
            Standing::Misaddressed { tagged } => action(
                address.clone(),
                Op::Blocked,
                ownership::misaddressed(pair_thing, tagged, &address),
            ),
            // Another project's private key blocks whatever vibes would do with it, tagging included.
            _ if matches!(
                private_st,
                Standing::Foreign { .. } | Standing::Misaddressed { .. }
            ) =>
            {
                action(
                    address.clone(),
                    Op::Blocked,
                    overwrite.clone().err().unwrap_or_default(),
                )
            }
            Standing::Missing => {
                let reason = match private_st {
                    Standing::InSync | Standing::Drifted => format!(
                        "not found (the private key vibes left at {} without its key pair is replaced)",
                        spec.private_key_path
                    ),
                    Standing::Untagged { .. } if self.replace_requested(&address) => format!(
                        "not found; --replace {address}: the SecureString at {}, not written by vibes, is overwritten",
                        spec.private_key_path
                    ),
                    _ => "not found".to_string(),
                };
                make(Op::Create, reason, false)
            }
            _ if self.replace_requested(&address) => make(
                Op::Replace,
                format!(
                    "--replace {address}: key pair {} is deleted and a new one made",
                    spec.key_name
                ),
                true,
            ),
            Standing::Untagged { .. } => {
                let mut a = action(
                    address.clone(),
                    Op::Adopt,
                    format!(
                        "key pair {} exists without vibes tags: it is tagged and kept as it is (--replace {address} makes a new one)",
                        spec.key_name
                    ),
                );
                // Its fingerprint says vibes did not make it: later plans keep it as it is.
                let adopted_tags = self.tags(&address, tags::ADOPTED);
                a.effects.push(Effect::TagKeyPair {
                    key_name: spec.key_name.clone(),
                    tags: adopted_tags.clone(),
                });
                if matches!(private_st, Standing::Untagged { .. }) {
                    a.effects.push(Effect::TagParameter {
                        name: spec.private_key_path.clone(),
                        tags: adopted_tags,
                    });
                }
                a
            }
            // Adopted before: kept as made, whatever the config now says of it.
            _ if adopted => return None,
            _ if generated && private_st == Standing::Missing => make(
                Op::Replace,
                format!(
                    "its private key is not in SSM at {}: a new key pair is made",
                    spec.private_key_path
                ),
                true,
            ),
            Standing::Drifted => make(
                Op::Replace,
                if generated {
                    "the config now asks for a generated key instead of an imported one".into()
                } else {
                    "the public key to import changed".into()
                },
                true,
            ),
            Standing::InSync if matches!(private_st, Standing::Untagged { .. }) => {
                let mut a = action(
                    address.clone(),
                    Op::Adopt,
                    format!(
                        "its private key {} has no vibes tags: it is tagged",
                        spec.private_key_path
                    ),
                );
                a.effects.push(Effect::TagParameter {
                    name: spec.private_key_path.clone(),
                    tags: tags.clone(),
                });
                a
            }
            Standing::InSync => return None,
        };
        a.attributes
            .insert(0, Attribute::new("key_name", &spec.key_name));
        if a.op != Op::Blocked {
            self.show_private_key(&mut a, spec, generated, private.is_some());
        }
        a.relies_on
            .insert(Reliance::key_pair(&spec.key_name), seen(pair));
        a.relies_on
            .insert(Reliance::parameter(&spec.private_key_path), seen(private));
        Some(a)
    }

    /// Where the key's private half is once the action is done: in SSM (vibes made it, or it
    /// was there when the key pair was adopted), or not held by vibes.
    fn show_private_key(&self, a: &mut Action, spec: &KeySpec, generated: bool, in_ssm: bool) {
        let makes = a.effects.iter().any(|e| {
            matches!(
                e,
                Effect::CreateKeyPair { .. } | Effect::ImportKeyPair { .. }
            )
        });
        if generated && (makes || in_ssm) {
            a.attributes.push(Attribute::new(
                "private_key",
                format!("SSM SecureString {}", spec.private_key_path),
            ));
            a.attributes.push(Attribute::sensitive("private_key_value"));
        } else if makes {
            a.attributes
                .push(Attribute::new("public_key", "imported from the config"));
        } else {
            a.attributes.push(Attribute::new("private_key", NOT_HELD));
        }
    }

    /// Key pairs of this project that the config no longer names: deleted with their private
    /// key, when they carry vibes' name; a key pair with vibes' tags under another name is noted.
    fn keys_no_longer_named(&self) -> Vec<Action> {
        let mut out = Vec::new();
        for p in self.observed.key_pairs.values() {
            let thing = Thing {
                what: "key pair",
                name: &p.key_name,
            };
            let Some(address) = self.ours_by_name(Kind::Key, thing, &p.tags, |a| {
                self.desired.project.aws_name(a.name())
            }) else {
                continue;
            };
            if self.desired.keys.contains_key(address.name()) {
                continue;
            }
            let reason = if p.tags.get(tags::FINGERPRINT).map(String::as_str) == Some(tags::ADOPTED)
            {
                "no longer in the config (it was made by hand and adopted)"
            } else {
                "no longer in the config"
            };
            let mut a = action(address.clone(), Op::Delete, reason);
            a.attributes.push(Attribute::new("key_name", &p.key_name));
            a.effects.push(Effect::DeleteKeyPair {
                key_name: p.key_name.clone(),
            });
            let param = self
                .desired
                .project
                .ssm_path(&format!("ec2/keys/{}", address.name()));
            if let Some(pp) = self
                .observed
                .parameters
                .get(&param)
                .filter(|pp| self.ours(&pp.tags))
            {
                a.effects.push(Effect::DeleteParameter {
                    name: pp.name.clone(),
                });
                a.attributes.push(Attribute::new(
                    "private_key",
                    format!("SSM SecureString {param} is deleted"),
                ));
            }
            a.relies_on
                .insert(Reliance::key_pair(&p.key_name), seen(Some(p)));
            out.push(a);
        }
        out
    }
}
