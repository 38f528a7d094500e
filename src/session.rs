//! What every AWS-facing command does first: load the config and connect, into the core's
//! [`Workspace`], whose operations the commands call; and the plan options from the flags.

use crate::cli::{Cli, Selection};
use miette::{miette, Result};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use vibes_core::ops::Workspace;
use vibes_core::plan::PlanOptions;
use vibes_core::{Address, Desired};

/// Load and validate the config. The sources tree it names is read by [`Workspace::observe`].
pub fn load_desired(config: &Path) -> Result<(Desired, PathBuf)> {
    load_desired_for(config, vibes_core::config::Use::Cloud).map(|(d, base, _)| (d, base))
}

/// [`load_desired`] for `purpose`, with the faults it takes as notes (for a local build, what
/// only the cloud needs).
pub fn load_desired_for(
    config: &Path,
    purpose: vibes_core::config::Use,
) -> Result<(Desired, PathBuf, Vec<vibes_core::config::Fault>)> {
    let (mut desired, notes) = vibes_core::config::load_for(config, purpose)?;
    // The worker image builds this vibes from its own source: that source is part of its identity.
    crate::source_archive::add_to(&mut desired);
    let base_dir = config
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    Ok((desired, base_dir, notes))
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
    Ok(vibes_aws::connect(&opts).await?)
}

/// Load the config and connect: the workspace every AWS-facing command runs its operation in.
/// The sources tree is read when the workspace observes.
pub async fn open(cli: &Cli) -> Result<Workspace> {
    let (desired, base_dir) = load_desired(&cli.config)?;
    let cloud = connect(cli, &desired).await?;
    Ok(Workspace::new(desired, base_dir, Arc::new(cloud)))
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
