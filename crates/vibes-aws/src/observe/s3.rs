//! S3 reads: the sources bucket's objects with their SHA-256.
//!
//! ListObjectsV2 gives keys and sizes but neither metadata nor checksums, so each object's
//! SHA-256 costs one HeadObject: 1 call per 1000 objects plus 1 per object (run 16 at a time).
//! Uploads store the hex SHA-256 as `x-amz-meta-sha256` (works for multipart objects too,
//! whose S3 checksum is a checksum of part checksums); objects without it fall back to a
//! full-object `ChecksumSHA256`, and otherwise have no known hash (and are uploaded again).

use super::READ_CONCURRENCY;
use crate::error::{cloud_err, Failure};
use aws_sdk_s3::types::ChecksumMode;
use futures_util::{stream, StreamExt, TryStreamExt};
use vibes_core::cloud::{CloudError, CloudResult};
use vibes_core::observed::{ObservedBucket, ObservedObject};

/// The metadata key (without `x-amz-meta-`) holding an object's hex SHA-256.
pub const SHA256_METADATA: &str = "sha256";

pub(crate) async fn bucket(s3: &aws_sdk_s3::Client, bucket: Option<&str>) -> CloudResult<Option<ObservedBucket>> {
    let Some(bucket) = bucket else { return Ok(None) };
    let mut listed = Vec::new();
    let mut pages = s3.list_objects_v2().bucket(bucket).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(p) => p,
            Err(e) => {
                let f = Failure::from_sdk(&e);
                if f.code_is("NoSuchBucket") {
                    return Ok(None);
                }
                return Err(f.into_cloud("ListObjectsV2", bucket, &[]));
            }
        };
        for o in page.contents() {
            if let Some(key) = o.key() {
                listed.push((key.to_string(), o.size().unwrap_or_default().max(0) as u64));
            }
        }
    }
    let objects: Vec<(String, ObservedObject)> = stream::iter(listed)
        .map(|(key, size)| async move {
            let sha256 = object_sha256(s3, bucket, &key).await?;
            Ok::<_, CloudError>((key, ObservedObject { size, sha256 }))
        })
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    Ok(Some(ObservedBucket { bucket: bucket.to_string(), objects: objects.into_iter().collect() }))
}

async fn object_sha256(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> CloudResult<Option<String>> {
    let head = s3
        .head_object()
        .bucket(bucket)
        .key(key)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .map_err(|e| cloud_err("HeadObject", &format!("s3://{bucket}/{key}"), e))?;
    if let Some(hex) = head.metadata().and_then(|m| m.get(SHA256_METADATA)) {
        if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Some(hex.to_ascii_lowercase()));
        }
    }
    Ok(head.checksum_sha256().and_then(full_object_hex))
}

/// The hex form of a full-object base64 SHA-256; `None` for a composite multipart checksum
/// (`…-3`), which is not the hash of the content.
pub(crate) fn full_object_hex(b64: &str) -> Option<String> {
    if b64.contains('-') {
        return None;
    }
    let bytes = aws_smithy_types::base64::decode(b64).ok()?;
    (bytes.len() == 32).then(|| hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composite_checksums_are_not_content_hashes() {
        let empty = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
        assert_eq!(
            full_object_hex(empty).as_deref(),
            Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
        assert_eq!(full_object_hex("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=-2"), None);
    }
}
