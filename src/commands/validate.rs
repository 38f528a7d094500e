//! `vibes validate`: the config alone, no AWS.

use crate::cli::Cli;
use miette::Result;

pub fn run(cli: &Cli) -> Result<i32> {
    let (d, _, notes) =
        crate::session::load_desired_for(&cli.config, vibes_core::config::Use::Local)?;
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
    // What a local build does without, and the cloud still needs: said, not refused.
    for note in &notes {
        let at = note
            .location()
            .map(|l| format!("{l}: "))
            .unwrap_or_default();
        let help = note
            .help_text()
            .map(|h| format!(" ({h})"))
            .unwrap_or_default();
        errln!(
            "note: {at}{} for vibes plan and apply; vibes build goes without{help}",
            note.message()
        );
    }
    Ok(super::exit::OK)
}
