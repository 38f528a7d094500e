//! CloudFormation reads: the region's stacks (one paginated call), kept when tagged with the
//! project or named `<project>-…`, and the template of each kept stack but another project's
//! (the planner only needs to know whose it is).

use super::{foreign, in_view, READ_CONCURRENCY};
use crate::error::cloud_err;
use aws_sdk_cloudformation::types::{Stack, StackStatus, TemplateStage};
use futures_util::{stream, StreamExt, TryStreamExt};
use std::collections::BTreeMap;
use vibes_core::cloud::{CloudError, CloudResult};
use vibes_core::observed::ObservedStack;
use vibes_core::tags::Tags;

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
            .unwrap_or_default(),
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
