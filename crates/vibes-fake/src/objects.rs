//! The fake's S3: buckets of objects kept with their sizes and SHA-256s, as a listing shows
//! them; a put from a file is refused when the SHA-256 sent does not match, as S3 does.

use super::{not_found, FakeCloud};
use async_trait::async_trait;
use sha2::{Digest, Sha256};
use std::path::Path;
use vibes_core::cloud::Objects;
use vibes_core::cloud::{CloudError, CloudResult};
use vibes_core::observed::ObservedObject;

#[async_trait]
impl Objects for FakeCloud {
    async fn put_object_from_file(
        &self,
        bucket: &str,
        key: &str,
        file: &Path,
        sha256_hex: &str,
    ) -> CloudResult<()> {
        let _s = self.enter("put_object_from_file", key).await?;
        let body = tokio::fs::read(file).await.map_err(|e| {
            CloudError::permanent("put_object_from_file", format!("{}: {e}", file.display()))
        })?;
        let sha = hex::encode(Sha256::digest(&body));
        if !sha.eq_ignore_ascii_case(sha256_hex) {
            return Err(CloudError::permanent(
                "put_object_from_file",
                format!("BadDigest: {key}: the SHA-256 sent does not match the content"),
            ));
        }
        let mut w = self.world();
        let b = w
            .buckets
            .get_mut(bucket)
            .ok_or_else(|| not_found("put_object_from_file", format!("bucket {bucket}")))?;
        b.insert(
            key.into(),
            ObservedObject {
                size: body.len() as u64,
                sha256: Some(sha),
            },
        );
        Ok(())
    }

    async fn put_object(&self, bucket: &str, key: &str, body: Vec<u8>) -> CloudResult<()> {
        let _s = self.enter("put_object", key).await?;
        let mut w = self.world();
        let b = w
            .buckets
            .get_mut(bucket)
            .ok_or_else(|| not_found("put_object", format!("bucket {bucket}")))?;
        // The adapter sends every body with its SHA-256, which a listing then shows.
        b.insert(
            key.into(),
            ObservedObject {
                size: body.len() as u64,
                sha256: Some(hex::encode(Sha256::digest(&body))),
            },
        );
        Ok(())
    }

    /// Counted, as the adapter's is a call AWS bills; the fake's listing is free anyway, so
    /// it keeps no manifest.
    async fn write_bucket_manifest(
        &self,
        bucket: &str,
        _revision: &str,
        _uploaded: &vibes_core::bucket_manifest::Uploaded,
    ) -> CloudResult<()> {
        let _s = self.enter("write_bucket_manifest", bucket).await?;
        Ok(())
    }

    async fn delete_bucket(&self, bucket: &str) -> CloudResult<()> {
        let _s = self.enter("delete_bucket", bucket).await?;
        self.world()
            .buckets
            .remove(bucket)
            .map(|_| ())
            .ok_or_else(|| not_found("delete_bucket", format!("bucket {bucket}")))
    }

    async fn empty_bucket(&self, bucket: &str) -> CloudResult<()> {
        let _s = self.enter("empty_bucket", bucket).await?;
        self.world()
            .buckets
            .get_mut(bucket)
            .map(|b| b.clear())
            .ok_or_else(|| not_found("empty_bucket", format!("bucket {bucket}")))
    }

    async fn delete_objects(&self, bucket: &str, keys: &[String]) -> CloudResult<()> {
        let _s = self.enter("delete_objects", bucket).await?;
        if keys.len() > 1000 {
            return Err(CloudError::permanent(
                "delete_objects",
                format!(
                    "MalformedXML: {} keys in one request, at most 1000",
                    keys.len()
                ),
            ));
        }
        let mut w = self.world();
        let b = w
            .buckets
            .get_mut(bucket)
            .ok_or_else(|| not_found("delete_objects", format!("bucket {bucket}")))?;
        for k in keys {
            b.remove(k);
        }
        Ok(())
    }
}
