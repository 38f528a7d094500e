//! CloudFormation stacks against a moto server: create, update (and the no-op update),
//! outputs, delete, and a wait that gives up on a stack that never settles.

use crate::support::{cloud, tags, Moto};
use std::time::{Duration, Instant};
use vibes_core::cloud::prelude::*;
use vibes_core::cloud::{CloudError, StackRequest, StackUpdate};
use vibes_core::tags::{ADDRESS, PROJECT};

const VPC_V1: &str = r#"AWSTemplateFormatVersion: "2010-09-09"
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

const VPC_V2: &str = r#"AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Cidr:
    Type: String
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: !Ref Cidr
  Subnet:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: !Ref Vpc
      CidrBlock: !Ref Cidr
Outputs:
  VpcId:
    Value: !Ref Vpc
  SubnetId:
    Value: !Ref Subnet
"#;

fn request(template: &str, token: &str) -> StackRequest {
    StackRequest {
        stack_name: "stacks-vpc".into(),
        template_body: template.into(),
        parameters: [("Cidr".to_string(), "10.42.0.0/16".to_string())].into(),
        tags: tags("stacks", "stack.vpc"),
        token: token.into(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stack_is_created_updated_and_deleted_with_its_outputs() {
    let moto = Moto::start();
    let aws = cloud(&moto).await;
    let wait = Duration::from_secs(30);

    aws.create_stack(&request(VPC_V1, "stacks-vpc-create-1"))
        .await
        .unwrap();
    let done = aws.wait_stack("stacks-vpc", wait).await.unwrap();
    assert!(done.succeeded(), "{done:?}");
    assert!(done.outputs["VpcId"].starts_with("vpc-"), "{done:?}");

    let seen = aws.observe("stacks", None).await.unwrap();
    let stack = &seen.stacks["stacks-vpc"];
    assert_eq!(
        stack.template_body.trim_end(),
        VPC_V1.trim_end(),
        "the template as submitted"
    );
    assert_eq!(stack.parameters["Cidr"], "10.42.0.0/16");
    assert_eq!(stack.tags.get(PROJECT).map(String::as_str), Some("stacks"));
    assert_eq!(
        stack.tags.get(ADDRESS).map(String::as_str),
        Some("stack.vpc")
    );
    assert_eq!(stack.outputs, done.outputs);

    let again = aws
        .create_stack(&request(VPC_V1, "stacks-vpc-create-2"))
        .await
        .unwrap_err();
    assert!(matches!(again, CloudError::AlreadyExists { .. }), "{again}");

    assert_eq!(
        aws.update_stack(&request(VPC_V2, "stacks-vpc-update-1"))
            .await
            .unwrap(),
        StackUpdate::Started
    );
    let updated = aws.wait_stack("stacks-vpc", wait).await.unwrap();
    assert!(updated.succeeded(), "{updated:?}");
    assert!(
        updated.outputs["SubnetId"].starts_with("subnet-"),
        "{updated:?}"
    );

    assert_eq!(
        aws.update_stack(&request(VPC_V2, "stacks-vpc-update-2"))
            .await
            .unwrap(),
        StackUpdate::NoChanges
    );

    aws.delete_stack("stacks-vpc", "stacks-vpc-delete-1")
        .await
        .unwrap();
    let gone = aws.wait_stack("stacks-vpc", wait).await.unwrap();
    assert_eq!(gone.status.as_str(), "DELETE_COMPLETE");
    assert!(aws.observe("stacks", None).await.unwrap().stacks.is_empty());

    let missing = aws
        .update_stack(&request(VPC_V2, "stacks-vpc-update-3"))
        .await
        .unwrap_err();
    assert!(matches!(missing, CloudError::NotFound { .. }), "{missing}");
}

#[tokio::test(flavor = "multi_thread")]
async fn untagged_stacks_with_the_seed_name_are_seen_and_others_are_not() {
    let moto = Moto::start();
    let aws = cloud(&moto).await;
    let mut hand_made = request(VPC_V1, "seed-1");
    hand_made.stack_name = "seed-main".into();
    hand_made.tags.clear();
    aws.create_stack(&hand_made).await.unwrap();
    let mut foreign = request(VPC_V1, "seed-2");
    foreign.stack_name = "someone-else".into();
    foreign.tags.clear();
    aws.create_stack(&foreign).await.unwrap();
    // Another project's stack under this project's name: seen, so the plan shows it blocked
    // with its owner instead of creating over it; its template is not read.
    let mut theirs = request(VPC_V1, "seed-3");
    theirs.stack_name = "seed-vpc".into();
    theirs.tags = tags("other", "stack.vpc");
    aws.create_stack(&theirs).await.unwrap();

    let seen = aws.observe("seed", None).await.unwrap();
    assert_eq!(
        seen.stacks.keys().collect::<Vec<_>>(),
        ["seed-main", "seed-vpc"]
    );
    assert!(seen.stacks["seed-main"].tags.is_empty());
    assert!(!seen.stacks["seed-main"].template_body.is_empty());
    assert_eq!(
        seen.stacks["seed-vpc"]
            .tags
            .get(PROJECT)
            .map(String::as_str),
        Some("other")
    );
    assert!(seen.stacks["seed-vpc"].template_body.is_empty());
}

/// moto reports a failing resource as the CreateStack error and then leaves the stack
/// `CREATE_IN_PROGRESS` for good (AWS would roll back): exactly the case the deadline is for.
#[tokio::test(flavor = "multi_thread")]
async fn waiting_on_a_stack_that_never_settles_gives_up_at_the_deadline() {
    let moto = Moto::start();
    let aws = cloud(&moto).await;
    let broken = r#"Resources:
  Subnet:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: vpc-00000000000000000
      CidrBlock: 10.0.0.0/24
"#;
    let mut req = request(broken, "stuck-1");
    req.stack_name = "stuck-vpc".into();
    req.parameters.clear();
    req.tags = tags("stuck", "stack.vpc");
    let created = aws.create_stack(&req).await;
    let status = aws
        .observe("stuck", None)
        .await
        .unwrap()
        .stacks
        .get("stuck-vpc")
        .map(|s| s.status.to_string());
    assert_eq!(
        status.as_deref(),
        Some("CREATE_IN_PROGRESS"),
        "create said {created:?}"
    );

    let started = Instant::now();
    let err = aws
        .wait_stack("stuck-vpc", Duration::from_secs(3))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(err, CloudError::Timeout { seconds: 3, .. }),
        "{err}"
    );
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_secs(6),
        "{took:?}"
    );
}
