//! What a stack update touches: for `~ stack.NAME` the plan lists the resources CloudFormation
//! would add, modify, replace or remove, from a change set the workspace makes and deletes, and
//! blocks an update that would replace or remove a resource holding data unless
//! `--include-data`. On the fake, which says whether a change replaces a resource (moto does not:
//! see the adapter's test on moto).

use crate::support::apply::{options, run, summary, PROJECT};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use vibes_core::cloud::prelude::*;
use vibes_core::model::{StackSpec, Value};
use vibes_core::ops::Workspace;
use vibes_core::plan::{Op, Plan, PlanOptions};
use vibes_core::render::{self, Style};
use vibes_core::{Address, Desired};
use vibes_fake::FakeCloud;

const TEMPLATE: &str = "\
AWSTemplateFormatVersion: '2010-09-09'
Parameters:
  BucketName: {Type: String}
Resources:
  Store:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Ref BucketName
  Alerts:
    Type: AWS::SNS::Topic
";

/// A stack that holds no data.
const NO_DATA: &str = "AWSTemplateFormatVersion: '2010-09-09'\nParameters:\n  BucketName: {Type: String}\nResources:\n  Alerts:\n    Type: AWS::SNS::Topic\n";

fn desired(template: &str, bucket: &str) -> Desired {
    let mut d = Desired::empty(PROJECT);
    d.stacks.insert(
        "store".into(),
        StackSpec {
            stack_name: format!("{PROJECT}-store"),
            template_path: "cfn/store.yaml".into(),
            template_built_in: false,
            template_body: template.into(),
            parameters: BTreeMap::from([("BucketName".to_string(), Value::literal(bucket))]),
            depends_on: Vec::new(),
        },
    );
    d
}

/// `template` with its topic swapped for a queue: an update that touches no data.
fn with_a_queue(template: &str) -> String {
    template.replace(
        "  Alerts:\n    Type: AWS::SNS::Topic\n",
        "  Queue:\n    Type: AWS::SQS::Queue\n",
    )
}

/// A project whose one stack exists as `desired(TEMPLATE, "tunes-store-a")` makes it.
async fn deployed() -> (tempfile::TempDir, Arc<FakeCloud>) {
    deployed_with(TEMPLATE).await
}

/// The same, with another template.
async fn deployed_with(template: &str) -> (tempfile::TempDir, Arc<FakeCloud>) {
    let dir = tempfile::tempdir().unwrap();
    let cloud = Arc::new(FakeCloud::new());
    cloud.set_latency("stack", Duration::from_millis(2));
    plan_and_apply(&cloud, &dir, desired(template, "tunes-store-a")).await;
    (dir, cloud)
}

/// `d` planned through the workspace (its stack updates listed) and applied, which must succeed:
/// the plan applied.
async fn plan_and_apply(cloud: &Arc<FakeCloud>, dir: &tempfile::TempDir, d: Desired) -> Plan {
    let ws = Workspace::new(d, dir.path().into(), cloud.clone() as Arc<dyn Cloud>);
    let mut observed = ws.cloud.observe(PROJECT, None).await.unwrap();
    let plan = ws
        .plan(&mut observed, &PlanOptions::default())
        .await
        .unwrap();
    let (report, _) = run(&plan, &observed, cloud, &options(dir.path())).await;
    assert!(report.succeeded(), "{:?}", report.failures());
    plan
}

async fn plan_of(
    cloud: &Arc<FakeCloud>,
    dir: &tempfile::TempDir,
    d: Desired,
    options: PlanOptions,
) -> Plan {
    let mut ws = Workspace::new(d, dir.path().into(), cloud.clone() as Arc<dyn Cloud>);
    ws.observe_and_plan(&options).await.unwrap()
}

fn listed(plan: &Plan) -> Vec<String> {
    let a = plan.find(&Address::stack("store")).expect("a stack action");
    a.attributes
        .iter()
        .filter(|x| x.name.starts_with("resource"))
        .filter_map(|x| x.value.clone())
        .collect()
}

#[tokio::test]
async fn a_stack_update_lists_what_it_touches_from_a_change_set_that_is_deleted_again() {
    let (dir, cloud) = deployed().await;
    let template = with_a_queue(TEMPLATE);
    let plan = plan_of(
        &cloud,
        &dir,
        desired(&template, "tunes-store-a"),
        PlanOptions::default(),
    )
    .await;
    let a = plan.find(&Address::stack("store")).unwrap();
    assert_eq!(a.op, Op::Update, "{}", a.reason);
    assert_eq!(
        listed(&plan),
        [
            "+ Queue (AWS::SQS::Queue): add",
            "- Alerts (AWS::SNS::Topic): remove"
        ]
    );
    assert_eq!(
        cloud.count("preview_update"),
        1,
        "one change set for one update"
    );
    // The plan changed nothing: the live stack still has the template it was made with.
    let live = ws_observed(&cloud).await;
    assert_eq!(
        live.stacks[&format!("{PROJECT}-store")].template_body,
        TEMPLATE
    );
    // No update, no change set.
    let unchanged = plan_of(
        &cloud,
        &dir,
        desired(TEMPLATE, "tunes-store-a"),
        PlanOptions::default(),
    )
    .await;
    assert!(unchanged.is_empty(), "{:?}", unchanged.actions);
    assert_eq!(cloud.count("preview_update"), 1);
}

async fn ws_observed(cloud: &FakeCloud) -> vibes_core::Observed {
    cloud.observe(PROJECT, None).await.unwrap()
}

#[tokio::test]
async fn an_update_that_replaces_a_bucket_is_blocked_without_include_data() {
    let (dir, cloud) = deployed().await;
    let renamed = || desired(TEMPLATE, "tunes-store-b");
    let plan = plan_of(&cloud, &dir, renamed(), PlanOptions::default()).await;
    let a = plan.find(&Address::stack("store")).unwrap();
    assert_eq!(a.op, Op::Blocked);
    assert!(a.effects.is_empty());
    assert!(
        a.reason.contains("Store (AWS::S3::Bucket)") && a.reason.contains("--include-data"),
        "{}",
        a.reason
    );
    assert_eq!(listed(&plan), ["-/+ Store (AWS::S3::Bucket): replace"]);
    insta::assert_snapshot!(
        "stack_update_replaces_a_bucket.human",
        render::human(
            &plan,
            &Style {
                color: false,
                full_lists: false
            }
        )
    );

    let plan = plan_of(
        &cloud,
        &dir,
        renamed(),
        PlanOptions {
            include_data: true,
            ..PlanOptions::default()
        },
    )
    .await;
    let a = plan.find(&Address::stack("store")).unwrap();
    assert_eq!(a.op, Op::Update, "{}", a.reason);
    assert_eq!(listed(&plan), ["-/+ Store (AWS::S3::Bucket): replace"]);
}

/// A stack of ours whose update failed and whose rollback failed too takes no update and no
/// change set: the plan continues the rollback, and the next plan updates it, listing what the
/// update touches.
#[tokio::test]
async fn a_stack_whose_rollback_failed_is_continued_then_updated() {
    let (dir, cloud) = deployed().await;
    cloud.set_stack_status(&format!("{PROJECT}-store"), "UPDATE_ROLLBACK_FAILED");
    let template = with_a_queue(TEMPLATE);
    let d = || desired(&template, "tunes-store-a");
    let apply = |plan: Plan, observed| {
        let (cloud, dir) = (cloud.clone(), dir.path().to_path_buf());
        async move {
            let (report, _) = run(&plan, &observed, &cloud, &options(&dir)).await;
            assert!(report.succeeded(), "{:?}", report.failures());
        }
    };
    let ws = Workspace::new(d(), dir.path().into(), cloud.clone() as Arc<dyn Cloud>);
    let mut observed = ws.cloud.observe(PROJECT, None).await.unwrap();
    let plan = ws
        .plan(&mut observed, &PlanOptions::default())
        .await
        .unwrap();
    let a = plan.find(&Address::stack("store")).unwrap();
    assert_eq!(a.op, Op::Update);
    assert!(
        a.reason
            .contains("UPDATE_ROLLBACK_FAILED: its rollback is continued"),
        "{}",
        a.reason
    );
    let effects: Vec<&str> = a.effects.iter().map(|e| e.name()).collect();
    assert_eq!(effects, ["continue rollback"]);
    assert_eq!(
        cloud.count("preview_update"),
        0,
        "no change set on a stack that takes none"
    );
    apply(plan, observed).await;
    let live = ws_observed(&cloud).await;
    let stack = &live.stacks[&format!("{PROJECT}-store")];
    assert_eq!(stack.status.as_str(), "UPDATE_ROLLBACK_COMPLETE");
    assert_eq!(stack.template_body, TEMPLATE, "rolled back to what it was");

    let mut observed = ws.cloud.observe(PROJECT, None).await.unwrap();
    let plan = ws
        .plan(&mut observed, &PlanOptions::default())
        .await
        .unwrap();
    assert_eq!(
        listed(&plan),
        [
            "+ Queue (AWS::SQS::Queue): add",
            "- Alerts (AWS::SNS::Topic): remove"
        ]
    );
    apply(plan, observed).await;
    let live = ws_observed(&cloud).await;
    assert_eq!(
        live.stacks[&format!("{PROJECT}-store")].template_body,
        template
    );
    let again = plan_of(&cloud, &dir, d(), PlanOptions::default()).await;
    assert!(again.is_empty(), "{:?}", again.actions);
}

/// When CloudFormation cannot list an update (a change set refused: no permission, a
/// throttle that outlasted the retries), an update of a stack that holds data is blocked
/// without --include-data; one that holds none goes on, saying it could not be listed.
#[tokio::test]
async fn an_update_that_cannot_be_listed_is_blocked_only_where_the_stack_holds_data() {
    let (dir, cloud) = deployed().await;
    cloud.fail_always("preview_update", vibes_fake::FaultKind::Permanent);
    let template = with_a_queue(TEMPLATE);
    let plan = plan_of(
        &cloud,
        &dir,
        desired(&template, "tunes-store-a"),
        PlanOptions::default(),
    )
    .await;
    let a = plan.find(&Address::stack("store")).unwrap();
    assert_eq!(a.op, Op::Blocked);
    assert!(
        a.reason.contains("could not list what the update would do")
            && a.reason.contains("Store (AWS::S3::Bucket)"),
        "{}",
        a.reason
    );
    assert!(
        listed(&plan)[0].starts_with("(no change set: "),
        "{:?}",
        listed(&plan)
    );
    let plan = plan_of(
        &cloud,
        &dir,
        desired(&template, "tunes-store-a"),
        PlanOptions {
            include_data: true,
            ..PlanOptions::default()
        },
    )
    .await;
    assert_eq!(plan.find(&Address::stack("store")).unwrap().op, Op::Update);

    // A stack that holds no data: the update goes on, saying it could not be listed.
    let (dir, cloud) = deployed_with(NO_DATA).await;
    cloud.fail_always("preview_update", vibes_fake::FaultKind::Permanent);
    let plan = plan_of(
        &cloud,
        &dir,
        desired(&with_a_queue(NO_DATA), "tunes-store-a"),
        PlanOptions::default(),
    )
    .await;
    assert_eq!(plan.find(&Address::stack("store")).unwrap().op, Op::Update);
    assert!(
        listed(&plan)[0].starts_with("(no change set: "),
        "{:?}",
        listed(&plan)
    );
}

/// Removing a bucket the template retains on delete keeps it, with its data: not blocked.
#[tokio::test]
async fn removing_a_retained_bucket_is_not_blocked() {
    let retained = TEMPLATE.replace(
        "    Type: AWS::S3::Bucket\n",
        "    Type: AWS::S3::Bucket\n    DeletionPolicy: Retain\n",
    );
    let (dir, cloud) = deployed_with(&retained).await;
    let without_bucket = NO_DATA;
    let plan = plan_of(
        &cloud,
        &dir,
        desired(without_bucket, "tunes-store-a"),
        PlanOptions::default(),
    )
    .await;
    let a = plan.find(&Address::stack("store")).unwrap();
    assert_eq!(a.op, Op::Update, "{}", a.reason);
    assert_eq!(listed(&plan), ["- Store (AWS::S3::Bucket): remove"]);
}

/// An apply looks twice (before the lock and under it): the second look reuses the listing
/// while the stack and the update are as they were, and lists again once the stack moved.
#[tokio::test]
async fn a_listing_is_made_once_per_stack_as_seen() {
    let (dir, cloud) = deployed().await;
    let mut ws = Workspace::new(
        desired(&with_a_queue(TEMPLATE), "tunes-store-a"),
        dir.path().into(),
        cloud.clone() as Arc<dyn Cloud>,
    );
    let first = ws.observe_and_plan(&PlanOptions::default()).await.unwrap();
    let again = ws.observe_and_plan(&PlanOptions::default()).await.unwrap();
    assert_eq!(
        cloud.count("preview_update"),
        1,
        "the second look lists nothing again"
    );
    assert_eq!(listed(&again), listed(&first));
    // The stack moved (another update, its tags, its status): its listing is made again.
    cloud.set_stack_status(&format!("{PROJECT}-store"), "UPDATE_ROLLBACK_COMPLETE");
    let moved = ws.observe_and_plan(&PlanOptions::default()).await.unwrap();
    assert_eq!(cloud.count("preview_update"), 2);
    assert_eq!(listed(&moved), listed(&first));
}

/// The project's stack left in `status`: the plan's action for it, once checked that applying
/// the plan converges (a second plan has nothing to do).
async fn action_for_a_stack_left(status: &str) -> vibes_core::plan::Action {
    let (dir, cloud) = deployed().await;
    cloud.set_stack_status(&format!("{PROJECT}-store"), status);
    let d = || desired(TEMPLATE, "tunes-store-a");
    let plan = plan_and_apply(&cloud, &dir, d()).await;
    let again = plan_of(&cloud, &dir, d(), PlanOptions::default()).await;
    assert!(again.is_empty(), "{}", summary(&again));
    plan.find(&Address::stack("store")).unwrap().clone()
}

/// A stack of ours left `REVIEW_IN_PROGRESS` (made by a CREATE change set never executed) holds
/// no resources and waits for nobody: it is deleted and created again, not blocked until it
/// "has finished", which it never does.
#[tokio::test]
async fn a_stack_whose_create_was_never_executed_is_made_again() {
    let a = action_for_a_stack_left("REVIEW_IN_PROGRESS").await;
    assert_eq!(a.op, Op::Replace, "{}", a.reason);
    assert!(
        a.reason.contains("change set never executed"),
        "{}",
        a.reason
    );
    let effects: Vec<&str> = a.effects.iter().map(|e| e.name()).collect();
    assert_eq!(effects, ["delete stack", "create stack"]);
}

/// An update that adds a parameter whose value is known only after apply (an output of a stack
/// this apply makes): CloudFormation refuses to keep a "previous value" the stack never had,
/// so the preview uses the new template's default, and the update is listed.
#[tokio::test]
async fn a_new_parameter_known_only_after_apply_is_previewed_with_its_default() {
    let (dir, cloud) = deployed().await;
    let template = with_a_queue(TEMPLATE).replace(
        "  BucketName: {Type: String}\n",
        "  BucketName: {Type: String}\n  Topic: {Type: String, Default: none}\n",
    );
    let mut d = desired(&template, "tunes-store-a");
    let store = d.stacks.get_mut("store").unwrap();
    store.parameters.insert(
        "Topic".into(),
        Value::Output {
            address: Address::stack("alerts"),
            output: "TopicArn".into(),
        },
    );
    store.depends_on.push(Address::stack("alerts"));
    d.stacks.insert(
        "alerts".into(),
        StackSpec {
            stack_name: format!("{PROJECT}-alerts"),
            template_path: "cfn/alerts.yaml".into(),
            template_built_in: false,
            template_body: NO_DATA.into(),
            parameters: BTreeMap::from([("BucketName".to_string(), Value::literal("x"))]),
            depends_on: Vec::new(),
        },
    );
    let plan = plan_of(&cloud, &dir, d, PlanOptions::default()).await;
    let a = plan.find(&Address::stack("store")).unwrap();
    assert_eq!(a.op, Op::Update, "{}", a.reason);
    assert_eq!(
        listed(&plan),
        [
            "+ Queue (AWS::SQS::Queue): add",
            "- Alerts (AWS::SNS::Topic): remove"
        ],
        "the update is listed, not refused"
    );
}

/// A stack of ours whose create failed and whose rollback failed too (`ROLLBACK_FAILED`) takes
/// no update (CloudFormation only deletes it; the fake refuses the update as it does): it is
/// deleted and created again.
#[tokio::test]
async fn a_stack_whose_create_rollback_failed_is_made_again() {
    let a = action_for_a_stack_left("ROLLBACK_FAILED").await;
    assert_eq!(a.op, Op::Replace, "{}", a.reason);
}

/// CloudFormation copies a stack's tags onto every resource it makes: the tags vibes gives a
/// stack carry no fingerprint, so editing its template or a parameter re-tags nothing.
#[tokio::test]
async fn a_stacks_tags_stay_the_same_across_edits_so_its_resources_are_not_retagged() {
    let (dir, cloud) = deployed().await;
    let observed = cloud.observe(PROJECT, None).await.unwrap();
    let created = observed.stacks[&format!("{PROJECT}-store")].tags.clone();
    assert!(
        !created.contains_key(vibes_core::tags::FINGERPRINT),
        "{created:?}"
    );
    let plan = plan_of(
        &cloud,
        &dir,
        desired(&with_a_queue(TEMPLATE), "tunes-store-a"),
        PlanOptions::default(),
    )
    .await;
    let a = plan.find(&Address::stack("store")).expect("a stack action");
    let updates: Vec<_> = a
        .effects
        .iter()
        .filter_map(|e| match e {
            vibes_core::plan::Effect::UpdateStack { tags, .. } => Some(tags),
            _ => None,
        })
        .collect();
    assert_eq!(updates, vec![&created], "{}", summary(&plan));
}
