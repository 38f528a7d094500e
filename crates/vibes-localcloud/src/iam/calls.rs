//! A request as IAM sees it: the action it needs (`ssm:GetParameter`), the resources it acts
//! on (their ARNs) and the condition keys it carries, read from the request as AWS reads it.
//! The mapping follows each service's "Actions, resources, and condition keys" page of the
//! Service Authorization Reference, for the calls the platform's roles make:
//! <https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html>,
//! <https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssystemsmanager.html>.
//! A call it does not know is asked for as `service:Action` on `*`.

use crate::world::ACCOUNT;
use std::collections::BTreeMap;

/// What IAM is asked to allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub action: String,
    pub resources: Vec<String>,
    /// Condition keys beyond the global ones (e.g. `s3:prefix`).
    pub context: BTreeMap<String, String>,
}

/// The parts of an HTTP request IAM reads.
pub struct Request<'a> {
    pub service: &'a str,
    pub region: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub target: Option<&'a str>,
    pub body: &'a [u8],
}

/// The call `req` makes; `None` for calls IAM does not authorize (STS GetCallerIdentity).
pub fn call_of(req: &Request) -> Option<Call> {
    match req.service {
        "s3" => Some(s3(req)),
        "ssm" => Some(ssm(req)),
        "sts" => {
            let action = crate::aws_wire::form(req.body).remove("Action")?;
            // "No permissions are required to perform this operation."
            (action != "GetCallerIdentity").then(|| anywhere(format!("sts:{action}")))
        }
        _ => {
            let action = match req.target {
                // JSON protocols: `X-Amz-Target: <Prefix>.<Action>`.
                Some(t) => t.rsplit('.').next()?.to_string(),
                None => crate::aws_wire::form(req.body).remove("Action")?,
            };
            Some(anywhere(format!("{}:{action}", req.service)))
        }
    }
}

fn anywhere(action: String) -> Call {
    Call {
        action,
        resources: vec!["*".into()],
        context: BTreeMap::new(),
    }
}

/// SSM: a parameter's ARN is `parameter/` and its name without the leading slash.
fn ssm(req: &Request) -> Call {
    let op = req
        .target
        .and_then(|t| t.rsplit('.').next())
        .unwrap_or("Unknown");
    let body: serde_json::Value = serde_json::from_slice(req.body).unwrap_or_default();
    let arn = |name: &str| {
        format!(
            "arn:aws:ssm:{}:{ACCOUNT}:parameter/{}",
            req.region,
            name.trim_start_matches('/')
        )
    };
    let mut resources: Vec<String> = ["Name", "Path"]
        .iter()
        .filter_map(|k| body.get(k).and_then(|v| v.as_str()))
        .map(arn)
        .collect();
    if let Some(names) = body.get("Names").and_then(|v| v.as_array()) {
        resources.extend(names.iter().filter_map(|n| n.as_str()).map(arn));
    }
    if resources.is_empty() {
        resources.push("*".into());
    }
    Call {
        action: format!("ssm:{op}"),
        resources,
        context: BTreeMap::new(),
    }
}

/// S3, path-style (`/bucket/key`): an object's ARN is `arn:aws:s3:::bucket/key`, a bucket's
/// `arn:aws:s3:::bucket`. HEAD is authorized as the GET it stands for.
fn s3(req: &Request) -> Call {
    let path = req.path.trim_start_matches('/');
    let (bucket, key) = match path.split_once('/') {
        Some((b, k)) => (b, decode(k)),
        None => (path, String::new()),
    };
    let query: BTreeMap<String, String> = req
        .query
        .map(|q| crate::aws_wire::form(q.as_bytes()))
        .unwrap_or_default();
    let mut context = BTreeMap::new();
    let (action, resource) = if bucket.is_empty() {
        ("ListAllMyBuckets", "*".to_string())
    } else if key.is_empty() {
        let action = match req.method {
            "GET" | "HEAD" if query.contains_key("versions") => "ListBucketVersions",
            "GET" if query.contains_key("location") => "GetBucketLocation",
            "GET" | "HEAD" => {
                if let Some(prefix) = query.get("prefix") {
                    context.insert("s3:prefix".to_string(), prefix.clone());
                }
                "ListBucket"
            }
            "PUT" => "CreateBucket",
            "DELETE" => "DeleteBucket",
            "POST" if query.contains_key("delete") => "DeleteObject",
            _ => "Unknown",
        };
        (action, format!("arn:aws:s3:::{bucket}"))
    } else {
        let action = match req.method {
            "GET" | "HEAD" if query.contains_key("tagging") => "GetObjectTagging",
            "GET" | "HEAD" => "GetObject",
            "PUT" if query.contains_key("tagging") => "PutObjectTagging",
            "PUT" | "POST" => "PutObject",
            "DELETE" => "DeleteObject",
            _ => "Unknown",
        };
        (action, format!("arn:aws:s3:::{bucket}/{key}"))
    };
    Call {
        action: format!("s3:{action}"),
        resources: vec![resource],
        context,
    }
}

/// A path segment's percent-encoding undone.
fn decode(s: &str) -> String {
    form_urlencoded::parse(format!("k={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(service: &'a str, method: &'a str, path: &'a str) -> Request<'a> {
        Request {
            service,
            region: "eu-west-1",
            method,
            path,
            query: None,
            target: None,
            body: b"",
        }
    }

    #[test]
    fn an_object_read_is_s3_get_object_on_the_objects_arn_and_a_listing_carries_its_prefix() {
        let get = call_of(&request("s3", "GET", "/sources/nina/1%20be%20my.wav")).unwrap();
        assert_eq!(get.action, "s3:GetObject");
        assert_eq!(get.resources, ["arn:aws:s3:::sources/nina/1 be my.wav"]);
        let head = call_of(&request("s3", "HEAD", "/sources/a.wav")).unwrap();
        assert_eq!(head.action, "s3:GetObject");
        let mut list = request("s3", "GET", "/sources");
        list.query = Some("list-type=2&prefix=nina%2F");
        let list = call_of(&list).unwrap();
        assert_eq!(list.action, "s3:ListBucket");
        assert_eq!(list.resources, ["arn:aws:s3:::sources"]);
        assert_eq!(list.context["s3:prefix"], "nina/");
    }

    #[test]
    fn a_parameter_is_named_by_its_arn_and_a_path_by_the_paths() {
        let mut get = request("ssm", "POST", "/");
        get.target = Some("AmazonSSM.GetParametersByPath");
        get.body = br#"{"Path": "/west/profiles/", "Recursive": false}"#;
        let get = call_of(&get).unwrap();
        assert_eq!(get.action, "ssm:GetParametersByPath");
        assert_eq!(
            get.resources,
            ["arn:aws:ssm:eu-west-1:123456789012:parameter/west/profiles/"]
        );
    }

    #[test]
    fn who_am_i_needs_no_permission_and_other_calls_are_asked_for_on_everything() {
        let mut whoami = request("sts", "POST", "/");
        whoami.body = b"Action=GetCallerIdentity&Version=2011-06-15";
        assert_eq!(call_of(&whoami), None);
        let mut describe = request("ec2", "POST", "/");
        describe.body = b"Action=DescribeInstances&Version=2016-11-15";
        assert_eq!(
            call_of(&describe).unwrap(),
            anywhere("ec2:DescribeInstances".into())
        );
    }
}
