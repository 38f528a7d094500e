//! `vibes plan`: read config and AWS, show what apply would do and why.

use super::exit;
use crate::cli::{Cli, PlanArgs};
use crate::session::{plan_options, Session};
use miette::{IntoDiagnostic, Result, WrapErr};
use vibes_core::saved::SavedPlan;

pub async fn run(cli: &Cli, args: &PlanArgs) -> Result<i32> {
    // A bad --target is the caller's mistake: say so before contacting AWS.
    let options = plan_options(&args.selection, false)?;
    let mut session = Session::open(cli).await?;
    let observed = session.observe().await?;
    let plan = vibes_core::plan::plan(&session.desired, &observed, &options)
        .map_err(|e| miette::miette!("{e}"))?;
    if args.json {
        outln!("{}", vibes_core::render::json_string(&plan));
    } else {
        out!(
            "{}",
            vibes_core::render::human(&plan, &crate::style::plan_style())
        );
    }
    if let Some(out) = &args.out {
        SavedPlan::new(plan.clone(), &options)
            .save(out)
            .into_diagnostic()
            .wrap_err_with(|| format!("saving the plan to {}", out.display()))?;
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
