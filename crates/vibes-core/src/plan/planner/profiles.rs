//! Profiles: the encoder settings the worker reads, each a plain String parameter under
//! `/<project>/profiles/`; whose a parameter is, is decided in `ownership`.

use super::{action, seen, Cx};
use crate::address::{Address, Kind};
use crate::model::Value;
use crate::plan::action::{Action, Attribute, Effect, Op, TextChange};
use crate::plan::ownership::{self as owner, standing, Standing, Thing};
use crate::plan::reliance::Reliance;
use crate::tags::fingerprint_of;

impl Cx<'_> {
    pub(super) fn plan_profiles(&self) -> Vec<Action> {
        let mut out = Vec::new();
        for (name, spec) in &self.desired.profiles {
            let address = Address::profile(name);
            let fp = fingerprint_of(&spec.text);
            let tags = self.tags(&address, &fp);
            let seen_p = self.observed.parameters.get(&spec.parameter);
            let thing = Thing {
                what: "parameter",
                name: &spec.parameter,
            };
            let same = seen_p.is_some_and(|p| p.value.as_deref() == Some(spec.text.as_str()));
            let put = Effect::PutParameter {
                name: spec.parameter.clone(),
                value: Value::literal(&spec.text),
                tags: tags.clone(),
            };
            let text_change = || TextChange {
                label: "value".into(),
                before: seen_p.and_then(|p| p.value.clone()),
                after: Some(spec.text.clone()),
            };
            let st = standing(self.project, &address, seen_p.map(|p| &p.tags), || same);
            let mut a = match st {
                Standing::Missing => {
                    let mut a = action(address.clone(), Op::Create, "not found");
                    a.changes.push(text_change());
                    a.effects.push(put);
                    a
                }
                Standing::Foreign { owner } => {
                    action(address.clone(), Op::Blocked, owner::foreign(thing, owner))
                }
                Standing::Misaddressed { tagged } => action(
                    address.clone(),
                    Op::Blocked,
                    owner::misaddressed(thing, tagged, &address),
                ),
                _ if seen_p.is_some_and(|p| p.secure) => action(
                    address.clone(),
                    Op::Blocked,
                    format!("parameter {} is a SecureString; profiles are plain String parameters: delete it or rename the profile", spec.parameter),
                ),
                Standing::InSync => continue,
                Standing::Drifted => {
                    let mut a = action(address.clone(), Op::Update, "profile text changed");
                    a.changes.push(text_change());
                    a.effects.push(put);
                    a
                }
                Standing::Untagged { same: true } => {
                    let mut a = action(address.clone(), Op::Adopt, format!("parameter {} exists without vibes tags: it is tagged", spec.parameter));
                    // PutParameter cannot change tags of an existing parameter: tag separately.
                    a.effects.push(Effect::TagParameter { name: spec.parameter.clone(), tags });
                    a
                }
                Standing::Untagged { same: false } => {
                    let mut a = if self.replace_requested(&address) {
                        let mut a = action(address.clone(), Op::Adopt, format!("parameter {} exists without vibes tags; --replace {address}: it is tagged and its text is replaced", spec.parameter));
                        a.effects.push(put);
                        a.effects.push(Effect::TagParameter { name: spec.parameter.clone(), tags });
                        a
                    } else {
                        action(address.clone(), Op::Blocked, owner::differs(thing, "its text", &address))
                    };
                    a.changes.push(text_change());
                    a
                }
            };
            a.attributes
                .insert(0, Attribute::new("parameter", &spec.parameter));
            if a.op != Op::Blocked {
                a.attributes
                    .insert(1, Attribute::new("encoder", &spec.encoder));
            }
            a.relies_on
                .insert(Reliance::parameter(&spec.parameter), seen(seen_p));
            out.push(a);
        }
        for p in self.observed.parameters.values() {
            let thing = Thing {
                what: "parameter",
                name: &p.name,
            };
            let Some(address) = self.ours_by_name(Kind::Profile, thing, &p.tags, |a| {
                self.desired
                    .project
                    .ssm_path(&format!("profiles/{}", a.name()))
            }) else {
                continue;
            };
            if self.desired.profiles.contains_key(address.name()) {
                continue;
            }
            let mut a = action(address, Op::Delete, "no longer in the config");
            a.attributes.push(Attribute::new("parameter", &p.name));
            a.changes.push(TextChange {
                label: "value".into(),
                before: p.value.clone(),
                after: None,
            });
            a.effects.push(Effect::DeleteParameter {
                name: p.name.clone(),
            });
            a.relies_on
                .insert(Reliance::parameter(&p.name), seen(Some(p)));
            out.push(a);
        }
        out
    }
}
