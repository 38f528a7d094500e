//! `vibes plan`: read config and AWS, show what apply would do and why.

use super::exit;
use crate::cli::{Cli, PlanArgs};
use crate::session::{plan_options, Session};
use miette::Result;
use vibes_core::cloud::prelude::*;
use vibes_core::saved::SavedPlan;

pub async fn run(cli: &Cli, args: &PlanArgs) -> Result<i32> {
    // A bad --target is the caller's mistake: say so before contacting AWS.
    let options = plan_options(&args.selection, false)?;
    // A plan is never written over the config or a file that is not a plan: checked before
    // reading AWS, so that a mistyped --out costs nothing.
    let saving = |e: vibes_core::saved::SaveError| miette::miette!(help = e.help(), "{e}");
    if let Some(out) = &args.out {
        vibes_core::saved::check_destination(out, &cli.config).map_err(saving)?;
    }
    let mut session = Session::open(cli).await?;
    let observed = session.observe().await?;
    let plan = vibes_core::plan::plan(&session.desired, &observed, &options)
        .map_err(|e| miette::miette!("{e}"))?;
    if args.json {
        outln!("{}", vibes_core::render::json_string(&plan));
    } else {
        out!(
            "{}",
            vibes_core::render::human(&plan, &crate::style::plan_style(cli))
        );
    }
    if let Some(out) = &args.out {
        SavedPlan::new(plan.clone(), &options)
            .save(out, &cli.config)
            .map_err(saving)?;
        if !cli.quiet && !args.json {
            outln!(
                "\nSaved the plan to {}. Apply exactly this plan with: vibes apply {}",
                out.display(),
                out.display()
            );
        }
    }
    Ok(if args.detailed_exitcode && !plan.is_empty() {
        exit::CHANGES
    } else {
        exit::OK
    })
}
