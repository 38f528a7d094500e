//! CloudFormation stacks: created with parameters and tags, an update that changes nothing
//! answered as such, waits that end where the stack settles, deletes that end in
//! `DELETE_COMPLETE` (also for a stack that never was).

use super::Subject;
use crate::support::tags;
use std::time::Duration;
use vibes_core::cloud::prelude::*;
use vibes_core::cloud::{StackRequest, StackUpdate};
use vibes_core::tags::ADDRESS;

const WAIT: Duration = Duration::from_secs(30);

const V1: &str = r#"AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Cidr:
    Type: String
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: !Ref Cidr
Outputs:
  VpcId:
    Value: !Ref Vpc
"#;

/// V1 with one more tag on the VPC: an update that changes something.
const V2: &str = r#"AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Cidr:
    Type: String
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: !Ref Cidr
      Tags:
        - Key: Name
          Value: contract
Outputs:
  VpcId:
    Value: !Ref Vpc
"#;

fn request(template: &str, token: &str) -> StackRequest {
    StackRequest {
        stack_name: "st-vpc".into(),
        template_body: template.into(),
        parameters: [("Cidr".to_string(), "10.42.0.0/16".to_string())].into(),
        tags: tags("st", "stack.vpc"),
        token: token.into(),
    }
}

pub async fn created_updated_waited_for_and_deleted(s: &Subject) {
    let cloud = s.cloud();
    s.expect_stack_outputs("st-vpc", &[("VpcId", "vpc-0fake0contract0")]);
    cloud
        .create_stack(&request(V1, "st-vpc-create"))
        .await
        .unwrap();
    let made = cloud.wait_stack("st-vpc", WAIT).await.unwrap();
    assert_eq!(made.status.as_str(), "CREATE_COMPLETE", "{made:?}");
    assert!(made.outputs["VpcId"].starts_with("vpc-"), "{made:?}");

    let seen = cloud.observe("st", None).await.unwrap();
    let stack = &seen.stacks["st-vpc"];
    assert_eq!(stack.status.as_str(), "CREATE_COMPLETE");
    assert_eq!(stack.parameters["Cidr"], "10.42.0.0/16");
    assert_eq!(
        stack.tags.get(ADDRESS).map(String::as_str),
        Some("stack.vpc")
    );
    assert_eq!(stack.outputs, made.outputs);

    let same = cloud
        .update_stack(&request(V1, "st-vpc-update-1"))
        .await
        .unwrap();
    assert_eq!(same, StackUpdate::NoChanges);
    let unchanged = cloud.wait_stack("st-vpc", WAIT).await.unwrap();
    assert_eq!(unchanged.status.as_str(), "CREATE_COMPLETE");

    let changed = cloud
        .update_stack(&request(V2, "st-vpc-update-2"))
        .await
        .unwrap();
    assert_eq!(changed, StackUpdate::Started);
    let updated = cloud.wait_stack("st-vpc", WAIT).await.unwrap();
    assert_eq!(updated.status.as_str(), "UPDATE_COMPLETE", "{updated:?}");
    assert!(updated.succeeded());

    cloud.delete_stack("st-vpc", "st-vpc-delete").await.unwrap();
    let gone = cloud.wait_stack("st-vpc", WAIT).await.unwrap();
    assert_eq!(gone.status.as_str(), "DELETE_COMPLETE", "{gone:?}");
    assert!(!cloud
        .observe("st", None)
        .await
        .unwrap()
        .stacks
        .contains_key("st-vpc"));
    let never = cloud.wait_stack("st-never", WAIT).await.unwrap();
    assert_eq!(
        never.status.as_str(),
        "DELETE_COMPLETE",
        "a stack that never was reads as deleted"
    );
}

/// V2 with a parameter resource added: one resource more, one modified.
fn v3() -> String {
    V2.replace(
        "Outputs:",
        "  Marker:\n    Type: AWS::SSM::Parameter\n    Properties:\n      Type: String\n      Value: contract\nOutputs:",
    )
}

/// A preview lists what an update would touch and leaves the stack as it was. Whether a
/// modification replaces the resource: moto does not say (`Unknown`), the fake does, as
/// CloudFormation would for a property that updates in place (`No`).
pub async fn an_update_is_previewed_and_the_stack_left_as_it_was(s: &Subject) {
    use vibes_core::stack_changes::{ChangeAction, Replacement, StackPreviewRequest};
    let cloud = s.cloud();
    s.expect_stack_outputs("st-vpc", &[("VpcId", "vpc-0fake0contract0")]);
    cloud
        .create_stack(&request(V1, "st-vpc-create"))
        .await
        .unwrap();
    cloud.wait_stack("st-vpc", WAIT).await.unwrap();
    let preview = |template: String, cidr: Option<&str>| StackPreviewRequest {
        key: "k".into(),
        stack_name: "st-vpc".into(),
        template_body: template,
        parameters: [("Cidr".to_string(), cidr.map(str::to_string))].into(),
    };

    // A parameter known only after apply keeps its live value.
    let changes = cloud.preview_update(&preview(v3(), None)).await.unwrap();
    let added: Vec<_> = changes
        .iter()
        .filter(|c| c.action == ChangeAction::Add)
        .map(|c| (c.logical_id.as_str(), c.resource_type.as_str()))
        .collect();
    assert_eq!(added, [("Marker", "AWS::SSM::Parameter")], "{changes:?}");
    let vpc = changes
        .iter()
        .find(|c| c.logical_id == "Vpc")
        .unwrap_or_else(|| panic!("the tagged VPC is modified: {changes:?}"));
    assert_eq!(vpc.action, ChangeAction::Modify, "{changes:?}");
    let expected = if s.is_fake() {
        Replacement::No
    } else {
        Replacement::Unknown
    };
    assert_eq!(vpc.replacement, expected, "{changes:?}");

    let seen = cloud.observe("st", None).await.unwrap();
    let stack = &seen.stacks["st-vpc"];
    assert_eq!(
        stack.status.as_str(),
        "CREATE_COMPLETE",
        "the preview changed the stack"
    );
    assert_eq!(stack.template_body.trim_end(), V1.trim_end());
    // Again, with the same name and key: every preview makes its own change set, and the
    // one before was deleted.
    let again = cloud
        .preview_update(&preview(v3(), Some("10.42.0.0/16")))
        .await
        .unwrap();
    assert_eq!(again, changes);
}

/// CloudFormation takes a TemplateBody of at most 51,200 bytes; moto takes more, so the fake
/// models the limit (the config refuses such a template before any call).
pub async fn a_template_body_over_51200_bytes_is_refused(s: &Subject) {
    let cloud = s.as_fake();
    let body = format!(
        "Resources:\n  T:\n    Type: AWS::SNS::Topic\n{}",
        "#".repeat(51_200)
    );
    let req = vibes_core::cloud::StackRequest {
        stack_name: "big-main".into(),
        template_body: body,
        parameters: Default::default(),
        tags: Default::default(),
        token: "big".into(),
    };
    let refused = cloud.create_stack(&req).await.unwrap_err();
    assert!(
        refused.to_string().contains("less than or equal to 51200"),
        "{refused}"
    );
}
