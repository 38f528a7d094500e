//! S3 objects. Every upload sends its SHA-256 so S3 rejects a body that differs from what was
//! scanned (`BadDigest`), and stores the hex form as `x-amz-meta-sha256` for observe.
//! Files of [`crate::MULTIPART_THRESHOLD`] or more go up in parts, each with its own checksum.

use super::read;
use super::SHA256_METADATA;
use crate::error::{cloud_err, Failure};
use crate::AwsCloud;
use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, Delete, EncodingType,
    ObjectIdentifier,
};
use futures_util::{stream, StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};
use std::path::Path;
use tokio::io::AsyncReadExt;
use vibes_core::bucket_manifest::{BucketManifest, ManifestEntry, Uploaded, MANIFEST_KEY};
use vibes_core::cloud::{CloudError, CloudResult, Objects};

const MIB: u64 = 1024 * 1024;

/// Part size for multipart uploads: a quarter of the threshold (16 MiB by default, never
/// under S3's 5 MiB minimum), or more when needed to stay within 10 000 parts.
fn part_size(total: u64, threshold: u64) -> u64 {
    let base = (threshold / 4).max(5 * MIB);
    base.max(total.div_ceil(10_000).div_ceil(MIB) * MIB)
}

/// S3 wants the base64 of the raw digest; vibes carries hex.
fn base64_of_hex(operation: &str, hex_digest: &str) -> CloudResult<String> {
    let raw = hex::decode(hex_digest)
        .ok()
        .filter(|b| b.len() == 32)
        .ok_or_else(|| {
            CloudError::permanent(operation, format!("`{hex_digest}` is not a hex SHA-256"))
        })?;
    Ok(aws_smithy_types::base64::encode(raw))
}

fn io_err(operation: &str, file: &Path, e: std::io::Error) -> CloudError {
    CloudError::permanent(operation, format!("{}: {e}", file.display()))
}

#[async_trait]
impl Objects for AwsCloud {
    async fn put_object_from_file(
        &self,
        bucket: &str,
        key: &str,
        file: &Path,
        sha256_hex: &str,
    ) -> CloudResult<()> {
        let size = tokio::fs::metadata(file)
            .await
            .map_err(|e| io_err("PutObject", file, e))?
            .len();
        if size >= self.multipart_threshold {
            return self
                .put_multipart(bucket, key, file, size, sha256_hex)
                .await;
        }
        let checksum = base64_of_hex("PutObject", sha256_hex)?;
        let body = ByteStream::from_path(file)
            .await
            .map_err(|e| CloudError::permanent("PutObject", format!("{}: {e}", file.display())))?;
        self.s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_length(size as i64)
            .checksum_sha256(checksum)
            .metadata(SHA256_METADATA, sha256_hex.to_ascii_lowercase())
            .body(body)
            .send()
            .await
            .map_err(|e| cloud_err("PutObject", &format!("s3://{bucket}/{key}"), e))?;
        Ok(())
    }

    async fn put_object(&self, bucket: &str, key: &str, body: Vec<u8>) -> CloudResult<()> {
        let digest = Sha256::digest(&body);
        self.s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .checksum_sha256(aws_smithy_types::base64::encode(digest))
            .metadata(SHA256_METADATA, hex::encode(digest))
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| cloud_err("PutObject", &format!("s3://{bucket}/{key}"), e))?;
        Ok(())
    }

    /// The manifest after a sync: one listing (for ETags), the previous manifest, and a
    /// HeadObject only for objects neither this sync uploaded nor the old manifest vouches for
    /// (so a bucket filled before manifests existed is read once, here, not on every plan).
    /// Apply holds the project lock, so no other vibes writes between the uploads and this
    /// listing; an uploaded object whose listed size differs from the scan is not vouched for.
    async fn write_bucket_manifest(
        &self,
        bucket: &str,
        revision: &str,
        uploaded: &Uploaded,
    ) -> CloudResult<()> {
        let listed =
            read::listing(&self.s3, bucket)
                .await?
                .ok_or_else(|| CloudError::NotFound {
                    operation: "ListObjectsV2".into(),
                    what: format!("bucket {bucket}"),
                })?;
        let old = read::read_manifest(&self.s3, bucket, &listed)
            .await?
            .map(|(m, _)| m);
        let mut manifest = BucketManifest::new(revision);
        let mut unknown = Vec::new();
        for l in listed.into_iter().filter(|l| l.key != MANIFEST_KEY) {
            let Some(etag) = l.etag.clone() else { continue };
            let sha256 = match uploaded.get(&l.key) {
                Some(u) if u.size == l.size => u.sha256.clone(),
                _ => old
                    .as_ref()
                    .and_then(|m| m.trusted_sha256(&l.key, l.size, Some(&etag)))
                    .map(str::to_string),
            };
            match sha256 {
                Some(sha256) => {
                    manifest.objects.insert(
                        l.key,
                        ManifestEntry {
                            size: l.size,
                            sha256,
                            etag: Some(etag),
                        },
                    );
                }
                None => unknown.push((l.key, l.size, etag)),
            }
        }
        let s3 = &self.s3;
        let headed: Vec<(String, Option<ManifestEntry>)> = stream::iter(unknown)
            .map(|(key, size, etag)| async move {
                let sha256 = read::object_sha256(s3, bucket, &key).await?;
                Ok::<_, CloudError>((
                    key,
                    sha256.map(|sha256| ManifestEntry {
                        size,
                        sha256,
                        etag: Some(etag),
                    }),
                ))
            })
            .buffer_unordered(crate::scope::READ_CONCURRENCY)
            .try_collect()
            .await?;
        manifest
            .objects
            .extend(headed.into_iter().filter_map(|(k, e)| e.map(|e| (k, e))));
        self.put_object(bucket, MANIFEST_KEY, manifest.to_json())
            .await
    }

    /// DeleteObjects in batches of 1000 (the API's limit); any key S3 reports as not
    /// deleted fails the call with its code.
    async fn delete_objects(&self, bucket: &str, keys: &[String]) -> CloudResult<()> {
        let keys: Vec<(String, Option<String>)> = keys.iter().map(|k| (k.clone(), None)).collect();
        self.delete_keys(bucket, keys).await
    }

    /// Empties the (versioned) bucket and deletes it.
    async fn delete_bucket(&self, bucket: &str) -> CloudResult<()> {
        self.empty_bucket(bucket).await?;
        self.s3
            .delete_bucket()
            .bucket(bucket)
            .send()
            .await
            .map_err(|e| cloud_err("DeleteBucket", &format!("s3://{bucket}"), e))?;
        Ok(())
    }

    /// Every object version and every delete marker, listed first and then deleted a thousand
    /// at a time.
    async fn empty_bucket(&self, bucket: &str) -> CloudResult<()> {
        let what = format!("s3://{bucket}");
        let mut versions: Vec<(String, Option<String>)> = Vec::new();
        // ListObjectVersions has no paginator in the SDK: its pages continue from a key and
        // version marker pair.
        let (mut key_marker, mut version_marker) = (None::<String>, None::<String>);
        loop {
            let page = self
                .s3
                .list_object_versions()
                .bucket(bucket)
                .encoding_type(EncodingType::Url)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(|e| cloud_err("ListObjectVersions", &what, e))?;
            let keys = page
                .versions()
                .iter()
                .map(|v| (v.key(), v.version_id()))
                .chain(
                    page.delete_markers()
                        .iter()
                        .map(|m| (m.key(), m.version_id())),
                );
            // Decoded only when the answer says it is encoded (moto, unlike S3, answers
            // ListObjectVersions with raw keys and no EncodingType).
            let encoded = page.encoding_type() == Some(&EncodingType::Url);
            let decode = |k: &str| {
                if encoded {
                    read::url_decoded(k)
                } else {
                    k.to_string()
                }
            };
            for (key, version) in keys {
                if let Some(key) = key {
                    versions.push((decode(key), version.map(str::to_string)));
                }
            }
            if page.is_truncated() != Some(true) {
                break;
            }
            // NextKeyMarker comes URL-encoded like the keys; the request takes the key itself.
            key_marker = page.next_key_marker().map(decode);
            version_marker = page.next_version_id_marker().map(str::to_string);
            if key_marker.is_none() {
                break;
            }
        }
        self.delete_keys(bucket, versions).await
    }
}

impl AwsCloud {
    /// Parts are read one at a time (memory: one part), hashed, and sent with their checksum;
    /// the whole file's hash is checked against `sha256_hex` before the upload is completed,
    /// so a file that changed since it was scanned never lands. Failures abort the upload.
    async fn put_multipart(
        &self,
        bucket: &str,
        key: &str,
        file: &Path,
        size: u64,
        sha256_hex: &str,
    ) -> CloudResult<()> {
        let what = format!("s3://{bucket}/{key}");
        let created = self
            .s3
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .metadata(SHA256_METADATA, sha256_hex.to_ascii_lowercase())
            .send()
            .await
            .map_err(|e| cloud_err("CreateMultipartUpload", &what, e))?;
        let upload_id = created
            .upload_id()
            .ok_or_else(|| {
                CloudError::permanent("CreateMultipartUpload", format!("{what}: no upload id"))
            })?
            .to_string();
        let result = self
            .upload_parts(bucket, key, file, size, sha256_hex, &upload_id)
            .await;
        if result.is_err() {
            // Parts of an abandoned upload are billed until aborted.
            let _ = self
                .s3
                .abort_multipart_upload()
                .bucket(bucket)
                .key(key)
                .upload_id(&upload_id)
                .send()
                .await;
        }
        result
    }

    async fn upload_parts(
        &self,
        bucket: &str,
        key: &str,
        file: &Path,
        size: u64,
        sha256_hex: &str,
        upload_id: &str,
    ) -> CloudResult<()> {
        let what = format!("s3://{bucket}/{key}");
        let mut f = tokio::fs::File::open(file)
            .await
            .map_err(|e| io_err("UploadPart", file, e))?;
        let part_len = part_size(size, self.multipart_threshold);
        let mut whole = Sha256::new();
        let mut parts = Vec::new();
        let mut sent = 0u64;
        let mut number = 1i32;
        while sent < size {
            let len = part_len.min(size - sent) as usize;
            let mut buf = vec![0u8; len];
            f.read_exact(&mut buf)
                .await
                .map_err(|e| io_err("UploadPart", file, e))?;
            whole.update(&buf);
            let checksum = aws_smithy_types::base64::encode(Sha256::digest(&buf));
            let out = self
                .s3
                .upload_part()
                .bucket(bucket)
                .key(key)
                .upload_id(upload_id)
                .part_number(number)
                .content_length(len as i64)
                .checksum_sha256(&checksum)
                .body(ByteStream::from(buf))
                .send()
                .await
                .map_err(|e| cloud_err("UploadPart", &format!("{what} part {number}"), e))?;
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(out.e_tag().map(str::to_string))
                    .checksum_sha256(checksum)
                    .build(),
            );
            sent += len as u64;
            number += 1;
        }
        let actual = hex::encode(whole.finalize());
        if !actual.eq_ignore_ascii_case(sha256_hex) {
            return Err(CloudError::permanent(
                "CompleteMultipartUpload",
                format!("{}: content changed since it was scanned (SHA-256 {actual}, expected {sha256_hex})", file.display()),
            ));
        }
        self.s3
            .complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| cloud_err("CompleteMultipartUpload", &what, e))?;
        Ok(())
    }

    /// Deletes each (key, version): a thousand at a time with DeleteObjects; a key holding a
    /// control character on its own with DeleteObject, where it travels percent-encoded in the
    /// URL (DeleteObjects' XML body has no way to write most of them). Any key S3 reports as
    /// not deleted fails the call with its code.
    async fn delete_keys(
        &self,
        bucket: &str,
        keys: Vec<(String, Option<String>)>,
    ) -> CloudResult<()> {
        let what = format!("s3://{bucket}");
        let (alone, batched): (Vec<_>, Vec<_>) = keys
            .into_iter()
            .partition(|(k, _)| k.chars().any(char::is_control));
        for (key, version) in alone {
            self.s3
                .delete_object()
                .bucket(bucket)
                .key(&key)
                .set_version_id(version)
                .send()
                .await
                .map_err(|e| {
                    cloud_err("DeleteObject", &format!("{what}/{}", key.escape_debug()), e)
                })?;
        }
        for batch in batched.chunks(1000) {
            let ids = batch
                .iter()
                .map(|(k, v)| {
                    ObjectIdentifier::builder()
                        .key(k.as_str())
                        .set_version_id(v.clone())
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| CloudError::permanent("DeleteObjects", e.to_string()))?;
            let delete = Delete::builder()
                .set_objects(Some(ids))
                .quiet(true)
                .build()
                .map_err(|e| CloudError::permanent("DeleteObjects", e.to_string()))?;
            let out = self
                .s3
                .delete_objects()
                .bucket(bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| cloud_err("DeleteObjects", &what, e))?;
            if let Some(first) = out.errors().first() {
                let f = Failure {
                    code: first.code().map(str::to_string),
                    message: format!(
                        "{} of {} keys not deleted, first {}: {}",
                        out.errors().len(),
                        batch.len(),
                        first.key().unwrap_or_default().escape_debug(),
                        first.message().unwrap_or_default()
                    ),
                    status: None,
                    transport: false,
                };
                return Err(f.into_cloud("DeleteObjects", &what, &[]));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_a_quarter_of_the_threshold_until_10000_parts_would_not_do() {
        let t = crate::MULTIPART_THRESHOLD;
        assert_eq!(part_size(64 << 20, t), 16 << 20);
        assert_eq!(part_size(12 << 20, 5 << 20), 5 << 20);
        assert_eq!(part_size(1 << 40, t), 105 << 20);
        assert!(part_size(1 << 40, t) * 10_000 >= 1 << 40);
    }

    #[test]
    fn checksums_go_to_s3_as_base64() {
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(
            base64_of_hex("PutObject", hex).unwrap(),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        assert!(base64_of_hex("PutObject", "abc").is_err());
    }
}
