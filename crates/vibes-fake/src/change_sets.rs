//! The fake's change sets: the resources an update would add, modify, replace or remove,
//! from the live and the new template, as CloudFormation's DescribeChangeSet lists them
//! (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-changesets.html).
//!
//! moto lists added, modified and removed resources but never says whether a modification
//! replaces one; the fake does, for the properties whose reference page says
//! "Update requires: Replacement" ([`REPLACED_BY`]). A property that takes a parameter
//! (`!Ref Name`) is compared by the parameter's value, old and new.

use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use vibes_core::stack_changes::{ChangeAction, Replacement, ResourceChange};

/// (resource type, property) pairs whose change replaces the resource, from each type's
/// page in the CloudFormation template reference, e.g.
/// https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-s3-bucket.html#cfn-s3-bucket-bucketname
const REPLACED_BY: [(&str, &str); 5] = [
    ("AWS::S3::Bucket", "BucketName"),
    ("AWS::DynamoDB::Table", "TableName"),
    ("AWS::EC2::LaunchTemplate", "LaunchTemplateName"),
    ("AWS::IAM::Role", "RoleName"),
    ("AWS::SSM::Parameter", "Name"),
];

/// A template's resources by logical id, with parameter references replaced by their values.
fn resources(template: &str, parameters: &BTreeMap<String, String>) -> BTreeMap<String, Value> {
    let Ok(doc) = serde_yaml_ng::from_str::<Value>(template) else {
        return BTreeMap::new();
    };
    let Some(Value::Mapping(map)) = doc.get("Resources") else {
        return BTreeMap::new();
    };
    map.iter()
        .filter_map(|(k, v)| Some((k.as_str()?.to_string(), resolved(v, parameters))))
        .collect()
}

/// `v` with `!Ref P` and `{Ref: P}` of a parameter P replaced by P's value.
fn resolved(v: &Value, parameters: &BTreeMap<String, String>) -> Value {
    let referenced = |name: &Value| {
        name.as_str()
            .and_then(|n| parameters.get(n))
            .map(|value| Value::String(value.clone()))
    };
    match v {
        Value::Tagged(t) if t.tag == "Ref" => referenced(&t.value).unwrap_or_else(|| v.clone()),
        Value::Mapping(m) if m.len() == 1 && m.get("Ref").is_some() => {
            referenced(&m["Ref"]).unwrap_or_else(|| v.clone())
        }
        Value::Mapping(m) => Value::Mapping(
            m.iter()
                .map(|(k, v)| (k.clone(), resolved(v, parameters)))
                .collect(),
        ),
        Value::Sequence(s) => Value::Sequence(s.iter().map(|v| resolved(v, parameters)).collect()),
        Value::Tagged(t) => {
            let mut t = t.clone();
            t.value = resolved(&t.value, parameters);
            Value::Tagged(t)
        }
        other => other.clone(),
    }
}

fn kind(resource: &Value) -> String {
    resource
        .get("Type")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string()
}

/// The changes from the live template and parameters to the new ones.
pub(super) fn changes(
    live: (&str, &BTreeMap<String, String>),
    new: (&str, &BTreeMap<String, String>),
) -> Vec<ResourceChange> {
    let (before, after) = (resources(live.0, live.1), resources(new.0, new.1));
    let mut out = Vec::new();
    for (id, r) in &after {
        let change = |action, replacement| ResourceChange {
            logical_id: id.clone(),
            resource_type: kind(r),
            action,
            replacement,
        };
        match before.get(id) {
            None => out.push(change(ChangeAction::Add, Replacement::No)),
            Some(old) if old == r => {}
            Some(old) => {
                let property =
                    |res: &Value, p: &str| res.get("Properties").and_then(|x| x.get(p)).cloned();
                let replaced = kind(old) != kind(r)
                    || REPLACED_BY
                        .iter()
                        .filter(|(t, _)| *t == kind(r))
                        .any(|(_, p)| property(old, p) != property(r, p));
                let replacement = if replaced {
                    Replacement::Yes
                } else {
                    Replacement::No
                };
                out.push(change(ChangeAction::Modify, replacement));
            }
        }
    }
    for (id, r) in &before {
        if !after.contains_key(id) {
            out.push(ResourceChange {
                logical_id: id.clone(),
                resource_type: kind(r),
                action: ChangeAction::Remove,
                replacement: Replacement::No,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIVE: &str = "Parameters:\n  Name: {Type: String}\nResources:\n  Bucket:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: !Ref Name\n  Topic:\n    Type: AWS::SNS::Topic\n";

    #[test]
    fn a_renamed_bucket_is_replaced_an_added_resource_added_a_dropped_one_removed() {
        let p = |v: &str| BTreeMap::from([("Name".to_string(), v.to_string())]);
        let new = LIVE.replace(
            "  Topic:\n    Type: AWS::SNS::Topic\n",
            "  Queue:\n    Type: AWS::SQS::Queue\n",
        );
        let lines: Vec<String> = changes((LIVE, &p("a")), (&new, &p("b")))
            .iter()
            .map(ResourceChange::line)
            .collect();
        assert_eq!(
            lines,
            [
                "-/+ Bucket (AWS::S3::Bucket): replace",
                "+ Queue (AWS::SQS::Queue): add",
                "- Topic (AWS::SNS::Topic): remove"
            ]
        );
        assert!(changes((LIVE, &p("a")), (LIVE, &p("a"))).is_empty());
    }
}
