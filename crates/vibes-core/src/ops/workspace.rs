//! A loaded config beside the cloud it describes, and the one way both are read: the local
//! sources tree and live AWS at the same time.

use super::OpsError;
use crate::cloud::prelude::*;
use crate::model::SourceFault;
use crate::observed::ZonesOffering;
use crate::plan::PlanOptions;
use crate::stack_changes::{Previewed, StackChanges};
use crate::{Desired, Observed, Plan};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub struct Workspace {
    pub desired: Desired,
    /// The directory relative paths in the config are resolved against; vibes' own files
    /// (the hash cache, the bucket hint) live in its `.vibes/`.
    pub base_dir: PathBuf,
    pub cloud: Arc<dyn Cloud>,
    /// Observing for `vibes destroy`: the sources bucket is listed even when the config has
    /// no `[sources]`, so the plan can say what it keeps or deletes.
    pub destroy: bool,
    /// The stack updates listed so far, by stack: an apply looks twice (before and under the
    /// lock), and a listing whose key still matches (same stack as seen, same update) is not
    /// made again. Only listings CloudFormation made are kept, not refusals.
    listed: std::sync::Mutex<std::collections::BTreeMap<String, StackChanges>>,
}

/// The sources bucket's name as last seen, kept beside the hash cache, so that the bucket can be
/// listed while the rest of AWS is read instead of after it. Only a hint: it is checked against
/// the main stack's output, and a wrong or missing hint costs one listing after the read.
pub fn bucket_hint_file(base_dir: &Path) -> PathBuf {
    base_dir.join(".vibes").join("sources-bucket")
}

/// The local sources tree, through the hash cache in `<base dir>/.vibes/`, and what the compile
/// engine finds wrong in it.
fn scan_sources(
    path: &Path,
    base_dir: &Path,
    format: Option<&str>,
) -> Result<(crate::model::Manifest, Vec<SourceFault>), OpsError> {
    let cache = base_dir.join(".vibes").join("sources-hashes.json");
    let (manifest, _stats) = crate::scan::scan(path, Some(&cache)).map_err(OpsError::Scan)?;
    Ok((manifest, check_sources(path, format)))
}

/// The faults the compile would meet, read by the engine's own reader of the tree: each
/// leaves tracks out. A tree it cannot read at all is one fault, of the whole tree.
pub fn check_sources(path: &Path, format: Option<&str>) -> Vec<SourceFault> {
    let format = format
        .and_then(|f| f.parse().ok())
        .unwrap_or(vibes_build::SourceFormat::Auto);
    match vibes_build::source::scan_as(path, format) {
        Ok(tree) => tree
            .broken
            .into_iter()
            .map(|b| SourceFault {
                source: vibes_build::relative_key(&b.rel),
                fault: b.fault,
            })
            .collect(),
        Err(e) => vec![SourceFault {
            source: ".".into(),
            fault: e.to_string(),
        }],
    }
}

impl Workspace {
    pub fn new(desired: Desired, base_dir: PathBuf, cloud: Arc<dyn Cloud>) -> Workspace {
        Workspace {
            desired,
            base_dir,
            cloud,
            destroy: false,
            listed: Default::default(),
        }
    }

    pub fn project(&self) -> &str {
        &self.desired.project.name
    }

    /// Read the local sources tree and live AWS, at the same time. The sources bucket's name is
    /// an output of the main stack; the bucket is listed alongside under the name seen last time
    /// and listed again only if the stack now names another.
    pub async fn observe(&mut self) -> Result<Observed, OpsError> {
        let project = self.desired.project.name.clone();
        let scan = self.desired.sources.as_ref().map(|s| {
            // The model's path is relative to the config's directory, not to the working one.
            let (path, base_dir) = (self.base_dir.join(&s.path), self.base_dir.clone());
            let format = s.format.clone();
            tokio::task::spawn_blocking(move || scan_sources(&path, &base_dir, format.as_deref()))
        });
        let wanted = self.desired.sources.is_some() || self.destroy;
        let hint = wanted
            .then(|| std::fs::read_to_string(bucket_hint_file(&self.base_dir)).ok())
            .flatten();
        let hint = hint.map(|h| h.trim().to_string()).filter(|h| !h.is_empty());
        let cloud = self.cloud.clone();
        let early_listing = async {
            match &hint {
                Some(bucket) => Some((bucket.clone(), cloud.list_bucket(bucket).await)),
                None => None,
            }
        };
        let (observed, early) = tokio::join!(self.cloud.observe(&project, None), early_listing);
        let mut observed = observed.map_err(OpsError::Observe)?;
        if let Some(scan) = scan {
            let (manifest, faults) = scan
                .await
                .map_err(|e| OpsError::ScanTask(e.to_string()))??;
            if let Some(sources) = self.desired.sources.as_mut() {
                sources.manifest = Some(manifest);
                sources.faults = faults;
            }
        }
        let bucket = crate::plan::sources_bucket_names(&self.desired, &observed)
            .current()
            .map(str::to_string);
        if let (Some(bucket), true) = (bucket, wanted) {
            observed.sources_bucket = match early {
                Some((seen, Ok(listing))) if seen == bucket => listing,
                _ => self
                    .cloud
                    .list_bucket(&bucket)
                    .await
                    .map_err(OpsError::ListBucket)?,
            };
            if hint.as_deref() != Some(bucket.as_str()) {
                let file = bucket_hint_file(&self.base_dir);
                if let Some(dir) = file.parent() {
                    let _ = std::fs::create_dir_all(dir);
                }
                let _ = std::fs::write(file, &bucket);
            }
        }
        observed.zones = self.zones_for_a_new_network(&observed).await?;
        Ok(observed)
    }

    /// The zones that offer the worker's and server's instance types, when vibes is about to
    /// make the network (the built-in vpc stack, not there yet); once made, its zone stays.
    async fn zones_for_a_new_network(
        &self,
        observed: &Observed,
    ) -> Result<Option<ZonesOffering>, OpsError> {
        let Some(vpc) = self.desired.stacks.get(crate::model::VPC_STACK) else {
            return Ok(None);
        };
        if !vpc.template_built_in || observed.stacks.contains_key(&vpc.stack_name) {
            return Ok(None);
        }
        let mut instance_types: Vec<String> = [
            self.desired
                .compile
                .as_ref()
                .map(|c| c.instance_type.clone()),
            self.desired
                .server
                .as_ref()
                .map(|s| s.instance_type.clone()),
        ]
        .into_iter()
        .flatten()
        .collect();
        instance_types.dedup();
        if instance_types.is_empty() {
            return Ok(None);
        }
        let zones = self
            .cloud
            .zones_offering(&instance_types)
            .await
            .map_err(OpsError::Observe)?;
        Ok(Some(ZonesOffering {
            instance_types,
            zones,
        }))
    }

    /// The plan from the config and an observation. A plan that updates a stack is made
    /// twice: the first names the updates, a change set of each lists what it would touch
    /// (kept in `observed`, so a second plan from the same observation makes none), and the
    /// second plan shows that, or blocks an update that would lose data.
    pub async fn plan(
        &self,
        observed: &mut Observed,
        options: &PlanOptions,
    ) -> Result<Plan, OpsError> {
        for (stack, changes) in self.listed.lock().expect("listed lock").iter() {
            observed
                .stack_changes
                .entry(stack.clone())
                .or_insert_with(|| changes.clone());
        }
        let first = crate::plan::plan(&self.desired, observed, options).map_err(OpsError::Plan)?;
        let wanted = crate::plan::stack_previews_wanted(&self.desired, observed, options, &first);
        if wanted.is_empty() {
            return Ok(first);
        }
        let cloud = &self.cloud;
        let previewed = futures_util::future::join_all(wanted.into_iter().map(|want| async move {
            let outcome = match cloud.preview_update(&want).await {
                Ok(changes) => Previewed::Changes(changes),
                Err(e) => Previewed::Unavailable(e.to_string()),
            };
            (
                want.stack_name,
                StackChanges {
                    key: want.key,
                    outcome,
                },
            )
        }))
        .await;
        let mut listed = self.listed.lock().expect("listed lock");
        for (stack, changes) in &previewed {
            if matches!(changes.outcome, Previewed::Changes(_)) {
                listed.insert(stack.clone(), changes.clone());
            }
        }
        drop(listed);
        observed.stack_changes.extend(previewed);
        crate::plan::plan(&self.desired, observed, options).map_err(OpsError::Plan)
    }

    /// Look and plan: what `vibes plan` shows.
    pub async fn observe_and_plan(&mut self, options: &PlanOptions) -> Result<Plan, OpsError> {
        let mut observed = self.observe().await?;
        self.plan(&mut observed, options).await
    }
}
