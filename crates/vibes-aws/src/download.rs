//! Reading objects back: the worker fetches the sources it compiles from the sources bucket,
//! each object streamed to a temporary file beside its destination, its SHA-256 checked against
//! what the bucket's manifest says, and only then renamed into place. A file that arrives
//! damaged never stands where the compile reads it.

use crate::error::cloud_err;
use crate::AwsCloud;
use sha2::{Digest, Sha256};
use std::path::Path;
use tokio::io::AsyncWriteExt;
use vibes_core::cloud::{CloudError, CloudResult};

impl AwsCloud {
    /// Download `key` of `bucket` to `dest` (its directory must exist), checking its content
    /// against `sha256_hex` when given. Returns the bytes read.
    pub async fn download_object(
        &self,
        bucket: &str,
        key: &str,
        dest: &Path,
        sha256_hex: Option<&str>,
    ) -> CloudResult<u64> {
        let what = format!("s3://{bucket}/{key}");
        let mut object = self
            .s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| cloud_err("GetObject", &what, e))?;
        let tmp = partial_path(dest);
        let local = |e: std::io::Error| {
            CloudError::permanent(
                "GetObject",
                format!("{what}: writing {}: {e}", tmp.display()),
            )
        };
        let mut file = tokio::fs::File::create(&tmp).await.map_err(local)?;
        let mut hasher = Sha256::new();
        let mut bytes = 0u64;
        let written: CloudResult<()> = async {
            while let Some(chunk) = object.body.try_next().await.map_err(|e| {
                // A body cut short is worth another try, as any dropped connection.
                CloudError::Transient {
                    operation: "GetObject".into(),
                    message: format!("{what}: {e}"),
                }
            })? {
                hasher.update(&chunk);
                bytes += chunk.len() as u64;
                file.write_all(&chunk).await.map_err(local)?;
            }
            file.flush().await.map_err(local)?;
            Ok(())
        }
        .await;
        drop(file);
        let checked = written.and_then(|()| match sha256_hex {
            Some(want) if hex::encode(hasher.finalize()) != want.to_ascii_lowercase() => {
                Err(CloudError::Transient {
                    operation: "GetObject".into(),
                    message: format!(
                        "{what}: the content read does not have the SHA-256 the manifest records"
                    ),
                })
            }
            _ => Ok(()),
        });
        match checked {
            Ok(()) => {
                tokio::fs::rename(&tmp, dest).await.map_err(|e| {
                    CloudError::permanent(
                        "GetObject",
                        format!("{what}: into {}: {e}", dest.display()),
                    )
                })?;
                Ok(bytes)
            }
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                Err(e)
            }
        }
    }
}

/// Where a download is written before it is checked.
fn partial_path(dest: &Path) -> std::path::PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".vibes-partial");
    dest.with_file_name(name)
}
