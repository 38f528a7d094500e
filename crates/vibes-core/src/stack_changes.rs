//! What a stack update would touch, as CloudFormation lists it in a change set: the plan makes
//! one for each `~ stack.NAME` (and deletes it again), so that the plan can list the resources
//! the update adds, modifies, replaces or removes, and block one that would replace or remove
//! a resource holding data.
//!
//! The planner stays pure: the workspace makes the change sets after a first plan names the
//! updates, keeps what they said in [`crate::Observed::stack_changes`], and plans again.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What CloudFormation would do to one resource (a change set's `ResourceChange`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceChange {
    pub logical_id: String,
    /// e.g. `AWS::S3::Bucket`.
    pub resource_type: String,
    pub action: ChangeAction,
    pub replacement: Replacement,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChangeAction {
    Add,
    Modify,
    Remove,
    Import,
    Dynamic,
}

/// Whether a `Modify` recreates the resource. CloudFormation says `True`, `False` or
/// `Conditional` (it depends on a value known only during the update).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Replacement {
    No,
    Yes,
    Conditional,
    /// The service did not say (an emulator that lists changes without replacement).
    Unknown,
}

/// A stack update's changes as a change set listed them, or why none could be made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackChanges {
    /// [`update_key`] of the update previewed: changes of another update, or of the same
    /// update of a stack that has moved since, are not these.
    pub key: String,
    pub outcome: Previewed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Previewed {
    Changes(Vec<ResourceChange>),
    /// CloudFormation could not make the change set (the reason it gave).
    Unavailable(String),
}

/// Resource types whose replacement or removal loses data: a new one starts empty.
pub const DATA_HOLDING: [&str; 8] = [
    "AWS::S3::Bucket",
    "AWS::EC2::Volume",
    "AWS::EFS::FileSystem",
    "AWS::DynamoDB::Table",
    "AWS::RDS::DBInstance",
    "AWS::RDS::DBCluster",
    "AWS::ECR::Repository",
    "AWS::Logs::LogGroup",
];

impl ResourceChange {
    /// Whether the change recreates or removes the resource (or may: `Conditional`).
    pub fn loses_the_resource(&self) -> bool {
        match self.action {
            ChangeAction::Remove => true,
            ChangeAction::Modify | ChangeAction::Dynamic => {
                matches!(
                    self.replacement,
                    Replacement::Yes | Replacement::Conditional
                )
            }
            ChangeAction::Add | ChangeAction::Import => false,
        }
    }

    /// Whether applying the change loses data the resource holds.
    pub fn loses_data(&self) -> bool {
        self.loses_the_resource() && DATA_HOLDING.contains(&self.resource_type.as_str())
    }

    /// One line of the plan: `+ Bucket (AWS::S3::Bucket)`, `-/+ …` for a replacement.
    pub fn line(&self) -> String {
        let sign = match (self.action, self.replacement) {
            (ChangeAction::Add, _) => "+",
            (ChangeAction::Remove, _) => "-",
            (ChangeAction::Import, _) => "<=",
            (_, Replacement::Yes) => "-/+",
            (_, Replacement::Conditional) => "-/+?",
            _ => "~",
        };
        let what = match (self.action, self.replacement) {
            (ChangeAction::Add, _) => "add",
            (ChangeAction::Remove, _) => "remove",
            (ChangeAction::Import, _) => "import",
            (_, Replacement::Yes) => "replace",
            (_, Replacement::Conditional) => "may replace",
            _ => "modify",
        };
        format!(
            "{sign} {} ({}): {what}",
            self.logical_id, self.resource_type
        )
    }
}

/// A stack update the plan would like a change set of ([`crate::stack_changes`]).
#[derive(Debug, Clone, PartialEq)]
pub struct StackPreviewRequest {
    /// [`update_key`] of the update.
    pub key: String,
    pub stack_name: String,
    pub template_body: String,
    /// `None`: known only after apply; the change set keeps the live value.
    pub parameters: BTreeMap<String, Option<String>>,
}

/// A resource of a template, as far as losing data goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateResource {
    pub logical_id: String,
    pub resource_type: String,
    /// `DeletionPolicy: Retain` (or `RetainExceptOnCreate`): removed from the stack, the
    /// resource is kept, with its data.
    pub retained_on_delete: bool,
}

impl TemplateResource {
    pub fn holds_data(&self) -> bool {
        DATA_HOLDING.contains(&self.resource_type.as_str())
    }
}

/// The resources a template declares (none when it does not parse).
pub fn template_resources(template: &str) -> Vec<TemplateResource> {
    use serde_yaml_ng::Value;
    let Ok(doc) = serde_yaml_ng::from_str::<Value>(template) else {
        return Vec::new();
    };
    let Some(Value::Mapping(resources)) = doc.get("Resources") else {
        return Vec::new();
    };
    resources
        .iter()
        .filter_map(|(k, r)| {
            Some(TemplateResource {
                logical_id: k.as_str()?.to_string(),
                resource_type: r.get("Type")?.as_str()?.to_string(),
                retained_on_delete: matches!(
                    r.get("DeletionPolicy").and_then(Value::as_str),
                    Some("Retain" | "RetainExceptOnCreate")
                ),
            })
        })
        .collect()
}

/// What identifies one update: the stack as it was seen (`live`, a fingerprint of it), and the
/// template and parameter values it is given (`None`: the live value is kept, a value known
/// only after apply). A listing with this key holds while none of these moved.
pub fn update_key(
    live: &str,
    template_body: &str,
    parameters: &BTreeMap<String, Option<String>>,
) -> String {
    crate::tags::fingerprint_of(&(live, template_body, parameters))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(action: ChangeAction, replacement: Replacement, kind: &str) -> ResourceChange {
        ResourceChange {
            logical_id: "R".into(),
            resource_type: kind.into(),
            action,
            replacement,
        }
    }

    #[test]
    fn only_a_replaced_or_removed_data_holder_loses_data() {
        use ChangeAction::*;
        use Replacement::*;
        let bucket = "AWS::S3::Bucket";
        assert!(change(Remove, Unknown, bucket).loses_data());
        assert!(change(Modify, Yes, bucket).loses_data());
        assert!(change(Modify, Conditional, bucket).loses_data());
        assert!(!change(Modify, No, bucket).loses_data());
        assert!(!change(Add, Unknown, bucket).loses_data());
        assert!(!change(Remove, Unknown, "AWS::EC2::LaunchTemplate").loses_data());
        assert_eq!(
            change(Modify, Yes, bucket).line(),
            "-/+ R (AWS::S3::Bucket): replace"
        );
    }
}
