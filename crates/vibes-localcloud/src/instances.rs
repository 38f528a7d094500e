//! EC2 instances, booted as on EC2: an instance launched from an image the local cloud built
//! boots that image's root file system (under a writable layer of its own) under its own systemd (`systemd-nspawn
//! --boot`, [`crate::machine`]). cloud-init reads the user data of the launch template version
//! RunInstances resolved (NoCloud seed), and the units the image enabled start in systemd's
//! order. Its data volume (`/dev/sdf`: the worker's builds volume, the server's copy of the
//! snapshot it serves) is a loop device over the volume's blocks ([`crate::ebs`]), which the
//! boot scripts format, mount and grow themselves. Its instance metadata (IMDSv2, its tags
//! where the launch template enables them, its role's credentials) is served on an endpoint of
//! its own ([`crate::imds`]).
//!
//! A poweroff from inside stops or terminates the instance in EC2 per its shutdown behaviour
//! (a one-time Spot instance terminates); StopInstances or TerminateInstances from outside
//! shuts the machine down in order (systemd stops its units: the worker's script sees SIGTERM).
//!
//! Where an instance differs from one on EC2: it shares the host's network, so what EC2's
//! network gives an instance is given to its units through systemd's `DefaultEnvironment`
//! (`/etc/systemd/system.conf.d/50-localcloud.conf`): the AWS endpoint (Debian 12's aws CLI is
//! 2.9, older than `AWS_ENDPOINT_URL`, so the boot script's `VIBES_AWS` names it), the
//! metadata endpoint in place of 169.254.169.254, and the rsync daemon's port.
//!
//! Each instance has `instances/<id>/root/` (its root disk, mounted while it runs; its own
//! writes in `upper/`) and `instances/<id>/console.log`
//! (what its console printed: systemd's lines and its units' output). A server's rsync URL is
//! written to `servers/<id>.url`, and the newest to `rsync-url`.

mod ended;
mod launch;

use crate::ebs::LoopDevice;
use crate::world::World;
use ended::EndedBy;
pub use launch::Request as LaunchRequest;
use launch::{Launched, Shutdown};
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
}

pub struct Instances {
    root: PathBuf,
    /// Instance id → its systemd-nspawn's pid.
    running: Mutex<BTreeMap<String, u32>>,
    /// Instances stopped or terminated (true): a boot still waiting for its volume gives up.
    ended: Mutex<BTreeMap<String, bool>>,
    /// One-time Spot instances, which EC2 will not stop.
    one_time_spot: Mutex<BTreeSet<String>>,
    /// Instances that ended other than by a call, with EC2's state reason (moto says
    /// `Client.UserInitiatedShutdown` of every one).
    ended_by_ec2: Mutex<BTreeMap<String, EndedBy>>,
}

impl Instances {
    pub fn new(root: PathBuf) -> Result<Instances, String> {
        std::fs::create_dir_all(&root).map_err(|e| format!("create {}: {e}", root.display()))?;
        Ok(Instances {
            root,
            running: Mutex::default(),
            ended: Mutex::default(),
            one_time_spot: Mutex::default(),
            ended_by_ec2: Mutex::default(),
        })
    }

    fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// What the instance's console printed so far.
    pub fn console(&self, id: &str) -> Option<String> {
        std::fs::read(self.dir(id).join("console.log"))
            .ok()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    /// Whether `id` is a one-time Spot instance (StopInstances refuses it).
    pub fn is_one_time_spot(&self, id: &str) -> bool {
        self.one_time_spot.lock().unwrap().contains(id)
    }

    /// A DescribeInstances answer with the reason EC2 gives for instances that ended other
    /// than by a call.
    pub fn with_state_reasons(&self, answer: &str) -> String {
        let mut xml = answer.to_string();
        for (id, by) in self.ended_by_ec2.lock().unwrap().iter() {
            let (code, message) = by.state_reason();
            xml = crate::aws_wire::set_state_reason(&xml, id, code, message);
        }
        xml
    }

    /// RunInstances launched `id` as the request asked.
    pub fn launched(&self, id: &str, request: &LaunchRequest) {
        if request.spot {
            self.one_time_spot.lock().unwrap().insert(id.to_string());
        }
    }

    /// StopInstances or TerminateInstances took the instance: its machine shuts down in order
    /// (killed if it has not within [`crate::machine::SHUTDOWN_GRACE`]).
    pub fn end(&self, state: &Path, id: &str, terminated: bool) {
        self.ended
            .lock()
            .unwrap()
            .entry(id.to_string())
            .and_modify(|t| *t |= terminated)
            .or_insert(terminated);
        forget_server(state, id);
        // A call ended it: EC2's reason is the call's from now on.
        self.ended_by_ec2.lock().unwrap().remove(id);
        let pid = self.running.lock().unwrap().get(id).copied();
        match pid {
            Some(pid) => {
                tracing::info!(
                    instance = id,
                    terminated,
                    "instance ends: its machine shuts down"
                );
                crate::machine::shut_down(pid);
            }
            // Not running (stopped already, or never booted): a terminated one's disk goes now.
            None if terminated => crate::machine::release_rootfs(&self.dir(id), true),
            None => {}
        }
    }

    fn has_ended(&self, id: &str) -> bool {
        self.ended.lock().unwrap().contains_key(id)
    }
}

/// The server's URL is no longer served.
fn forget_server(state: &Path, id: &str) {
    let url_file = state.join("servers").join(format!("{id}.url"));
    if let Ok(url) = std::fs::read_to_string(&url_file) {
        let newest = state.join("rsync-url");
        if std::fs::read_to_string(&newest).ok().as_deref() == Some(url.as_str()) {
            let _ = std::fs::remove_file(newest);
        }
        let _ = std::fs::remove_file(url_file);
    }
}

/// Boots a launched instance: in the background, after RunInstances answered.
///
/// A machine that cannot be booted ends as a failed launch does on EC2: the instance is
/// terminated with the state reason `Server.InternalError`, rather than left running with
/// nothing on it, and its console says why.
pub async fn boot(world: Arc<World>, region: String, id: String, request: LaunchRequest) {
    let Err(e) = try_boot(&world, &region, &id, &request).await else {
        return;
    };
    tracing::error!(instance = %id, error = %e, "instance did not boot: EC2 terminates it");
    let log = world.instances.dir(&id).join("console.log");
    let _ = std::fs::create_dir_all(world.instances.dir(&id));
    let _ = std::fs::write(
        log,
        format!("local cloud: the instance did not boot: {e}\n"),
    );
    if world.instances.has_ended(&id) {
        return;
    }
    world
        .instances
        .ended_by_ec2
        .lock()
        .unwrap()
        .insert(id.clone(), EndedBy::LaunchError);
    world
        .instances
        .ended
        .lock()
        .unwrap()
        .insert(id.clone(), true);
    if let Some(pid) = world.instances.running.lock().unwrap().get(&id).copied() {
        crate::machine::shut_down(pid);
    }
    let terminated = world
        .ec2(&region)
        .terminate_instances()
        .instance_ids(&id)
        .send()
        .await;
    if let Err(e) = terminated {
        tracing::error!(instance = %id, error = ?e, "could not record the failed launch in EC2");
    }
    if !world.instances.running.lock().unwrap().contains_key(&id) {
        crate::machine::release_rootfs(&world.instances.dir(&id), true);
    }
}

/// What DescribeInstances says of the instance: its image and tags.
async fn described(
    ec2: &aws_sdk_ec2::Client,
    id: &str,
) -> Result<aws_sdk_ec2::types::Instance, String> {
    let described = ec2
        .describe_instances()
        .instance_ids(id)
        .send()
        .await
        .map_err(|e| format!("DescribeInstances: {e:?}"))?;
    described
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .next()
        .cloned()
        .ok_or_else(|| "not found in EC2".into())
}

fn tag(tags: &[aws_sdk_ec2::types::Tag], key: &str) -> Option<String> {
    tags.iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
        .map(str::to_string)
}

async fn try_boot(
    world: &Arc<World>,
    region: &str,
    id: &str,
    request: &LaunchRequest,
) -> Result<(), String> {
    let ec2 = world.ec2(region);
    let instance = described(&ec2, id).await?;
    let ami = instance.image_id().unwrap_or_default();
    let Some(image) = world.image_rootfs(ami) else {
        tracing::info!(
            instance = id,
            ami,
            "its image was not built by the local cloud: it boots nothing"
        );
        return Ok(());
    };
    let started = std::time::Instant::now();
    let launched = launch::resolve(world, region, request).await?;
    let role = role_of(&ec2, ami, &instance).await;
    let dir = world.instances.dir(id);
    let resolved = started.elapsed();
    let root = crate::machine::overlay_rootfs(&image, &dir)?;
    crate::machine::seed(&root, id, &launched.user_data)?;
    let mounted = started.elapsed();
    let device = match role {
        Some(_) => match attach_data_volume(world, &ec2, id).await? {
            Some(device) => Some(device),
            None => return Ok(()), // ended while waiting
        },
        None => None,
    };
    let (imds_port, imds) = crate::imds::serve(
        world.clone(),
        crate::imds::Instance {
            id: id.to_string(),
            region: region.to_string(),
            availability_zone: instance
                .placement()
                .and_then(|p| p.availability_zone())
                .unwrap_or_default()
                .to_string(),
            tags_enabled: launched.tags_in_metadata,
            role: launched.role.clone(),
        },
    )
    .await?;
    let rsync_port = match role {
        Some(Role::Server) => Some(free_port()?),
        _ => None,
    };
    write_fabric(world, &root, role, imds_port, rsync_port)?;
    let Some(child) = spawn_machine(world, id, &dir, &root, device.as_ref())? else {
        imds.abort();
        return Ok(());
    };
    tracing::info!(
        instance = id,
        ?role,
        resolved = ?resolved,
        disk_mounted = ?mounted,
        started = ?started.elapsed(),
        "booted under systemd"
    );
    tokio::spawn(watch(
        world.clone(),
        region.to_string(),
        id.to_string(),
        child,
        launched,
        (device, imds),
    ));
    if let Some(port) = rsync_port {
        publish_server(world, id, port).await?;
    }
    Ok(())
}

/// What the instance boots into, from its image's `vibes:address`, else its own.
async fn role_of(
    ec2: &aws_sdk_ec2::Client,
    ami: &str,
    instance: &aws_sdk_ec2::types::Instance,
) -> Option<Role> {
    let image_address = ec2
        .describe_images()
        .image_ids(ami)
        .send()
        .await
        .ok()
        .and_then(|o| {
            o.images()
                .first()
                .and_then(|i| tag(i.tags(), "vibes:address"))
        });
    Role::of(
        image_address.as_deref(),
        tag(instance.tags(), "vibes:address").as_deref(),
    )
}

/// The data volume's blocks as a loop device, once a volume is attached as [`DATA_DEVICE`];
/// `None` when the instance ended first.
async fn attach_data_volume(
    world: &World,
    ec2: &aws_sdk_ec2::Client,
    id: &str,
) -> Result<Option<LoopDevice>, String> {
    let Some((volume, snapshot, gib)) = wait_for_data_volume(world, ec2, id).await? else {
        return Ok(None);
    };
    world
        .disks
        .create_volume(&volume, snapshot.as_deref(), gib)
        .await?;
    LoopDevice::attach(&world.disks.volume_file(&volume)).map(Some)
}

/// Starts systemd-nspawn on the root disk, its console to `dir/console.log`; `None` when the
/// instance ended meanwhile (checked under the lock [`Instances::end`] takes).
fn spawn_machine(
    world: &World,
    id: &str,
    dir: &Path,
    root: &Path,
    device: Option<&LoopDevice>,
) -> Result<Option<tokio::process::Child>, String> {
    let binds: Vec<(PathBuf, String)> = device
        .iter()
        .map(|d| (d.path.clone(), DATA_DEVICE.to_string()))
        .collect();
    let console = std::fs::File::create(dir.join("console.log")).map_err(|e| e.to_string())?;
    let mut cmd = tokio::process::Command::from(crate::machine::boot_command(root, id, &binds));
    cmd.stdin(std::process::Stdio::null())
        .stdout(console.try_clone().map_err(|e| e.to_string())?)
        .stderr(console);
    crate::machine::ends_with_runner(&mut cmd);
    let mut running = world.instances.running.lock().unwrap();
    if world.instances.has_ended(id) {
        return Ok(None);
    }
    let child = cmd.spawn().map_err(|e| {
        format!("systemd-nspawn: {e} (scripts/setup.sh installs systemd-container)")
    })?;
    running.insert(
        id.to_string(),
        child.id().ok_or("systemd-nspawn exited at once")?,
    );
    Ok(Some(child))
}

/// What EC2's network gives an instance, given to its units by systemd (see the module's doc).
fn write_fabric(
    world: &World,
    root: &Path,
    role: Option<Role>,
    imds_port: u16,
    rsync_port: Option<u16>,
) -> Result<(), String> {
    let endpoint = &world.settings.endpoint;
    let imds = format!("http://127.0.0.1:{imds_port}");
    let mut vars = vec![
        format!("AWS_ENDPOINT_URL={endpoint}"),
        format!("VIBES_AWS=aws --endpoint-url {endpoint}"),
        // With its slash: the aws CLI appends `latest/…` to it as it is.
        format!("AWS_EC2_METADATA_SERVICE_ENDPOINT={imds}/"),
        format!("VIBES_IMDS_URL={imds}"),
        // Compiles here take seconds: progress every second, not every 30.
        "VIBES_PROGRESS_SECONDS=1".to_string(),
    ];
    if let Some(role) = role {
        // Told apart from the other clients in what S3 serves (`GET /_localcloud/stats`).
        vars.push(format!("AWS_SDK_UA_APP_ID={}", role.app_id()));
    }
    if let Some(port) = rsync_port {
        vars.push("RSYNCD_ADDRESS=127.0.0.1".to_string());
        vars.push(format!("RSYNCD_PORT={port}"));
    }
    let quoted: Vec<String> = vars.iter().map(|v| format!("\"{v}\"")).collect();
    let dir = root.join("etc/systemd/system.conf.d");
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    std::fs::write(
        dir.join("50-localcloud.conf"),
        format!(
            "# The local cloud's network, in place of EC2's (see vibes-localcloud's instances.rs).\n[Manager]\nDefaultEnvironment={}\n",
            quoted.join(" ")
        ),
    )
    .map_err(|e| e.to_string())
}

/// Waits for the machine to end; a poweroff from inside stops or terminates the instance.
async fn watch(
    world: Arc<World>,
    region: String,
    id: String,
    mut child: tokio::process::Child,
    launched: Launched,
    held: (Option<LoopDevice>, tokio::task::JoinHandle<()>),
) {
    let status = child.wait().await;
    let (device, imds) = held;
    drop(device);
    imds.abort();
    world.instances.running.lock().unwrap().remove(&id);
    let by_api = world.instances.has_ended(&id);
    tracing::info!(instance = %id, ?status, by_api, "machine ended");
    let terminated = if by_api {
        world
            .instances
            .ended
            .lock()
            .unwrap()
            .get(&id)
            .copied()
            .unwrap_or(false)
    } else {
        // It powered itself off: EC2 stops it, or terminates it (its shutdown behaviour).
        let terminate = launched.shutdown == Shutdown::Terminate;
        world
            .instances
            .ended_by_ec2
            .lock()
            .unwrap()
            .insert(id.clone(), EndedBy::ItsOwnShutdown);
        world
            .instances
            .ended
            .lock()
            .unwrap()
            .insert(id.clone(), terminate);
        forget_server(&world.settings.state, &id);
        let ec2 = world.ec2(&region);
        let outcome = if terminate {
            ec2.terminate_instances()
                .instance_ids(&id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| format!("TerminateInstances: {e:?}"))
        } else {
            ec2.stop_instances()
                .instance_ids(&id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| format!("StopInstances: {e:?}"))
        };
        if let Err(e) = outcome {
            tracing::error!(instance = %id, error = %e, "could not record the poweroff in EC2");
        }
        terminate
    };
    // The root disk goes with the instance when it terminates (DeleteOnTermination); a
    // stopped one keeps it. The console log stays.
    crate::machine::release_rootfs(&world.instances.dir(&id), terminated);
}

/// The volume on the data device: made at launch from a snapshot (the server's, and the
/// worker's once there is a builds snapshot) or empty (the worker's first), or attached after
/// the launch: its id, snapshot and size in GiB. `None` when the instance ended first.
async fn wait_for_data_volume(
    world: &World,
    ec2: &aws_sdk_ec2::Client,
    id: &str,
) -> Result<Option<(String, Option<String>, u64)>, String> {
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
                    v.size().unwrap_or(1).max(1) as u64,
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
