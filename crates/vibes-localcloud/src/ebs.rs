//! EBS as block devices: a volume is `ebs/volumes/<vol-id>.img`, a sparse file of the volume's
//! size that an instance sees as a block device (a loop device bound as `/dev/sdf`), so the
//! boot scripts format, mount and grow it themselves, as on EC2. A snapshot is
//! `ebs/snapshots/<snap-id>.img`, a copy of its volume's blocks taken when the snapshot is made.
//! As on EBS, a snapshot is `pending` until its copy is done (DescribeSnapshots answers say so),
//! a volume made from a snapshot starts as a copy of it (grown to the volume's size: the file
//! system on it is as small as the snapshot's, until `resize2fs`), and deleting either removes
//! its file.

use crate::world::World;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Copy {
    Running,
    Done,
    Failed(String),
}

pub struct Disks {
    root: PathBuf,
    snapshots: Mutex<BTreeMap<String, Copy>>,
    changed: tokio::sync::Notify,
}

impl Disks {
    pub fn new(root: PathBuf) -> Result<Disks, String> {
        for d in ["volumes", "snapshots"] {
            std::fs::create_dir_all(root.join(d))
                .map_err(|e| format!("create {}: {e}", root.join(d).display()))?;
        }
        Ok(Disks {
            root,
            snapshots: Mutex::default(),
            changed: tokio::sync::Notify::new(),
        })
    }

    /// The volume's blocks.
    pub fn volume_file(&self, id: &str) -> PathBuf {
        self.root.join("volumes").join(format!("{id}.img"))
    }

    fn snapshot_file(&self, id: &str) -> PathBuf {
        self.root.join("snapshots").join(format!("{id}.img"))
    }

    /// Whether the snapshot's copy is still being made.
    pub fn is_pending(&self, snapshot: &str) -> bool {
        self.snapshots.lock().unwrap().get(snapshot) == Some(&Copy::Running)
    }

    /// A new volume of `gib` GiB: blank (no file system: the first boot formats it), or a copy
    /// of `from` once that snapshot is complete, grown to `gib`.
    pub async fn create_volume(
        &self,
        volume: &str,
        from: Option<&str>,
        gib: u64,
    ) -> Result<(), String> {
        let file = self.volume_file(volume);
        if file.exists() {
            return Ok(());
        }
        let partial = file.with_extension("partial");
        if let Some(snapshot) = from {
            self.wait_snapshot(snapshot).await?;
            copy_blocks(&self.snapshot_file(snapshot), &partial).await?;
        }
        // Sparse: a 100 GiB volume costs only the blocks written to it.
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&partial)
            .map_err(|e| format!("create {}: {e}", partial.display()))?;
        let bytes = gib.max(1) << 30;
        if f.metadata().map(|m| m.len()).unwrap_or(0) < bytes {
            f.set_len(bytes)
                .map_err(|e| format!("size {}: {e}", partial.display()))?;
        }
        std::fs::rename(&partial, &file).map_err(|e| format!("rename {}: {e}", file.display()))
    }

    /// Starts the copy of `volume` that is `snapshot`; the snapshot is pending until it is done.
    pub fn start_snapshot(self: &Arc<Self>, snapshot: &str, volume: &str) {
        self.snapshots
            .lock()
            .unwrap()
            .insert(snapshot.to_string(), Copy::Running);
        let (disks, snapshot, volume) = (self.clone(), snapshot.to_string(), volume.to_string());
        tokio::spawn(async move {
            let from = disks.volume_file(&volume);
            let to = disks.snapshot_file(&snapshot);
            let outcome = if from.exists() {
                copy_blocks(&from, &to).await
            } else {
                // A volume the runner never saw made (made before it started): EBS would
                // snapshot its blocks; here there are none.
                tracing::warn!(%volume, %snapshot, "snapshot of a volume without blocks: blank");
                std::fs::write(&to, b"").map_err(|e| e.to_string())
            };
            let state = match outcome {
                Ok(()) => Copy::Done,
                Err(e) => {
                    tracing::error!(%snapshot, error = %e, "snapshot copy failed");
                    Copy::Failed(e)
                }
            };
            tracing::info!(%snapshot, %volume, "snapshot complete");
            disks.snapshots.lock().unwrap().insert(snapshot, state);
            disks.changed.notify_waiters();
        });
    }

    async fn wait_snapshot(&self, snapshot: &str) -> Result<(), String> {
        loop {
            let notified = self.changed.notified();
            match self.snapshots.lock().unwrap().get(snapshot).cloned() {
                Some(Copy::Running) => {}
                Some(Copy::Failed(e)) => return Err(format!("snapshot {snapshot} failed: {e}")),
                // Done, or made before the runner started (its file is what there is).
                Some(Copy::Done) | None => return Ok(()),
            }
            notified.await;
        }
    }

    pub fn delete_volume(&self, volume: &str) {
        remove(&self.volume_file(volume));
    }

    pub fn delete_snapshot(&self, snapshot: &str) {
        self.snapshots.lock().unwrap().remove(snapshot);
        remove(&self.snapshot_file(snapshot));
    }

    /// The ids of the volumes or snapshots that have blocks here.
    fn listed(&self, kind: &str) -> Vec<String> {
        std::fs::read_dir(self.root.join(kind))
            .map(|d| {
                d.filter_map(|e| {
                    let name = e.ok()?.file_name().into_string().ok()?;
                    name.strip_suffix(".img").map(str::to_string)
                })
                .collect()
            })
            .unwrap_or_default()
    }
}

fn remove(file: &Path) {
    if let Err(e) = std::fs::remove_file(file) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(file = %file.display(), error = %e, "could not remove");
        }
    }
}

/// A copy of a volume's blocks that stays sparse: the holes of a mostly empty volume are not
/// written out.
async fn copy_blocks(from: &Path, to: &Path) -> Result<(), String> {
    let out = tokio::process::Command::new("cp")
        .args(["--sparse=always", "--reflink=auto"])
        .arg(from)
        .arg(to)
        .output()
        .await
        .map_err(|e| format!("cp: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "copy {} to {}: {}",
            from.display(),
            to.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Volumes and snapshots that EC2 removed on its own (a volume deleted with its instance) lose
/// their blocks too: every few seconds, what moto no longer has is removed.
pub async fn reconcile_forever(world: Arc<World>) {
    loop {
        tokio::time::sleep(Duration::from_secs(3)).await;
        if let Err(e) = reconcile(&world).await {
            tracing::debug!(error = %e, "reconcile");
        }
    }
}

async fn reconcile(world: &World) -> Result<(), String> {
    // Files first: one is made only after moto has its volume or snapshot, so a file
    // listed before moto is asked can only be missing from moto's answer when it is gone. Asked
    // one by one: the emulator's account holds a thousand catalogue snapshots.
    for v in world.disks.listed("volumes") {
        if gone_from_every_region(world, Kind::Volume, &v).await? {
            tracing::info!(volume = %v, "volume gone: its blocks go too");
            world.disks.delete_volume(&v);
        }
    }
    for s in world.disks.listed("snapshots") {
        if world.disks.is_pending(&s) {
            continue;
        }
        if gone_from_every_region(world, Kind::Snapshot, &s).await? {
            tracing::info!(snapshot = %s, "snapshot gone: its blocks go too");
            world.disks.delete_snapshot(&s);
        }
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Kind {
    Volume,
    Snapshot,
}

/// Whether no region the runner has answered in knows `id` any more (ids are unique across
/// regions; each region is asked, since the runner does not note where a disk was made).
async fn gone_from_every_region(world: &World, kind: Kind, id: &str) -> Result<bool, String> {
    for region in world.regions() {
        let ec2 = world.ec2(&region);
        let here_gone = match kind {
            Kind::Volume => gone(
                ec2.describe_volumes()
                    .volume_ids(id)
                    .send()
                    .await
                    .map(|o| o.volumes().is_empty()),
                "InvalidVolume.NotFound",
            )?,
            Kind::Snapshot => gone(
                ec2.describe_snapshots()
                    .snapshot_ids(id)
                    .send()
                    .await
                    .map(|o| o.snapshots().is_empty()),
                "InvalidSnapshot.NotFound",
            )?,
        };
        if !here_gone {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Whether a describe-by-id says the thing no longer exists.
fn gone<E>(
    asked: Result<bool, aws_sdk_ec2::error::SdkError<E>>,
    not_found: &str,
) -> Result<bool, String>
where
    E: aws_sdk_ec2::error::ProvideErrorMetadata + std::fmt::Debug,
{
    match asked {
        Ok(empty) => Ok(empty),
        Err(e) if e.as_service_error().and_then(|s| s.code()) == Some(not_found) => Ok(true),
        Err(e) => Err(format!("{e:?}")),
    }
}

/// A volume's file attached as a loop device: what an instance sees as its EBS device.
pub struct LoopDevice {
    pub path: PathBuf,
}

impl LoopDevice {
    pub fn attach(file: &Path) -> Result<LoopDevice, String> {
        let out = crate::machine::run_tool(
            std::process::Command::new("losetup")
                .args(["--find", "--show"])
                .arg(file),
            &format!("losetup {}", file.display()),
        )?;
        Ok(LoopDevice {
            path: PathBuf::from(String::from_utf8_lossy(&out).trim()),
        })
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        let _ = std::process::Command::new("losetup")
            .arg("--detach")
            .arg(&self.path)
            .output();
    }
}
