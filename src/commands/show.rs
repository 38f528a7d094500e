//! `vibes show PLAN_FILE`: render a saved plan.

use crate::cli::ShowArgs;
use miette::Result;

pub fn run(cli: &crate::cli::Cli, args: &ShowArgs) -> Result<i32> {
    let saved = super::load_saved(&args.plan_file)?;
    if args.json {
        outln!("{}", vibes_core::render::json_string(&saved.plan));
    } else {
        out!(
            "{}",
            vibes_core::render::human(&saved.plan, &crate::style::plan_style(cli))
        );
    }
    Ok(super::exit::OK)
}
