//! The fake's EBS: volumes made under client tokens ([`super::tokens`]), and snapshots that
//! complete after the `snapshot` latency.

use super::tokens;
use super::{not_found, FakeCloud};
use async_trait::async_trait;
use std::time::Duration;
use tokio::time::Instant;
use vibes_core::cloud::Volumes;
use vibes_core::cloud::{CloudError, CloudResult};
use vibes_core::observed::{ObservedSnapshot, ObservedVolume};
use vibes_core::states::InstanceState;
use vibes_core::tags::Tags;

#[async_trait]
impl Volumes for FakeCloud {
    async fn create_volume(
        &self,
        size_gib: u32,
        availability_zone: &str,
        tags: &Tags,
        token: &str,
    ) -> CloudResult<String> {
        let _s = self.enter("create_volume", token).await?;
        let parameters = tokens::parameters_hash(&(size_gib, availability_zone, tags));
        let mut w = self.world();
        match w.volume_tokens.claim(token, &parameters) {
            tokens::Claim::New => {}
            tokens::Claim::Repeat(id) => return Ok(id),
            tokens::Claim::Mismatch => {
                return Err(CloudError::IdempotentParameterMismatch {
                    operation: "create_volume".into(),
                    message: format!("client token {token} was used with other parameters"),
                })
            }
        }
        if availability_zone.is_empty() {
            return Err(CloudError::permanent(
                "create_volume",
                "InvalidParameterValue: no availability zone",
            ));
        }
        let id = w.id("vol");
        w.volume_tokens.record(token, &parameters, &id);
        w.volumes.insert(
            id.clone(),
            ObservedVolume {
                volume_id: id.clone(),
                size_gib,
                state: "available".into(),
                tags: tags.clone(),
            },
        );
        Ok(id)
    }

    async fn create_snapshot(&self, volume_id: &str, tags: &Tags) -> CloudResult<String> {
        let _s = self.enter("create_snapshot", volume_id).await?;
        let latency = self.latency("snapshot");
        let mut w = self.world();
        let Some(size_gib) = w.volumes.get(volume_id).map(|v| v.size_gib) else {
            return Err(not_found("create_snapshot", format!("volume {volume_id}")));
        };
        let id = w.id("snap");
        w.snapshot_gib.insert(id.clone(), size_gib);
        let started = w.stamp();
        let snap = ObservedSnapshot {
            snapshot_id: id.clone(),
            volume_id: volume_id.into(),
            state: "pending".into(),
            started,
            tags: tags.clone(),
        };
        w.snapshots
            .insert(id.clone(), (snap, Instant::now() + latency));
        Ok(id)
    }

    async fn wait_snapshot(&self, snapshot_id: &str, timeout: Duration) -> CloudResult<()> {
        let _s = self.enter("wait_snapshot", snapshot_id).await?;
        self.wait_for(
            "wait_snapshot",
            format!("snapshot {snapshot_id}"),
            timeout,
            |w| {
                let (s, _) = w
                    .snapshots
                    .get(snapshot_id)
                    .ok_or_else(|| not_found("wait_snapshot", format!("snapshot {snapshot_id}")))?;
                Ok(s.state.is_complete().then_some(()))
            },
        )
        .await
    }

    async fn delete_snapshot(&self, snapshot_id: &str) -> CloudResult<()> {
        let _s = self.enter("delete_snapshot", snapshot_id).await?;
        // Already gone is not an error.
        self.world().snapshots.remove(snapshot_id);
        Ok(())
    }

    /// EC2 DeleteVolume: only an `available` volume may be deleted; one attached to an instance
    /// not terminated is refused with [`CloudError::InUse`] (EC2's `VolumeInUse`). Already gone is not an error.
    async fn delete_volume(&self, volume_id: &str) -> CloudResult<()> {
        let _s = self.enter("delete_volume", volume_id).await?;
        let mut w = self.world();
        let holder = w
            .instances
            .iter()
            .find(|(_, i)| {
                i.observed.state != InstanceState::Terminated
                    && i.observed.volumes.values().any(|v| v == volume_id)
            })
            .map(|(id, _)| id.clone());
        if let Some(holder) = holder {
            return Err(CloudError::InUse {
                operation: "delete_volume".into(),
                what: format!("{volume_id} (attached to {holder})"),
            });
        }
        w.volumes.remove(volume_id);
        w.deleted_with.remove(volume_id);
        Ok(())
    }
}
