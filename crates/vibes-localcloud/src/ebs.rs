//! EBS as directories: a volume is `ebs/volumes/<vol-id>/`, a snapshot `ebs/snapshots/<snap-id>/`,
//! a copy of its volume taken when the snapshot is made. As on EBS, a snapshot is `pending`
//! until its copy is done (DescribeSnapshots answers say so), a volume made from a snapshot
//! starts as a copy of it, and deleting either removes its directory.

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

    pub fn volume_dir(&self, id: &str) -> PathBuf {
        self.root.join("volumes").join(id)
    }

    pub fn snapshot_dir(&self, id: &str) -> PathBuf {
        self.root.join("snapshots").join(id)
    }

    /// Whether the snapshot's copy is still being made.
    pub fn is_pending(&self, snapshot: &str) -> bool {
        self.snapshots.lock().unwrap().get(snapshot) == Some(&Copy::Running)
    }

    /// A new volume: empty, or a copy of `from` once that snapshot is complete.
    pub async fn create_volume(&self, volume: &str, from: Option<&str>) -> Result<(), String> {
        let dir = self.volume_dir(volume);
        if dir.exists() {
            return Ok(());
        }
        match from {
            None => {
                std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))
            }
            Some(snapshot) => {
                self.wait_snapshot(snapshot).await?;
                copy_tree(&self.snapshot_dir(snapshot), &dir).await
            }
        }
    }

    /// Starts the copy of `volume` that is `snapshot`; the snapshot is pending until it is done.
    pub fn start_snapshot(self: &Arc<Self>, snapshot: &str, volume: &str) {
        self.snapshots
            .lock()
            .unwrap()
            .insert(snapshot.to_string(), Copy::Running);
        let (disks, snapshot, volume) = (self.clone(), snapshot.to_string(), volume.to_string());
        tokio::spawn(async move {
            let from = disks.volume_dir(&volume);
            let to = disks.snapshot_dir(&snapshot);
            let outcome = if from.exists() {
                copy_tree(&from, &to).await
            } else {
                // A volume the runner never saw made (made before it started): EBS would
                // snapshot its blocks; here there is nothing to copy.
                tracing::warn!(%volume, %snapshot, "snapshot of a volume without a directory: empty");
                std::fs::create_dir_all(&to).map_err(|e| e.to_string())
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
                // Done, or made before the runner started (its directory is what there is).
                Some(Copy::Done) | None => return Ok(()),
            }
            notified.await;
        }
    }

    pub fn delete_volume(&self, volume: &str) {
        remove(&self.volume_dir(volume));
    }

    pub fn delete_snapshot(&self, snapshot: &str) {
        self.snapshots.lock().unwrap().remove(snapshot);
        remove(&self.snapshot_dir(snapshot));
    }

    fn listed(&self, kind: &str) -> Vec<String> {
        std::fs::read_dir(self.root.join(kind))
            .map(|d| {
                d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn remove(dir: &Path) {
    if let Err(e) = std::fs::remove_dir_all(dir) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(dir = %dir.display(), error = %e, "could not remove");
        }
    }
}

/// `cp -a`: modes, times and links as they are, like a block copy would keep them.
async fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("create {}: {e}", to.display()))?;
    let out = tokio::process::Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", from.display()))
        .arg(to)
        .output()
        .await
        .map_err(|e| format!("cp: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "cp -a {} {}: {}",
            from.display(),
            to.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Volumes and snapshots that EC2 removed on its own (a volume deleted with its instance) lose
/// their directories too: every few seconds, what moto no longer has is removed.
pub async fn reconcile_forever(world: Arc<World>) {
    loop {
        tokio::time::sleep(Duration::from_secs(3)).await;
        if let Err(e) = reconcile(&world).await {
            tracing::debug!(error = %e, "reconcile");
        }
    }
}

async fn reconcile(world: &World) -> Result<(), String> {
    // Directories first: one is made only after moto has its volume or snapshot, so a directory
    // listed before moto is asked can only be missing from moto's answer when it is gone. Asked
    // one by one: the emulator's account holds a thousand catalogue snapshots.
    for v in world.disks.listed("volumes") {
        if gone_from_every_region(world, Kind::Volume, &v).await? {
            tracing::info!(volume = %v, "volume gone: its directory goes too");
            world.disks.delete_volume(&v);
        }
    }
    for s in world.disks.listed("snapshots") {
        if world.disks.is_pending(&s) {
            continue;
        }
        if gone_from_every_region(world, Kind::Snapshot, &s).await? {
            tracing::info!(snapshot = %s, "snapshot gone: its directory goes too");
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
