//! CloudFormation stacks: create, update in place (never change sets: see the note on
//! update), delete, and a bounded wait.

use super::poll::poll;
use crate::error::{cloud_err, Failure};
use crate::observe::cfn_outputs;
use crate::AwsCloud;
use aws_sdk_cloudformation::types::{Capability, Parameter, Tag};
use std::time::Duration;
use vibes_core::cloud::{CloudError, CloudResult, StackRequest, StackState, StackUpdate};

/// The main stack makes IAM roles with names; CloudFormation wants that acknowledged.
const CAPABILITIES: [Capability; 2] = [Capability::CapabilityIam, Capability::CapabilityNamedIam];

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

impl AwsCloud {
    pub(crate) async fn create_stack_impl(&self, req: &StackRequest) -> CloudResult<()> {
        self.cfn
            .create_stack()
            .stack_name(&req.stack_name)
            .template_body(&req.template_body)
            .set_parameters(Some(parameters(req)))
            .set_tags(Some(tags(req)))
            .set_capabilities(Some(CAPABILITIES.to_vec()))
            .client_request_token(&req.token)
            .send()
            .await
            .map_err(|e| cloud_err("CreateStack", &req.stack_name, e))?;
        Ok(())
    }

    /// UpdateStack rather than a change set: the plan already shows the template diff, and a
    /// direct update carries the tags too (which is how an untagged stack is adopted).
    pub(crate) async fn update_stack_impl(&self, req: &StackRequest) -> CloudResult<StackUpdate> {
        let sent = self
            .cfn
            .update_stack()
            .stack_name(&req.stack_name)
            .template_body(&req.template_body)
            .set_parameters(Some(parameters(req)))
            .set_tags(Some(tags(req)))
            .set_capabilities(Some(CAPABILITIES.to_vec()))
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

    pub(crate) async fn delete_stack_impl(&self, stack_name: &str, token: &str) -> CloudResult<()> {
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
    pub(crate) async fn wait_stack_impl(
        &self,
        stack_name: &str,
        timeout: Duration,
    ) -> CloudResult<StackState> {
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
                Ok(Some(StackState {
                    status,
                    outputs: cfn_outputs(s),
                    reason: s.stack_status_reason().map(str::to_string),
                }))
            },
        )
        .await
    }
}
