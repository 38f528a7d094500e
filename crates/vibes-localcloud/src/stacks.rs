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

/// A stack, by region and name.
type StackKey = (String, String);
/// An output's name and value.
type Output = (String, String);

#[derive(Default)]
pub struct Stacks {
    /// (region, stack name) → outputs moto dropped, with their values.
    added_outputs: Mutex<BTreeMap<StackKey, Vec<Output>>>,
    /// (region, stack name) → why its last delete failed, as CloudFormation says it.
    failed_deletes: Mutex<BTreeMap<StackKey, String>>,
}

impl Stacks {
    /// The outputs to add to the stacks of `region`: stack name → outputs.
    pub fn outputs_to_add(&self, region: &str) -> BTreeMap<String, Vec<(String, String)>> {
        self.added_outputs
            .lock()
            .unwrap()
            .iter()
            .filter(|((r, _), _)| r == region)
            .map(|((_, s), o)| (s.clone(), o.clone()))
            .collect()
    }

    /// The stacks of `region` whose last delete failed (they read `DELETE_FAILED` until a
    /// delete succeeds), with why: stack name → reason.
    pub fn failed_deletes(&self, region: &str) -> BTreeMap<String, String> {
        self.failed_deletes
            .lock()
            .unwrap()
            .iter()
            .filter(|((r, _), _)| r == region)
            .map(|((_, s), why)| (s.clone(), why.clone()))
            .collect()
    }

    pub fn forget(&self, region: &str, stack: &str) {
        self.added_outputs
            .lock()
            .unwrap()
            .remove(&(region.to_string(), stack.to_string()));
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
    region: &str,
    stack: &str,
    body: &str,
    given: &BTreeMap<String, String>,
) -> Result<(), String> {
    let template = Template::parse(body).map_err(|e| format!("template of {stack}: {e}"))?;
    let resources = world
        .cfn(region)
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
        region,
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
        world.builds.add_project(region, stack, project);
    }
    let described = world
        .cfn(region)
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
        .insert((region.to_string(), stack.to_string()), added);
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
    // The service role: one the stack made (`!GetAtt Role.Arn`: its physical id is its name),
    // or an ARN given.
    let service_role = match t.property(logical, &["ServiceRole"]) {
        Some(v) => match crate::template::get_att_arn_of(v) {
            Some(role) => scope.physical.get(&role).cloned(),
            None => t
                .eval(v, scope)
                .ok()
                .map(|arn| arn.rsplit('/').next().unwrap_or(&arn).to_string()),
        },
        None => None,
    };
    // Its CloudWatch Logs group: the one LogsConfig names, else CodeBuild's own default.
    let log_group = match t.property(logical, &["LogsConfig", "CloudWatchLogs", "GroupName"]) {
        Some(v) => t.eval(v, scope)?,
        None => format!("/aws/codebuild/{name}"),
    };
    Ok(Project {
        log_group,
        name,
        environment,
        buildspec,
        timeout_minutes,
        service_role,
    })
}

/// What DeleteStack does before moto is asked: `Some(reason)` when CloudFormation's delete
/// would fail — a bucket of the stack (not retained) holds objects, and "you can only delete
/// empty buckets" — in which case moto is not asked (it would keep the bucket, say
/// DELETE_COMPLETE, and leave it unowned) and the stack reads `DELETE_FAILED` with that reason
/// until a delete succeeds. Otherwise the resources moto's CloudFormation never deletes are
/// deleted first ([`delete_what_moto_keeps`]).
/// (<https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-s3-bucket.html>)
pub async fn before_delete(
    world: &World,
    region: &str,
    stack: &str,
) -> Result<Option<String>, String> {
    let key = (region.to_string(), stack.to_string());
    let cfn = world.cfn(region);
    let Ok(resources) = cfn
        .describe_stack_resources()
        .stack_name(stack)
        .send()
        .await
    else {
        return Ok(None); // no such stack: CloudFormation answers success and does nothing
    };
    let template = cfn
        .get_template()
        .stack_name(stack)
        .send()
        .await
        .ok()
        .and_then(|t| t.template_body().map(str::to_string))
        .and_then(|b| Template::parse(&b).ok());
    let mut by_type: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut full = Vec::new();
    for r in resources.stack_resources() {
        let (Some(t), Some(p), Some(l)) = (
            r.resource_type(),
            r.physical_resource_id(),
            r.logical_resource_id(),
        ) else {
            continue;
        };
        by_type
            .entry(t.to_string())
            .or_default()
            .push(p.to_string());
        let retained = template
            .as_ref()
            .is_some_and(|t| t.deletion_policy(l).as_deref() == Some("Retain"));
        if t == "AWS::S3::Bucket" && !retained {
            let listed = world
                .s3(region)
                .list_objects_v2()
                .bucket(p)
                .max_keys(1)
                .send()
                .await;
            if listed.is_ok_and(|o| !o.contents().is_empty()) {
                full.push((l.to_string(), p.to_string()));
            }
        }
    }
    if !full.is_empty() {
        let reason = format!(
            "The following resource(s) failed to delete: [{}]. {}",
            full.iter()
                .map(|(l, _)| l.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            full.iter()
                .map(|(l, p)| format!(
                    "{l}: The bucket you tried to delete is not empty (Bucket: {p})"
                ))
                .collect::<Vec<_>>()
                .join(" ")
        );
        tracing::info!(stack, %reason, "DeleteStack: DELETE_FAILED, as CloudFormation fails it");
        world
            .stacks
            .failed_deletes
            .lock()
            .unwrap()
            .insert(key, reason.clone());
        return Ok(Some(reason));
    }
    world.stacks.failed_deletes.lock().unwrap().remove(&key);
    delete_what_moto_keeps(world, region, &by_type).await?;
    tracing::info!(stack, "deleted what moto's CloudFormation does not delete");
    Ok(None)
}

/// The resources moto's CloudFormation never deletes (it has no delete for VPC endpoints, route
/// tables, their associations and internet gateways, and says DELETE_COMPLETE while they stay),
/// deleted here through EC2, dependents first, as CloudFormation deletes a stack's resources in
/// the reverse order of their dependencies. Without this, moto's delete of the VPC meets the
/// route tables still in it and answers DependencyViolation, which CloudFormation does not do
/// for a stack of its own.
async fn delete_what_moto_keeps(
    world: &World,
    region: &str,
    by_type: &BTreeMap<String, Vec<String>>,
) -> Result<(), String> {
    let of = |t: &str| by_type.get(t).cloned().unwrap_or_default();
    let ec2 = world.ec2(region);
    let endpoints = of("AWS::EC2::VPCEndpoint");
    if !endpoints.is_empty() {
        ec2.delete_vpc_endpoints()
            .set_vpc_endpoint_ids(Some(endpoints.clone()))
            .send()
            .await
            .map_err(|e| format!("DeleteVpcEndpoints {endpoints:?}: {e:?}"))?;
    }
    for table in of("AWS::EC2::RouteTable") {
        let described = ec2
            .describe_route_tables()
            .route_table_ids(&table)
            .send()
            .await
            .map_err(|e| format!("DescribeRouteTables {table}: {e:?}"))?;
        for t in described.route_tables() {
            for a in t.associations() {
                if a.main() == Some(true) {
                    continue;
                }
                if let Some(id) = a.route_table_association_id() {
                    ec2.disassociate_route_table()
                        .association_id(id)
                        .send()
                        .await
                        .map_err(|e| format!("DisassociateRouteTable {id}: {e:?}"))?;
                }
            }
        }
        ec2.delete_route_table()
            .route_table_id(&table)
            .send()
            .await
            .map_err(|e| format!("DeleteRouteTable {table}: {e:?}"))?;
    }
    for gateway in of("AWS::EC2::InternetGateway") {
        for vpc in of("AWS::EC2::VPC") {
            // Detached first, as CloudFormation deletes the VPCGatewayAttachment before it.
            let _ = ec2
                .detach_internet_gateway()
                .internet_gateway_id(&gateway)
                .vpc_id(&vpc)
                .send()
                .await;
        }
        ec2.delete_internet_gateway()
            .internet_gateway_id(&gateway)
            .send()
            .await
            .map_err(|e| format!("DeleteInternetGateway {gateway}: {e:?}"))?;
    }
    Ok(())
}
