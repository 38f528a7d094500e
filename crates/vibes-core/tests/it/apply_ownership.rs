//! Ownership through observe and apply, on the fake cloud: what another project holds under
//! vibes' names is seen (not mistaken for "not found") and left alone, and a secret that turns
//! up between plan and apply is not overwritten.

use crate::support::apply::*;
use std::sync::Arc;
use vibes_core::cloud::prelude::*;
use vibes_core::cloud::StackRequest;
use vibes_core::model::*;
use vibes_core::plan::Op;
use vibes_core::tags::{self, Tags};
use vibes_core::{Address, Desired, Secret};
use vibes_fake::FakeCloud;

fn other_project(address: &str) -> Tags {
    tags::ownership("other", &address.parse().unwrap(), "0123456789abcdef")
}

fn one_key(name: &str) -> Desired {
    let mut d = Desired::empty(PROJECT);
    d.keys.insert(
        name.into(),
        KeySpec {
            key_name: format!("{PROJECT}-{name}"),
            private_key_path: format!("/{PROJECT}/ec2/keys/{name}"),
            public_key: None,
        },
    );
    d
}

#[tokio::test]
async fn a_key_pair_of_another_project_under_our_name_is_blocked_not_created() {
    let cloud = Arc::new(FakeCloud::new());
    cloud.add_key_pair(&format!("{PROJECT}-server"), other_project("key.server"));
    let d = one_key("server");
    let (plan, _) = plan(&d, &cloud).await;
    let a = plan
        .find(&Address::key("server"))
        .unwrap_or_else(|| panic!("{}", summary(&plan)));
    assert_eq!(a.op, Op::Blocked, "{}", summary(&plan));
    assert!(a.reason.contains("project other"), "{}", a.reason);
}

#[tokio::test]
async fn a_stack_of_another_project_under_our_name_is_blocked_not_created() {
    let cloud = Arc::new(FakeCloud::new());
    let stack_name = format!("{PROJECT}-vpc");
    cloud
        .create_stack(&StackRequest {
            stack_name: stack_name.clone(),
            template_body: "Description: theirs\n".into(),
            parameters: Default::default(),
            tags: other_project("stack.vpc"),
            token: "t".into(),
        })
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut d = Desired::empty(PROJECT);
    d.stacks
        .insert("vpc".into(), full_desired(dir.path()).stacks["vpc"].clone());
    let (plan, _) = plan(&d, &cloud).await;
    let a = plan
        .find(&Address::stack("vpc"))
        .unwrap_or_else(|| panic!("{}", summary(&plan)));
    assert_eq!(a.op, Op::Blocked, "{}", summary(&plan));
    assert!(a.reason.contains("project other"), "{}", a.reason);
}

#[tokio::test]
async fn a_secret_that_appears_between_plan_and_apply_is_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = Arc::new(FakeCloud::new());
    let d = one_key("k");
    let (plan, observed) = plan(&d, &cloud).await;
    assert_eq!(
        plan.find(&Address::key("k")).unwrap().op,
        Op::Create,
        "{}",
        summary(&plan)
    );
    // Someone stores a private key at that path after the plan was made.
    let path = format!("/{PROJECT}/ec2/keys/k");
    cloud
        .put_secure_parameter(
            &path,
            &Secret::new("their private key".to_string()),
            &Tags::new(),
            false,
        )
        .await
        .unwrap();
    let (report, _) = run(&plan, &observed, &cloud, &options(dir.path())).await;
    assert!(!report.succeeded(), "the create must fail, not overwrite");
    let why = failures(&plan, &report);
    assert!(why.contains(&path), "{why}");
    assert_eq!(
        cloud.parameter(&path).as_deref(),
        Some("their private key"),
        "the secret is kept"
    );
    // And the key pair made just before is not left behind holding a private key nobody has.
    let again = observe(&cloud).await;
    assert!(
        !again.key_pairs.contains_key(&format!("{PROJECT}-k")),
        "{:?}",
        again.key_pairs
    );
}
