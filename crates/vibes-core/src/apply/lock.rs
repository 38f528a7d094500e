//! One apply at a time per project: the parameter `/<project>/lock`, created only if absent.
//! It says who holds it (`user@host`, pid), since when, and until when its lease runs: the
//! holder renews the lease while it works ([`keep_renewed`]), so a lock whose holder died is
//! recognised — its process is gone from this host, or its lease lapsed — and taken over by
//! the next apply, which says so. No hand `vibes unlock` after a crash; it remains for a lock
//! someone wants broken on purpose.

use crate::cloud::{Cloud, CloudError};
use crate::tags::{self, Tags};
pub use crate::units::human_age;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a lock stays valid without renewal. Renewed every third of it, so two missed
/// renewals in a row (a slow network) do not lose it.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(90);

/// The lock's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub id: String,
    /// `user@host`.
    pub holder: String,
    pub pid: u32,
    /// Unix seconds.
    pub since: u64,
    /// What the holder runs: `apply`, `destroy`, …
    pub command: String,
    /// Unix seconds of the last renewal. 0 in a lock written before leases: such a lock never
    /// lapses by itself.
    #[serde(default)]
    pub renewed: u64,
    /// Seconds the lock stays valid after `renewed`; 0: no lease.
    #[serde(default)]
    pub lease: u64,
}

impl LockInfo {
    /// The host part of `holder`.
    pub fn host(&self) -> &str {
        self.holder.rsplit_once('@').map_or("", |(_, h)| h)
    }

    /// Why this lock's holder can no longer be holding it, if it cannot: its lease lapsed, or
    /// its process is gone from this very host.
    pub fn abandoned(&self, now: u64, this_host: &str) -> Option<String> {
        if self.lease > 0 && now > self.renewed.saturating_add(self.lease) {
            let ago = now - self.renewed.saturating_add(self.lease);
            return Some(format!(
                "its lease lapsed {} ago",
                human_age(Duration::from_secs(ago))
            ));
        }
        if self.host() == this_host && !process_alive(self.pid) {
            return Some(format!("its process {} on {this_host} is gone", self.pid));
        }
        None
    }
}

/// Whether a process of this host runs under `pid`. Where that cannot be told (no /proc),
/// it is taken to run: only the lease then frees the lock.
fn process_alive(pid: u32) -> bool {
    let proc = std::path::Path::new("/proc");
    if !proc.join("self").exists() {
        return true;
    }
    pid == std::process::id() || proc.join(pid.to_string()).exists()
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LockError {
    #[error("another vibes {command} holds the lock (id {id}, held by {holder} for {}, since {}); wait for it, or run `vibes unlock {id}` if it crashed", human_age(*.age), rfc3339(*.since))]
    Held {
        id: String,
        holder: String,
        since: u64,
        age: Duration,
        command: String,
    },
    #[error("the lock of project {project} is not held")]
    NotHeld { project: String },
    #[error("the lock is held under id {actual} (by {holder}), not {given}: nothing was unlocked")]
    WrongId {
        given: String,
        actual: String,
        holder: String,
    },
    #[error("the lock parameter {parameter} holds something vibes did not write ({message}); delete it by hand if no apply runs")]
    Unreadable { parameter: String, message: String },
    #[error("the lock: {0}")]
    Cloud(#[from] CloudError),
}

/// Proof of holding the lock; give it back with [`release`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "the lock stays held until released"]
pub struct LockGuard {
    pub project: String,
    pub info: LockInfo,
    /// The abandoned lock this one replaced, and why it was taken over.
    pub took_over: Option<(LockInfo, String)>,
}

/// The lock parameter of a project.
pub fn lock_parameter(project: &str) -> String {
    format!("/{project}/lock")
}

/// Takes the lock for `command` with the default lease, or says who holds it.
pub async fn acquire(
    cloud: &dyn Cloud,
    project: &str,
    command: &str,
) -> Result<LockGuard, LockError> {
    acquire_with_lease(cloud, project, command, DEFAULT_LEASE).await
}

/// Takes the lock, taking over one whose holder is gone (see [`LockInfo::abandoned`]).
pub async fn acquire_with_lease(
    cloud: &dyn Cloud,
    project: &str,
    command: &str,
    lease: Duration,
) -> Result<LockGuard, LockError> {
    acquire_as(cloud, project, LockInfo::new(command, lease)).await
}

impl LockInfo {
    /// A new lock of this process, for `command`, with a fresh id.
    pub fn new(command: &str, lease: Duration) -> LockInfo {
        let now = unix_now();
        LockInfo {
            id: new_id(now),
            holder: holder(),
            pid: std::process::id(),
            since: now,
            command: command.to_string(),
            renewed: now,
            lease: lease.as_secs().max(1),
        }
    }
}

/// Takes the lock as `info` says. A lock already holding `info.id` is ours: the SDK retried a
/// PutParameter whose answer was lost, and the retry found what the first attempt wrote.
pub async fn acquire_as(
    cloud: &dyn Cloud,
    project: &str,
    info: LockInfo,
) -> Result<LockGuard, LockError> {
    let guard = |took_over| LockGuard {
        project: project.to_string(),
        info: info.clone(),
        took_over,
    };
    // Twice at most: once as it is, once after taking over an abandoned lock.
    let mut took_over = None;
    for _ in 0..2 {
        match create(cloud, project, &info).await {
            Ok(()) => return Ok(guard(took_over)),
            Err(CloudError::AlreadyExists { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        let Some(held) = read(cloud, project).await? else {
            // Released between the two calls: try again.
            continue;
        };
        // Our own write, retried by the SDK after its answer was lost: we hold it.
        if held.id == info.id {
            return Ok(guard(took_over));
        }
        match held.abandoned(unix_now(), info.host()) {
            Some(why) if took_over.is_none() => {
                match break_lock(cloud, project, &held.id).await {
                    Ok(_) | Err(LockError::NotHeld { .. }) => {}
                    // Taken over by someone else meanwhile: theirs now.
                    Err(LockError::WrongId { .. }) => continue,
                    Err(e) => return Err(e),
                }
                took_over = Some((held, why));
            }
            _ => {
                return Err(LockError::Held {
                    age: Duration::from_secs(unix_now().saturating_sub(held.since)),
                    id: held.id,
                    holder: held.holder,
                    since: held.since,
                    command: held.command,
                })
            }
        }
    }
    let held = read(cloud, project)
        .await?
        .ok_or_else(|| LockError::NotHeld {
            project: project.to_string(),
        })?;
    Err(LockError::Held {
        age: Duration::from_secs(unix_now().saturating_sub(held.since)),
        id: held.id,
        holder: held.holder,
        since: held.since,
        command: held.command,
    })
}

async fn create(cloud: &dyn Cloud, project: &str, info: &LockInfo) -> Result<(), CloudError> {
    let value = serde_json::to_string(info).expect("lock info serializes");
    let mut tags = Tags::new();
    tags.insert(tags::PROJECT.into(), project.into());
    cloud
        .create_parameter_exclusive(&lock_parameter(project), &value, &tags)
        .await
}

/// Renews the lease every third of it until the returned task is aborted (when the holder is
/// done). A lock found taken over (the holder was too slow to renew) is not written over: the
/// task logs it and stops.
pub fn keep_renewed(cloud: Arc<dyn Cloud>, guard: &LockGuard) -> tokio::task::JoinHandle<()> {
    let project = guard.project.clone();
    let mut info = guard.info.clone();
    let every = Duration::from_secs((info.lease / 3).max(1));
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            match read(cloud.as_ref(), &project).await {
                Ok(Some(held)) if held.id == info.id => {}
                Ok(_) => {
                    tracing::error!(id = %info.id, "the apply lock was taken over or broken: no longer renewing it");
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the apply lock to renew it");
                    continue;
                }
            }
            info.renewed = unix_now();
            let value = serde_json::to_string(&info).expect("lock info serializes");
            let mut tags = Tags::new();
            tags.insert(tags::PROJECT.into(), project.clone());
            if let Err(e) = cloud
                .put_parameter(&lock_parameter(&project), &value, &tags)
                .await
            {
                tracing::warn!(error = %e, "could not renew the apply lock");
            }
        }
    })
}

/// Gives the lock back. Refuses (and deletes nothing) when someone broke it and took it since.
pub async fn release(cloud: &dyn Cloud, guard: LockGuard) -> Result<(), LockError> {
    break_lock(cloud, &guard.project, &guard.info.id)
        .await
        .map(|_| ())
}

/// Who holds the lock now, if anyone.
pub async fn read(cloud: &dyn Cloud, project: &str) -> Result<Option<LockInfo>, LockError> {
    let parameter = lock_parameter(project);
    match cloud.get_parameter(&parameter).await? {
        None => Ok(None),
        Some(raw) => serde_json::from_str(&raw)
            .map(Some)
            .map_err(|e| LockError::Unreadable {
                parameter,
                message: e.to_string(),
            }),
    }
}

/// Breaks the lock held under `id` (`vibes unlock ID`); refuses when the id does not match, so
/// that a lock taken since by a live run is not broken by mistake. Returns what was broken.
pub async fn break_lock(cloud: &dyn Cloud, project: &str, id: &str) -> Result<LockInfo, LockError> {
    let held = read(cloud, project)
        .await?
        .ok_or_else(|| LockError::NotHeld {
            project: project.to_string(),
        })?;
    if held.id != id {
        return Err(LockError::WrongId {
            given: id.to_string(),
            actual: held.id,
            holder: held.holder,
        });
    }
    match cloud.delete_parameter(&lock_parameter(project)).await {
        Ok(()) | Err(CloudError::NotFound { .. }) => Ok(held),
        Err(e) => Err(e.into()),
    }
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn new_id(now: u64) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let pid = std::process::id();
    tags::short_hash(&[
        &now.to_le_bytes(),
        &nanos.to_le_bytes(),
        &pid.to_le_bytes(),
        holder().as_bytes(),
    ])[..12]
        .to_string()
}

/// `user@host` of this process.
pub fn holder() -> String {
    let user = ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok())
        .unwrap_or_else(|| "unknown".into());
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".into());
    format!("{user}@{host}")
}

/// Unix seconds as RFC 3339 UTC (days-from-civil, inverted).
pub fn rfc3339(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let rem = unix % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

impl fmt::Display for LockInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (vibes {}, pid {}) since {}, id {}",
            self.holder,
            self.command,
            self.pid,
            rfc3339(self.since),
            self.id
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_times_read_well() {
        assert_eq!(human_age(Duration::from_secs(192)), "3m 12s");
        assert_eq!(human_age(Duration::from_secs(7_500)), "2h 5m");
        assert_eq!(human_age(Duration::from_secs(9)), "9s");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_709_251_199), "2024-02-29T23:59:59Z");
    }

    #[test]
    fn a_held_lock_says_who_and_how_to_break_it() {
        let e = LockError::Held {
            id: "abc123".into(),
            holder: "ann@box".into(),
            since: 1_700_000_000,
            age: Duration::from_secs(192),
            command: "apply".into(),
        };
        assert_eq!(
            e.to_string(),
            "another vibes apply holds the lock (id abc123, held by ann@box for 3m 12s, since 2023-11-14T22:13:20Z); wait for it, or run `vibes unlock abc123` if it crashed"
        );
    }
}
