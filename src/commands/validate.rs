//! `vibes validate`: the config alone, no AWS.

use crate::cli::Cli;
use miette::Result;

pub fn run(cli: &Cli) -> Result<i32> {
    let (d, base_dir, notes) =
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
    // The sources tree, read as the compile reads it: what would leave tracks out.
    let faults = match &d.sources {
        Some(s) if base_dir.join(&s.path).is_dir() => {
            vibes_core::ops::check_sources(&base_dir.join(&s.path), s.format.as_deref())
        }
        _ => Vec::new(),
    };
    for f in &faults {
        errln!("fault: {} is left out of a compile: {}", f.source, f.fault);
    }
    if !faults.is_empty() {
        errln!(
            "the sources have {} (vibes plan blocks the compile until they are fixed)",
            if faults.len() == 1 {
                "1 fault".to_string()
            } else {
                format!("{} faults", faults.len())
            }
        );
        return Ok(super::exit::ERROR);
    }
    Ok(super::exit::OK)
}
