//! EC2 instances, booted for real: an instance runs what its image runs at boot — the worker
//! image's `vibes-compile.sh`, the server image's `vibes-serve.sh` — as a process group, with the
//! files its launch template's user data writes, and its `/dev/sdf` played by the directory of
//! the volume there: mapped at launch (the worker's builds volume, from the newest builds
//! snapshot or empty; the server's copy of the snapshot it serves), its directory made from the
//! snapshot's, and removed once EC2 deletes the volume with the instance ([`crate::ebs`]). Stopping or terminating the instance in EC2 ends the processes.
//!
//! Each instance has `instances/<id>/root/` (its root disk: the user data's files, the worker's
//! synced sources) and `instances/<id>/console.log` (what it printed). A server's rsync URL is
//! written to `servers/<id>.url`, and the newest to `rsync-url`.

use crate::world::World;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The device vibes maps the builds volume (worker) or the snapshot served (server) as.
const DATA_DEVICE: &str = "/dev/sdf";
/// How long a booting instance waits for its data volume, like the boot scripts' own wait.
const DEVICE_WAIT: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Worker,
    Server,
}

impl Role {
    /// What the image boots into, from the image's `vibes:address` (`image.worker`), else from
    /// the instance's own (`compile`, `server`).
    fn of(image_address: Option<&str>, instance_address: Option<&str>) -> Option<Role> {
        match (image_address, instance_address) {
            (Some("image.worker"), _) => Some(Role::Worker),
            (Some("image.server"), _) => Some(Role::Server),
            (_, Some("compile")) => Some(Role::Worker),
            (_, Some("server")) => Some(Role::Server),
            _ => None,
        }
    }

    /// The application id its AWS calls carry in their user agent.
    fn app_id(self) -> &'static str {
        match self {
            Role::Worker => "localcloud-worker",
            Role::Server => "localcloud-server",
        }
    }

    /// The file the launch template's user data writes for the boot script.
    fn env_file(self) -> &'static str {
        match self {
            Role::Worker => "/etc/vibes/compile.env",
            Role::Server => "/etc/vibes/serve.env",
        }
    }
}

/// Which launch template a RunInstances request named.
#[derive(Debug, Clone, Default)]
pub struct LaunchTemplateRef {
    pub id: Option<String>,
    pub name: Option<String>,
    pub version: Option<String>,
}

pub struct Instances {
    root: PathBuf,
    /// Instance id → the process group it runs.
    running: Mutex<BTreeMap<String, i32>>,
    /// Instances stopped or terminated: a boot still waiting for its volume gives up.
    ended: Mutex<BTreeSet<String>>,
}

impl Instances {
    pub fn new(root: PathBuf) -> Result<Instances, String> {
        std::fs::create_dir_all(&root).map_err(|e| format!("create {}: {e}", root.display()))?;
        Ok(Instances {
            root,
            running: Mutex::default(),
            ended: Mutex::default(),
        })
    }

    fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// The instance stopped (its own poweroff, or StopInstances) or terminated: its processes end.
    pub fn end(&self, state: &Path, id: &str, terminated: bool) {
        self.ended.lock().unwrap().insert(id.to_string());
        if let Some(pgid) = self.running.lock().unwrap().remove(id) {
            tracing::info!(
                instance = id,
                terminated,
                "instance ends: its processes are stopped"
            );
            kill_group(pgid);
        }
        let url_file = state.join("servers").join(format!("{id}.url"));
        if let Ok(url) = std::fs::read_to_string(&url_file) {
            let newest = state.join("rsync-url");
            if std::fs::read_to_string(&newest).ok().as_deref() == Some(url.as_str()) {
                let _ = std::fs::remove_file(newest);
            }
            let _ = std::fs::remove_file(url_file);
        }
        if terminated {
            // The root disk goes with the instance (DeleteOnTermination); the console log stays.
            let _ = std::fs::remove_dir_all(self.dir(id).join("root"));
        }
    }

    fn has_ended(&self, id: &str) -> bool {
        self.ended.lock().unwrap().contains(id)
    }
}

/// SIGTERM to a process group, and SIGKILL a few seconds later to whatever is left.
#[allow(unsafe_code)] // killpg: no safe wrapper among the dependencies, and nothing is shared.
pub fn kill_group(pgid: i32) {
    // SAFETY: killpg only sends a signal; a group already gone gives ESRCH, which is fine.
    unsafe {
        libc::killpg(pgid, libc::SIGTERM);
    }
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(5));
        unsafe {
            libc::killpg(pgid, libc::SIGKILL);
        }
    });
}

/// Boots a launched instance: in the background, after RunInstances answered.
pub async fn boot(world: Arc<World>, region: String, id: String, template: LaunchTemplateRef) {
    if let Err(e) = try_boot(&world, &region, &id, &template).await {
        tracing::error!(instance = %id, error = %e, "instance did not boot");
        let log = world.instances.dir(&id).join("console.log");
        let _ = std::fs::create_dir_all(world.instances.dir(&id));
        let _ = std::fs::write(
            log,
            format!("local cloud: the instance did not boot: {e}\n"),
        );
    }
}

async fn try_boot(
    world: &Arc<World>,
    region: &str,
    id: &str,
    template: &LaunchTemplateRef,
) -> Result<(), String> {
    let ec2 = world.ec2(region);
    let described = ec2
        .describe_instances()
        .instance_ids(id)
        .send()
        .await
        .map_err(|e| format!("DescribeInstances: {e:?}"))?;
    let instance = described
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .next()
        .ok_or("not found in EC2")?
        .clone();
    let tag = |tags: &[aws_sdk_ec2::types::Tag], key: &str| {
        tags.iter()
            .find(|t| t.key() == Some(key))
            .and_then(|t| t.value())
            .map(str::to_string)
    };
    let image_address = match instance.image_id() {
        Some(ami) if !ami.is_empty() => ec2
            .describe_images()
            .image_ids(ami)
            .send()
            .await
            .ok()
            .and_then(|o| {
                o.images()
                    .first()
                    .and_then(|i| tag(i.tags(), "vibes:address"))
            }),
        _ => None,
    };
    let instance_address = tag(instance.tags(), "vibes:address");
    let Some(role) = Role::of(image_address.as_deref(), instance_address.as_deref()) else {
        tracing::info!(
            instance = id,
            "its image boots nothing the local cloud plays"
        );
        return Ok(());
    };
    let dir = world.instances.dir(id);
    let root = dir.join("root");
    std::fs::create_dir_all(&root).map_err(|e| e.to_string())?;
    let files = user_data_files(&ec2, template).await?;
    let env_file = files.get(role.env_file()).ok_or_else(|| {
        format!(
            "the launch template's user data writes no {}",
            role.env_file()
        )
    })?;
    let volume = wait_for_data_volume(world, &ec2, id).await?;
    let Some((volume, snapshot)) = volume else {
        return Ok(()); // ended while waiting
    };
    world
        .disks
        .create_volume(&volume, snapshot.as_deref())
        .await?;
    let builds_dir = world.disks.volume_dir(&volume);
    let config = root.join(role.env_file().trim_start_matches('/'));
    std::fs::create_dir_all(config.parent().unwrap()).map_err(|e| e.to_string())?;
    std::fs::write(&config, with_device_as_directory(env_file, &builds_dir))
        .map_err(|e| format!("write {}: {e}", config.display()))?;
    let console = std::fs::File::create(dir.join("console.log")).map_err(|e| e.to_string())?;
    let platform = &world.settings.platform;
    let mut cmd = tokio::process::Command::new("bash");
    for (k, v) in world.aws_env(region) {
        cmd.env(k, v);
    }
    // Its own name in the user agent of every AWS call it makes: what S3 serves it is counted
    // apart from what it serves the vibes that launched it (`GET /_localcloud/stats`).
    cmd.env("AWS_SDK_UA_APP_ID", role.app_id())
        .env("VIBES_CONFIG", &config)
        .stdin(std::process::Stdio::null())
        .stdout(console.try_clone().map_err(|e| e.to_string())?)
        .stderr(console)
        .process_group(0);
    let mut server_port = None;
    match role {
        Role::Worker => {
            cmd.arg(platform.join("worker/vibes-compile.sh"))
                // What the script reads from instance metadata on EC2 (there is no IMDS here).
                .env(
                    "VIBES_BUILT_FROM",
                    tag(instance.tags(), "vibes:fingerprint").unwrap_or_default(),
                )
                .env(
                    "VIBES_SOURCES_FORMAT",
                    tag(instance.tags(), "vibes:sources-format").unwrap_or_default(),
                )
                // Its compiles take seconds: progress every second, not every 30.
                .env("VIBES_PROGRESS_SECONDS", "1")
                .env("VIBES_SOURCES_DIR", root.join("var/lib/vibes/sources"))
                .env("VIBES_PROFILES_DIR", root.join("run/vibes/profiles"))
                .env("VIBES_BIN", &world.settings.vibes)
                .env(
                    "VIBES_POWEROFF",
                    format!("aws ec2 stop-instances --instance-ids {id} --output text"),
                );
        }
        Role::Server => {
            let port = free_port()?;
            server_port = Some(port);
            cmd.arg(platform.join("server/vibes-serve.sh"))
                .env("VIBES_RSYNCD_CONF", root.join("run/vibes/rsyncd.conf"))
                .env("VIBES_RSYNCD_GEN", platform.join("server/rsyncd-gen.sh"))
                .env("RSYNCD_ADDRESS", "127.0.0.1")
                .env("RSYNCD_PORT", port.to_string());
        }
    }
    {
        // Checked under the lock that `end` takes: an instance ended meanwhile boots nothing.
        let mut running = world.instances.running.lock().unwrap();
        if world.instances.has_ended(id) {
            return Ok(());
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("start the boot script: {e}"))?;
        let pgid = child.id().ok_or("the boot script exited at once")? as i32;
        running.insert(id.to_string(), pgid);
        tracing::info!(instance = id, ?role, volume = %volume, "booted");
        let (world2, id2) = (world.clone(), id.to_string());
        tokio::spawn(async move {
            let mut child = child;
            let status = child.wait().await;
            tracing::info!(instance = %id2, ?status, "boot script ended");
            let mut running = world2.instances.running.lock().unwrap();
            if running.get(&id2) == Some(&pgid) {
                running.remove(&id2);
            }
        });
    }
    if let Some(port) = server_port {
        publish_server(world, id, port).await?;
    }
    Ok(())
}

/// The files the launch template's user data (cloud-config `write_files`) writes: path → content.
async fn user_data_files(
    ec2: &aws_sdk_ec2::Client,
    template: &LaunchTemplateRef,
) -> Result<BTreeMap<String, String>, String> {
    use base64::Engine;
    let mut req = ec2.describe_launch_template_versions().versions(
        template
            .version
            .clone()
            .unwrap_or_else(|| "$Default".into()),
    );
    req = match (&template.id, &template.name) {
        (Some(id), _) => req.launch_template_id(id),
        (None, Some(name)) => req.launch_template_name(name),
        (None, None) => return Err("launched without a launch template".into()),
    };
    let out = req
        .send()
        .await
        .map_err(|e| format!("DescribeLaunchTemplateVersions: {e:?}"))?;
    let encoded = out
        .launch_template_versions()
        .first()
        .and_then(|v| v.launch_template_data())
        .and_then(|d| d.user_data())
        .ok_or("the launch template has no user data")?;
    let text = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|e| format!("user data is not base64: {e}"))?;
    let text = String::from_utf8(text).map_err(|_| "user data is not text")?;
    let config: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&text).map_err(|e| format!("user data: {e}"))?;
    let mut files = BTreeMap::new();
    if let Some(serde_yaml_ng::Value::Sequence(list)) = config.get("write_files") {
        for f in list {
            if let (Some(p), Some(c)) = (
                f.get("path").and_then(|p| p.as_str()),
                f.get("content").and_then(|c| c.as_str()),
            ) {
                files.insert(p.to_string(), c.to_string());
            }
        }
    }
    Ok(files)
}

/// The boot script's settings with the data device played by a directory: the scripts' own
/// documented stand-in (an empty `VIBES_BUILDS_DEVICE` uses `VIBES_BUILDS_DIR` as it is).
fn with_device_as_directory(env: &str, dir: &Path) -> String {
    env.lines()
        .map(|l| {
            if l.starts_with("VIBES_BUILDS_DEVICE=") {
                "VIBES_BUILDS_DEVICE=".to_string()
            } else if l.starts_with("VIBES_BUILDS_DIR=") {
                format!("VIBES_BUILDS_DIR={}", dir.display())
            } else {
                l.to_string()
            }
        })
        .map(|l| l + "\n")
        .collect()
}

/// The volume on the data device: made at launch from a snapshot (the server's, and the
/// worker's once there is a builds snapshot) or empty (the worker's first), or attached after
/// the launch. `None` when the instance ended first.
async fn wait_for_data_volume(
    world: &World,
    ec2: &aws_sdk_ec2::Client,
    id: &str,
) -> Result<Option<(String, Option<String>)>, String> {
    let deadline = tokio::time::Instant::now() + DEVICE_WAIT;
    loop {
        if world.instances.has_ended(id) {
            return Ok(None);
        }
        let out = ec2
            .describe_volumes()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("attachment.instance-id")
                    .values(id)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| format!("DescribeVolumes: {e:?}"))?;
        for v in out.volumes() {
            let on_device = v
                .attachments()
                .iter()
                .any(|a| a.instance_id() == Some(id) && a.device() == Some(DATA_DEVICE));
            if on_device {
                let snapshot = v
                    .snapshot_id()
                    .filter(|s| !s.is_empty())
                    .map(str::to_string);
                return Ok(Some((
                    v.volume_id().unwrap_or_default().to_string(),
                    snapshot,
                )));
            }
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!(
                "no volume attached as {DATA_DEVICE} within {} s",
                DEVICE_WAIT.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

/// Once the server's rsync daemon answers, its URL goes where `localcloud.sh rsync-url` reads it.
async fn publish_server(world: &World, id: &str, port: u16) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if tokio::time::Instant::now() > deadline || world.instances.has_ended(id) {
            return Err(format!(
                "the rsync daemon did not answer on 127.0.0.1:{port}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let url = format!("rsync://127.0.0.1:{port}/");
    let servers = world.settings.state.join("servers");
    std::fs::create_dir_all(&servers).map_err(|e| e.to_string())?;
    std::fs::write(servers.join(format!("{id}.url")), &url).map_err(|e| e.to_string())?;
    std::fs::write(world.settings.state.join("rsync-url"), &url).map_err(|e| e.to_string())?;
    tracing::info!(instance = id, %url, "server serving");
    Ok(())
}
