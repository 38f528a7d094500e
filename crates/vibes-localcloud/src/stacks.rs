//! CloudFormation as moto does it, completed: moto silently skips resource types it has no model
//! for (`AWS::CodeBuild::Project` among them) and drops the outputs that refer to them. For each
//! stack created or updated through the runner, the skipped CodeBuild projects are made in the
//! runner's CodeBuild from the template's own properties, and the dropped outputs are added to
//! every DescribeStacks answer.

use crate::codebuild::Project;
use crate::template::{Scope, Template};
use crate::world::World;
use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Default)]
pub struct Stacks {
    /// Stack name → outputs moto dropped, with their values.
    added_outputs: Mutex<BTreeMap<String, Vec<(String, String)>>>,
}

impl Stacks {
    pub fn outputs_to_add(&self) -> BTreeMap<String, Vec<(String, String)>> {
        self.added_outputs.lock().unwrap().clone()
    }

    pub fn forget(&self, stack: &str) {
        self.added_outputs.lock().unwrap().remove(stack);
    }
}

/// The parameters of a CreateStack/UpdateStack request.
pub fn request_parameters(params: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for n in 1.. {
        let Some(k) = params.get(&format!("Parameters.member.{n}.ParameterKey")) else {
            break;
        };
        if let Some(v) = params.get(&format!("Parameters.member.{n}.ParameterValue")) {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

/// After moto made or updated `stack` from `body`: completes what it skipped.
pub async fn complete(
    world: &World,
    stack: &str,
    body: &str,
    given: &BTreeMap<String, String>,
) -> Result<(), String> {
    let template = Template::parse(body).map_err(|e| format!("template of {stack}: {e}"))?;
    let resources = world
        .cfn
        .describe_stack_resources()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| format!("DescribeStackResources {stack}: {e:?}"))?;
    let mut physical = BTreeMap::new();
    for r in resources.stack_resources() {
        if let (Some(l), Some(p)) = (r.logical_resource_id(), r.physical_resource_id()) {
            physical.insert(l.to_string(), p.to_string());
        }
    }
    let mut scope = Scope {
        stack_name: stack,
        region: &world.settings.region,
        parameters: template.parameters_with_defaults(given),
        physical,
    };
    for (logical, ty) in template.resources() {
        if ty != "AWS::CodeBuild::Project" || scope.physical.contains_key(&logical) {
            continue;
        }
        let project = codebuild_project(&template, &logical, &scope)
            .map_err(|e| format!("{stack}: CodeBuild project {logical}: {e}"))?;
        tracing::info!(stack, project = %project.name, "made the CodeBuild project moto's CloudFormation skipped");
        scope.physical.insert(logical.clone(), project.name.clone());
        world.builds.add_project(stack, project);
    }
    let described = world
        .cfn
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| format!("DescribeStacks {stack}: {e:?}"))?;
    let present: Vec<String> = described
        .stacks()
        .iter()
        .flat_map(|s| s.outputs())
        .filter_map(|o| o.output_key().map(str::to_string))
        .collect();
    let mut added = Vec::new();
    for (name, value) in template.outputs() {
        if present.contains(&name) {
            continue;
        }
        match template.eval(value, &scope) {
            Ok(v) => added.push((name, v)),
            Err(e) => {
                tracing::warn!(stack, output = %name, error = %e, "an output moto dropped cannot be completed")
            }
        }
    }
    world
        .stacks
        .added_outputs
        .lock()
        .unwrap()
        .insert(stack.to_string(), added);
    Ok(())
}

/// A CodeBuild project from its template properties: name, environment variables (as the
/// project declares them; a build's overrides come on top) and the buildspec.
fn codebuild_project(t: &Template, logical: &str, scope: &Scope) -> Result<Project, String> {
    let name = match t.property(logical, &["Name"]) {
        Some(v) => t.eval(v, scope)?,
        None => format!("{}-{logical}", scope.stack_name),
    };
    let mut environment = Vec::new();
    if let Some(serde_yaml_ng::Value::Sequence(vars)) =
        t.property(logical, &["Environment", "EnvironmentVariables"])
    {
        for var in vars {
            let n = var
                .get("Name")
                .ok_or("an environment variable without Name")?;
            let v = var
                .get("Value")
                .ok_or("an environment variable without Value")?;
            environment.push((t.eval(n, scope)?, t.eval(v, scope)?));
        }
    }
    let buildspec = match t.property(logical, &["Source", "BuildSpec"]) {
        Some(v) => t.eval(v, scope)?,
        None => return Err("no Source.BuildSpec: only inline buildspecs are run".into()),
    };
    let timeout_minutes = match t.property(logical, &["TimeoutInMinutes"]) {
        Some(v) => t.eval(v, scope)?.parse().unwrap_or(60),
        None => 60,
    };
    Ok(Project {
        name,
        environment,
        buildspec,
        timeout_minutes,
    })
}
