//! What every AWS-facing command does first: load the config, read the local sources, connect,
//! observe — and the plan made from them. Commands are thin wrappers over these steps.

use crate::cli::{Cli, Selection};
use miette::{miette, IntoDiagnostic, Result, WrapErr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use vibes_core::cloud::Cloud;
use vibes_core::plan::PlanOptions;
use vibes_core::{Address, Desired, Observed};

pub struct Session {
    pub desired: Desired,
    /// The directory relative paths in the config are resolved against.
    pub base_dir: PathBuf,
    pub cloud: Arc<dyn Cloud>,
}

/// Load and validate the config, then read the sources tree it names (with the hash cache).
pub fn load_desired(config: &Path, with_sources: bool) -> Result<(Desired, PathBuf)> {
    let mut desired = vibes_core::config::load(config)?;
    // The worker image builds this vibes from its own source: that source is part of its identity.
    crate::source_archive::add_to(&mut desired);
    let base_dir = config.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
    if with_sources {
        if let Some(sources) = desired.sources.as_mut() {
            let cache = base_dir.join(".vibes").join("sources-hashes.json");
            let (manifest, _stats) = vibes_core::scan::scan(&sources.path, Some(&cache))
                .into_diagnostic()
                .wrap_err("reading the sources tree named by [sources] path")?;
            sources.manifest = Some(manifest);
        }
    }
    Ok((desired, base_dir))
}

impl Session {
    pub async fn open(cli: &Cli) -> Result<Session> {
        let (desired, base_dir) = load_desired(&cli.config, true)?;
        let opts = vibes_aws::ConnectOptions {
            region: cli.region.clone().or_else(|| desired.project.region.clone()),
            endpoint_url: cli.endpoint_url.clone(),
            profile: None,
        };
        let cloud = vibes_aws::connect(&opts).await.map_err(|e| miette!("{e}"))?;
        Ok(Session { desired, base_dir, cloud: Arc::new(cloud) })
    }

    pub async fn observe(&self) -> Result<Observed> {
        let project = &self.desired.project.name;
        let mut observed = self.cloud.observe(project, None).await.map_err(|e| miette!("reading AWS: {e}"))?;
        // The sources bucket's name is an output of the main stack: list it in a second step.
        let main = self.desired.project.aws_name("main");
        let bucket = observed.stacks.get(&main).and_then(|s| s.outputs.get(vibes_core::plan::outputs::SOURCES_BUCKET)).cloned();
        if let (Some(bucket), Some(_)) = (bucket, &self.desired.sources) {
            observed.sources_bucket = self.cloud.list_bucket(&bucket).await.map_err(|e| miette!("reading the sources bucket: {e}"))?;
        }
        Ok(observed)
    }
}

pub fn plan_options(selection: &Selection, destroy: bool) -> Result<PlanOptions> {
    let targets = selection
        .targets
        .iter()
        .map(|t| t.parse::<Address>().map_err(|e| miette!("--target {t}: {e}")))
        .collect::<Result<Vec<_>>>()?;
    Ok(PlanOptions { include_data: selection.include_data, targets, destroy })
}
