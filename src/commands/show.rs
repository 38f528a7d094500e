//! `vibes show PLAN_FILE`: render a saved plan.

use crate::cli::ShowArgs;
use miette::Result;
use vibes_core::saved::SavedPlan;

pub fn run(args: &ShowArgs) -> Result<i32> {
    let saved = SavedPlan::load(&args.plan_file).map_err(|e| miette::miette!("{e}"))?;
    if args.json {
        outln!("{}", vibes_core::render::json_string(&saved.plan));
    } else {
        out!(
            "{}",
            vibes_core::render::human(&saved.plan, &crate::style::plan_style())
        );
    }
    Ok(super::exit::OK)
}
