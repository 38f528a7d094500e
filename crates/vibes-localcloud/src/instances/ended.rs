//! Why EC2 says an instance ended, where moto would say a call ended it.

/// How an instance ended other than by a call, as EC2's state reason says
/// (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_StateReason.html).
#[derive(Debug, Clone, Copy)]
pub(super) enum EndedBy {
    /// Its own operating system powered it off.
    ItsOwnShutdown,
    /// Its launch could not complete (here: the machine could not be booted), which EC2
    /// ends by terminating the instance.
    LaunchError,
}

impl EndedBy {
    pub(super) fn state_reason(self) -> (&'static str, &'static str) {
        match self {
            EndedBy::ItsOwnShutdown => (
                "Client.InstanceInitiatedShutdown",
                "Instance initiated shutdown",
            ),
            EndedBy::LaunchError => ("Server.InternalError", "Internal error on launch"),
        }
    }
}
