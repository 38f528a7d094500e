//! The endpoint: every request is passed on to moto unchanged; CodeBuild is answered here; and
//! what EC2 and CloudFormation answer is acted on ([`after`]) and, where moto is kinder than AWS,
//! corrected on the way back.

use crate::aws_wire;
use crate::codebuild;
use crate::iam;
use crate::instances::{self, LaunchRequest};
use crate::refusals;
use crate::s3_reads;
use crate::stacks;
use crate::world::World;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{header, Request, Response, StatusCode};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;

type Body = Full<Bytes>;

/// CloudFormation's answer to a DeleteStack it took (the delete goes on, or fails, after it).
const DELETE_STACK_ANSWER: &str = "<DeleteStackResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\"><ResponseMetadata><RequestId>localcloud</RequestId></ResponseMetadata></DeleteStackResponse>";

pub async fn serve(listener: tokio::net::TcpListener, world: Arc<World>) -> Result<(), String> {
    let client: Client<HttpConnector, Body> = Client::builder(TokioExecutor::new()).build_http();
    loop {
        let (stream, _) = listener.accept().await.map_err(|e| e.to_string())?;
        let (world, client) = (world.clone(), client.clone());
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(world.clone(), client.clone(), req));
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %e, "connection");
            }
        });
    }
}

fn answer(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .body(Full::new(body.into()))
        .expect("a valid response")
}

async fn handle(
    world: Arc<World>,
    client: Client<HttpConnector, Body>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let (parts, body) = req.into_parts();
    // The runner's own endpoint is answered here, never passed on to moto.
    if parts.uri.path() == s3_reads::STATS_PATH {
        return Ok(if parts.method == hyper::Method::GET {
            answer(200, "application/json", world.s3_reads.json().to_string())
        } else {
            answer(405, "text/plain", "GET only")
        });
    }
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return Ok(answer(
                400,
                "text/plain",
                format!("reading the request: {e}"),
            ))
        }
    };
    let authorization = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let service = aws_wire::service_of(authorization);
    // Answered in the region the request is signed for, as AWS does.
    let region =
        aws_wire::region_of(authorization).unwrap_or_else(|| world.settings.region.clone());
    if let Some(refused) = authorize(
        &world,
        &parts,
        authorization,
        service.as_deref(),
        &region,
        &body,
    )
    .await
    {
        return Ok(refused);
    }
    if service.as_deref() == Some("codebuild") {
        return Ok(codebuild_answer(&world, &region, &parts.headers, &body));
    }
    // The build logs the runner's CodeBuild writes are read here; the log groups themselves
    // (a stack's AWS::Logs::LogGroup) are moto's.
    if service.as_deref() == Some("logs") && target_op(&parts.headers) == "GetLogEvents" {
        return Ok(logs_answer(&world, &parts.headers, &body));
    }
    let query = matches!(service.as_deref(), Some("ec2") | Some("cloudformation"));
    let params = if query {
        aws_wire::form(&body)
    } else {
        BTreeMap::new()
    };
    if query {
        let action = params.get("Action").map(String::as_str).unwrap_or_default();
        if (service.as_deref(), action) == (Some("cloudformation"), "DeleteStack") {
            if let Some(stack) = params.get("StackName") {
                match stacks::before_delete(&world, &region, stack).await {
                    // DeleteStack answers success; the stack then reads DELETE_FAILED.
                    Ok(Some(_)) => return Ok(answer(200, "text/xml", DELETE_STACK_ANSWER)),
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(%stack, error = %e, "could not delete what moto keeps of the stack")
                    }
                }
            }
        }
        if let Some(r) = refusals::before(
            &world,
            &region,
            service.as_deref().unwrap_or(""),
            action,
            &params,
        )
        .await
        {
            return Ok(answer(r.status, "text/xml", r.body));
        }
    }
    let uri = format!(
        "{}{}",
        world.settings.moto,
        parts.uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let mut forward = Request::builder().method(parts.method.clone()).uri(&uri);
    for (k, v) in &parts.headers {
        if k != header::HOST && k != header::TRANSFER_ENCODING && k != header::CONTENT_LENGTH {
            forward = forward.header(k, v);
        }
    }
    let forward = match forward.body(Full::new(body)) {
        Ok(f) => f,
        Err(e) => return Ok(answer(500, "text/plain", format!("request to moto: {e}"))),
    };
    let response = match client.request(forward).await {
        Ok(r) => r,
        Err(e) => {
            return Ok(answer(
                502,
                "text/plain",
                format!("moto did not answer: {e}"),
            ))
        }
    };
    let (mut rparts, rbody) = response.into_parts();
    let rbody = match rbody.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return Ok(answer(
                502,
                "text/plain",
                format!("reading moto's answer: {e}"),
            ))
        }
    };
    let mut out = rbody.clone();
    if service.as_deref() == Some("s3")
        && matches!(rparts.status.as_u16(), 200 | 206)
        && s3_reads::is_get_object(
            &parts.method,
            parts
                .headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok()),
            parts.uri.path(),
            parts.uri.query(),
        )
    {
        // The body as sent on: a ranged read counts the range, not the object.
        world
            .s3_reads
            .record(&s3_reads::client_of(&parts.headers), rbody.len() as u64);
    }
    if query && rparts.status == StatusCode::OK {
        let action = params.get("Action").cloned().unwrap_or_default();
        let text = String::from_utf8_lossy(&rbody).into_owned();
        if let Some(patched) = after(
            &world,
            &region,
            service.as_deref().unwrap_or(""),
            &action,
            &params,
            &text,
        )
        .await
        {
            out = Bytes::from(patched);
            rparts.headers.remove(header::CONTENT_LENGTH);
        }
    }
    rparts.headers.remove(header::TRANSFER_ENCODING);
    Ok(Response::from_parts(rparts, Full::new(out)))
}

/// IAM's refusal of a request signed by a role session the local cloud handed out, when the
/// role's policies do not allow it ([`iam`]).
async fn authorize(
    world: &World,
    parts: &http::request::Parts,
    authorization: Option<&str>,
    service: Option<&str>,
    region: &str,
    body: &[u8],
) -> Option<Response<Body>> {
    let session = world
        .sessions
        .of_key(&aws_wire::access_key_of(authorization)?)?;
    let service = service?;
    let call = iam::call_of(&iam::Request {
        service,
        region,
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query(),
        target: parts
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok()),
        body,
    })?;
    match iam::authorize(world, &session, &call, region).await {
        Ok(()) => None,
        Err(denied) => {
            tracing::info!(role = %session.role, action = %denied.action, resource = %denied.resource, "IAM denied");
            let (status, content_type, body) = iam::denial(service, &denied);
            Some(answer(status, content_type, body))
        }
    }
}

fn codebuild_answer(
    world: &Arc<World>,
    region: &str,
    headers: &hyper::HeaderMap,
    body: &[u8],
) -> Response<Body> {
    const JSON: &str = "application/x-amz-json-1.1";
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let op = target.rsplit('.').next().unwrap_or_default();
    let request: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let result = match op {
        "StartBuild" => codebuild::start_build(world, region, &request),
        "BatchGetBuilds" => codebuild::batch_get_builds(world, &request),
        "StopBuild" => codebuild::stop_build(world, &request),
        other => Err(codebuild::Fault {
            status: 400,
            body: serde_json::json!({"__type": "InvalidInputException", "message": format!("{other} is not played by the local cloud")}).to_string(),
        }),
    };
    match result {
        Ok(v) => answer(200, JSON, v.to_string()),
        Err(f) => answer(f.status, JSON, f.body),
    }
}

/// The operation a JSON protocol request names (`X-Amz-Target: Logs_20140328.GetLogEvents`).
fn target_op(headers: &hyper::HeaderMap) -> &str {
    headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.rsplit('.').next())
        .unwrap_or_default()
}

/// CloudWatch Logs, for the build logs the runner's CodeBuild writes: GetLogEvents only.
fn logs_answer(world: &Arc<World>, headers: &hyper::HeaderMap, body: &[u8]) -> Response<Body> {
    const JSON: &str = "application/x-amz-json-1.1";
    let op = target_op(headers);
    let request: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let result = match op {
        "GetLogEvents" => codebuild::get_log_events(world, &request),
        other => Err(codebuild::Fault {
            status: 400,
            body: serde_json::json!({"__type": "InvalidOperationException", "message": format!("{other} is not played by the local cloud")}).to_string(),
        }),
    };
    match result {
        Ok(v) => answer(200, JSON, v.to_string()),
        Err(f) => answer(f.status, JSON, f.body),
    }
}

/// Acts on a successful EC2 or CloudFormation call; returns the answer to send instead of
/// moto's when it needs correcting.
async fn after(
    world: &Arc<World>,
    region: &str,
    service: &str,
    action: &str,
    params: &BTreeMap<String, String>,
    answer: &str,
) -> Option<String> {
    match (service, action) {
        ("ec2", "RunInstances") => {
            let request = LaunchRequest::from_params(params);
            for id in aws_wire::values(answer, "instanceId") {
                world.instances.launched(&id, &request);
                tokio::spawn(instances::boot(
                    world.clone(),
                    region.to_string(),
                    id,
                    request.clone(),
                ));
            }
            None
        }
        ("ec2", "GetConsoleOutput") => {
            let id = params.get("InstanceId")?;
            let console = world.instances.console(id)?;
            Some(aws_wire::console_output_answer(id, &console))
        }
        ("ec2", "StopInstances") | ("ec2", "TerminateInstances") => {
            let terminated = action == "TerminateInstances";
            for id in aws_wire::list(params, "InstanceId") {
                world.instances.end(&world.settings.state, &id, terminated);
            }
            None
        }
        ("ec2", "CreateVolume") => {
            if let Some(volume) = aws_wire::first(answer, "volumeId") {
                let from = params.get("SnapshotId").map(String::as_str);
                let gib = aws_wire::first(answer, "size")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(1);
                // Before the answer goes back: the volume holds its snapshot's content as soon
                // as anyone can see it.
                if let Err(e) = world.disks.create_volume(&volume, from, gib).await {
                    tracing::error!(%volume, error = %e, "volume content");
                }
            }
            None
        }
        ("ec2", "DeleteVolume") => {
            if let Some(v) = params.get("VolumeId") {
                world.disks.delete_volume(v);
            }
            None
        }
        ("ec2", "CreateSnapshot") => {
            if let (Some(snapshot), Some(volume)) = (
                aws_wire::first(answer, "snapshotId"),
                params.get("VolumeId"),
            ) {
                world.disks.start_snapshot(&snapshot, volume);
                return Some(aws_wire::mark_snapshots_pending(answer, |_| true));
            }
            None
        }
        ("ec2", "DeleteSnapshot") => {
            if let Some(s) = params.get("SnapshotId") {
                world.disks.delete_snapshot(s);
            }
            None
        }
        ("ec2", "RegisterImage") => {
            if let (Some(id), Some(arch)) = (
                aws_wire::first(answer, "imageId"),
                params.get("Architecture"),
            ) {
                world.architectures.record(&id, arch);
            }
            None
        }
        ("ec2", "DescribeImages") => Some(world.architectures.complete(answer)),
        ("ec2", "DescribeInstances") => Some(world.instances.with_state_reasons(answer)),
        ("ec2", "DescribeSnapshots") => Some(aws_wire::mark_snapshots_pending(answer, |id| {
            world.disks.is_pending(id)
        })),
        ("cloudformation", "CreateStack") | ("cloudformation", "UpdateStack") => {
            let (Some(stack), Some(body)) = (params.get("StackName"), params.get("TemplateBody"))
            else {
                return None;
            };
            let given = stacks::request_parameters(params);
            if let Err(e) = stacks::complete(world, region, stack, body, &given).await {
                tracing::error!(%stack, error = %e, "could not complete what moto's CloudFormation skipped");
            }
            None
        }
        ("cloudformation", "DeleteStack") => {
            if let Some(stack) = params.get("StackName") {
                world.stacks.forget(region, stack);
                world.builds.forget_stack(region, stack);
            }
            None
        }
        ("cloudformation", "DescribeStacks") => {
            let mut xml = answer.to_string();
            for (stack, outputs) in world.stacks.outputs_to_add(region) {
                xml = aws_wire::add_stack_outputs(&xml, &stack, &outputs);
            }
            for (stack, reason) in world.stacks.failed_deletes(region) {
                xml = aws_wire::set_stack_status(&xml, &stack, "DELETE_FAILED", &reason);
            }
            Some(xml)
        }
        _ => None,
    }
}
