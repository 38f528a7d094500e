//! The sources bucket: a sync uploads what changed (checked against the plan's hashes),
//! deletes what the tree no longer holds and writes the bucket manifest; destroy deletes it.

use super::files::{check_hash, hash_file};
use super::{Context, EffectError};
use crate::model::Value;
use crate::observed::ObservedObject;
use crate::plan::Effect;
use crate::units::human_bytes;
use futures_util::stream::{self, StreamExt};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

/// Files uploaded at once by a sources sync.
pub const UPLOAD_CONCURRENCY: usize = 16;
/// S3 DeleteObjects takes at most this many keys a call.
pub const DELETE_BATCH: usize = 1000;

/// Runs a sources bucket effect.
pub(super) async fn run(cx: &Context, index: usize, effect: &Effect) -> Result<(), EffectError> {
    let cloud = cx.cloud.as_ref();
    let name = effect.name();
    match effect {
        Effect::SyncSources {
            bucket,
            root,
            upload,
            delete,
            revision,
        } => sync_sources(cx, index, bucket, root, upload, delete, revision).await,
        Effect::DeleteBucket { bucket } => {
            cx.reporter
                .action_progress(index, &format!("emptying and deleting {bucket}"));
            cx.call_gone(name, |_| cloud.delete_bucket(bucket)).await
        }
        _ => unreachable!("{name} is not a sources bucket effect"),
    }
}

async fn sync_sources(
    cx: &Context,
    index: usize,
    bucket: &Value,
    root: &str,
    upload: &BTreeMap<String, String>,
    delete: &[String],
    revision: &str,
) -> Result<(), EffectError> {
    let cloud = cx.cloud.as_ref();
    let bucket = cx.resolve(bucket)?;
    let root = cx.path(root);
    let total = upload.len();
    let mut done = 0usize;
    let mut bytes = 0u64;
    let mut errors: Vec<EffectError> = Vec::new();
    let mut uploaded = crate::bucket_manifest::Uploaded::new();
    let every = (total / 100).max(1);
    // Boxed as `dyn Future + Send`: the stream then holds one concrete type, and the task that
    // runs this action stays `Send` without higher-ranked closure bounds.
    let jobs: Vec<Upload<'_>> = upload
        .iter()
        .map(|(rel, expected)| {
            let (root, bucket) = (&root, &bucket);
            Box::pin(async move {
                let path = root.join(rel);
                let (actual, size) = hash_file(path.clone()).await?;
                check_hash(&path, expected, &actual)?;
                cx.call("upload", |_| {
                    cloud.put_object_from_file(bucket, rel, &path, expected)
                })
                .await?;
                Ok::<_, EffectError>((
                    rel,
                    ObservedObject {
                        size,
                        sha256: Some(expected.clone()),
                    },
                ))
            }) as Upload<'_>
        })
        .collect();
    let mut uploads = stream::iter(jobs).buffer_unordered(UPLOAD_CONCURRENCY);
    while let Some(r) = uploads.next().await {
        done += 1;
        match r {
            Ok((rel, object)) => {
                bytes += object.size;
                uploaded.insert(rel.clone(), object);
            }
            Err(e) => errors.push(e),
        }
        if done.is_multiple_of(every) || done == total {
            cx.reporter.action_progress(
                index,
                &format!("{done}/{total} files, {}", human_bytes(bytes)),
            );
        }
    }
    drop(uploads);
    let result = if let Some(first) = errors.first() {
        Err(EffectError::Uploads {
            bucket: bucket.clone(),
            failed: errors.len(),
            total,
            first: first.to_string(),
        })
    } else {
        delete_extra(cx, index, &bucket, delete).await
    };
    // The manifest is written even after a failed upload or delete: it records only what the
    // bucket holds now (each object with the ETag it is listed with, and a SHA-256 only for
    // what this sync uploaded or an earlier manifest vouched for), so it never vouches for
    // content that is not there — and without it every later plan would read each object on
    // its own until the next sync that succeeds.
    let revision = if result.is_ok() {
        revision.to_string()
    } else {
        format!("{revision} (incomplete)")
    };
    let manifest = cx
        .call("write bucket manifest", |_| {
            cloud.write_bucket_manifest(&bucket, &revision, &uploaded)
        })
        .await;
    match (result, manifest) {
        (Err(e), _) | (Ok(()), Err(e)) => Err(e),
        (Ok(()), Ok(())) => Ok(()),
    }
}

/// Deletes the objects the tree no longer holds, a batch at a time.
async fn delete_extra(
    cx: &Context,
    index: usize,
    bucket: &str,
    delete: &[String],
) -> Result<(), EffectError> {
    let cloud = cx.cloud.as_ref();
    for (n, batch) in delete.chunks(DELETE_BATCH).enumerate() {
        cx.call("delete objects", |_| cloud.delete_objects(bucket, batch))
            .await?;
        cx.reporter.action_progress(
            index,
            &format!(
                "deleted {}/{} objects",
                (n * DELETE_BATCH + batch.len()),
                delete.len()
            ),
        );
    }
    Ok(())
}

/// One file's upload: its key, size and SHA-256 once done.
type Upload<'a> =
    Pin<Box<dyn Future<Output = Result<(&'a String, ObservedObject), EffectError>> + Send + 'a>>;
