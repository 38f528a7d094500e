//! `vibes status [--json]`: where the music is and what the platform is doing, from one read
//! of the account (no lock taken, nothing changed).

use crate::cli::{Cli, StatusArgs};
use miette::{miette, Result};
use vibes_core::cloud::prelude::*;

pub async fn run(cli: &Cli, args: &StatusArgs) -> Result<i32> {
    let mut session = crate::session::Session::open(cli).await?;
    let project = session.desired.project.name.clone();
    let cloud = session.cloud.clone();
    let (observed, lock) = tokio::join!(
        session.observe(),
        vibes_core::apply::lock::read(cloud.as_ref(), &project)
    );
    let observed = observed?;
    let lock = lock.map_err(|e| miette!("reading the lock: {e}"))?;
    let status = vibes_core::status::status(&project, &observed, lock.as_ref())
        .with_idle_cost(&session.desired, &observed);
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&status).expect("a status serializes")
        );
    } else {
        out!("{}", status.human());
    }
    Ok(super::exit::OK)
}
