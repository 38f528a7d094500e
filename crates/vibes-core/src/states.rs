//! The states AWS reports for the things vibes watches, as types: what vibes decides from a
//! state is said once, as a predicate (`is_live`, `is_gone`, …), not as string comparisons
//! spread over the planner, the executor and the adapters. A state this vibes does not know
//! (AWS adds some) is kept as AWS named it and reads as what is safest for each predicate.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

macro_rules! aws_state {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
            /// A state this vibes does not know, as AWS named it.
            Other(String),
        }

        impl $name {
            /// The name AWS gives it.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Other(s) => s,
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $($text => $name::$variant,)+
                    other => $name::Other(other.to_string()),
                }
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name::from(s.as_str())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Ok($name::from(String::deserialize(d)?))
            }
        }
    };
}

aws_state!(
    /// An EC2 instance's state (DescribeInstances `State.Name`).
    InstanceState {
        Pending = "pending",
        Running = "running",
        Stopping = "stopping",
        Stopped = "stopped",
        ShuttingDown = "shutting-down",
        Terminated = "terminated",
    }
);

impl InstanceState {
    /// Not ended: it still runs, or may run again. An unknown state counts as live, so that a
    /// worker in it is still waited for and ended.
    pub fn is_live(&self) -> bool {
        !matches!(
            self,
            InstanceState::ShuttingDown | InstanceState::Terminated
        )
    }

    /// Running or about to: it can serve.
    pub fn is_up(&self) -> bool {
        matches!(self, InstanceState::Pending | InstanceState::Running)
    }
}

aws_state!(
    /// An EBS volume's state (DescribeVolumes `State`).
    VolumeState {
        Creating = "creating",
        Available = "available",
        InUse = "in-use",
        Deleting = "deleting",
        Deleted = "deleted",
        Error = "error",
    }
);

impl VolumeState {
    /// Going or gone: nothing is to be made of it.
    pub fn is_gone(&self) -> bool {
        matches!(self, VolumeState::Deleting | VolumeState::Deleted)
    }

    /// It holds, or will hold, its data.
    pub fn is_usable(&self) -> bool {
        matches!(
            self,
            VolumeState::Creating | VolumeState::Available | VolumeState::InUse
        )
    }
}

aws_state!(
    /// An EBS snapshot's state (DescribeSnapshots `State`).
    SnapshotState {
        Pending = "pending",
        Completed = "completed",
        Error = "error",
        Recoverable = "recoverable",
        Recovering = "recovering",
    }
);

impl SnapshotState {
    /// Whole and readable: a volume can be made from it.
    pub fn is_complete(&self) -> bool {
        matches!(self, SnapshotState::Completed)
    }

    /// Failed: it holds nothing to keep.
    pub fn is_failed(&self) -> bool {
        matches!(self, SnapshotState::Error)
    }
}

aws_state!(
    /// An AMI's state (DescribeImages `State`).
    ImageState {
        Pending = "pending",
        Available = "available",
        Invalid = "invalid",
        Deregistered = "deregistered",
        Transient = "transient",
        Failed = "failed",
        Error = "error",
        Disabled = "disabled",
    }
);

impl ImageState {
    pub fn is_available(&self) -> bool {
        matches!(self, ImageState::Available)
    }

    pub fn is_deregistered(&self) -> bool {
        matches!(self, ImageState::Deregistered)
    }
}

/// A CloudFormation stack's status (`CREATE_COMPLETE`, `UPDATE_ROLLBACK_FAILED`, …): two dozen
/// names whose meaning is in their parts, so a name with predicates rather than a variant each.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StackStatus(String);

impl StackStatus {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// CloudFormation is working on it: nothing else can be done to it now. Not
    /// `REVIEW_IN_PROGRESS`, which waits for nobody ([`StackStatus::is_never_executed`]).
    pub fn is_in_progress(&self) -> bool {
        self.0.ends_with("_IN_PROGRESS") && !self.is_never_executed()
    }

    /// Made by a CREATE change set that was never executed: it holds no resources, and stays
    /// so until the change set is executed or the stack deleted; nothing finishes by itself.
    pub fn is_never_executed(&self) -> bool {
        self.0 == "REVIEW_IN_PROGRESS"
    }

    /// Where a successful create, update, import or delete ends.
    pub fn succeeded(&self) -> bool {
        matches!(
            self.0.as_str(),
            "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "DELETE_COMPLETE" | "IMPORT_COMPLETE"
        )
    }

    /// Gone (a deleted stack is still listed for a while).
    pub fn is_deleted(&self) -> bool {
        self.0.starts_with("DELETE_COMPLETE")
    }

    /// An update failed and so did its rollback: the stack takes no update until the rollback
    /// is continued (ContinueUpdateRollback).
    pub fn is_rollback_failed(&self) -> bool {
        self.0 == "UPDATE_ROLLBACK_FAILED"
    }

    /// A create that failed and was rolled back (or a delete that failed): the stack holds
    /// nothing to update, only to delete and make again.
    /// Also a stack whose create was never executed: like a failed create, it has nothing
    /// to keep, and is deleted and created again.
    pub fn is_failed_create(&self) -> bool {
        let s = self.0.as_str();
        s == "ROLLBACK_COMPLETE"
            || s == "ROLLBACK_FAILED"
            || s == "DELETE_FAILED"
            || (s.starts_with("CREATE") && s.ends_with("_FAILED"))
            || self.is_never_executed()
    }
}

impl From<&str> for StackStatus {
    fn from(s: &str) -> Self {
        StackStatus(s.to_string())
    }
}

impl From<String> for StackStatus {
    fn from(s: String) -> Self {
        StackStatus(s)
    }
}

impl fmt::Display for StackStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_read_and_write_as_aws_names_them_and_keep_unknown_ones() {
        for name in ["pending", "running", "shutting-down", "terminated"] {
            let s = InstanceState::from(name);
            assert!(!matches!(s, InstanceState::Other(_)), "{name}");
            assert_eq!(s.to_string(), name);
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{name}\""));
        }
        let odd: InstanceState = serde_json::from_str("\"hibernating\"").unwrap();
        assert_eq!(odd, InstanceState::Other("hibernating".into()));
        assert!(
            odd.is_live(),
            "an unknown state is waited for, not forgotten"
        );
        assert!(!odd.is_up());
        assert!(!InstanceState::ShuttingDown.is_live());
        assert!(VolumeState::from("deleting").is_gone());
        assert!(VolumeState::from("in-use").is_usable());
        assert!(SnapshotState::from("completed").is_complete());
        assert!(ImageState::from("deregistered").is_deregistered());
    }

    #[test]
    fn stack_statuses_say_what_they_mean() {
        assert!(StackStatus::from("UPDATE_ROLLBACK_IN_PROGRESS").is_in_progress());
        // Nothing is going on in a stack whose create change set was never executed.
        assert!(!StackStatus::from("REVIEW_IN_PROGRESS").is_in_progress());
        assert!(StackStatus::from("REVIEW_IN_PROGRESS").is_failed_create());
        assert!(StackStatus::from("ROLLBACK_COMPLETE").is_failed_create());
        // A create whose rollback failed too: CloudFormation only deletes it.
        assert!(StackStatus::from("ROLLBACK_FAILED").is_failed_create());
        assert!(!StackStatus::from("UPDATE_ROLLBACK_COMPLETE").is_failed_create());
        assert!(StackStatus::from("DELETE_COMPLETE").is_deleted());
        assert!(StackStatus::from("IMPORT_COMPLETE").succeeded());
    }
}
