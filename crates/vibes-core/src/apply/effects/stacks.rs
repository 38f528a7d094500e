//! CloudFormation stacks: create, update and delete, each waited on until the stack settles;
//! a settled stack's outputs are recorded for the actions after it.

use super::{Context, EffectError};
use crate::address::Address;
use crate::cloud::{CloudError, StackRequest, StackUpdate};
use crate::model::Value;
use crate::plan::Effect;
use crate::tags::Tags;
use std::collections::BTreeMap;

/// Runs a stack effect.
pub(super) async fn run(
    cx: &Context,
    index: usize,
    address: &Address,
    effect: &Effect,
) -> Result<(), EffectError> {
    let cloud = cx.cloud.as_ref();
    let name = effect.name();
    match effect {
        Effect::CreateStack {
            stack_name,
            template_body,
            parameters,
            tags,
            token,
        } => {
            // A create keeps the plan's token across applies: a create whose answer a crash lost
            // is answered, when sent again, as the same request rather than a stack that exists.
            let req = stack_request(cx, stack_name, template_body, parameters, tags, token)?;
            let created = cx
                .retrier
                .run(|attempt| {
                    let req = &req;
                    async move {
                        match cloud.create_stack(req).await {
                            // An earlier attempt of ours got through before its answer was lost.
                            Err(CloudError::AlreadyExists { .. }) if attempt > 1 => Ok(()),
                            other => other,
                        }
                    }
                })
                .await;
            match created {
                Ok(()) => {}
                Err(CloudError::AlreadyExists { .. }) => {
                    return Err(EffectError::StackExists {
                        stack: stack_name.clone(),
                    })
                }
                Err(source) => {
                    return Err(EffectError::Cloud {
                        effect: name,
                        source,
                    })
                }
            }
            cx.reporter
                .action_progress(index, &format!("waiting for stack {stack_name}"));
            wait_stack_success(cx, address, stack_name).await
        }
        Effect::UpdateStack {
            stack_name,
            template_body,
            parameters,
            tags,
            token,
        } => {
            let token = run_token(token, &cx.run_id);
            let req = stack_request(cx, stack_name, template_body, parameters, tags, &token)?;
            let update = cx.call(name, |_| cloud.update_stack(&req)).await?;
            if update == StackUpdate::Started {
                cx.reporter
                    .action_progress(index, &format!("waiting for stack {stack_name}"));
                wait_stack_success(cx, address, stack_name).await
            } else {
                // Nothing to do; the wait returns at once with the current outputs.
                let state = cx
                    .call("read stack", |_| {
                        cloud.wait_stack(stack_name, cx.options.timeouts.stack)
                    })
                    .await?;
                cx.outputs.set_all(address, state.outputs);
                Ok(())
            }
        }
        Effect::DeleteStack {
            stack_name,
            token,
            empties,
        } => {
            for bucket in empties {
                cx.reporter
                    .action_progress(index, &format!("emptying {bucket}"));
                cx.call_gone("empty bucket", |_| cloud.empty_bucket(bucket))
                    .await?;
            }
            let token = run_token(token, &cx.run_id);
            cx.call_gone(name, |_| cloud.delete_stack(stack_name, &token))
                .await?;
            cx.reporter
                .action_progress(index, &format!("waiting for stack {stack_name} to go"));
            match cx
                .retrier
                .run(|_| cloud.wait_stack(stack_name, cx.options.timeouts.stack))
                .await
            {
                Err(CloudError::NotFound { .. }) => {}
                Ok(state) if state.status == "DELETE_COMPLETE" => {}
                Ok(state) => {
                    return Err(EffectError::StackFailed {
                        stack: stack_name.clone(),
                        status: state.status,
                        reason: state.reason,
                    })
                }
                Err(source) => {
                    return Err(EffectError::Cloud {
                        effect: name,
                        source,
                    })
                }
            }
            cx.outputs.clear(address);
            Ok(())
        }
        Effect::ContinueRollback { stack_name, token } => {
            let token = run_token(token, &cx.run_id);
            cx.call(name, |_| cloud.continue_update_rollback(stack_name, &token))
                .await?;
            cx.reporter.action_progress(
                index,
                &format!("waiting for stack {stack_name} to roll back"),
            );
            let state = cx
                .call("wait for stack", |_| {
                    cloud.wait_stack(stack_name, cx.options.timeouts.stack)
                })
                .await?;
            if state.status != "UPDATE_ROLLBACK_COMPLETE" {
                return Err(EffectError::StackFailed {
                    stack: stack_name.clone(),
                    status: state.status,
                    reason: Some(format!(
                        "{}; a resource that cannot be rolled back can be skipped by hand (aws cloudformation continue-update-rollback --stack-name {stack_name} --resources-to-skip …), then run vibes again",
                        state.reason.unwrap_or_else(|| "the rollback failed again".into())
                    )),
                });
            }
            Ok(())
        }
        _ => unreachable!("{name} is not a stack effect"),
    }
}

fn stack_request(
    cx: &Context,
    stack_name: &str,
    template_body: &str,
    parameters: &BTreeMap<String, Value>,
    tags: &Tags,
    token: &str,
) -> Result<StackRequest, EffectError> {
    let parameters = cx.outputs.resolve_all(parameters)?;
    let mut tags = tags.clone();
    // CloudFormation never shows a NoEcho value again: a salted hash of it, kept in a tag, is
    // what the next plan compares the config against.
    if let Some(record) =
        crate::noecho::record(&crate::noecho::declared(template_body), &parameters)
    {
        tags.insert(crate::tags::NOECHO.to_string(), record);
    }
    Ok(StackRequest {
        stack_name: stack_name.to_string(),
        template_body: template_body.to_string(),
        parameters,
        tags,
        token: token.to_string(),
    })
}

/// The ClientRequestToken of an update, delete or continued rollback in this apply: the plan's
/// token (the address and what the stack is to become) and the apply's run id. Retries within
/// the apply send the same token, so CloudFormation does a lost request once; another apply
/// sends another, since CloudFormation takes a token it has seen for a retry of that request and
/// does nothing new: an update back to an earlier template, or a delete after one that failed,
/// would otherwise be ignored.
fn run_token(token: &str, run_id: &str) -> String {
    let run: String = run_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(12)
        .collect();
    // At most 128 characters: [a-zA-Z][-a-zA-Z0-9]*.
    let mut t = format!("{token}-{run}");
    t.truncate(128);
    t
}

/// Waits for a stack to settle; success records its outputs, anything else fails.
async fn wait_stack_success(
    cx: &Context,
    address: &Address,
    stack_name: &str,
) -> Result<(), EffectError> {
    let cloud = cx.cloud.as_ref();
    let state = cx
        .call("wait for stack", |_| {
            cloud.wait_stack(stack_name, cx.options.timeouts.stack)
        })
        .await?;
    if !state.succeeded() {
        return Err(EffectError::StackFailed {
            stack: stack_name.to_string(),
            status: state.status,
            reason: state.reason,
        });
    }
    cx.outputs.set_all(address, state.outputs);
    Ok(())
}
