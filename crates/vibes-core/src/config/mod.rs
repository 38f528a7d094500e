//! Loading `vibes.toml` into the desired state.
//!
//! Three passes, each collecting every fault it finds so that one run reports them all:
//! [`read`] checks the TOML (syntax, known keys, value types) into spanned raw values,
//! [`resolve`] checks names, reads and hashes the files the config names and builds the stacks
//! (with [`images`] for the images, and the [`builtin`] platform for what the config leaves out),
//! and [`profiles`] turns each profile into the text the compile engine reads. Faults are
//! miette diagnostics pointing into the config, or into the profile file they are about.

pub mod builtin;
mod error;
mod files;
mod images;
mod names;
mod profiles;
mod raw;
mod read;
mod refs;
mod resolve;

pub use error::{ConfigError, Fault, FaultKind, Location};
pub use images::{
    add_engine_source, recipe_hash, source_archive_path, SOURCE_ARCHIVE, WORKER_IMAGE,
};
pub use resolve::{
    DEFAULT_BUILDS_VOLUME_GIB, DEFAULT_COMPILE_INSTANCE, DEFAULT_IMAGE_KEEP,
    DEFAULT_SERVER_INSTANCE, DEFAULT_SNAPSHOT_KEEP, DEFAULT_TIMEOUT_MINUTES,
};

use crate::model::Desired;
use error::{Faults, Source};
use std::io;
use std::path::Path;

/// Loads the config at `path`. Paths inside it are relative to its directory; faults name the
/// file as `path` spells it.
pub fn load(path: &Path) -> Result<Desired, ConfigError> {
    load_for(path, Use::Cloud).map(|(d, _)| d)
}

/// What a config is read for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// `plan`, `apply`, …: everything the config asks of the cloud must be there.
    Cloud,
    /// A build on this machine (`vibes build`) or a check (`vibes validate`): what only the cloud
    /// needs (a network for the main stack) is a note, not a fault.
    Local,
}

/// The config read for `purpose`, with the faults that `purpose` takes as notes (under
/// [`Use::Local`], those only the cloud needs fixed).
pub fn load_for(path: &Path, purpose: Use) -> Result<(Desired, Vec<Fault>), ConfigError> {
    let name = path.display().to_string();
    let limit = crate::bounded::CONFIG_LIMIT;
    let text = crate::bounded::read(path, limit).map_err(|e| {
        let why = match e {
            crate::bounded::BoundedError::TooLarge { limit } => {
                let fault = Fault::detached(
                    FaultKind::NoConfig,
                    format!(
                        "{name} is larger than {}, the most a vibes.toml may be",
                        crate::units::human_bytes(limit)
                    ),
                )
                .with_help("a vibes.toml names files rather than holding them: check that --config names the config");
                return ConfigError::new(&name, vec![fault]);
            }
            crate::bounded::BoundedError::Io(e) if e.kind() == io::ErrorKind::NotFound => {
                "the file does not exist".to_string()
            }
            crate::bounded::BoundedError::Io(e) => e.to_string(),
        };
        let fault = Fault::detached(
            FaultKind::NoConfig,
            format!("no vibes.toml at {name}: {why}"),
        )
        .with_help("run vibes where vibes.toml is, or pass --config PATH");
        ConfigError::new(&name, vec![fault])
    })?;
    let text = String::from_utf8(text).map_err(|_| {
        ConfigError::new(
            &name,
            vec![Fault::detached(
                FaultKind::NoConfig,
                format!("{name} is not UTF-8 text"),
            )],
        )
    })?;
    let base_dir = path.parent().unwrap_or(Path::new(""));
    load_str_for(&text, &name, base_dir, purpose)
}

/// Loads config text named `name`, with relative paths starting at `base_dir`.
pub fn load_str(text: &str, name: &str, base_dir: &Path) -> Result<Desired, ConfigError> {
    load_str_for(text, name, base_dir, Use::Cloud).map(|(d, _)| d)
}

/// [`load_str`] for `purpose`, with the faults it takes as notes.
pub fn load_str_for(
    text: &str,
    name: &str,
    base_dir: &Path,
    purpose: Use,
) -> Result<(Desired, Vec<Fault>), ConfigError> {
    let source = Source::new(name, text);
    let mut faults = Faults::default();
    let desired = read::read(&source, &mut faults).map(|raw| {
        resolve::Resolver::new(&source, files::ConfigDir::new(base_dir), &mut faults).resolve(raw)
    });
    let (notes, faults): (Vec<Fault>, Vec<Fault>) = faults
        .into_vec()
        .into_iter()
        .partition(|f| purpose == Use::Local && f.kind().is_cloud_only());
    match desired {
        Some(d) if faults.is_empty() => Ok((d, notes)),
        _ => Err(ConfigError::new(name, faults)),
    }
}
