//! From SDK errors to [`CloudError`]: the executor retries what is transient, treats
//! "already exists" and "not found" as facts, and stops on the rest.
//!
//! Messages are cut short and scrubbed of any secret the request carried, because AWS error
//! messages sometimes echo the offending input (SSM's length check quotes the value).

use aws_sdk_s3::error::SdkError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use vibes_core::cloud::CloudError;
use vibes_core::secret::SENSITIVE;

/// Longest error message kept from AWS; the rest is noise in a plan report.
const MAX_MESSAGE: usize = 400;

/// Error codes that say "slow down" or "try again": retried with backoff by the executor
/// (the SDK's adaptive retry has already tried a few times by then).
const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "TooManyUpdates",
    "SlowDown",
    "PriorRequestNotComplete",
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "Unavailable",
    "RequestTimeout",
    "RequestTimeoutException",
    "InsufficientInstanceCapacity",
    "IncorrectState",
];

const ALREADY_EXISTS_CODES: &[&str] = &[
    "ParameterAlreadyExists",
    "InvalidKeyPair.Duplicate",
    "AlreadyExistsException",
    "ResourceAlreadyExistsException",
    "BucketAlreadyOwnedByYou",
    "InvalidLaunchTemplateName.AlreadyExistsException",
];

const NOT_FOUND_CODES: &[&str] = &[
    "ParameterNotFound",
    "InvalidKeyPair.NotFound",
    "InvalidVolume.NotFound",
    "InvalidSnapshot.NotFound",
    "InvalidInstanceID.NotFound",
    "InvalidAllocationID.NotFound",
    "InvalidAssociationID.NotFound",
    "InvalidAMIID.NotFound",
    "InvalidAMIID.Unavailable",
    "InvalidLaunchTemplateId.NotFound",
    "InvalidLaunchTemplateName.NotFoundException",
    "InvalidLaunchTemplateId.Malformed",
    "NoSuchBucket",
    "NoSuchKey",
    "NoSuchUpload",
    "NotFound",
    "ResourceNotFoundException",
    "InvalidResourceId",
];

/// Credentials that are missing, wrong or expired: not worth retrying, the user must act.
const CREDENTIAL_CODES: &[&str] = &[
    "AuthFailure",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "MissingAuthenticationToken",
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
];

/// What went wrong, before it becomes a [`CloudError`]: the code and message AWS sent, or a
/// description of a failure that never reached AWS.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub code: Option<String>,
    pub message: String,
    pub status: Option<u16>,
    /// Timeouts and connection failures: the request may not have reached AWS.
    pub transport: bool,
}

impl Failure {
    pub fn from_sdk<E>(err: &SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        match err {
            SdkError::ServiceError(ctx) => {
                let e = ctx.err();
                Failure {
                    code: e.code().map(str::to_string),
                    message: e
                        .message()
                        .map(str::to_string)
                        .unwrap_or_else(|| e.to_string()),
                    status: Some(ctx.raw().status().as_u16()),
                    transport: false,
                }
            }
            SdkError::TimeoutError(_) => Failure {
                code: None,
                message: "the request timed out".into(),
                status: None,
                transport: true,
            },
            SdkError::DispatchFailure(_) => Failure {
                code: None,
                message: format!("could not reach AWS: {}", chain(err)),
                status: None,
                transport: true,
            },
            SdkError::ResponseError(r) => Failure {
                code: None,
                message: format!("unreadable response: {}", chain(err)),
                status: Some(r.raw().status().as_u16()),
                transport: true,
            },
            // Construction failures include "no credentials" and "no region": configuration.
            _ => Failure {
                code: Some("Construction".into()),
                message: chain(err),
                status: None,
                transport: false,
            },
        }
    }

    pub fn code_is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    /// Classify and word the failure of `operation` on `what`, replacing every secret in
    /// `secrets` by `(sensitive)`.
    pub fn into_cloud(self, operation: &str, what: &str, secrets: &[&str]) -> CloudError {
        let code = self.code.as_deref().unwrap_or("");
        let message = scrub(&self.message, secrets);
        let operation = operation.to_string();
        let what = what.to_string();
        // A client token used before with other parameters: the caller renews its token.
        if code == "IdempotentParameterMismatch" {
            return CloudError::IdempotentParameterMismatch { operation, message };
        }
        if ALREADY_EXISTS_CODES.contains(&code) || (code == "EntityAlreadyExists") {
            return CloudError::AlreadyExists { operation, what };
        }
        // A volume still attached; a snapshot still held by an image EC2 is deregistering.
        if code == "VolumeInUse" || code == "InvalidSnapshot.InUse" {
            return CloudError::InUse { operation, what };
        }
        if NOT_FOUND_CODES.contains(&code)
            || is_missing_stack(code, &message)
            || self.status == Some(404)
        {
            return CloudError::NotFound { operation, what };
        }
        if CREDENTIAL_CODES.contains(&code) {
            return CloudError::Config(format!(
                "{operation} on {what}: AWS refused the credentials ({code}): {message}"
            ));
        }
        if code == "Construction" {
            return CloudError::Config(format!("{operation} on {what}: {message}"));
        }
        if self.transport
            || TRANSIENT_CODES.contains(&code)
            || is_instance_profile_not_yet_usable(code, &message)
            || self.status.is_some_and(|s| s >= 500 || s == 429)
        {
            let message = if code.is_empty() {
                message
            } else {
                format!("{code}: {message}")
            };
            return CloudError::Transient { operation, message };
        }
        let message = if code.is_empty() {
            format!("{what}: {message}")
        } else {
            format!("{what}: {code}: {message}")
        };
        CloudError::Permanent { operation, message }
    }
}

/// An instance profile made a moment ago: IAM is eventually consistent, and RunInstances
/// refuses a new profile ("Value (…) for parameter iamInstanceProfile.arn is invalid. Invalid
/// IAM Instance Profile ARN") until it has reached EC2, which takes seconds. The same launch a
/// little later succeeds.
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency>
fn is_instance_profile_not_yet_usable(code: &str, message: &str) -> bool {
    code == "InvalidParameterValue" && message.contains("iamInstanceProfile")
}

/// Shorthand for the common case: an SDK error of `operation` on `what`, no secrets involved.
pub(crate) fn cloud_err<E>(
    operation: &str,
    what: &str,
    err: SdkError<E, HttpResponse>,
) -> CloudError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    Failure::from_sdk(&err).into_cloud(operation, what, &[])
}

/// CloudFormation has no NotFound code: a missing stack is a `ValidationError` worded
/// "Stack with id X does not exist".
fn is_missing_stack(code: &str, message: &str) -> bool {
    code == "ValidationError" && message.contains("does not exist")
}

/// Replace secrets by `(sensitive)` and cut the message to a readable length.
pub(crate) fn scrub(message: &str, secrets: &[&str]) -> String {
    let mut out = message.to_string();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(s, SENSITIVE);
        // A long secret may be quoted only in part ("Value '-----BEGIN…' at 'value'"): any
        // 16-character window of it is enough to hide.
        if s.len() > 32 && out.len() >= 16 {
            out = hide_fragments(&out, s);
        }
    }
    if out.chars().count() > MAX_MESSAGE {
        out = out.chars().take(MAX_MESSAGE).collect::<String>() + "…";
    }
    out
}

/// Cut `text` at the first place where 16 characters of `secret` appear; what follows may
/// be more of it.
fn hide_fragments(text: &str, secret: &str) -> String {
    const WINDOW: usize = 16;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i + WINDOW <= bytes.len() {
        if text.is_char_boundary(i)
            && text.is_char_boundary(i + WINDOW)
            && secret.contains(&text[i..i + WINDOW])
        {
            return format!("{}{SENSITIVE}…", &text[..i]);
        }
        i += 1;
    }
    text.to_string()
}

/// The error and its sources in one line ("dispatch failure: io error: connection refused").
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut src = err.source();
    while let Some(s) = src {
        let s_text = s.to_string();
        if !out.contains(&s_text) {
            out.push_str(": ");
            out.push_str(&s_text);
        }
        src = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: &str, message: &str, status: u16) -> Failure {
        Failure {
            code: Some(code.into()),
            message: message.into(),
            status: Some(status),
            transport: false,
        }
    }

    #[test]
    fn throttling_and_server_errors_are_transient() {
        assert!(failure("ThrottlingException", "Rate exceeded", 400)
            .into_cloud("op", "x", &[])
            .is_transient());
        assert!(failure("RequestLimitExceeded", "slow", 503)
            .into_cloud("op", "x", &[])
            .is_transient());
        assert!(failure("Whatever", "boom", 500)
            .into_cloud("op", "x", &[])
            .is_transient());
        let t = Failure {
            code: None,
            message: "timeout".into(),
            status: None,
            transport: true,
        };
        assert!(t.into_cloud("op", "x", &[]).is_transient());
    }

    #[test]
    fn a_profile_not_yet_usable_and_a_snapshot_not_yet_released_are_retried() {
        let fresh = failure(
            "InvalidParameterValue",
            "Value (arn:aws:iam::123456789012:instance-profile/tunes-worker) for parameter iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile ARN",
            400,
        );
        assert!(fresh.into_cloud("RunInstances", "lt", &[]).is_transient());
        // Any other invalid value is the caller's to fix.
        let wrong = failure(
            "InvalidParameterValue",
            "Invalid value 'x9.huge' for InstanceType.",
            400,
        );
        assert!(matches!(
            wrong.into_cloud("RunInstances", "lt", &[]),
            CloudError::Permanent { .. }
        ));
        assert!(matches!(
            failure(
                "InvalidSnapshot.InUse",
                "The snapshot snap-1 is currently in use by ami-1",
                400
            )
            .into_cloud("DeleteSnapshot", "snap-1", &[]),
            CloudError::InUse { .. }
        ));
    }

    #[test]
    fn duplicates_and_missing_things_are_facts() {
        assert!(matches!(
            failure("ParameterAlreadyExists", "", 400).into_cloud("op", "x", &[]),
            CloudError::AlreadyExists { .. }
        ));
        assert!(matches!(
            failure("InvalidKeyPair.Duplicate", "", 400).into_cloud("op", "x", &[]),
            CloudError::AlreadyExists { .. }
        ));
        assert!(matches!(
            failure("AlreadyExistsException", "", 400).into_cloud("op", "x", &[]),
            CloudError::AlreadyExists { .. }
        ));
        assert!(matches!(
            failure("InvalidSnapshot.NotFound", "", 400).into_cloud("op", "x", &[]),
            CloudError::NotFound { .. }
        ));
        let stack = failure(
            "ValidationError",
            "Stack with id vibes-main does not exist",
            400,
        );
        assert!(matches!(
            stack.into_cloud("op", "x", &[]),
            CloudError::NotFound { .. }
        ));
    }

    #[test]
    fn a_token_used_with_other_parameters_is_told_apart() {
        let e = failure(
            "IdempotentParameterMismatch",
            "Arguments on this idempotent request are inconsistent with arguments used in previous request(s).",
            400,
        );
        assert!(matches!(
            e.into_cloud("RunInstances", "lt-1", &[]),
            CloudError::IdempotentParameterMismatch { .. }
        ));
    }

    #[test]
    fn bad_credentials_are_configuration_errors() {
        let e = failure(
            "AuthFailure",
            "AWS was not able to validate the provided access credentials",
            401,
        );
        assert!(matches!(
            e.into_cloud("op", "x", &[]),
            CloudError::Config(_)
        ));
    }

    #[test]
    fn secrets_quoted_by_aws_are_hidden_whole_or_in_part() {
        let secret =
            "-----BEGIN OPENSSH PRIVATE KEY-----b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ";
        let whole = failure(
            "ValidationException",
            &format!("Value '{secret}' at 'value' is bad"),
            400,
        );
        let msg = whole
            .into_cloud("PutParameter", "/p/k", &[secret])
            .to_string();
        assert!(!msg.contains("b3BlbnNzaC1rZXkt"), "{msg}");
        assert!(msg.contains(SENSITIVE), "{msg}");
        let part = failure(
            "ValidationException",
            &format!("Value '{}...' at 'value' is bad", &secret[..40]),
            400,
        );
        let msg = part
            .into_cloud("PutParameter", "/p/k", &[secret])
            .to_string();
        assert!(!msg.contains("OPENSSH PRIVATE"), "{msg}");
    }

    #[test]
    fn long_messages_are_cut() {
        let long = "x".repeat(5000);
        let msg = failure("ValidationException", &long, 400)
            .into_cloud("op", "x", &[])
            .to_string();
        assert!(msg.len() < 600);
    }
}
