//! Reading AWS requests and responses as they pass: the Query protocol's form parameters,
//! the service a request is signed for, and the few XML values the runner needs.

use std::collections::BTreeMap;

/// Which AWS service a request is for, from its SigV4 credential scope
/// (`Credential=KEY/DATE/REGION/SERVICE/aws4_request`).
pub fn service_of(authorization: Option<&str>) -> Option<String> {
    let auth = authorization?;
    let cred = auth.split("Credential=").nth(1)?;
    let scope = cred.split([',', ' ']).next()?;
    scope.split('/').nth(3).map(str::to_string)
}

/// The access key id a SigV4 `Authorization` header names (`Credential=AKID/…`).
pub fn access_key_of(authorization: Option<&str>) -> Option<String> {
    let credential = authorization?.split("Credential=").nth(1)?;
    credential.split('/').next().map(str::to_string)
}

/// Which region a request is for, from the same credential scope.
pub fn region_of(authorization: Option<&str>) -> Option<String> {
    let auth = authorization?;
    let cred = auth.split("Credential=").nth(1)?;
    let scope = cred.split([',', ' ']).next()?;
    scope.split('/').nth(2).map(str::to_string)
}

/// The form parameters of a Query-protocol request (EC2, CloudFormation).
pub fn form(body: &[u8]) -> BTreeMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// Values of a numbered list parameter: `InstanceId.1`, `InstanceId.2`, …
pub fn list(params: &BTreeMap<String, String>, prefix: &str) -> Vec<String> {
    (1..)
        .map_while(|n| params.get(&format!("{prefix}.{n}")).cloned())
        .collect()
}

/// Every text value of `<tag>…</tag>`, in order.
pub fn values(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(&close) else { break };
        out.push(unescape(&after[..j]));
        rest = &after[j + close.len()..];
    }
    out
}

pub fn first(xml: &str, tag: &str) -> Option<String> {
    values(xml, tag).into_iter().next()
}

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// In a DescribeSnapshots answer, shows each snapshot for which `pending` says so as
/// `pending` (moto reports every snapshot `completed` at once).
pub fn mark_snapshots_pending(xml: &str, pending: impl Fn(&str) -> bool) -> String {
    let open = "<snapshotId>";
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(i) = rest.find(open) {
        let (head, tail) = rest.split_at(i + open.len());
        out.push_str(head);
        let id_end = tail.find('<').unwrap_or(tail.len());
        let id = &tail[..id_end];
        // This snapshot's item ends where the next one's id begins.
        let item_end = tail[id_end..].find(open).map_or(tail.len(), |n| id_end + n);
        let mut item = tail[..item_end].to_string();
        if pending(id) {
            item = item
                .replacen("<status>completed</status>", "<status>pending</status>", 1)
                .replacen("<progress>100%</progress>", "<progress>50%</progress>", 1);
        }
        out.push_str(&item);
        rest = &tail[item_end..];
    }
    out.push_str(rest);
    out
}

/// Adds `outputs` to the stack named `stack` in a DescribeStacks answer.
pub fn add_stack_outputs(xml: &str, stack: &str, outputs: &[(String, String)]) -> String {
    if outputs.is_empty() {
        return xml.to_string();
    }
    let marker = format!("<StackName>{}</StackName>", escape(stack));
    let Some(at) = xml.find(&marker) else {
        return xml.to_string();
    };
    let members: String = outputs
        .iter()
        .map(|(k, v)| {
            format!(
                "<member><OutputKey>{}</OutputKey><OutputValue>{}</OutputValue></member>",
                escape(k),
                escape(v)
            )
        })
        .collect();
    // The stack's own part of the answer runs to the next stack's name.
    let end = xml[at + marker.len()..]
        .find("<StackName>")
        .map_or(xml.len(), |n| at + marker.len() + n);
    let part = &xml[at..end];
    let patched = if let Some(o) = part.find("<Outputs>") {
        let o = o + "<Outputs>".len();
        format!("{}{members}{}", &part[..o], &part[o..])
    } else if let Some(o) = part.find("<Outputs/>") {
        format!(
            "{}<Outputs>{members}</Outputs>{}",
            &part[..o],
            &part[o + "<Outputs/>".len()..]
        )
    } else {
        format!(
            "{marker}<Outputs>{members}</Outputs>{}",
            &part[marker.len()..]
        )
    };
    format!("{}{patched}{}", &xml[..at], &xml[end..])
}

/// `stack`'s status in a DescribeStacks answer set to `status`, with `reason`.
pub fn set_stack_status(xml: &str, stack: &str, status: &str, reason: &str) -> String {
    let marker = format!("<StackName>{}</StackName>", escape(stack));
    let Some(at) = xml.find(&marker) else {
        return xml.to_string();
    };
    let end = xml[at + marker.len()..]
        .find("<StackName>")
        .map_or(xml.len(), |n| at + marker.len() + n);
    let part = &xml[at..end];
    let (Some(open), Some(close)) = (part.find("<StackStatus>"), part.find("</StackStatus>"))
    else {
        return xml.to_string();
    };
    let mut patched = format!(
        "{}<StackStatus>{}</StackStatus><StackStatusReason>{}</StackStatusReason>{}",
        &part[..open],
        escape(status),
        escape(reason),
        &part[close + "</StackStatus>".len()..]
    );
    // One reason: moto's own, if it gave one, goes.
    if let (Some(o), Some(c)) = (
        patched.rfind("<StackStatusReason>"),
        patched.rfind("</StackStatusReason>"),
    ) {
        if patched.find("<StackStatusReason>") != Some(o) {
            patched.replace_range(o..c + "</StackStatusReason>".len(), "");
        }
    }
    format!("{}{patched}{}", &xml[..at], &xml[end..])
}

/// A DescribeInstances answer with `instance_id`'s state reason set to `code` (EC2's message for
/// it being `code: message`). An answer without that instance, or without a reason for it, is
/// left as it is.
pub fn set_state_reason(xml: &str, instance_id: &str, code: &str, message: &str) -> String {
    let id_tag = format!("<instanceId>{instance_id}</instanceId>");
    let Some(at) = xml.find(&id_tag) else {
        return xml.to_string();
    };
    let rest = &xml[at..];
    let Some(open) = rest.find("<stateReason>") else {
        return xml.to_string();
    };
    // The reason must be this instance's: no other instance's id comes before it.
    let between = &rest[id_tag.len()..open];
    if between.contains("<instanceId>") && !between.contains(&id_tag) {
        return xml.to_string();
    }
    let Some(close) = rest[open..].find("</stateReason>") else {
        return xml.to_string();
    };
    let start = at + open + "<stateReason>".len();
    let end = at + open + close;
    format!(
        "{}<code>{}</code><message>{}</message>{}",
        &xml[..start],
        escape(code),
        escape(&format!("{code}: {message}")),
        &xml[end..]
    )
}

/// EC2's GetConsoleOutput answer: the last 64 KB of what the console printed, base64.
pub fn console_output_answer(instance_id: &str, console: &str) -> String {
    use base64::Engine;
    const LIMIT: usize = 64 * 1024;
    let bytes = console.as_bytes();
    let tail = &bytes[bytes.len().saturating_sub(LIMIT)..];
    let now = aws_sdk_ec2::primitives::DateTime::from(std::time::SystemTime::now())
        .fmt(aws_sdk_ec2::primitives::DateTimeFormat::DateTime)
        .unwrap_or_default();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<GetConsoleOutputResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>localcloud</requestId><instanceId>{}</instanceId><timestamp>{now}</timestamp><output>{}</output></GetConsoleOutputResponse>",
        escape(instance_id),
        base64::engine::general_purpose::STANDARD.encode(tail)
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_state_reason_is_set_on_its_instance_only() {
        let xml = "<r><item><instanceId>i-1</instanceId><stateReason><code>Client.UserInitiatedShutdown</code><message>m</message></stateReason></item><item><instanceId>i-2</instanceId><stateReason><code>Client.UserInitiatedShutdown</code><message>m</message></stateReason></item></r>";
        let out = super::set_state_reason(
            xml,
            "i-2",
            "Client.InstanceInitiatedShutdown",
            "Instance initiated shutdown",
        );
        assert_eq!(
            out,
            "<r><item><instanceId>i-1</instanceId><stateReason><code>Client.UserInitiatedShutdown</code><message>m</message></stateReason></item><item><instanceId>i-2</instanceId><stateReason><code>Client.InstanceInitiatedShutdown</code><message>Client.InstanceInitiatedShutdown: Instance initiated shutdown</message></stateReason></item></r>"
        );
        assert_eq!(super::set_state_reason(xml, "i-3", "x", "y"), xml);
    }

    use super::*;

    #[test]
    fn the_service_comes_from_the_credential_scope() {
        let auth = "AWS4-HMAC-SHA256 Credential=testing/20261201/us-east-1/codebuild/aws4_request, SignedHeaders=host, Signature=ab";
        assert_eq!(service_of(Some(auth)).as_deref(), Some("codebuild"));
        assert_eq!(service_of(None), None);
    }

    #[test]
    fn only_pending_snapshots_change() {
        let xml = "<snapshotSet><item><snapshotId>snap-1</snapshotId><status>completed</status><tagSet><item><key>a</key></item></tagSet></item><item><snapshotId>snap-2</snapshotId><status>completed</status></item></snapshotSet>";
        let out = mark_snapshots_pending(xml, |id| id == "snap-2");
        assert_eq!(
            values(&out, "status"),
            vec!["completed".to_string(), "pending".to_string()]
        );
    }

    #[test]
    fn outputs_join_the_named_stack_only() {
        let xml = "<Stacks><member><StackName>a</StackName><Outputs><member><OutputKey>X</OutputKey><OutputValue>1</OutputValue></member></Outputs></member><member><StackName>b</StackName><StackStatus>CREATE_COMPLETE</StackStatus></member></Stacks>";
        let out = add_stack_outputs(xml, "b", &[("P".into(), "v&w".into())]);
        assert_eq!(values(&out, "OutputKey"), vec!["X", "P"]);
        assert_eq!(values(&out, "OutputValue"), vec!["1", "v&w"]);
        let a = add_stack_outputs(xml, "a", &[("P".into(), "2".into())]);
        assert_eq!(values(&a, "OutputKey"), vec!["P", "X"]);
    }
}
