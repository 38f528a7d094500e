//! IAM, enforced on the callers the local cloud hands credentials to: an instance gets its
//! instance profile's role's temporary credentials from its metadata ([`crate::imds`]), as on
//! EC2, a CodeBuild build its service role's from a container credentials endpoint, as
//! CodeBuild hands them out, and every request signed with them is authorized here against that role's policies
//! (its inline policies and the managed ones attached to it, as moto holds them) before moto
//! sees it. A request IAM would not allow is answered as the service answers it: AccessDenied
//! naming the action, the resource and the assumed role.
//!
//! The evaluation is iam-rs's (actions, resources with wildcards, conditions; an explicit Deny
//! wins). Requests signed with other keys (vibes itself, the runner) are not authorized here:
//! the account's administrator is not the subject under test. Gaps, written down in
//! docs/guarantees.md: no permissions boundaries, session policies or SCPs (vibes uses none);
//! only the condition keys the request carries (`aws:RequestedRegion`, `s3:prefix`, the
//! principal's) are known; the Packer stand-in's EC2 calls are made with the runner's keys (it
//! registers an image where Packer would launch and snapshot an instance as the build's role).

mod calls;

use crate::world::{Keys, World, ACCOUNT};
pub use calls::{call_of, Call, Request};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a role's policies are used as read: IAM itself is eventually consistent.
const POLICY_CACHE: Duration = Duration::from_secs(2);

/// A role session the local cloud handed credentials to.
#[derive(Debug, Clone)]
pub struct Session {
    pub role: String,
    pub name: String,
}

impl Session {
    /// The session's ARN, as AWS names the caller in its refusals.
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:sts::{ACCOUNT}:assumed-role/{}/{}",
            self.role, self.name
        )
    }
}

#[derive(Default)]
pub struct Sessions {
    /// Access key id → session.
    by_key: Mutex<BTreeMap<String, (Session, Keys)>>,
    policies: Mutex<BTreeMap<String, (Instant, Vec<iam_rs::IAMPolicy>)>>,
}

impl Sessions {
    /// The credentials of `role`'s session `name` (the instance's id), made the first time.
    pub fn credentials(&self, role: &str, name: &str) -> Keys {
        let mut by_key = self.by_key.lock().unwrap();
        if let Some((_, keys)) = by_key
            .values()
            .find(|(s, _)| s.role == role && s.name == name)
        {
            return keys.clone();
        }
        let secret = |what: &str| {
            use sha2::{Digest, Sha256};
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos();
            hex::encode(Sha256::digest(format!("{what}/{role}/{name}/{now}")))
        };
        let keys = Keys {
            access_key_id: format!("ASIA{}", secret("key")[..16].to_uppercase()),
            secret_access_key: secret("secret")[..40].to_string(),
            session_token: secret("token"),
        };
        let session = Session {
            role: role.to_string(),
            name: name.to_string(),
        };
        by_key.insert(keys.access_key_id.clone(), (session, keys.clone()));
        keys
    }

    /// The session whose access key signed a request, if the local cloud handed it out.
    pub fn of_key(&self, access_key_id: &str) -> Option<Session> {
        self.by_key
            .lock()
            .unwrap()
            .get(access_key_id)
            .map(|(s, _)| s.clone())
    }
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    pub action: String,
    pub resource: String,
    pub principal: String,
    /// An explicit Deny, rather than no Allow.
    pub explicit: bool,
}

impl Denied {
    /// IAM's words, as the services quote them.
    pub fn message(&self) -> String {
        let why = if self.explicit {
            "with an explicit deny in an identity-based policy".to_string()
        } else {
            format!(
                "because no identity-based policy allows the {} action",
                self.action
            )
        };
        format!(
            "User: {} is not authorized to perform: {} on resource: {} {why}",
            self.principal, self.action, self.resource
        )
    }
}

/// Whether `session` may make `call` in `region`.
pub async fn authorize(
    world: &World,
    session: &Session,
    call: &Call,
    region: &str,
) -> Result<(), Denied> {
    let policies = match role_policies(world, &session.role).await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(role = %session.role, error = %e, "the role's policies cannot be read: denied");
            Vec::new()
        }
    };
    let principal = iam_rs::Principal::Aws(iam_rs::PrincipalId::String(session.arn()));
    let mut context = iam_rs::Context::new();
    let mut put = |k: &str, v: &str| {
        context.insert(k.to_string(), iam_rs::ContextValue::String(v.to_string()));
    };
    put("aws:RequestedRegion", region);
    put(
        "aws:PrincipalArn",
        &format!("arn:aws:iam::{ACCOUNT}:role/{}", session.role),
    );
    put("aws:PrincipalAccount", ACCOUNT);
    put("aws:userid", &session.name);
    for (k, v) in &call.context {
        put(k, v);
    }
    for resource in &call.resources {
        let denied = |explicit| Denied {
            action: call.action.clone(),
            resource: resource.clone(),
            principal: session.arn(),
            explicit,
        };
        let arn = if resource == "*" {
            format!("arn:aws:{}:{region}:{ACCOUNT}:*", service_of(&call.action))
        } else {
            resource.clone()
        };
        let Ok(arn) = iam_rs::Arn::parse(&arn) else {
            return Err(denied(false));
        };
        let request = iam_rs::IAMRequest::new_with_context(
            principal.clone(),
            call.action.clone(),
            arn,
            context.clone(),
        );
        match iam_rs::evaluate_policies(&policies, &request) {
            Ok(iam_rs::Decision::Allow) => {}
            Ok(iam_rs::Decision::Deny) => return Err(denied(true)),
            Ok(iam_rs::Decision::NotApplicable) | Err(_) => return Err(denied(false)),
        }
    }
    Ok(())
}

fn service_of(action: &str) -> &str {
    action.split(':').next().unwrap_or("*")
}

/// The role's identity-based policies: inline, then attached managed ones.
async fn role_policies(world: &World, role: &str) -> Result<Vec<iam_rs::IAMPolicy>, String> {
    let sessions = &world.sessions;
    if let Some((read, p)) = sessions.policies.lock().unwrap().get(role) {
        if read.elapsed() < POLICY_CACHE {
            return Ok(p.clone());
        }
    }
    let iam = world.iam();
    let mut documents = Vec::new();
    let inline = iam
        .list_role_policies()
        .role_name(role)
        .send()
        .await
        .map_err(|e| format!("ListRolePolicies: {e:?}"))?;
    for name in inline.policy_names() {
        let p = iam
            .get_role_policy()
            .role_name(role)
            .policy_name(name)
            .send()
            .await
            .map_err(|e| format!("GetRolePolicy {name}: {e:?}"))?;
        documents.push(p.policy_document().to_string());
    }
    let attached = iam
        .list_attached_role_policies()
        .role_name(role)
        .send()
        .await
        .map_err(|e| format!("ListAttachedRolePolicies: {e:?}"))?;
    for a in attached.attached_policies() {
        let Some(arn) = a.policy_arn() else { continue };
        let policy = iam
            .get_policy()
            .policy_arn(arn)
            .send()
            .await
            .map_err(|e| format!("GetPolicy {arn}: {e:?}"))?;
        let version = policy
            .policy()
            .and_then(|p| p.default_version_id())
            .unwrap_or("v1");
        let v = iam
            .get_policy_version()
            .policy_arn(arn)
            .version_id(version)
            .send()
            .await
            .map_err(|e| format!("GetPolicyVersion {arn}: {e:?}"))?;
        if let Some(d) = v.policy_version().and_then(|v| v.document()) {
            documents.push(d.to_string());
        }
    }
    let policies = documents
        .iter()
        .map(|d| {
            // IAM hands documents back URL-encoded.
            let json = form_urlencoded::parse(format!("d={}", d.replace('+', "%2B")).as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_else(|| d.clone());
            iam_rs::IAMPolicy::from_json(&as_json(&json))
                .map_err(|e| format!("a policy of {role}: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    sessions
        .policies
        .lock()
        .unwrap()
        .insert(role.to_string(), (Instant::now(), policies.clone()));
    Ok(policies)
}

/// A policy document as JSON. IAM hands back JSON; moto hands back the policies its
/// CloudFormation made as Python's repr of them (`{'Version': '2012-10-17', …}`), which YAML's
/// flow syntax reads (single-quoted strings).
fn as_json(document: &str) -> String {
    if serde_json::from_str::<serde_json::Value>(document).is_ok() {
        return document.to_string();
    }
    serde_yaml_ng::from_str::<serde_json::Value>(document)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| document.to_string())
}

/// The service's answer to a refused request.
pub fn denial(service: &str, denied: &Denied) -> (u16, &'static str, String) {
    let message = denied.message();
    match service {
        "s3" => (
            403,
            "application/xml",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>{}</Message><RequestId>localcloud</RequestId></Error>",
                crate::aws_wire::escape(&message)
            ),
        ),
        "ec2" => (
            403,
            "text/xml",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation. {}</Message></Error></Errors><RequestID>localcloud</RequestID></Response>",
                crate::aws_wire::escape(&message)
            ),
        ),
        "sts" | "iam" | "cloudformation" => (
            403,
            "text/xml",
            format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>{}</Message></Error><RequestId>localcloud</RequestId></ErrorResponse>",
                crate::aws_wire::escape(&message)
            ),
        ),
        _ => (
            400,
            "application/x-amz-json-1.1",
            serde_json::json!({"__type": "AccessDeniedException", "message": message}).to_string(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(json: &str) -> Vec<iam_rs::IAMPolicy> {
        vec![iam_rs::IAMPolicy::from_json(json).unwrap()]
    }

    fn decide(
        policies: &[iam_rs::IAMPolicy],
        action: &str,
        arn: &str,
        region: &str,
    ) -> iam_rs::Decision {
        let mut context = iam_rs::Context::new();
        context.insert(
            "aws:RequestedRegion".into(),
            iam_rs::ContextValue::String(region.into()),
        );
        let request = iam_rs::IAMRequest::new_with_context(
            iam_rs::Principal::Aws(iam_rs::PrincipalId::String(
                "arn:aws:sts::123456789012:assumed-role/r/i-1".into(),
            )),
            action,
            iam_rs::Arn::parse(arn).unwrap(),
            context,
        );
        iam_rs::evaluate_policies(policies, &request).unwrap()
    }

    /// What moto's own enforcement gets wrong (shared/notes/moto.md): a resource-scoped allow
    /// matches its resources, and a condition is read.
    #[test]
    fn a_resource_scoped_allow_matches_and_a_condition_is_not_ignored() {
        let p = policy(
            r#"{"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "arn:aws:ssm:us-east-1:123456789012:parameter/proj/*"},
                {"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*", "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}}
            ]}"#,
        );
        use iam_rs::Decision::*;
        assert_eq!(
            decide(
                &p,
                "ssm:GetParameter",
                "arn:aws:ssm:us-east-1:123456789012:parameter/proj/x",
                "us-east-1"
            ),
            Allow
        );
        assert_eq!(
            decide(
                &p,
                "ssm:GetParameter",
                "arn:aws:ssm:us-east-1:123456789012:parameter/other/x",
                "us-east-1"
            ),
            NotApplicable
        );
        assert_eq!(
            decide(
                &p,
                "ec2:DescribeInstances",
                "arn:aws:ec2:us-east-1:123456789012:*",
                "us-east-1"
            ),
            NotApplicable
        );
        assert_eq!(
            decide(
                &p,
                "ec2:DescribeInstances",
                "arn:aws:ec2:eu-west-1:123456789012:*",
                "eu-west-1"
            ),
            Allow
        );
    }

    #[test]
    fn a_policy_moto_hands_back_as_python_is_read_as_the_json_it_stands_for() {
        let repr = "{'Version': '2012-10-17', 'Statement': [{'Sid': 'ReadProfiles', 'Effect': 'Allow', 'Action': ['ssm:GetParameter'], 'Resource': ['arn:aws:ssm:eu-west-1:123456789012:parameter/west/profiles/*']}]}";
        let p = policy(&as_json(repr));
        assert_eq!(
            decide(
                &p,
                "ssm:GetParameter",
                "arn:aws:ssm:eu-west-1:123456789012:parameter/west/profiles/phone",
                "eu-west-1"
            ),
            iam_rs::Decision::Allow
        );
        let json = r#"{"Version":"2012-10-17","Statement":[]}"#;
        assert_eq!(as_json(json), json);
    }

    #[test]
    fn a_refusal_names_the_action_the_resource_and_the_assumed_role() {
        let d = Denied {
            action: "ssm:PutParameter".into(),
            resource: "arn:aws:ssm:eu-west-1:123456789012:parameter/west/compile/status".into(),
            principal: Session {
                role: "west-main-WorkerRole-1".into(),
                name: "i-1".into(),
            }
            .arn(),
            explicit: false,
        };
        let (status, _, body) = denial("ssm", &d);
        assert_eq!(status, 400);
        assert!(body.contains("AccessDeniedException"), "{body}");
        assert!(body.contains("User: arn:aws:sts::123456789012:assumed-role/west-main-WorkerRole-1/i-1 is not authorized to perform: ssm:PutParameter on resource: arn:aws:ssm:eu-west-1:123456789012:parameter/west/compile/status because no identity-based policy allows the ssm:PutParameter action"), "{body}");
    }
}
