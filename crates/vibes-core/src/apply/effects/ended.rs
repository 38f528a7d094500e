//! Why EC2 says an instance ended: its state reason's code, as the EC2 API reference lists them
//! (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_StateReason.html). A worker that
//! ends without a report is told apart by it: its own poweroff, a Spot reclaim, or a launch EC2
//! could not complete (capacity, an internal error, an encrypted volume whose KMS key the launch
//! may not use, a volume limit), which no amount of waiting or resuming turns into a compile.

/// EC2's state reason for an ended instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// `Client.InstanceInitiatedShutdown`: its own operating system powered it off.
    ShutItselfDown,
    /// `Server.SpotInstanceTermination` / `Server.SpotInstanceShutdown`: EC2 took the Spot
    /// capacity back.
    SpotReclaimed,
    /// The launch did not complete: EC2 terminated the instance during its launch.
    LaunchFailed(LaunchFailure),
    /// Any other reason (a call ended it, a scheduled stop, …), or none given.
    Other,
}

/// A launch EC2 could not complete, each with the reference's meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaunchFailure {
    InsufficientCapacity,
    ServerInternalError,
    ClientInternalError,
    SnapshotNotFound,
    VolumeLimitExceeded,
}

impl Ended {
    /// Reads a state reason code (`None`: EC2 gave none).
    pub fn of(code: Option<&str>) -> Ended {
        match code {
            Some("Client.InstanceInitiatedShutdown") => Ended::ShutItselfDown,
            Some("Server.SpotInstanceTermination" | "Server.SpotInstanceShutdown") => {
                Ended::SpotReclaimed
            }
            Some("Server.InsufficientInstanceCapacity") => {
                Ended::LaunchFailed(LaunchFailure::InsufficientCapacity)
            }
            Some("Server.InternalError") => Ended::LaunchFailed(LaunchFailure::ServerInternalError),
            Some("Client.InternalError") => Ended::LaunchFailed(LaunchFailure::ClientInternalError),
            Some("Client.InvalidSnapshot.NotFound") => {
                Ended::LaunchFailed(LaunchFailure::SnapshotNotFound)
            }
            Some("Client.VolumeLimitExceeded") => {
                Ended::LaunchFailed(LaunchFailure::VolumeLimitExceeded)
            }
            _ => Ended::Other,
        }
    }
}

impl LaunchFailure {
    /// The state reason code EC2 gives.
    pub fn code(self) -> &'static str {
        match self {
            LaunchFailure::InsufficientCapacity => "Server.InsufficientInstanceCapacity",
            LaunchFailure::ServerInternalError => "Server.InternalError",
            LaunchFailure::ClientInternalError => "Client.InternalError",
            LaunchFailure::SnapshotNotFound => "Client.InvalidSnapshot.NotFound",
            LaunchFailure::VolumeLimitExceeded => "Client.VolumeLimitExceeded",
        }
    }

    /// What it means, and what to do about it.
    pub fn meaning(self) -> &'static str {
        match self {
            LaunchFailure::InsufficientCapacity => {
                "EC2 had no capacity for the instance type; run vibes apply again later, or choose another [compile] instance_type"
            }
            LaunchFailure::ServerInternalError => {
                "an internal error of EC2 ended the launch; run vibes apply again"
            }
            LaunchFailure::ClientInternalError => {
                "the launch failed on something of the account's, most often an encrypted volume whose KMS key the launch may not use (check the key's policy)"
            }
            LaunchFailure::SnapshotNotFound => {
                "a snapshot the launch maps was not found (deleted outside vibes?); vibes plan shows what the next compile starts from"
            }
            LaunchFailure::VolumeLimitExceeded => {
                "the account's EBS volume or storage limit was reached; free some, or ask AWS for a higher quota"
            }
        }
    }
}

impl std::fmt::Display for LaunchFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code(), self.meaning())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_launch_failure_reads_back_from_its_own_code() {
        for failure in [
            LaunchFailure::InsufficientCapacity,
            LaunchFailure::ServerInternalError,
            LaunchFailure::ClientInternalError,
            LaunchFailure::SnapshotNotFound,
            LaunchFailure::VolumeLimitExceeded,
        ] {
            assert_eq!(
                Ended::of(Some(failure.code())),
                Ended::LaunchFailed(failure)
            );
        }
    }

    #[test]
    fn a_shutdown_a_reclaim_and_a_call_are_not_launch_failures() {
        assert_eq!(
            Ended::of(Some("Client.InstanceInitiatedShutdown")),
            Ended::ShutItselfDown
        );
        assert_eq!(
            Ended::of(Some("Server.SpotInstanceTermination")),
            Ended::SpotReclaimed
        );
        assert_eq!(
            Ended::of(Some("Client.UserInitiatedShutdown")),
            Ended::Other
        );
        assert_eq!(Ended::of(None), Ended::Other);
    }
}
