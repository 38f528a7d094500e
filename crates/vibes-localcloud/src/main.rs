//! `vibes-localcloud`: the parts of AWS that the moto emulator does not execute, played for real
//! on this machine, so that the whole vibes platform runs end to end against 127.0.0.1.
//!
//! It is an HTTP proxy in front of moto: vibes, the aws CLI in a build and the boot scripts all
//! talk to it as to AWS. Every call goes on to moto; the runner watches what passes and does what
//! AWS would do behind the API:
//! - CodeBuild: a build runs the buildspec of the project as CloudFormation was given it (moto's
//!   CloudFormation skips `AWS::CodeBuild::Project`; the runner makes the project from the
//!   template's own properties and adds the outputs moto dropped), with `packer` replaced by a
//!   stand-in that validates the recipe, makes the image's root file system by running the
//!   recipe's provisioners on a Debian 12 machine ([`image_build`]) and registers it in moto
//!   ([`packer`]).
//! - EC2: an instance boots its image's root file system under its own systemd
//!   (`systemd-nspawn --boot`), cloud-init reading the launch template's user data, instance
//!   metadata served to it, its poweroff stopping or terminating it ([`instances`]).
//! - EBS: a volume is a sparse file the instance sees as a block device, a snapshot a copy of
//!   it, `pending` until the copy is done ([`ebs`]).
//! - S3: what GetObject serves is counted, per client, at `GET /_localcloud/stats` ([`s3_reads`]).
//!
//! Started by `scripts/localcloud.sh start`, which also starts moto.

mod amis;
mod aws_wire;
mod buildspec;
mod codebuild;
mod ebs;
mod iam;
mod image_build;
mod imds;
mod instances;
mod machine;
mod packer;
mod proxy;
mod recipe;
mod refusals;
mod s3_reads;
mod stacks;
mod tags;
mod template;
mod world;

use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser, Debug)]
#[command(
    name = "vibes-localcloud",
    about = "moto plus what moto does not execute",
    after_help = "vibes-localcloud tags DIR: a line per audio file under DIR with its tags"
)]
struct Args {
    /// The moto server every call is passed on to.
    #[arg(long, value_name = "URL")]
    moto: String,
    /// Where the runner listens: the endpoint vibes and the boot scripts use as AWS.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Where volumes, snapshots, instance disks and build logs live.
    #[arg(long, value_name = "DIR")]
    state: PathBuf,
    /// The vibes binary the worker image is given (the one under test), in place of building
    /// the source tarball, which needs a toolchain from the internet.
    #[arg(long, value_name = "FILE")]
    vibes: PathBuf,
    #[arg(long, default_value = "us-east-1")]
    region: String,
}

fn main() -> std::process::ExitCode {
    // Called as `packer` (a link on a build's PATH), the binary is the Packer stand-in.
    let argv0 = std::env::args_os().next().unwrap_or_default();
    if PathBuf::from(&argv0).file_name().and_then(|n| n.to_str()) == Some("packer") {
        return packer::main();
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("tags") {
        return tags::main(&args[1..]);
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("VIBES_LOCALCLOUD_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    match rt.block_on(run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vibes-localcloud: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("listen on {}: {e}", args.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let endpoint = format!("http://{addr}");
    let world = Arc::new(
        world::World::new(world::Settings {
            moto: args.moto.trim_end_matches('/').to_string(),
            endpoint: endpoint.clone(),
            state: std::path::absolute(&args.state).map_err(|e| e.to_string())?,
            vibes: std::path::absolute(&args.vibes).map_err(|e| e.to_string())?,
            region: args.region,
        })
        .await?,
    );
    // The endpoint, for the script that started us to read.
    std::fs::write(world.settings.state.join("endpoint"), &endpoint)
        .map_err(|e| format!("write the endpoint file: {e}"))?;
    tracing::info!(%endpoint, moto = %world.settings.moto, "local cloud ready");
    tokio::spawn(ebs::reconcile_forever(world.clone()));
    proxy::serve(listener, world).await
}
