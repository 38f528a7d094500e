//! What every AWS-facing command does first: load the config, read the local sources, connect,
//! observe — and the plan made from them. Commands are thin wrappers over these steps.

use crate::cli::{Cli, Selection};
use miette::{miette, IntoDiagnostic, Result, WrapErr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use vibes_core::cloud::prelude::*;
use vibes_core::plan::PlanOptions;
use vibes_core::{Address, Desired, Observed};

pub struct Session {
    pub desired: Desired,
    /// The directory relative paths in the config are resolved against.
    pub base_dir: PathBuf,
    pub cloud: Arc<dyn Cloud>,
    /// Observing for `vibes destroy`: the sources bucket is listed even when the config has
    /// no `[sources]`, so the plan can say what it keeps or deletes.
    pub destroy: bool,
}

/// Load and validate the config. The sources tree it names is read by [`Session::observe`].
pub fn load_desired(config: &Path) -> Result<(Desired, PathBuf)> {
    let mut desired = vibes_core::config::load(config)?;
    // The worker image builds this vibes from its own source: that source is part of its identity.
    crate::source_archive::add_to(&mut desired);
    let base_dir = config
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    Ok((desired, base_dir))
}

/// The local sources tree, through the hash cache in `<config dir>/.vibes/`.
fn scan_sources(path: &Path, base_dir: &Path) -> Result<vibes_core::model::Manifest> {
    let cache = base_dir.join(".vibes").join("sources-hashes.json");
    let (manifest, _stats) = vibes_core::scan::scan(path, Some(&cache))
        .into_diagnostic()
        .wrap_err("reading the sources tree named by [sources] path")?;
    Ok(manifest)
}

/// The sources bucket's name as last seen, kept beside the hash cache, so that the bucket can be
/// listed while the rest of AWS is read instead of after it. Only a hint: it is checked against
/// the main stack's output, and a wrong or missing hint costs one listing after the read.
fn bucket_hint_file(base_dir: &Path) -> PathBuf {
    base_dir.join(".vibes").join("sources-bucket")
}

/// The AWS adapter for this config: `--region` before the config's region, and `--endpoint-url`.
pub async fn connect(cli: &Cli, desired: &vibes_core::Desired) -> Result<vibes_aws::AwsCloud> {
    let opts = vibes_aws::ConnectOptions {
        region: cli
            .region
            .clone()
            .or_else(|| desired.project.region.clone()),
        endpoint_url: cli.endpoint_url.clone(),
        profile: None,
    };
    vibes_aws::connect(&opts).await.map_err(|e| miette!("{e}"))
}

impl Session {
    /// Load the config and connect. The sources tree is read by [`Session::observe`].
    pub async fn open(cli: &Cli) -> Result<Session> {
        let (desired, base_dir) = load_desired(&cli.config)?;
        let cloud = connect(cli, &desired).await?;
        Ok(Session {
            desired,
            base_dir,
            cloud: Arc::new(cloud),
            destroy: false,
        })
    }

    /// Read the local sources tree and live AWS, at the same time. The sources bucket's name is
    /// an output of the main stack; the bucket is listed alongside under the name seen last time
    /// and listed again only if the stack now names another.
    pub async fn observe(&mut self) -> Result<Observed> {
        let project = self.desired.project.name.clone();
        let scan = self.desired.sources.as_ref().map(|s| {
            // The model's path is relative to the config's directory, not to the working one.
            let (path, base_dir) = (self.base_dir.join(&s.path), self.base_dir.clone());
            tokio::task::spawn_blocking(move || scan_sources(&path, &base_dir))
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
        let mut observed = observed.map_err(|e| miette!("reading AWS: {e}"))?;
        if let Some(scan) = scan {
            let manifest = scan
                .await
                .map_err(|e| miette!("reading the sources tree: {e}"))??;
            if let Some(sources) = self.desired.sources.as_mut() {
                sources.manifest = Some(manifest);
            }
        }
        let main = self.desired.project.aws_name("main");
        // The main stack names the bucket; once it is gone, the parameter that recorded it
        // (when it is ours) names the bucket the stack kept.
        let pointer = observed
            .parameters
            .get(&self.desired.project.ssm_path("sources"))
            .filter(|p| p.tags.get(vibes_core::tags::PROJECT) == Some(&project))
            .and_then(|p| p.value.clone());
        let bucket = observed
            .stacks
            .get(&main)
            .and_then(|s| s.outputs.get(vibes_core::plan::outputs::SOURCES_BUCKET))
            .cloned()
            .or(pointer);
        if let (Some(bucket), true) = (bucket, wanted) {
            observed.sources_bucket = match early {
                Some((seen, Ok(listing))) if seen == bucket => listing,
                _ => self
                    .cloud
                    .list_bucket(&bucket)
                    .await
                    .map_err(|e| miette!("reading the sources bucket: {e}"))?,
            };
            if hint.as_deref() != Some(bucket.as_str()) {
                let file = bucket_hint_file(&self.base_dir);
                if let Some(dir) = file.parent() {
                    let _ = std::fs::create_dir_all(dir);
                }
                let _ = std::fs::write(file, &bucket);
            }
        }
        Ok(observed)
    }
}

pub fn plan_options(selection: &Selection, destroy: bool) -> Result<PlanOptions> {
    let targets = selection
        .targets
        .iter()
        .map(|t| {
            t.parse::<Address>()
                .map_err(|e| miette!("--target {t}: {e}"))
        })
        .collect::<Result<Vec<_>>>()?;
    let replace = selection
        .replace
        .iter()
        .map(|t| {
            let a = t
                .parse::<Address>()
                .map_err(|e| miette!("--replace {t}: {e}"))?;
            vibes_core::plan::replaceable(&a).map_err(|e| miette!("--replace {t}: {e}"))?;
            Ok(a)
        })
        .collect::<Result<Vec<_>>>()?;
    let exclude = selection
        .exclude
        .iter()
        .map(|t| {
            t.parse::<Address>()
                .map_err(|e| miette!("--exclude {t}: {e}"))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(PlanOptions {
        exclude,
        include_data: selection.include_data,
        allow_mass_delete: selection.allow_mass_delete,
        targets,
        destroy,
        replace,
    })
}
