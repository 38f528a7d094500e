//! A stack update's change set, made to list what the update would do and deleted again: the
//! stack is left as it was ([`vibes_core::stack_changes`]).

use crate::error::{cloud_err, Failure};
use crate::poll::poll;
use crate::AwsCloud;
use aws_sdk_cloudformation::types::{
    ChangeAction as AwsAction, ChangeSetStatus, ChangeSetType, Parameter,
    Replacement as AwsReplacement,
};
use std::time::Duration;
use vibes_core::cloud::{CloudError, CloudResult};
use vibes_core::stack_changes::{ChangeAction, Replacement, ResourceChange, StackPreviewRequest};

/// A change set is made in seconds; one that takes longer is not worth holding a plan up for.
const CHANGE_SET_TIMEOUT: Duration = Duration::from_secs(120);

/// What CloudFormation answers for an update that changes nothing.
fn is_no_change(reason: &str) -> bool {
    reason.contains("didn't contain changes") || reason.contains("No updates are to be performed")
}

pub(super) async fn preview(
    cloud: &AwsCloud,
    req: &StackPreviewRequest,
) -> CloudResult<Vec<ResourceChange>> {
    // Unique per call: two plans at once each make and delete their own.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let name = format!(
        "vibes-plan-{}-{}-{nanos}",
        req.key
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(12)
            .collect::<String>(),
        std::process::id()
    );
    let parameters = req
        .parameters
        .iter()
        .map(|(k, v)| {
            let p = Parameter::builder().parameter_key(k);
            match v {
                Some(v) => p.parameter_value(v),
                // Known only after apply: the live value stands in.
                None => p.use_previous_value(true),
            }
            .build()
        })
        .collect();
    cloud
        .cfn
        .create_change_set()
        .stack_name(&req.stack_name)
        .change_set_name(&name)
        .change_set_type(ChangeSetType::Update)
        .template_body(&req.template_body)
        .set_parameters(Some(parameters))
        .set_capabilities(Some(super::capabilities(&req.template_body)))
        .send()
        .await
        .map_err(|e| cloud_err("CreateChangeSet", &req.stack_name, e))?;
    let listed = list(cloud, &req.stack_name, &name).await;
    // Deleted whatever the listing said; a change set left behind costs nothing and is never
    // executed, so a failed delete does not fail the plan.
    let _ = cloud
        .cfn
        .delete_change_set()
        .stack_name(&req.stack_name)
        .change_set_name(&name)
        .send()
        .await;
    listed
}

/// Wait for the change set, then read all its pages.
async fn list(cloud: &AwsCloud, stack: &str, name: &str) -> CloudResult<Vec<ResourceChange>> {
    let mut changes = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let page = poll(
            "DescribeChangeSet",
            &format!("change set {name} of stack {stack}"),
            CHANGE_SET_TIMEOUT,
            || async {
                let out = cloud
                    .cfn
                    .describe_change_set()
                    .stack_name(stack)
                    .change_set_name(name)
                    .set_next_token(next.clone())
                    .send()
                    .await
                    .map_err(|e| {
                        Failure::from_sdk(&e).into_cloud("DescribeChangeSet", stack, &[])
                    })?;
                Ok(match out.status() {
                    Some(ChangeSetStatus::CreatePending | ChangeSetStatus::CreateInProgress) => {
                        None
                    }
                    _ => Some(out),
                })
            },
        )
        .await?;
        if page.status() == Some(&ChangeSetStatus::Failed) {
            let reason = page.status_reason().unwrap_or("no reason given");
            if is_no_change(reason) {
                return Ok(Vec::new());
            }
            return Err(CloudError::permanent("CreateChangeSet", reason));
        }
        for c in page.changes() {
            let Some(r) = c.resource_change() else {
                continue;
            };
            changes.push(ResourceChange {
                logical_id: r.logical_resource_id().unwrap_or("?").to_string(),
                resource_type: r.resource_type().unwrap_or("?").to_string(),
                action: match r.action() {
                    Some(AwsAction::Add) => ChangeAction::Add,
                    Some(AwsAction::Remove) => ChangeAction::Remove,
                    Some(AwsAction::Import) => ChangeAction::Import,
                    Some(AwsAction::Dynamic) => ChangeAction::Dynamic,
                    _ => ChangeAction::Modify,
                },
                replacement: match r.replacement() {
                    Some(AwsReplacement::True) => Replacement::Yes,
                    Some(AwsReplacement::False) => Replacement::No,
                    Some(AwsReplacement::Conditional) => Replacement::Conditional,
                    _ => Replacement::Unknown,
                },
            });
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => next = Some(t.to_string()),
            _ => return Ok(changes),
        }
    }
}
