//! Instance metadata, as EC2's IMDSv2 serves it to one instance: a session token from
//! `PUT /latest/api/token` first (the launch templates require one: `HttpTokens: required`),
//! then the instance's id and placement, its tags where the launch template enables them
//! (`InstanceMetadataTags: enabled`, else 404 as on EC2), and the credentials of its instance
//! profile's role. Each instance has its own endpoint on 127.0.0.1, which the local cloud gives
//! it in place of 169.254.169.254 ([`crate::instances`]).
//! <https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html>

use crate::world::World;
use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use std::collections::BTreeSet;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

type Body = Full<Bytes>;

/// What one instance's metadata says of it.
pub struct Instance {
    pub id: String,
    pub region: String,
    pub availability_zone: String,
    /// The launch template's `InstanceMetadataTags: enabled`.
    pub tags_enabled: bool,
    /// Its instance profile's role.
    pub role: Option<String>,
}

struct Served {
    world: Arc<World>,
    instance: Instance,
    tokens: Mutex<BTreeSet<String>>,
}

/// Serves `instance`'s metadata until the returned task is aborted; answers on the port given.
pub async fn serve(
    world: Arc<World>,
    instance: Instance,
) -> Result<(u16, tokio::task::JoinHandle<()>), String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("instance metadata endpoint: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let served = Arc::new(Served {
        world,
        instance,
        tokens: Mutex::default(),
    });
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let served = served.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let served = served.clone();
                    async move { Ok::<_, Infallible>(answer(&served, req).await) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok((port, task))
}

fn reply(status: u16, body: impl Into<Bytes>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain")
        .body(Full::new(body.into()))
        .expect("a valid response")
}

async fn answer(served: &Served, req: Request<hyper::body::Incoming>) -> Response<Body> {
    // One leading slash, whichever way a client joined the endpoint and the path.
    let path = format!("/{}", req.uri().path().trim_start_matches('/'));
    if req.method() == Method::PUT && path == "/latest/api/token" {
        let ttl = req
            .headers()
            .get("x-aws-ec2-metadata-token-ttl-seconds")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u32>().ok());
        let Some(ttl @ 1..=21600) = ttl else {
            return reply(400, "");
        };
        let token = new_token(&served.instance.id);
        served.tokens.lock().unwrap().insert(token.clone());
        let mut answer = reply(200, token);
        // As IMDS answers: the token's lifetime comes back with it (SDKs refresh by it).
        answer.headers_mut().insert(
            "x-aws-ec2-metadata-token-ttl-seconds",
            hyper::header::HeaderValue::from(ttl),
        );
        return answer;
    }
    if req.method() != Method::GET {
        return reply(405, "");
    }
    let token = req
        .headers()
        .get("x-aws-ec2-metadata-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    // HttpTokens: required — IMDSv1 (no token) is refused.
    if !served.tokens.lock().unwrap().contains(token) {
        return reply(401, "");
    }
    match lookup(served, &path).await {
        Some(body) => reply(200, body),
        None => reply(404, ""),
    }
}

async fn lookup(served: &Served, path: &str) -> Option<String> {
    let i = &served.instance;
    let path = path.strip_prefix("/latest/")?;
    match path {
        "meta-data/" | "meta-data" => Some(
            ["instance-id", "placement/", "iam/", "tags/"]
                .iter()
                .filter(|k| **k != "iam/" || i.role.is_some())
                .filter(|k| **k != "tags/" || i.tags_enabled)
                .copied()
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        "meta-data/instance-id" => Some(i.id.clone()),
        "meta-data/placement/region" => Some(i.region.clone()),
        "meta-data/placement/availability-zone" => Some(i.availability_zone.clone()),
        "dynamic/instance-identity/document" => Some(
            serde_json::json!({
                "instanceId": i.id,
                "region": i.region,
                "availabilityZone": i.availability_zone,
                "accountId": crate::world::ACCOUNT,
            })
            .to_string(),
        ),
        "meta-data/iam/security-credentials/" | "meta-data/iam/security-credentials" => {
            i.role.clone()
        }
        _ => {
            if let Some(role) = path.strip_prefix("meta-data/iam/security-credentials/") {
                if Some(role) != i.role.as_deref() {
                    return None;
                }
                return Some(credentials(&served.world, role, &i.id).to_string());
            }
            let key = path.strip_prefix("meta-data/tags/instance")?;
            if !i.tags_enabled {
                return None;
            }
            let tags = instance_tags(&served.world, &i.region, &i.id).await?;
            match key.trim_start_matches('/') {
                "" => Some(tags.keys().cloned().collect::<Vec<_>>().join("\n")),
                k => tags.get(k).cloned(),
            }
        }
    }
}

/// Serves the credentials of `role`'s session `session` as CodeBuild hands a build its service
/// role's: a container credentials endpoint (`AWS_CONTAINER_CREDENTIALS_FULL_URI`), which the aws
/// CLI and the SDKs read. Until the returned task is aborted.
/// <https://docs.aws.amazon.com/sdkref/latest/guide/feature-container-credentials.html>
pub async fn serve_container_credentials(
    world: Arc<World>,
    role: String,
    session: String,
) -> Result<(String, tokio::task::JoinHandle<()>), String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("container credentials endpoint: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (world, role, session) = (world.clone(), role.clone(), session.clone());
            tokio::spawn(async move {
                let service = service_fn(move |_req: Request<hyper::body::Incoming>| {
                    let mut c = credentials(&world, &role, &session);
                    // The container form: the same keys, without EC2's Code/Type/LastUpdated.
                    if let Some(m) = c.as_object_mut() {
                        for k in ["Code", "Type", "LastUpdated"] {
                            m.remove(k);
                        }
                    }
                    async move { Ok::<_, Infallible>(reply(200, c.to_string())) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok((format!("http://127.0.0.1:{port}/v2/credentials"), task))
}

/// The instance's tags as they are now (IMDS follows CreateTags and DeleteTags).
async fn instance_tags(
    world: &World,
    region: &str,
    id: &str,
) -> Option<std::collections::BTreeMap<String, String>> {
    let out = world
        .ec2(region)
        .describe_tags()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("resource-id")
                .values(id)
                .build(),
        )
        .send()
        .await
        .ok()?;
    Some(
        out.tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
            .collect(),
    )
}

/// The role's temporary credentials for this instance's session, in the form EC2 serves them.
fn credentials(world: &World, role: &str, instance: &str) -> serde_json::Value {
    use aws_sdk_ec2::primitives::{DateTime, DateTimeFormat};
    let now = std::time::SystemTime::now();
    let fmt = |t: std::time::SystemTime| {
        DateTime::from(t)
            .fmt(DateTimeFormat::DateTime)
            .unwrap_or_default()
    };
    let keys = world.sessions.credentials(role, instance);
    serde_json::json!({
        "Code": "Success",
        "LastUpdated": fmt(now),
        "Type": "AWS-HMAC",
        "AccessKeyId": keys.access_key_id,
        "SecretAccessKey": keys.secret_access_key,
        "Token": keys.session_token,
        "Expiration": fmt(now + std::time::Duration::from_secs(6 * 3600)),
    })
}

/// A session token no other instance or session has.
fn new_token(instance: &str) -> String {
    use sha2::{Digest, Sha256};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    hex::encode(Sha256::digest(format!(
        "{instance}/{n}/{now}/{}",
        std::process::id()
    )))
}
