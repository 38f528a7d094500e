//! Waiting with backoff and a deadline. AWS waits (stacks, builds, snapshots, instances) take
//! seconds to hours; every one of them is bounded, because a stack can stay `*_IN_PROGRESS`
//! forever when something upstream is broken.

use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;
use vibes_core::cloud::{CloudError, CloudResult};

/// First pause between polls; it grows by half each time up to [`MAX_PAUSE`].
pub(crate) const FIRST_PAUSE: Duration = Duration::from_millis(500);
pub(crate) const MAX_PAUSE: Duration = Duration::from_secs(15);

/// Call `check` until it returns `Some`, pausing with backoff; [`CloudError::Timeout`] once
/// `timeout` has passed. The last pause is cut short so the deadline is kept.
pub(crate) async fn poll<T, F, Fut>(
    operation: &str,
    what: &str,
    timeout: Duration,
    mut check: F,
) -> CloudResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = CloudResult<Option<T>>>,
{
    let deadline = Instant::now() + timeout;
    let mut pause = FIRST_PAUSE;
    loop {
        if let Some(done) = check().await? {
            return Ok(done);
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(CloudError::Timeout {
                operation: operation.into(),
                what: what.into(),
                seconds: timeout.as_secs(),
            });
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 3 / 2).min(MAX_PAUSE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn stops_as_soon_as_the_check_is_done() {
        let n = AtomicU32::new(0);
        let got = poll("Wait", "thing", Duration::from_secs(10), || async {
            Ok((n.fetch_add(1, Ordering::SeqCst) == 2).then_some("done"))
        })
        .await
        .unwrap();
        assert_eq!(got, "done");
        assert_eq!(n.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn keeps_the_deadline() {
        let started = std::time::Instant::now();
        let err = poll("Wait", "stack x", Duration::from_millis(1200), || async {
            Ok(None::<()>)
        })
        .await
        .unwrap_err();
        assert!(matches!(err, CloudError::Timeout { .. }), "{err}");
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(1200) && took < Duration::from_millis(2500),
            "{took:?}"
        );
    }
}
