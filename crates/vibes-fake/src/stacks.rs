//! The fake's CloudFormation stacks: creates and updates that settle after the `stack` latency
//! (or roll back when [`FakeCloud::fail_stack`] says so), client tokens, deletes and waits.

use super::world::Stack;
use super::{not_found, FakeCloud};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;
use vibes_core::cloud::Stacks;
use vibes_core::cloud::{CloudError, CloudResult, StackRequest, StackState, StackUpdate};
use vibes_core::stack_changes::{ResourceChange, StackPreviewRequest};

#[async_trait]
impl Stacks for FakeCloud {
    async fn create_stack(&self, req: &StackRequest) -> CloudResult<()> {
        let _s = self.enter("create_stack", &req.stack_name).await?;
        body_refused("create_stack", req)?;
        let (latency, failure, set_outputs) = {
            let k = self.knobs();
            (
                k.latency.get("stack").copied().unwrap_or_default(),
                k.stack_failures.get(&req.stack_name).cloned(),
                k.stack_outputs.get(&req.stack_name).cloned(),
            )
        };
        let mut w = self.world();
        if let Some(existing) = w
            .stacks
            .get(&req.stack_name)
            .filter(|s| s.status != "DELETE_COMPLETE")
        {
            // CloudFormation takes a repeated request with the same token for the same request.
            if existing.tokens.contains(&req.token) {
                return Ok(());
            }
            return Err(CloudError::AlreadyExists {
                operation: "create_stack".into(),
                what: format!("stack {}", req.stack_name),
            });
        }
        let outputs = w.stack_outputs(&req.stack_name, &req.parameters, set_outputs.as_ref());
        let id = format!(
            "arn:aws:cloudformation:us-east-1:123456789012:stack/{}/{}",
            req.stack_name,
            w.id("stack")
        );
        let final_status = if failure.is_some() {
            "ROLLBACK_COMPLETE"
        } else {
            "CREATE_COMPLETE"
        };
        w.stacks.insert(
            req.stack_name.clone(),
            Stack {
                id,
                status: "CREATE_IN_PROGRESS".into(),
                template: req.template_body.clone(),
                parameters: req.parameters.clone(),
                outputs: BTreeMap::new(),
                tags: req.tags.clone(),
                tokens: [req.token.clone()].into(),
                reason: failure,
                settles: Some((Instant::now() + latency, final_status.into(), outputs)),
            },
        );
        Ok(())
    }

    async fn update_stack(&self, req: &StackRequest) -> CloudResult<StackUpdate> {
        let _s = self.enter("update_stack", &req.stack_name).await?;
        body_refused("update_stack", req)?;
        let (latency, failure, set_outputs) = {
            let k = self.knobs();
            (
                k.latency.get("stack").copied().unwrap_or_default(),
                k.stack_failures.get(&req.stack_name).cloned(),
                k.stack_outputs.get(&req.stack_name).cloned(),
            )
        };
        let mut w = self.world();
        let Some(s) = w
            .stacks
            .get(&req.stack_name)
            .filter(|s| s.status != "DELETE_COMPLETE")
            .cloned()
        else {
            return Err(not_found(
                "update_stack",
                format!("stack {}", req.stack_name),
            ));
        };
        // "Specify this token if you plan to retry requests so that CloudFormation knows that
        // you're not attempting to update a stack with the same name": a token CloudFormation
        // has seen is a retry of that request, however the template differs, and starts nothing.
        // https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_UpdateStack.html
        if s.tokens.contains(&req.token) {
            return Ok(StackUpdate::Started);
        }
        // A create that rolled back (or failed to) leaves a stack CloudFormation only deletes.
        if s.status.ends_with("_IN_PROGRESS")
            || s.status == "ROLLBACK_COMPLETE"
            || s.status == "ROLLBACK_FAILED"
        {
            return Err(CloudError::permanent(
                "update_stack",
                format!(
                    "stack {} is in {} state and can not be updated",
                    req.stack_name, s.status
                ),
            ));
        }
        if s.template == req.template_body && s.parameters == req.parameters && s.tags == req.tags {
            return Ok(StackUpdate::NoChanges);
        }
        let outputs = w.stack_outputs(
            &req.stack_name,
            &req.parameters,
            set_outputs
                .as_ref()
                .or(Some(&s.outputs))
                .filter(|o| !o.is_empty()),
        );
        let final_status = if failure.is_some() {
            "UPDATE_ROLLBACK_COMPLETE"
        } else {
            "UPDATE_COMPLETE"
        };
        let st = w.stacks.get_mut(&req.stack_name).expect("checked");
        st.tokens.insert(req.token.clone());
        if failure.is_none() {
            st.template = req.template_body.clone();
            st.parameters = req.parameters.clone();
            st.tags = req.tags.clone();
        }
        st.status = "UPDATE_IN_PROGRESS".into();
        st.reason = failure;
        st.settles = Some((Instant::now() + latency, final_status.into(), outputs));
        Ok(StackUpdate::Started)
    }

    async fn delete_stack(&self, stack_name: &str, _token: &str) -> CloudResult<()> {
        let _s = self.enter("delete_stack", stack_name).await?;
        let latency = self.latency("stack");
        let mut w = self.world();
        // CloudFormation answers success for a stack that does not exist.
        if let Some(s) = w
            .stacks
            .get_mut(stack_name)
            .filter(|s| s.status != "DELETE_COMPLETE")
        {
            s.status = "DELETE_IN_PROGRESS".into();
            s.settles = Some((
                Instant::now() + latency,
                "DELETE_COMPLETE".into(),
                BTreeMap::new(),
            ));
        }
        Ok(())
    }

    async fn wait_stack(&self, stack_name: &str, timeout: Duration) -> CloudResult<StackState> {
        let _s = self.enter("wait_stack", stack_name).await?;
        self.wait_for("wait_stack", format!("stack {stack_name}"), timeout, |w| {
            // DescribeStacks by name does not know a deleted stack: it reads as deleted.
            let Some(s) = w
                .stacks
                .get(stack_name)
                .filter(|s| s.status != "DELETE_COMPLETE")
            else {
                return Ok(Some(StackState {
                    status: "DELETE_COMPLETE".into(),
                    outputs: BTreeMap::new(),
                    reason: None,
                }));
            };
            if s.status.ends_with("_IN_PROGRESS") {
                return Ok(None);
            }
            Ok(Some(StackState {
                status: s.status.clone(),
                outputs: s.outputs.clone(),
                reason: s.reason.clone(),
            }))
        })
        .await
    }

    async fn preview_update(&self, req: &StackPreviewRequest) -> CloudResult<Vec<ResourceChange>> {
        let _s = self.enter("preview_update", &req.stack_name).await?;
        let w = self.world();
        let Some(s) = w
            .stacks
            .get(&req.stack_name)
            .filter(|s| s.status != "DELETE_COMPLETE")
        else {
            return Err(not_found(
                "preview_update",
                format!("stack {}", req.stack_name),
            ));
        };
        // A parameter known only after apply keeps its live value (UsePreviousValue), which a
        // parameter the stack does not have yet cannot: CloudFormation refuses the change set.
        if let Some(k) = req
            .parameters
            .iter()
            .find(|(k, v)| v.is_none() && !s.parameters.contains_key(*k))
            .map(|(k, _)| k)
        {
            return Err(CloudError::permanent(
                "preview_update",
                format!("ValidationError: Invalid input for parameter key {k}. Cannot specify usePreviousValue as true for a parameter key not in the previous template"),
            ));
        }
        let parameters: BTreeMap<String, String> = req
            .parameters
            .iter()
            .filter_map(|(k, v)| {
                v.clone()
                    .or_else(|| s.parameters.get(k).cloned())
                    .map(|v| (k.clone(), v))
            })
            .collect();
        Ok(super::change_sets::changes(
            (&s.template, &s.parameters),
            (&req.template_body, &parameters),
        ))
    }

    /// CloudFormation's ContinueUpdateRollback: only a stack in `UPDATE_ROLLBACK_FAILED` takes
    /// it (a ValidationError otherwise); it rolls back to the template it had before the
    /// failed update and settles in `UPDATE_ROLLBACK_COMPLETE`.
    async fn continue_update_rollback(&self, stack_name: &str, _token: &str) -> CloudResult<()> {
        let _s = self.enter("continue_update_rollback", stack_name).await?;
        let latency = self.latency("stack");
        let mut w = self.world();
        let Some(s) = w
            .stacks
            .get_mut(stack_name)
            .filter(|s| s.status != "DELETE_COMPLETE")
        else {
            return Err(not_found(
                "continue_update_rollback",
                format!("stack {stack_name}"),
            ));
        };
        if s.status != "UPDATE_ROLLBACK_FAILED" {
            return Err(CloudError::permanent(
                "continue_update_rollback",
                format!(
                    "ValidationError: Stack {stack_name} is in {} state and can not continue update rollback",
                    s.status
                ),
            ));
        }
        s.status = "UPDATE_ROLLBACK_IN_PROGRESS".into();
        let outputs = s.outputs.clone();
        s.settles = Some((
            Instant::now() + latency,
            "UPDATE_ROLLBACK_COMPLETE".into(),
            outputs,
        ));
        Ok(())
    }
}

/// CloudFormation takes a TemplateBody of at most 51,200 bytes ("Templates with a size greater
/// than 51,200 bytes must be deployed via an S3 Bucket").
/// <https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html>
fn body_refused(operation: &str, req: &StackRequest) -> CloudResult<()> {
    if req.template_body.len() > 51_200 {
        return Err(CloudError::permanent(
            operation,
            format!(
                "ValidationError: 1 validation error detected: Value '{}…' at 'templateBody' failed to satisfy constraint: Member must have length less than or equal to 51200",
                req.template_body.chars().take(20).collect::<String>()
            ),
        ));
    }
    Ok(())
}
