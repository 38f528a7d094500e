//! The sources: the local tree synced into the sources bucket, and `/<project>/sources`, the
//! parameter naming the bucket for the worker.
//!
//! The bucket holds the user's collection, so it outlives the main stack (which keeps it when
//! deleted, `DeletionPolicy: Retain`): `vibes destroy` keeps it and its parameter, and says so,
//! and the next apply hands the kept bucket to the new main stack (`SourcesBucketName`) instead
//! of making a second one. Only `destroy --include-data` empties and deletes it.

use super::{action, outputs, owner_of, plural, seen, Cx, MASS_DELETE_SHARE_PERCENT};
use crate::address::Address;
use crate::model::Desired;
use crate::observed::Observed;
use crate::observed::ObservedBucket;
use crate::plan::action::{Action, Attribute, Effect, Op};
use crate::plan::reliance::Reliance;
use crate::units::human_bytes;
use std::collections::BTreeMap;

/// The main stack's parameter that hands it a kept sources bucket instead of making one.
pub(crate) const SOURCES_BUCKET_PARAMETER: &str = "SourcesBucketName";

/// Where the sources bucket's name is read: the main stack's output, and the project's own
/// `/<project>/sources` parameter, which outlives the stack (and the bucket's name with it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourcesBucketNames<'a> {
    pub by_stack: Option<&'a str>,
    pub by_pointer: Option<&'a str>,
}

impl<'a> SourcesBucketNames<'a> {
    /// The bucket to list: the stack's while it stands, then the one the parameter recorded.
    pub fn current(&self) -> Option<&'a str> {
        self.by_stack.or(self.by_pointer)
    }
}

/// The names the observation gives the sources bucket (see [`SourcesBucketNames`]).
pub fn sources_bucket_names<'a>(
    desired: &Desired,
    observed: &'a Observed,
) -> SourcesBucketNames<'a> {
    let project = &desired.project;
    let main = desired
        .stacks
        .get("main")
        .map(|s| s.stack_name.clone())
        .unwrap_or_else(|| project.aws_name("main"));
    SourcesBucketNames {
        by_stack: observed
            .stacks
            .get(&main)
            .and_then(|s| s.outputs.get(outputs::SOURCES_BUCKET))
            .map(String::as_str),
        by_pointer: observed
            .parameters
            .get(&project.ssm_path("sources"))
            .filter(|p| owner_of(&p.tags) == Some(project.name.as_str()))
            .and_then(|p| p.value.as_deref()),
    }
}

impl Cx<'_> {
    pub(super) fn plan_sources(&self) -> Vec<Action> {
        let address = Address::sources();
        let Some(spec) = &self.desired.sources else {
            return self.sources_left_behind().into_iter().collect();
        };
        let Some(manifest) = &spec.manifest else {
            return Vec::new();
        };
        let bucket = self.observed.sources_bucket.as_ref();
        let mut upload = BTreeMap::new();
        let mut upload_bytes = 0;
        for (path, f) in &manifest.files {
            let remote = bucket.and_then(|b| b.objects.get(path));
            let same = remote.is_some_and(|r| {
                r.size == f.size && r.sha256.as_deref() == Some(f.sha256.as_str())
            });
            if !same {
                upload.insert(path.clone(), f.sha256.clone());
                upload_bytes += f.size;
            }
        }
        let extra: Vec<String> = bucket
            .map(|b| {
                b.objects
                    .keys()
                    // The bucket's manifest is vibes' bookkeeping, not a stray object.
                    .filter(|k| {
                        !manifest.files.contains_key(*k)
                            && !crate::bucket_manifest::is_bookkeeping(k)
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let delete = if spec.delete || self.options.include_data {
            extra.clone()
        } else {
            Vec::new()
        };
        if let Some(why) = self.mass_delete_blocked(spec, manifest, bucket, &delete) {
            let mut a = action(address, Op::Blocked, why);
            a.attributes
                .push(Attribute::new("path", spec.path.display().to_string()));
            a.attributes.push(Attribute::new(
                "would delete",
                delete
                    .iter()
                    .take(5)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            ));
            a.relies_on.insert(Reliance::sources_bucket(), seen(bucket));
            return vec![a];
        }
        let bucket_value = self.main_output(outputs::SOURCES_BUCKET);
        let bucket_now = self.resolve_now(&bucket_value);
        let pointer = self.observed.parameters.get(&spec.parameter);
        if let Some(why) = self.pointer_blocked(&address, pointer) {
            let mut a = action(address, Op::Blocked, why);
            a.relies_on
                .insert(Reliance::parameter(&spec.parameter), seen(pointer));
            return vec![a];
        }
        let pointer_ok = bucket_now.is_some()
            && pointer.is_some_and(|p| p.value == bucket_now && self.ours(&p.tags));
        if upload.is_empty() && delete.is_empty() && pointer_ok && extra.is_empty() {
            return Vec::new();
        }
        let revision = manifest.revision();
        let mut parts = Vec::new();
        if !upload.is_empty() {
            parts.push(format!(
                "{} to upload, {}",
                plural(upload.len(), "file", "files"),
                human_bytes(upload_bytes)
            ));
        }
        if !delete.is_empty() {
            parts.push(format!("{} to delete", delete.len()));
        }
        let mut a = if parts.is_empty() && pointer_ok {
            let mut a = action(
                address.clone(),
                Op::Blocked,
                format!(
                    "{} in the bucket but not in {}: kept, since [sources] delete = false (set it, or pass --include-data, to delete them)",
                    plural(extra.len(), "object is", "objects are"),
                    spec.path.display()
                ),
            );
            a.attributes.push(Attribute::new(
                "kept",
                // Keys are whatever was put in the bucket: the renderer escapes them.
                extra.iter().take(5).cloned().collect::<Vec<_>>().join(", "),
            ));
            a
        } else {
            if !pointer_ok {
                parts.push(format!("{} to record the bucket name", spec.parameter));
            }
            if bucket.is_none() {
                parts.push("the bucket is new".into());
            }
            if delete.is_empty() && !extra.is_empty() {
                parts.push(format!(
                    "{} kept ([sources] delete = false)",
                    plural(extra.len(), "extra object", "extra objects")
                ));
            }
            let mut a = action(address.clone(), Op::Run, parts.join("; "));
            // What the sync touches, one key a line, as `aws s3 sync --dryrun` would list it:
            // the human plan shows the first few and a count, the JSON every one.
            let listed =
                |keys: Vec<&String>| keys.into_iter().cloned().collect::<Vec<_>>().join("\n");
            if !upload.is_empty() {
                a.attributes
                    .push(Attribute::new("upload", listed(upload.keys().collect())));
            }
            if !delete.is_empty() {
                a.attributes
                    .push(Attribute::new("delete", listed(delete.iter().collect())));
            }
            if !upload.is_empty() || !delete.is_empty() {
                a.effects.push(Effect::SyncSources {
                    bucket: bucket_value.clone(),
                    root: spec.path.display().to_string(),
                    upload,
                    delete,
                    revision: revision.clone(),
                });
            }
            if !pointer_ok {
                let tags = self.tags(&address, &revision);
                a.effects.push(Effect::PutParameter {
                    name: spec.parameter.clone(),
                    value: bucket_value,
                    tags,
                });
            }
            a
        };
        a.attributes
            .insert(0, Attribute::new("path", spec.path.display().to_string()));
        a.attributes
            .insert(1, Attribute::new("revision", &revision));
        a.attributes.insert(
            2,
            Attribute::new(
                "files",
                format!(
                    "{} ({})",
                    manifest.files.len(),
                    human_bytes(manifest.total_bytes())
                ),
            ),
        );
        a.relies_on.insert(Reliance::sources_bucket(), seen(bucket));
        a.relies_on
            .insert(Reliance::parameter(&spec.parameter), seen(pointer));
        vec![a]
    }

    /// Why a sync's deletions must wait for `--allow-mass-delete`, if they must: an empty local
    /// tree (most often a disk that is not mounted) would delete every object, and the compile
    /// after it every output; so would a tree that lost most of its files.
    fn mass_delete_blocked(
        &self,
        spec: &crate::model::SourcesSpec,
        manifest: &crate::model::Manifest,
        bucket: Option<&crate::observed::ObservedBucket>,
        delete: &[String],
    ) -> Option<String> {
        if delete.is_empty() || self.options.allow_mass_delete {
            return None;
        }
        let held = bucket
            .map(|b| {
                b.objects
                    .keys()
                    .filter(|k| !crate::bucket_manifest::is_bookkeeping(k))
                    .count()
            })
            .unwrap_or(0)
            .max(delete.len());
        if manifest.files.is_empty() {
            return Some(format!(
                "{} is empty and the sources bucket holds {}: the sync would delete every one of them (is the disk mounted?); check the path, or pass --allow-mass-delete to delete them",
                spec.path.display(),
                plural(held, "object", "objects"),
            ));
        }
        if delete.len() * 100 > held * MASS_DELETE_SHARE_PERCENT {
            return Some(format!(
                "the sync would delete {} of the {} in the sources bucket ({}%, more than the {}% a sync may delete), and {} holds {}; check the path, or pass --allow-mass-delete to delete them",
                delete.len(),
                plural(held, "object", "objects"),
                delete.len() * 100 / held,
                MASS_DELETE_SHARE_PERCENT,
                spec.path.display(),
                plural(manifest.files.len(), "file", "files"),
            ));
        }
        None
    }

    /// The bucket this project's sources went to before, if it still exists and is ours: named
    /// by the main stack's output or, once the stack is gone, by `/<project>/sources`.
    pub(super) fn kept_sources_bucket(&self) -> Option<&ObservedBucket> {
        let bucket = self.observed.sources_bucket.as_ref()?;
        let names = sources_bucket_names(self.desired, self.observed);
        let name = Some(bucket.bucket.as_str());
        (names.by_stack == name || names.by_pointer == name).then_some(bucket)
    }

    /// What `vibes destroy` does with the sources: with `--include-data`, empties and deletes
    /// the bucket and its parameter; without, keeps both and says so. Outside destroy, a config
    /// without `[sources]` leaves them alone (the main stack still holds the bucket).
    fn sources_left_behind(&self) -> Option<Action> {
        if !self.options.destroy {
            return None;
        }
        let address = Address::sources();
        let name = self.desired.project.ssm_path("sources");
        let pointer = self
            .observed
            .parameters
            .get(&name)
            .filter(|p| self.ours(&p.tags));
        let bucket = self.kept_sources_bucket();
        if pointer.is_none() && bucket.is_none() {
            return None;
        }
        let held = bucket.map(|b| {
            let (objects, bytes) = b.held();
            format!(
                "{}, {}",
                plural(objects, "object", "objects"),
                human_bytes(bytes)
            )
        });
        let mut a = if self.options.include_data {
            let mut what = Vec::new();
            if let (Some(b), Some(held)) = (bucket, &held) {
                what.push(format!(
                    "the sources bucket {} ({held}, and every older version) is emptied and deleted",
                    b.bucket
                ));
            }
            if pointer.is_some() {
                what.push(format!("{name} is deleted"));
            }
            let mut a = action(
                address.clone(),
                Op::Delete,
                format!("--include-data: {}", what.join("; ")),
            );
            if let Some(b) = bucket {
                a.effects.push(Effect::DeleteBucket {
                    bucket: b.bucket.clone(),
                });
            }
            if pointer.is_some() {
                a.effects
                    .push(Effect::DeleteParameter { name: name.clone() });
            }
            a
        } else {
            action(
                address.clone(),
                Op::Blocked,
                format!(
                    "kept: the sources bucket{} and {name}, which names it for the next apply; vibes deletes the collection only with --include-data",
                    match (bucket, &held) {
                        (Some(b), Some(held)) => format!(" {} ({held})", b.bucket),
                        _ => String::new(),
                    }
                ),
            )
        };
        if let Some(b) = bucket {
            a.attributes.push(Attribute::new("bucket", &b.bucket));
        }
        if let Some(held) = held {
            a.attributes.push(Attribute::new("objects", held));
        }
        a.relies_on.insert(Reliance::sources_bucket(), seen(bucket));
        a.relies_on
            .insert(Reliance::parameter(&name), seen(pointer));
        Some(a)
    }
}
