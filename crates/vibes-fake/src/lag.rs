//! Reads that lag a create, as EC2's do (moto answers every read at once). With a lag set
//! ([`super::FakeCloud::set_read_lag`]), an instance just launched is unknown to reads for that
//! long: DescribeInstances (`wait_instance`, `observe`) answers NotFound or leaves it out, and
//! TerminateInstances answers NotFound too — which the adapter takes for "already gone", so the
//! fake's `terminate_instance` succeeds then without terminating anything, and the instance runs on.
//!
//! From "Eventual consistency in the Amazon EC2 API", Amazon EC2 Developer Guide
//! (<https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html>):
//!
//! > Eventual consistency can affect the way you manage your resources. For example, if you run
//! > a command to create a resource, it will eventually be visible to other commands. This means
//! > that if you run a command to modify or describe the resource that you just created, its ID
//! > might not have propagated throughout the system, and you will get an error responding that
//! > the resource does not exist.

use std::collections::BTreeMap;
use tokio::time::Instant;

/// When each resource becomes visible to reads; absent means visible.
#[derive(Debug, Default)]
pub(super) struct Visibility {
    until: BTreeMap<String, Instant>,
}

impl Visibility {
    /// `id` stays unknown to reads until `until`.
    pub fn hide_until(&mut self, id: &str, until: Instant) {
        self.until.insert(id.to_string(), until);
    }

    pub fn hidden(&self, id: &str, now: Instant) -> bool {
        self.until.get(id).is_some_and(|t| now < *t)
    }

    /// When a hidden resource shows, to sleep until in a wait.
    pub fn next_reveal(&self, now: Instant) -> Option<Instant> {
        self.until.values().copied().filter(|t| *t > now).min()
    }
}
