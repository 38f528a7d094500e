//! What the stack planner reads of a live stack and of a template besides their diff: the
//! buckets a stack's delete must empty, a parameter's default, whether a parameter is declared.

use super::outputs;
use crate::observed::ObservedStack;

/// The buckets of a stack that vibes itself fills, so that the stack's delete must empty them
/// first: the artifacts bucket, where image builds read their recipes from. (The sources
/// bucket is the user's data and its DeletionPolicy keeps it when the stack goes.)
pub(super) fn filled_buckets(s: &ObservedStack) -> Vec<String> {
    s.outputs
        .get(outputs::ARTIFACTS_BUCKET)
        .filter(|b| !b.is_empty())
        .cloned()
        .into_iter()
        .collect()
}

/// The `Default` a template gives its parameter `name`, as a string.
pub(super) fn parameter_default(template_body: &str, name: &str) -> Option<String> {
    let t: serde_yaml_ng::Value = serde_yaml_ng::from_str(template_body).ok()?;
    match t.get("Parameters")?.get(name)?.get("Default")? {
        serde_yaml_ng::Value::String(s) => Some(s.clone()),
        serde_yaml_ng::Value::Number(n) => Some(n.to_string()),
        serde_yaml_ng::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Whether a template declares the parameter `name`.
pub(super) fn declares(template_body: &str, name: &str) -> bool {
    serde_yaml_ng::from_str::<serde_yaml_ng::Value>(template_body)
        .ok()
        .and_then(|t| t.get("Parameters").map(|p| p.get(name).is_some()))
        .unwrap_or(false)
}
