//! `vibes validate`: the config alone, no AWS.

use crate::cli::Cli;
use miette::Result;

pub fn run(cli: &Cli) -> Result<i32> {
    let (d, _) = crate::session::load_desired(&cli.config)?;
    if !cli.quiet {
        let n =
            |k: usize, one: &str, many: &str| format!("{k} {}", if k == 1 { one } else { many });
        let mut parts = vec![
            n(d.stacks.len(), "stack", "stacks"),
            n(d.keys.len(), "key pair", "key pairs"),
            n(d.profiles.len(), "profile", "profiles"),
            n(d.images.len(), "image", "images"),
        ];
        if d.sources.is_some() {
            parts.push("sources".into());
        }
        if d.compile.is_some() {
            parts.push("compile".into());
        }
        if d.server.is_some() {
            parts.push("server".into());
        }
        outln!(
            "{} is valid: project {}, {}.",
            cli.config.display(),
            d.project.name,
            parts.join(", ")
        );
    }
    Ok(super::exit::OK)
}
