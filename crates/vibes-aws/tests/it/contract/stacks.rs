//! CloudFormation stacks: created with parameters and tags, an update that changes nothing
//! answered as such, waits that end where the stack settles, deletes that end in
//! `DELETE_COMPLETE` (also for a stack that never was).

use super::Subject;
use crate::support::tags;
use std::time::Duration;
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
