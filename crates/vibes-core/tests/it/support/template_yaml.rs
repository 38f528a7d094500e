//! Reading CloudFormation templates as YAML: their short forms (`!Sub`, `!Ref`, `!If`) come
//! through as tagged values.

use serde_yaml_ng::Value;

/// Every string inside a value, through tags (`!Sub "…"`, `!If [c, a, b]`), sequences and maps.
pub fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Sequence(s) => s.iter().flat_map(strings).collect(),
        Value::Mapping(m) => m.values().flat_map(strings).collect(),
        Value::Tagged(t) => strings(&t.value),
        _ => Vec::new(),
    }
}
