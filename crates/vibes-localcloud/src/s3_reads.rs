//! What S3 served: GetObject requests and the bytes of their response bodies, counted at the
//! proxy as they pass (independent of what any client says it read), per client, and shown at
//! `GET /_localcloud/stats`.
//!
//! A client is the application id its SDK puts in the user agent (`app/ID`, from
//! `AWS_SDK_UA_APP_ID`, which the Rust SDK and botocore both honour): the runner gives each
//! instance and build its own (`localcloud-worker`, `localcloud-server`, `localcloud-codebuild`),
//! so a compile's reads are told apart from those of the `vibes apply` that launched it.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// The path of the stats endpoint. No S3 request can have it: a bucket name cannot start
/// with `_`.
pub const STATS_PATH: &str = "/_localcloud/stats";

/// Requests without an application id in their user agent.
const UNNAMED: &str = "unnamed";

#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reads {
    pub objects: u64,
    pub bytes: u64,
}

#[derive(Default)]
pub struct S3Reads {
    by_client: Mutex<BTreeMap<String, Reads>>,
}

impl S3Reads {
    pub fn record(&self, client: &str, bytes: u64) {
        let mut by = self.by_client.lock().unwrap();
        let r = by.entry(client.to_string()).or_default();
        r.objects += 1;
        r.bytes += bytes;
    }

    /// `{"s3_get_objects": N, "s3_get_bytes": B, "clients": {ID: {"s3_get_objects": …,
    /// "s3_get_bytes": …}}}`: the totals since the runner started, and each client's share.
    pub fn json(&self) -> serde_json::Value {
        let by = self.by_client.lock().unwrap();
        let entry =
            |r: &Reads| serde_json::json!({"s3_get_objects": r.objects, "s3_get_bytes": r.bytes});
        let total = by.values().fold(Reads::default(), |t, r| Reads {
            objects: t.objects + r.objects,
            bytes: t.bytes + r.bytes,
        });
        let clients: serde_json::Map<String, serde_json::Value> =
            by.iter().map(|(k, r)| (k.clone(), entry(r))).collect();
        serde_json::json!({
            "s3_get_objects": total.objects,
            "s3_get_bytes": total.bytes,
            "clients": clients,
        })
    }
}

/// The client a request comes from: the `app/ID` of its user agent (the Rust SDK sends its full
/// user agent in `x-amz-user-agent`, botocore in `User-Agent`).
pub fn client_of(headers: &hyper::HeaderMap) -> String {
    ["x-amz-user-agent", "user-agent"]
        .iter()
        .filter_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
        .flat_map(str::split_whitespace)
        .find_map(|part| part.strip_prefix("app/"))
        .map_or_else(|| UNNAMED.to_string(), str::to_string)
}

/// Whether a GET to S3 is a GetObject: it names an object (a key after the bucket, which is in
/// the path unless the host names it) and asks for no sub-resource (`?tagging`, `?acl`,
/// `?uploadId=` …) — only what GetObject itself takes.
pub fn is_get_object(
    method: &hyper::Method,
    host: Option<&str>,
    path: &str,
    query: Option<&str>,
) -> bool {
    if method != hyper::Method::GET {
        return false;
    }
    let path = path.trim_start_matches('/');
    let host_names_bucket = host
        .map(|h| h.rsplit_once(':').map_or(h, |(name, _)| name))
        .is_some_and(|name| {
            name != "localhost" && name.parse::<std::net::IpAddr>().is_err() && name.contains('.')
        });
    let key = if host_names_bucket {
        path
    } else {
        path.split_once('/').map_or("", |(_, key)| key)
    };
    if key.is_empty() {
        return false;
    }
    form_urlencoded::parse(query.unwrap_or("").as_bytes()).all(|(k, v)| {
        matches!(&*k, "partNumber" | "versionId")
            || k.starts_with("response-")
            || k.starts_with("X-Amz-")
            || (k == "x-id" && v == "GetObject")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::Method;

    #[test]
    fn get_object_is_told_from_the_other_gets() {
        let get = |host, path, query| is_get_object(&Method::GET, host, path, query);
        let local = Some("127.0.0.1:4566");
        assert!(get(local, "/bucket/a/b.flac", None));
        assert!(get(local, "/bucket/a/b.flac", Some("x-id=GetObject")));
        assert!(get(local, "/bucket/k", Some("partNumber=2")));
        assert!(get(Some("bucket.s3.example.com"), "/k", None));
        // Listings, the bucket itself and sub-resources are not GetObject.
        assert!(!get(local, "/bucket", Some("list-type=2")));
        assert!(!get(local, "/bucket/", None));
        assert!(!get(local, "/bucket/k", Some("tagging")));
        assert!(!get(local, "/bucket/k", Some("uploadId=1")));
        assert!(!get(local, "/bucket/k", Some("x-id=GetObjectTagging")));
        assert!(!get(
            Some("bucket.s3.example.com"),
            "/",
            Some("list-type=2")
        ));
        assert!(!is_get_object(&Method::HEAD, local, "/bucket/k", None));
    }

    #[test]
    fn the_client_is_the_user_agents_app_id() {
        let mut h = hyper::HeaderMap::new();
        assert_eq!(client_of(&h), "unnamed");
        h.insert(
            "user-agent",
            "aws-cli/1.46 md/x app/localcloud-worker".parse().unwrap(),
        );
        assert_eq!(client_of(&h), "localcloud-worker");
        h.insert(
            "x-amz-user-agent",
            "aws-sdk-rust/1 app/other".parse().unwrap(),
        );
        assert_eq!(client_of(&h), "other");
    }

    #[test]
    fn totals_add_up_the_clients() {
        let r = S3Reads::default();
        r.record("a", 10);
        r.record("a", 5);
        r.record("b", 1);
        let j = r.json();
        assert_eq!(j["s3_get_objects"], 3);
        assert_eq!(j["s3_get_bytes"], 16);
        assert_eq!(j["clients"]["a"]["s3_get_bytes"], 15);
        assert_eq!(j["clients"]["b"]["s3_get_objects"], 1);
    }
}
