//! Retrying transient cloud errors (throttling, 5xx) with exponential backoff and jitter.
//! Permanent errors are returned at once: retrying them only delays the report.

use crate::cloud::{CloudError, CloudResult};
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included. At least 1.
    pub max_attempts: u32,
    /// The delay before the second attempt; it doubles after each further failure.
    pub base_delay: Duration,
    /// No delay is longer than this.
    pub max_delay: Duration,
    /// Seed of the jitter; `None` seeds from the clock. Tests set it to get the same delays.
    pub jitter_seed: Option<u64>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(20),
            jitter_seed: None,
        }
    }
}

impl RetryPolicy {
    /// The delay before attempt `attempt + 1` (after `attempt` failures), before jitter.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(20));
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }
}

/// Runs operations under a [`RetryPolicy`]; shared by every task of one apply.
#[derive(Debug)]
pub struct Retrier {
    policy: RetryPolicy,
    rng: Mutex<fastrand::Rng>,
}

impl Retrier {
    pub fn new(policy: RetryPolicy) -> Self {
        let rng = match policy.jitter_seed {
            Some(seed) => fastrand::Rng::with_seed(seed),
            None => fastrand::Rng::new(),
        };
        Retrier {
            policy,
            rng: Mutex::new(rng),
        }
    }

    /// "Equal jitter": half the backoff, plus a random part of the other half, so that many
    /// throttled calls do not come back in step.
    fn delay(&self, attempt: u32) -> Duration {
        let d = self.policy.backoff(attempt);
        let half = d / 2;
        let nanos = half.as_nanos().min(u64::MAX as u128) as u64;
        let extra = if nanos == 0 {
            0
        } else {
            self.rng.lock().expect("rng lock").u64(0..=nanos)
        };
        half + Duration::from_nanos(extra)
    }

    /// Calls `op(attempt)` (attempt counts from 1) until it succeeds, fails permanently, or
    /// `max_attempts` transient failures have been seen; the last error is returned then.
    pub async fn run<T, F, Fut>(&self, mut op: F) -> CloudResult<T>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = CloudResult<T>>,
    {
        let max = self.policy.max_attempts.max(1);
        let mut attempt = 1;
        loop {
            match op(attempt).await {
                Err(e) if e.is_transient() && attempt < max => {
                    tracing::debug!(attempt, error = %e, "transient error, retrying");
                    tokio::time::sleep(self.delay(attempt)).await;
                    attempt += 1;
                }
                Err(e) if e.is_transient() => return Err(gave_up(e, attempt)),
                other => return other,
            }
        }
    }
}

fn gave_up(e: CloudError, attempts: u32) -> CloudError {
    match e {
        CloudError::Transient { operation, message } => CloudError::Transient {
            operation,
            message: format!("{message} (gave up after {attempts} attempts)"),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn quick(max_attempts: u32) -> Retrier {
        Retrier::new(RetryPolicy {
            max_attempts,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(4),
            jitter_seed: Some(7),
        })
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy {
            max_attempts: 9,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(700),
            jitter_seed: None,
        };
        let got: Vec<_> = (1..=5).map(|a| p.backoff(a).as_millis()).collect();
        assert_eq!(got, vec![100, 200, 400, 700, 700]);
    }

    #[tokio::test]
    async fn transient_errors_are_retried_until_success() {
        let calls = AtomicU32::new(0);
        let r = quick(5)
            .run(|_| async {
                if calls.fetch_add(1, Ordering::SeqCst) < 3 {
                    Err(CloudError::Transient {
                        operation: "op".into(),
                        message: "Throttling".into(),
                    })
                } else {
                    Ok(42)
                }
            })
            .await;
        assert_eq!(r, Ok(42));
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn permanent_errors_are_not_retried() {
        let calls = AtomicU32::new(0);
        let r: CloudResult<()> = quick(5)
            .run(|_| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(CloudError::permanent("op", "AccessDenied"))
            })
            .await;
        assert!(r.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn gives_up_after_max_attempts_and_says_so() {
        let calls = AtomicU32::new(0);
        let r: CloudResult<()> = quick(3)
            .run(|_| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(CloudError::Transient {
                    operation: "op".into(),
                    message: "Throttling".into(),
                })
            })
            .await;
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert!(r
            .unwrap_err()
            .to_string()
            .contains("gave up after 3 attempts"));
    }
}
