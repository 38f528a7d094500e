//! CloudFormation stacks: create, update in place (a change set only to list what an update
//! would do, in [`change_set`]: see the note on update), delete, and a bounded wait.
//!
//! Observe reads the region's stacks (one paginated call), kept when tagged with the project
//! or named `<project>-…`, and the template of each kept stack but another project's (the
//! planner only needs to know whose it is).

mod change_set;

use crate::error::{cloud_err, Failure};
use crate::poll::poll;
use crate::scope::{foreign, in_view, READ_CONCURRENCY};
use crate::AwsCloud;
use async_trait::async_trait;
use aws_sdk_cloudformation::types::{
    Capability, Parameter, Stack, StackEvent, StackStatus, Tag, TemplateStage,
};
use futures_util::{stream, StreamExt, TryStreamExt};
use std::collections::BTreeMap;
use std::time::Duration;
use vibes_core::cloud::{CloudError, CloudResult, StackRequest, StackState, StackUpdate, Stacks};
use vibes_core::observed::ObservedStack;
use vibes_core::stack_changes::{ResourceChange, StackPreviewRequest};
use vibes_core::tags::Tags;

/// What a stack of `template_body` must acknowledge: IAM resources, with names (the main stack
/// makes named roles), and, for a template that declares a `Transform` (AWS::Serverless, a
/// macro), the expansion CloudFormation does before it creates or updates the stack; without
/// `CAPABILITY_AUTO_EXPAND` CloudFormation refuses such a template outside a change set.
/// (<https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html>)
fn capabilities(template_body: &str) -> Vec<Capability> {
    let mut c = vec![Capability::CapabilityIam, Capability::CapabilityNamedIam];
    let transforms = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(template_body)
        .ok()
        .is_some_and(|t| t.get("Transform").is_some());
    if transforms {
        c.push(Capability::CapabilityAutoExpand);
    }
    c
}

fn parameters(req: &StackRequest) -> Vec<Parameter> {
    req.parameters
        .iter()
        .map(|(k, v)| {
            Parameter::builder()
                .parameter_key(k)
                .parameter_value(v)
                .build()
        })
        .collect()
}

fn tags(req: &StackRequest) -> Vec<Tag> {
    req.tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

#[async_trait]
impl Stacks for AwsCloud {
    async fn create_stack(&self, req: &StackRequest) -> CloudResult<()> {
        self.cfn
            .create_stack()
            .stack_name(&req.stack_name)
            .template_body(&req.template_body)
            .set_parameters(Some(parameters(req)))
            .set_tags(Some(tags(req)))
            .set_capabilities(Some(capabilities(&req.template_body)))
            .client_request_token(&req.token)
            .send()
            .await
            .map_err(|e| cloud_err("CreateStack", &req.stack_name, e))?;
        Ok(())
    }

    /// UpdateStack rather than a change set: the plan already shows the template diff, and a
    /// direct update carries the tags too (which is how an untagged stack is adopted).
    async fn update_stack(&self, req: &StackRequest) -> CloudResult<StackUpdate> {
        let sent = self
            .cfn
            .update_stack()
            .stack_name(&req.stack_name)
            .template_body(&req.template_body)
            .set_parameters(Some(parameters(req)))
            .set_tags(Some(tags(req)))
            .set_capabilities(Some(capabilities(&req.template_body)))
            .client_request_token(&req.token)
            .send()
            .await;
        match sent {
            Ok(_) => Ok(StackUpdate::Started),
            Err(e) => {
                let f = Failure::from_sdk(&e);
                if f.code_is("ValidationError")
                    && f.message.contains("No updates are to be performed")
                {
                    Ok(StackUpdate::NoChanges)
                } else {
                    Err(f.into_cloud("UpdateStack", &req.stack_name, &[]))
                }
            }
        }
    }

    async fn preview_update(&self, req: &StackPreviewRequest) -> CloudResult<Vec<ResourceChange>> {
        change_set::preview(self, req).await
    }

    async fn continue_update_rollback(&self, stack_name: &str, token: &str) -> CloudResult<()> {
        self.cfn
            .continue_update_rollback()
            .stack_name(stack_name)
            .client_request_token(token)
            .send()
            .await
            .map_err(|e| cloud_err("ContinueUpdateRollback", stack_name, e))?;
        Ok(())
    }

    async fn delete_stack(&self, stack_name: &str, token: &str) -> CloudResult<()> {
        self.cfn
            .delete_stack()
            .stack_name(stack_name)
            .client_request_token(token)
            .send()
            .await
            .map_err(|e| cloud_err("DeleteStack", stack_name, e))?;
        Ok(())
    }

    /// Poll DescribeStacks until the stack leaves `*_IN_PROGRESS`. A stack that no longer
    /// exists has finished deleting: `DELETE_COMPLETE`.
    async fn wait_stack(&self, stack_name: &str, timeout: Duration) -> CloudResult<StackState> {
        poll(
            "WaitStack",
            &format!("stack {stack_name}"),
            timeout,
            || async {
                let out = match self
                    .cfn
                    .describe_stacks()
                    .stack_name(stack_name)
                    .send()
                    .await
                {
                    Ok(out) => out,
                    Err(e) => {
                        return match Failure::from_sdk(&e).into_cloud(
                            "DescribeStacks",
                            stack_name,
                            &[],
                        ) {
                            CloudError::NotFound { .. } => Ok(Some(StackState {
                                status: "DELETE_COMPLETE".into(),
                                outputs: Default::default(),
                                reason: None,
                            })),
                            other => Err(other),
                        }
                    }
                };
                let Some(s) = out.stacks().first() else {
                    return Ok(Some(StackState {
                        status: "DELETE_COMPLETE".into(),
                        outputs: Default::default(),
                        reason: None,
                    }));
                };
                let status = s
                    .stack_status()
                    .map(|st| st.as_str().to_string())
                    .unwrap_or_default();
                if status.ends_with("_IN_PROGRESS") {
                    return Ok(None);
                }
                let mut reason = s.stack_status_reason().map(str::to_string);
                if !vibes_core::states::StackStatus::from(status.as_str()).succeeded() {
                    // The stack's own reason is often "The following resource(s) failed…":
                    // the first resource that failed says why.
                    if let Some(first) = self.first_failure(stack_name).await {
                        reason = Some(match reason {
                            Some(r) => format!("{r}; first failure: {first}"),
                            None => format!("first failure: {first}"),
                        });
                    }
                }
                Ok(Some(StackState {
                    status,
                    outputs: outputs_of(s),
                    reason,
                }))
            },
        )
        .await
    }
}

impl AwsCloud {
    /// The first resource that failed in the stack's latest operation, from its events (one
    /// page, newest first): `None` when the events cannot be read or name no failure. Only
    /// explains a failure already known, so a read error is not one of its own.
    async fn first_failure(&self, stack_name: &str) -> Option<String> {
        // Pages back until the one where the latest operation began: a stack of many resources
        // writes more events in one operation than a page holds, and the first failure is the
        // oldest of them.
        let mut events = Vec::new();
        let mut token = None;
        for _ in 0..MAX_EVENT_PAGES {
            let out = self
                .cfn
                .describe_stack_events()
                .stack_name(stack_name)
                .set_next_token(token.take())
                .send()
                .await
                .ok()?;
            let began = out
                .stack_events()
                .iter()
                .any(|e| operation_began(e, stack_name));
            events.extend(out.stack_events().iter().cloned());
            token = out.next_token().map(str::to_string);
            if began || token.is_none() {
                break;
            }
        }
        first_failure_of(&events, stack_name)
    }
}

/// Pages of stack events read at most to find where the latest operation began.
const MAX_EVENT_PAGES: usize = 20;

/// The stack's own event that starts an operation.
fn operation_began(e: &StackEvent, stack_name: &str) -> bool {
    let status = e.resource_status().map(|s| s.as_str()).unwrap_or_default();
    e.logical_resource_id() == Some(stack_name)
        && e.resource_type() == Some("AWS::CloudFormation::Stack")
        && matches!(
            status,
            "CREATE_IN_PROGRESS" | "UPDATE_IN_PROGRESS" | "DELETE_IN_PROGRESS"
        )
}

/// From events newest first: the earliest `*_FAILED` of a resource since the stack's latest
/// operation began (the stack's own `CREATE_IN_PROGRESS`, `UPDATE_IN_PROGRESS` or
/// `DELETE_IN_PROGRESS`), as `LogicalId (Type) STATUS: reason`.
fn first_failure_of(events: &[StackEvent], stack_name: &str) -> Option<String> {
    let mut first = None;
    for e in events {
        let status = e.resource_status().map(|s| s.as_str()).unwrap_or_default();
        let is_stack = e.logical_resource_id() == Some(stack_name)
            && e.resource_type() == Some("AWS::CloudFormation::Stack");
        if operation_began(e, stack_name) {
            break;
        }
        if !is_stack && status.ends_with("_FAILED") {
            first = Some(format!(
                "{} ({}) {status}: {}",
                e.logical_resource_id().unwrap_or("?"),
                e.resource_type().unwrap_or("?"),
                e.resource_status_reason().unwrap_or("no reason given")
            ));
        }
    }
    first
}

pub(crate) async fn stacks(
    cfn: &aws_sdk_cloudformation::Client,
    project: &str,
) -> CloudResult<BTreeMap<String, ObservedStack>> {
    let mut kept = Vec::new();
    let mut pages = cfn.describe_stacks().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| cloud_err("DescribeStacks", "stacks", e))?;
        for s in page.stacks() {
            if matches!(s.stack_status(), Some(StackStatus::DeleteComplete)) {
                continue;
            }
            let stack = stack_of(s);
            if in_view(project, &stack.stack_name, &stack.tags) {
                kept.push(stack);
            }
        }
    }
    let with_templates: Vec<ObservedStack> = stream::iter(kept)
        .map(|mut s| async move {
            if !foreign(project, &s.tags) {
                s.template_body = template(cfn, &s.stack_id, &s.stack_name).await?;
            }
            Ok::<_, CloudError>(s)
        })
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    Ok(with_templates
        .into_iter()
        .map(|s| (s.stack_name.clone(), s))
        .collect())
}

/// A stack as described, its template left empty (read separately).
pub(crate) fn stack_of(s: &Stack) -> ObservedStack {
    ObservedStack {
        stack_name: s.stack_name().unwrap_or_default().into(),
        stack_id: s.stack_id().unwrap_or_default().into(),
        status: s
            .stack_status()
            .map(|st| st.as_str().to_string())
            .unwrap_or_default()
            .into(),
        template_body: String::new(),
        parameters: s
            .parameters()
            .iter()
            .filter_map(|p| {
                Some((
                    p.parameter_key()?.to_string(),
                    p.parameter_value().unwrap_or_default().to_string(),
                ))
            })
            .collect(),
        outputs: outputs_of(s),
        tags: s
            .tags()
            .iter()
            .filter_map(|t| {
                Some((
                    t.key()?.to_string(),
                    t.value().unwrap_or_default().to_string(),
                ))
            })
            .collect::<Tags>(),
    }
}

pub(crate) fn outputs_of(s: &Stack) -> BTreeMap<String, String> {
    s.outputs()
        .iter()
        .filter_map(|o| {
            Some((
                o.output_key()?.to_string(),
                o.output_value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

/// The template as submitted (not the processed form), by stack id so a same-named newer stack
/// cannot answer for it.
async fn template(
    cfn: &aws_sdk_cloudformation::Client,
    stack_id: &str,
    stack_name: &str,
) -> CloudResult<String> {
    let out = cfn
        .get_template()
        .stack_name(if stack_id.is_empty() {
            stack_name
        } else {
            stack_id
        })
        .template_stage(TemplateStage::Original)
        .send()
        .await
        .map_err(|e| cloud_err("GetTemplate", stack_name, e))?;
    Ok(out.template_body().unwrap_or_default().to_string())
}

#[cfg(test)]
mod first_failure_tests {
    use super::*;
    use aws_sdk_cloudformation::types::ResourceStatus;

    fn event(logical: &str, kind: &str, status: &str, reason: Option<&str>) -> StackEvent {
        StackEvent::builder()
            .stack_id("arn:stack")
            .event_id(format!("{logical}-{status}"))
            .stack_name("tunes-main")
            .timestamp(aws_sdk_cloudformation::primitives::DateTime::from_secs(0))
            .logical_resource_id(logical)
            .resource_type(kind)
            .resource_status(ResourceStatus::from(status))
            .set_resource_status_reason(reason.map(str::to_string))
            .build()
    }

    #[test]
    fn the_first_failure_of_the_latest_operation_is_named_not_an_earlier_ones() {
        const STACK: &str = "AWS::CloudFormation::Stack";
        // Newest first: the update failed at the bucket policy, after which the role's rollback
        // failed too; an earlier update had failed at something else.
        let events = [
            event("tunes-main", STACK, "UPDATE_ROLLBACK_COMPLETE", None),
            event(
                "WorkerRole",
                "AWS::IAM::Role",
                "UPDATE_FAILED",
                Some("rollback: denied"),
            ),
            event(
                "BucketPolicy",
                "AWS::S3::BucketPolicy",
                "UPDATE_FAILED",
                Some("Policy has invalid resource"),
            ),
            event(
                "BucketPolicy",
                "AWS::S3::BucketPolicy",
                "UPDATE_IN_PROGRESS",
                None,
            ),
            event(
                "tunes-main",
                STACK,
                "UPDATE_IN_PROGRESS",
                Some("User Initiated"),
            ),
            event("Old", "AWS::EC2::Volume", "UPDATE_FAILED", Some("long ago")),
        ];
        assert_eq!(
            first_failure_of(&events, "tunes-main").as_deref(),
            Some("BucketPolicy (AWS::S3::BucketPolicy) UPDATE_FAILED: Policy has invalid resource")
        );
        assert_eq!(first_failure_of(&events[..1], "tunes-main"), None);
        // A page without the operation's start (its first two events here) asks for the next;
        // the page holding it ends the reading.
        let first_page = &events[..2];
        assert!(!first_page.iter().any(|e| operation_began(e, "tunes-main")));
        assert!(events[2..].iter().any(|e| operation_began(e, "tunes-main")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_with_a_transform_acknowledges_its_expansion() {
        let plain = "Resources:\n  B:\n    Type: AWS::S3::Bucket\n";
        assert!(!capabilities(plain).contains(&Capability::CapabilityAutoExpand));
        for t in [
            "Transform: AWS::Serverless-2016-10-31\nResources: {}\n",
            "{\"Transform\": [\"AWS::LanguageExtensions\"], \"Resources\": {}}",
        ] {
            let c = capabilities(t);
            assert!(c.contains(&Capability::CapabilityAutoExpand), "{t}");
            assert!(c.contains(&Capability::CapabilityNamedIam), "{t}");
        }
    }
}
