//! `vibes unlock LOCK_ID`: break the apply lock of a vibes that crashed.

use crate::cli::{Cli, UnlockArgs};
use miette::Result;

pub async fn run(cli: &Cli, args: &UnlockArgs) -> Result<i32> {
    let session = crate::session::open(cli).await?;
    vibes_core::apply::lock::break_lock(
        session.cloud.as_ref(),
        &session.desired.project.name,
        &args.lock_id,
    )
    .await?;
    if !cli.quiet {
        errln!(
            "Broke lock {} of project {}.",
            args.lock_id,
            session.desired.project.name
        );
    }
    Ok(super::exit::OK)
}
