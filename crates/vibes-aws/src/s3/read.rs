//! S3 reads: the sources bucket's objects with their SHA-256.
//!
//! ListObjectsV2 gives keys, sizes and ETags but no content hash. After each sync vibes writes
//! a manifest ([`vibes_core::bucket_manifest`]) recording each object's SHA-256 with the ETag
//! it had; a read trusts the manifest for objects whose listed size and ETag still match, and
//! costs one HeadObject only for the others (objects written by something else, or before the
//! first manifest). A bucket synced by vibes thus costs 1 call per 1000 objects plus 1.
//!
//! Uploads store the hex SHA-256 as `x-amz-meta-sha256` (works for multipart objects too,
//! whose S3 checksum is a checksum of part checksums); objects without it fall back to a
//! full-object `ChecksumSHA256`, and otherwise have no known hash (and are uploaded again).

use super::SHA256_METADATA;
use crate::error::{cloud_err, Failure};
use crate::scope::READ_CONCURRENCY;
use aws_sdk_s3::types::{ChecksumMode, EncodingType};
use futures_util::{stream, StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};
use vibes_core::bucket_manifest::{BucketManifest, MANIFEST_KEY};
use vibes_core::cloud::{CloudError, CloudResult};
use vibes_core::observed::{ObservedBucket, ObservedObject};

/// One object as ListObjectsV2 shows it.
#[derive(Debug, Clone)]
pub(crate) struct Listed {
    pub key: String,
    pub size: u64,
    pub etag: Option<String>,
}

/// Every object of `bucket`, a page of 1000 a call; `None` when the bucket does not exist.
pub(crate) async fn listing(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
) -> CloudResult<Option<Vec<Listed>>> {
    let mut listed = Vec::new();
    // Keys come URL-encoded: XML 1.0 cannot carry most control characters, so a key holding
    // one would otherwise make the whole listing unreadable (the SDK's XML parser rejects it).
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .encoding_type(EncodingType::Url)
        .into_paginator()
        .send();
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
        // Decoded only when the answer says it is encoded, as the AWS CLI does.
        let encoded = page.encoding_type() == Some(&EncodingType::Url);
        for o in page.contents() {
            if let Some(key) = o.key() {
                listed.push(Listed {
                    key: if encoded {
                        url_decoded(key)
                    } else {
                        key.to_string()
                    },
                    size: o.size().unwrap_or_default().max(0) as u64,
                    etag: o.e_tag().map(str::to_string),
                });
            }
        }
    }
    Ok(Some(listed))
}

/// A key as ListObjectsV2 gives it with `encoding-type=url`: form-encoded, a space as `+`
/// (the AWS CLI decodes it the same way, with `unquote_plus`).
pub(crate) fn url_decoded(key: &str) -> String {
    let spaced = key.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

/// The bucket's manifest and its raw bytes, when the listing shows one. A manifest that does
/// not parse is ignored (every object is then read on its own), never an error: it is only
/// a shortcut.
pub(crate) async fn read_manifest(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    listed: &[Listed],
) -> CloudResult<Option<(BucketManifest, Vec<u8>)>> {
    if !listed.iter().any(|l| l.key == MANIFEST_KEY) {
        return Ok(None);
    }
    let what = format!("s3://{bucket}/{MANIFEST_KEY}");
    let out = match s3
        .get_object()
        .bucket(bucket)
        .key(MANIFEST_KEY)
        .send()
        .await
    {
        Ok(o) => o,
        Err(e) => {
            let f = Failure::from_sdk(&e);
            if f.code_is("NoSuchKey") {
                return Ok(None);
            }
            return Err(f.into_cloud("GetObject", &what, &[]));
        }
    };
    let bytes = out
        .body
        .collect()
        .await
        .map_err(|e| CloudError::Transient {
            operation: "GetObject".into(),
            message: format!("{what}: {e}"),
        })?
        .into_bytes()
        .to_vec();
    match BucketManifest::from_json(&bytes) {
        Ok(m) => Ok(Some((m, bytes))),
        Err(e) => {
            tracing::warn!("{e}; reading each object instead");
            Ok(None)
        }
    }
}

pub(crate) async fn bucket(
    s3: &aws_sdk_s3::Client,
    bucket: Option<&str>,
) -> CloudResult<Option<ObservedBucket>> {
    let Some(bucket) = bucket else {
        return Ok(None);
    };
    let Some(listed) = listing(s3, bucket).await? else {
        return Ok(None);
    };
    let manifest = read_manifest(s3, bucket, &listed).await?;
    let mut objects = std::collections::BTreeMap::new();
    let mut unknown = Vec::new();
    for l in listed {
        if l.key == MANIFEST_KEY {
            let sha256 = manifest
                .as_ref()
                .map(|(_, bytes)| hex::encode(Sha256::digest(bytes)));
            objects.insert(
                l.key,
                ObservedObject {
                    size: l.size,
                    sha256,
                },
            );
            continue;
        }
        match manifest
            .as_ref()
            .and_then(|(m, _)| m.trusted_sha256(&l.key, l.size, l.etag.as_deref()))
        {
            Some(sha) => {
                objects.insert(
                    l.key,
                    ObservedObject {
                        size: l.size,
                        sha256: Some(sha.to_string()),
                    },
                );
            }
            None => unknown.push(l),
        }
    }
    let headed: Vec<(String, ObservedObject)> = stream::iter(unknown)
        .map(|l| async move {
            let sha256 = object_sha256(s3, bucket, &l.key).await?;
            Ok::<_, CloudError>((
                l.key,
                ObservedObject {
                    size: l.size,
                    sha256,
                },
            ))
        })
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    objects.extend(headed);
    Ok(Some(ObservedBucket {
        bucket: bucket.to_string(),
        objects,
    }))
}

pub(crate) async fn object_sha256(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> CloudResult<Option<String>> {
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
        assert_eq!(
            full_object_hex("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=-2"),
            None
        );
    }

    #[test]
    fn listed_keys_are_decoded_as_the_aws_cli_decodes_them() {
        assert_eq!(url_decoded("a+b%2Bc%1B%5B2J%C3%A9"), "a b+c\u{1b}[2Jé");
        assert_eq!(url_decoded("plain/key.flac"), "plain/key.flac");
    }
}
