//! CodeBuild, played for real: the runner answers StartBuild, BatchGetBuilds and StopBuild
//! itself (moto's builds run nothing and report SUCCEEDED at once), and a build runs its
//! project's buildspec with the environment CodeBuild would give it: the project's variables,
//! the build's overrides on top, `CODEBUILD_SRC_DIR`, and AWS reached through the runner.
//!
//! A build's log is where CodeBuild puts it, as far as a client can tell: BatchGetBuilds names
//! its CloudWatch Logs group (the one its LogsConfig names, else `/aws/codebuild/<project>`) and stream (the build's id after the
//! project name), and GetLogEvents on that stream reads the build's log file, a line an event.

use crate::buildspec;
use crate::template::ACCOUNT_ID;
use crate::world::World;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone)]
pub struct Project {
    pub name: String,
    pub environment: Vec<(String, String)>,
    pub buildspec: String,
    pub timeout_minutes: u64,
    /// The role its builds run as (its name).
    pub service_role: Option<String>,
    /// The CloudWatch Logs group its builds log to.
    pub log_group: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    InProgress,
    Succeeded,
    Failed,
    TimedOut,
    Stopped,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::InProgress => "IN_PROGRESS",
            Status::Succeeded => "SUCCEEDED",
            Status::Failed => "FAILED",
            Status::TimedOut => "TIMED_OUT",
            Status::Stopped => "STOPPED",
        }
    }
}

#[derive(Debug, Clone)]
struct Build {
    id: String,
    /// The region it was started in, and answers for.
    region: String,
    number: u64,
    project: String,
    /// Its log group (its project's when it started).
    log_group: String,
    status: Status,
    /// The phase running, or the one it failed in.
    phase: String,
    start: f64,
    end: Option<f64>,
    log: PathBuf,
}

pub struct Builds {
    root: PathBuf,
    /// (region, project name) → (the stack that made it, the project).
    projects: Mutex<BTreeMap<(String, String), (String, Project)>>,
    builds: Mutex<BTreeMap<String, Build>>,
    tokens: Mutex<BTreeMap<String, String>>,
    /// Builds asked to stop: their process is killed by the task that runs them.
    stops: Mutex<BTreeMap<String, Arc<tokio::sync::Notify>>>,
    counter: AtomicU64,
}

/// An error answer in CodeBuild's JSON protocol.
pub struct Fault {
    pub status: u16,
    pub body: String,
}

fn fault(status: u16, kind: &str, message: &str) -> Fault {
    Fault {
        status,
        body: json!({"__type": kind, "message": message}).to_string(),
    }
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

impl Builds {
    pub fn new(root: PathBuf) -> Result<Builds, String> {
        std::fs::create_dir_all(&root).map_err(|e| format!("create {}: {e}", root.display()))?;
        Ok(Builds {
            root,
            projects: Mutex::default(),
            builds: Mutex::default(),
            tokens: Mutex::default(),
            stops: Mutex::default(),
            counter: AtomicU64::new(0),
        })
    }

    pub fn add_project(&self, region: &str, stack: &str, project: Project) {
        self.projects.lock().unwrap().insert(
            (region.to_string(), project.name.clone()),
            (stack.to_string(), project),
        );
    }

    pub fn forget_stack(&self, region: &str, stack: &str) {
        self.projects
            .lock()
            .unwrap()
            .retain(|(r, _), (s, _)| !(r == region && s == stack));
    }

    fn json(&self, b: &Build) -> Value {
        json!({
            "id": b.id,
            "arn": format!("arn:aws:codebuild:{}:{ACCOUNT_ID}:build/{}", b.region, b.id),
            "buildNumber": b.number,
            "startTime": b.start,
            "endTime": b.end,
            "currentPhase": if b.end.is_some() { "COMPLETED".to_string() } else { b.phase.to_uppercase() },
            "buildStatus": b.status.as_str(),
            "projectName": b.project,
            "buildComplete": b.end.is_some(),
            "initiator": "vibes-localcloud",
            "logs": {
                "groupName": b.log_group,
                "streamName": log_stream(&b.id),
                "deepLink": format!("file://{}", b.log.display()),
            },
        })
    }
}

/// `StartBuild`: a new build of the project, or the one an earlier call with the same
/// idempotency token started.
pub fn start_build(world: &Arc<World>, region: &str, request: &Value) -> Result<Value, Fault> {
    let builds = &world.builds;
    let project_name = request["projectName"]
        .as_str()
        .ok_or_else(|| fault(400, "InvalidInputException", "projectName is required"))?;
    let token = request["idempotencyToken"].as_str().map(str::to_string);
    if let Some(t) = &token {
        if let Some(id) = builds.tokens.lock().unwrap().get(t) {
            let b = builds.builds.lock().unwrap()[id].clone();
            return Ok(json!({"build": builds.json(&b)}));
        }
    }
    let key = (region.to_string(), project_name.to_string());
    let Some((_, project)) = builds.projects.lock().unwrap().get(&key).cloned() else {
        return Err(fault(
            400,
            "ResourceNotFoundException",
            &format!(
                "Project cannot be found: arn:aws:codebuild:{region}:{ACCOUNT_ID}:project/{project_name}"
            ),
        ));
    };
    let mut overrides = Vec::new();
    if let Some(vars) = request["environmentVariablesOverride"].as_array() {
        for v in vars {
            if let (Some(n), Some(val)) = (v["name"].as_str(), v["value"].as_str()) {
                overrides.push((n.to_string(), val.to_string()));
            }
        }
    }
    let number = builds.counter.fetch_add(1, Ordering::SeqCst) + 1;
    let id = format!("{project_name}:{:08x}-{number:04}", std::process::id());
    let dir = builds.root.join(format!("{number:04}"));
    let build = Build {
        id: id.clone(),
        region: region.to_string(),
        number,
        project: project_name.to_string(),
        log_group: project.log_group.clone(),
        status: Status::InProgress,
        phase: "submitted".into(),
        start: now(),
        end: None,
        log: dir.join("build.log"),
    };
    let answer = json!({"build": builds.json(&build)});
    builds.builds.lock().unwrap().insert(id.clone(), build);
    if let Some(t) = token {
        builds.tokens.lock().unwrap().insert(t, id.clone());
    }
    let stop = Arc::new(tokio::sync::Notify::new());
    builds
        .stops
        .lock()
        .unwrap()
        .insert(id.clone(), stop.clone());
    let world = world.clone();
    let region = region.to_string();
    tokio::spawn(async move {
        let (status, phase) = run(&world, &region, &project, &overrides, &id, &dir, stop).await;
        tracing::info!(build = %id, status = status.as_str(), %phase, log = %dir.join("build.log").display(), "image build ended");
        let mut all = world.builds.builds.lock().unwrap();
        if let Some(b) = all.get_mut(&id) {
            b.status = status;
            b.phase = phase;
            b.end = Some(now());
        }
    });
    Ok(answer)
}

pub fn batch_get_builds(world: &World, request: &Value) -> Result<Value, Fault> {
    let ids = request["ids"]
        .as_array()
        .ok_or_else(|| fault(400, "InvalidInputException", "ids is required"))?;
    let all = world.builds.builds.lock().unwrap();
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for id in ids.iter().filter_map(Value::as_str) {
        match all.get(id) {
            Some(b) => found.push(world.builds.json(b)),
            None => missing.push(id.to_string()),
        }
    }
    Ok(json!({"builds": found, "buildsNotFound": missing}))
}

fn log_stream(build_id: &str) -> String {
    build_id.rsplit(':').next().unwrap_or(build_id).to_string()
}

/// CloudWatch Logs' GetLogEvents on a build's stream: the build log's lines as events, the
/// last `limit` of them when read from the end (`startFromHead` false, as vibes reads).
pub fn get_log_events(world: &World, request: &Value) -> Result<Value, Fault> {
    let (Some(group), Some(stream)) = (
        request["logGroupName"].as_str(),
        request["logStreamName"].as_str(),
    ) else {
        return Err(fault(
            400,
            "InvalidParameterException",
            "logGroupName and logStreamName are required",
        ));
    };
    let log = world
        .builds
        .builds
        .lock()
        .unwrap()
        .values()
        .find(|b| b.log_group == group && log_stream(&b.id) == stream)
        .map(|b| (b.log.clone(), b.start));
    let Some((path, start)) = log else {
        return Err(fault(
            400,
            "ResourceNotFoundException",
            "The specified log stream does not exist.",
        ));
    };
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let limit = request["limit"].as_u64().unwrap_or(10_000) as usize;
    let from_head = request["startFromHead"].as_bool().unwrap_or(false);
    let picked: Vec<&str> = if from_head {
        lines.iter().take(limit).copied().collect()
    } else {
        lines[lines.len().saturating_sub(limit)..].to_vec()
    };
    let at = (start * 1000.0) as u64;
    let events: Vec<Value> = picked
        .iter()
        .map(|l| json!({"timestamp": at, "message": l, "ingestionTime": at}))
        .collect();
    Ok(json!({"events": events, "nextForwardToken": "f/end", "nextBackwardToken": "b/start"}))
}

pub fn stop_build(world: &World, request: &Value) -> Result<Value, Fault> {
    let id = request["id"]
        .as_str()
        .ok_or_else(|| fault(400, "InvalidInputException", "id is required"))?;
    if let Some(stop) = world.builds.stops.lock().unwrap().get(id) {
        stop.notify_one();
    }
    let all = world.builds.builds.lock().unwrap();
    let b = all
        .get(id)
        .ok_or_else(|| fault(400, "ResourceNotFoundException", "Build cannot be found"))?;
    Ok(json!({"build": world.builds.json(b)}))
}

/// Runs one build to its end: the outcome and the phase it ended in.
async fn run(
    world: &Arc<World>,
    region: &str,
    project: &Project,
    overrides: &[(String, String)],
    id: &str,
    dir: &Path,
    stop: Arc<tokio::sync::Notify>,
) -> (Status, String) {
    let src = dir.join("src");
    let log_path = dir.join("build.log");
    let phase_file = dir.join("phase");
    let prepared = (|| -> Result<(std::fs::File, buildspec::Buildspec), String> {
        std::fs::create_dir_all(&src).map_err(|e| e.to_string())?;
        let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
        Ok((log, buildspec::parse(&project.buildspec)?))
    })();
    let (log, spec) = match prepared {
        Ok(p) => p,
        Err(e) => {
            let _ = std::fs::write(&log_path, format!("[Container] {e}\n"));
            return (Status::Failed, "submitted".into());
        }
    };
    let stand_ins = dir.join("bin");
    if let Err(e) = crate::packer::install(&stand_ins) {
        let _ = std::fs::write(&log_path, format!("[Container] {e}\n"));
        return (Status::Failed, "provisioning".into());
    }
    let path = format!(
        "{}:{}",
        stand_ins.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = tokio::process::Command::new("bash");
    cmd.arg("-c")
        .arg(spec.script())
        .current_dir(&src)
        .env("PATH", path)
        .env("CODEBUILD_SRC_DIR", &src)
        .env("CODEBUILD_BUILD_ID", id)
        .env(
            "CODEBUILD_BUILD_NUMBER",
            id.rsplit('-').next().unwrap_or("1"),
        )
        .env("VIBES_BUILD_PHASE_FILE", &phase_file)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().expect("clone log handle"))
        .stderr(log)
        .process_group(0)
        .kill_on_drop(true);
    crate::machine::ends_with_runner(&mut cmd);
    for (k, v) in world.aws_env(region) {
        cmd.env(k, v);
    }
    // The build runs as its project's service role, whose credentials CodeBuild hands out
    // through a container credentials endpoint; IAM authorizes its calls ([`crate::iam`]). The
    // Packer stand-in alone keeps the runner's keys: it registers an image where Packer would
    // launch an instance and snapshot it, which the role is not for.
    let mut credentials = None;
    if let Some(role) = &project.service_role {
        match crate::imds::serve_container_credentials(
            world.clone(),
            role.clone(),
            format!("AWSCodeBuild-{}", id.rsplit(':').next().unwrap_or(id)),
        )
        .await
        {
            Ok((uri, task)) => {
                for (k, v) in world.aws_env(region) {
                    if k == "AWS_ACCESS_KEY_ID" || k == "AWS_SECRET_ACCESS_KEY" {
                        cmd.env_remove(&k);
                        cmd.env(format!("{}{k}", crate::packer::RUNNER_KEYS_PREFIX), v);
                    }
                }
                cmd.env("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri);
                credentials = Some(task);
            }
            Err(e) => {
                let _ = std::fs::write(&log_path, format!("[Container] {e}\n"));
                return (Status::Failed, "provisioning".into());
            }
        }
    }
    let _credentials = credentials.map(AbortOnDrop);
    // Told apart from the other clients in what S3 serves (`GET /_localcloud/stats`).
    cmd.env("AWS_SDK_UA_APP_ID", "localcloud-codebuild");
    // What the Packer stand-in needs to make a machine image ([`crate::packer`]).
    cmd.env(crate::packer::IMAGES_ENV, world.images_dir())
        .env(crate::packer::PREBUILT_ENV, &world.settings.vibes)
        .env(crate::machine::CACHE_ENV, crate::machine::cache_dir());
    // CodeBuild's order: the project's variables, then the buildspec's, then the build's overrides.
    for (k, v) in project
        .environment
        .iter()
        .chain(&spec.variables)
        .chain(overrides)
    {
        cmd.env(k, v);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let _ = std::fs::write(&log_path, format!("[Container] cannot start bash: {e}\n"));
            return (Status::Failed, "submitted".into());
        }
    };
    let timeout = Duration::from_secs(project.timeout_minutes.max(1) * 60);
    let phase = || {
        std::fs::read_to_string(&phase_file)
            .map(|p| p.trim().to_string())
            .unwrap_or_else(|_| "submitted".into())
    };
    let outcome = tokio::select! {
        status = child.wait() => match status {
            Ok(s) if s.success() => Status::Succeeded,
            _ => Status::Failed,
        },
        _ = tokio::time::sleep(timeout) => Status::TimedOut,
        _ = stop.notified() => Status::Stopped,
    };
    if outcome != Status::Succeeded && outcome != Status::Failed {
        if let Some(pid) = child.id() {
            kill_group(pid as i32);
        }
        let _ = child.wait().await;
    }
    (outcome, phase())
}

/// SIGTERM to a build's process group, and SIGKILL a few seconds later to whatever is left.
#[allow(unsafe_code)] // killpg: no safe wrapper among the dependencies, and nothing is shared.
fn kill_group(pgid: i32) {
    // SAFETY: killpg only sends a signal; a group already gone gives ESRCH, which is fine.
    unsafe {
        libc::killpg(pgid, libc::SIGTERM);
    }
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(5));
        unsafe {
            libc::killpg(pgid, libc::SIGKILL);
        }
    });
}

/// A task that ends with the build.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
