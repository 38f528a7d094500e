//! Values known only once something exists: stack outputs, the builds volume id, the new
//! builds snapshot id. Seeded from what was observed, updated as actions finish, read when an
//! effect resolves a [`Value::Output`].

use crate::address::{Address, Kind};
use crate::model::Value;
use crate::observed::Observed;
use crate::plan::outputs::VOLUME_ID;
use crate::tags;
use std::collections::BTreeMap;
use std::sync::RwLock;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{output} of {address} is not known: {address} has not been applied or has no output named {output}")]
pub struct Unresolved {
    pub address: Address,
    pub output: String,
}

#[derive(Debug, Default)]
pub struct Outputs {
    values: RwLock<BTreeMap<Address, BTreeMap<String, String>>>,
}

impl Outputs {
    /// What is known before anything is applied: the outputs of the project's stacks (by their
    /// `vibes:address` tag, or by the name `<project>-NAME` for stacks not tagged yet) and the
    /// ids of the project's volumes.
    pub fn seeded(project: &str, observed: &Observed) -> Self {
        let out = Outputs::default();
        let prefix = format!("{project}-");
        for s in observed.stacks.values() {
            let owner = s.tags.get(tags::PROJECT).map(String::as_str);
            if owner.is_some_and(|o| o != project) {
                continue;
            }
            let tagged = s
                .tags
                .get(tags::ADDRESS)
                .and_then(|a| a.parse::<Address>().ok())
                .filter(|a| a.kind == Kind::Stack);
            let address = tagged.or_else(|| s.stack_name.strip_prefix(&prefix).map(Address::stack));
            if let Some(address) = address {
                out.set_all(&address, s.outputs.clone());
            }
        }
        for v in observed.volumes.values() {
            if v.tags.get(tags::PROJECT).map(String::as_str) != Some(project) {
                continue;
            }
            let Some(address) = v
                .tags
                .get(tags::ADDRESS)
                .and_then(|a| a.parse::<Address>().ok())
            else {
                continue;
            };
            if address.kind == Kind::Volume && v.state.is_usable() {
                out.set(&address, VOLUME_ID, &v.volume_id);
            }
        }
        out
    }

    pub fn set(&self, address: &Address, output: &str, value: &str) {
        self.values
            .write()
            .expect("outputs lock")
            .entry(address.clone())
            .or_default()
            .insert(output.into(), value.into());
    }

    /// Replaces every output of `address` (a stack after create or update).
    pub fn set_all(&self, address: &Address, outputs: BTreeMap<String, String>) {
        self.values
            .write()
            .expect("outputs lock")
            .insert(address.clone(), outputs);
    }

    /// Forgets `address` (a deleted stack).
    pub fn clear(&self, address: &Address) {
        self.values.write().expect("outputs lock").remove(address);
    }

    pub fn get(&self, address: &Address, output: &str) -> Option<String> {
        self.values
            .read()
            .expect("outputs lock")
            .get(address)
            .and_then(|m| m.get(output))
            .cloned()
    }

    pub fn resolve(&self, value: &Value) -> Result<String, Unresolved> {
        match value {
            Value::Literal { value } => Ok(value.clone()),
            Value::Output { address, output } => {
                self.get(address, output).ok_or_else(|| Unresolved {
                    address: address.clone(),
                    output: output.clone(),
                })
            }
        }
    }

    pub fn resolve_all(
        &self,
        values: &BTreeMap<String, Value>,
    ) -> Result<BTreeMap<String, String>, Unresolved> {
        values
            .iter()
            .map(|(k, v)| Ok((k.clone(), self.resolve(v)?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observed::ObservedStack;

    fn stack(name: &str, tags: &[(&str, &str)], outputs: &[(&str, &str)]) -> ObservedStack {
        ObservedStack {
            stack_name: name.into(),
            stack_id: format!("id-{name}"),
            status: "CREATE_COMPLETE".into(),
            template_body: String::new(),
            parameters: BTreeMap::new(),
            outputs: outputs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn stack_outputs_are_found_by_tag_or_by_name() {
        let mut o = Observed::default();
        o.stacks.insert(
            "custom".into(),
            stack(
                "custom",
                &[(tags::PROJECT, "p"), (tags::ADDRESS, "stack.main")],
                &[("A", "1")],
            ),
        );
        o.stacks
            .insert("p-vpc".into(), stack("p-vpc", &[], &[("VpcId", "vpc-1")]));
        o.stacks.insert(
            "p-other".into(),
            stack("p-other", &[(tags::PROJECT, "q")], &[("X", "x")]),
        );
        let out = Outputs::seeded("p", &o);
        assert_eq!(
            out.resolve(&Value::Output {
                address: Address::stack("main"),
                output: "A".into()
            }),
            Ok("1".into())
        );
        assert_eq!(
            out.get(&Address::stack("vpc"), "VpcId").as_deref(),
            Some("vpc-1")
        );
        assert_eq!(out.get(&Address::stack("other"), "X"), None);
    }

    #[test]
    fn an_unknown_output_is_a_clear_error() {
        let out = Outputs::default();
        let e = out
            .resolve(&Value::Output {
                address: Address::stack("main"),
                output: "SourcesBucket".into(),
            })
            .unwrap_err();
        assert_eq!(e.to_string(), "SourcesBucket of stack.main is not known: stack.main has not been applied or has no output named SourcesBucket");
    }
}
