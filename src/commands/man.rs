//! `vibes man`: the roff man page of vibes, generated from the CLI definition. With `--out DIR`,
//! one page per subcommand (`vibes.1`, `vibes-plan.1`, …), ready for a package's man1/ directory.

use clap::{Args, CommandFactory};
use miette::{IntoDiagnostic, Result, WrapErr};
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  vibes man | man -l -\n  vibes man --out target/man")]
pub struct ManArgs {
    /// Write vibes.1 and one vibes-COMMAND.1 per subcommand into this directory instead of
    /// printing the main page.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

pub fn run(args: &ManArgs) -> Result<i32> {
    let command = crate::cli::Cli::command();
    match &args.out {
        None => {
            clap_mangen::Man::new(command)
                .render(&mut std::io::stdout())
                .into_diagnostic()
                .wrap_err("writing the man page")?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .into_diagnostic()
                .wrap_err_with(|| format!("creating {}", dir.display()))?;
            clap_mangen::generate_to(command, dir)
                .into_diagnostic()
                .wrap_err_with(|| format!("writing man pages into {}", dir.display()))?;
        }
    }
    Ok(super::exit::OK)
}
