//! The command line, as clap types. Names here are relied on by scripts and pipelines.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "vibes",
    version,
    about = "Compile a lossless music collection into encoded profiles on AWS, from one desired-state file",
    long_about = "vibes reads vibes.toml (what you want) and live AWS (what there is), shows the actions that \
                  close the gap with the reason for each, and does them in dependency order, in parallel \
                  where it can. There is no state file: AWS is the record, through vibes:* tags.",
    after_help = "Examples:\n  vibes validate\n  vibes plan\n  vibes plan --out plan.json --detailed-exitcode\n  vibes apply plan.json\n  vibes apply --auto-approve --target profile.phone\n  vibes build --sources music --out builds --profile phone"
)]
pub struct Cli {
    /// The desired-state file.
    #[arg(
        long,
        global = true,
        default_value = "vibes.toml",
        env = "VIBES_CONFIG"
    )]
    pub config: PathBuf,
    /// Send every AWS call to this endpoint (e.g. a local emulator); S3 then uses path-style.
    /// Else AWS_ENDPOINT_URL, and AWS_ENDPOINT_URL_S3 for S3 alone.
    // Not clap's `env`: the flag would then hide which variable set it, and a flag beats
    // AWS_ENDPOINT_URL_S3 where a general variable must not (`vibes_aws::connect` reads both).
    #[arg(long, global = true)]
    pub endpoint_url: Option<String>,
    /// AWS region (default: [project] region, then the AWS config chain).
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// Print only errors and results.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// More detail: -v shows each AWS operation, -vv the SDK's own logs (secrets are never logged).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check vibes.toml without contacting AWS.
    Validate,
    /// Show what apply would do, and why.
    #[command(after_help = PLAN_EXAMPLES)]
    Plan(PlanArgs),
    /// Do it: apply a fresh plan, or a saved one.
    #[command(after_help = APPLY_EXAMPLES)]
    Apply(ApplyArgs),
    /// Render a saved plan.
    Show(ShowArgs),
    /// Remove everything the project owns (data only with --include-data).
    Destroy(DestroyArgs),
    /// Where the music is: the server and its address, the snapshots, the last compile, the
    /// images, the sources bucket and the lock.
    Status(StatusArgs),
    /// Break a stale apply lock left by a crashed vibes.
    Unlock(UnlockArgs),
    /// Copy a compiled profile from the running server into a local directory (rsync).
    #[command(after_help = FETCH_EXAMPLES)]
    Fetch(FetchArgs),
    /// Compile a vibes source tree into profiles, locally (the worker runs the same).
    #[command(after_help = BUILD_EXAMPLES)]
    Build(crate::commands::build::BuildArgs),
    /// Print the shell completion script for bash, zsh, fish, powershell or elvish.
    Completions(crate::commands::completions::CompletionsArgs),
    /// Print the man page of vibes (or write one per subcommand with --out DIR).
    Man(crate::commands::man::ManArgs),
}

const PLAN_EXAMPLES: &str = "Examples:
  vibes plan                           # what would change, and why
  vibes plan --json | jq .summary      # the same, for machines
  vibes plan --out plan.json --detailed-exitcode
                                       # save it for review; exit 2 when there are changes
  vibes plan --target profile.phone    # only profile.phone and what it depends on
  vibes plan --replace key.server      # a new key pair instead of the one made by hand";

const APPLY_EXAMPLES: &str = "Examples:
  vibes apply                          # plan, confirm, apply
  vibes apply plan.json                # exactly the saved plan; refused if what it relied on moved
  vibes apply --auto-approve --parallelism 4
                                       # unattended, at most 4 actions at once
  vibes apply --auto-approve --target server
                                       # only the server and what it depends on";

const BUILD_EXAMPLES: &str = "Examples:
  vibes build --sources music --out builds                    # every profile of vibes.toml
  vibes build --sources music --out builds --profile phone
  vibes build --sources music --out builds --profile phone --profile laptop -j 2
  vibes build --sources music --out builds --profile-file profiles/archive.config";

#[derive(Args, Debug, Clone, Default)]
pub struct Selection {
    /// Only this address and what it depends on (repeatable): stack.NAME, key.NAME, profile.NAME, image.NAME, sources, compile, server, …
    #[arg(long = "target", value_name = "ADDR")]
    pub targets: Vec<String>,
    /// Allow deleting data (snapshots, volumes, bucket objects) that the config no longer names.
    #[arg(long)]
    pub include_data: bool,
    /// Replace what vibes would otherwise only adopt or decline (repeatable): key.NAME makes a new
    /// key pair (also over one made by hand), stack.NAME and profile.NAME apply vibes.toml to
    /// one made by hand that differs, image.NAME builds the image again from the same recipe (the
    /// newest base image and packages). Never another project's.
    #[arg(long = "replace", value_name = "ADDR")]
    pub replace: Vec<String>,
    /// Everything but this address and what depends on it (repeatable): `--exclude server`
    /// applies the rest and leaves the server as it is.
    #[arg(long = "exclude", value_name = "ADDR")]
    pub exclude: Vec<String>,
    /// Let the sources sync delete objects when the local tree is empty or when it would delete
    /// more than half of the bucket (both blocked otherwise, as the sign of a missing disk).
    #[arg(long)]
    pub allow_mass_delete: bool,
}

#[derive(Args, Debug)]
pub struct PlanArgs {
    /// Save the plan for `vibes apply FILE` (no secrets are ever in it).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Print the plan as JSON (see docs/plan-output.md).
    #[arg(long)]
    pub json: bool,
    /// Exit 0 when there is nothing to do, 2 when there are changes, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    #[command(flatten)]
    pub selection: Selection,
}

#[derive(Args, Debug)]
pub struct ApplyArgs {
    /// A plan saved by `vibes plan --out`; it is refused if what it relied on has moved.
    pub plan_file: Option<PathBuf>,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    /// At most this many actions at once.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub parallelism: u16,
    #[command(flatten)]
    pub selection: Selection,
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    pub plan_file: PathBuf,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct DestroyArgs {
    #[arg(long)]
    pub auto_approve: bool,
    /// Also delete data: builds snapshots, volumes and the sources bucket's objects.
    #[arg(long)]
    pub include_data: bool,
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub parallelism: u16,
}

const FETCH_EXAMPLES: &str = "Examples:
  vibes fetch phone /media/phone       # the phone profile into /media/phone; nothing there is deleted
  vibes fetch phone /media/phone --delete
                                       # the same, as the server has it: other files there go
  vibes fetch archive ~/archive --dry-run
                                       # list what would change, change nothing
  vibes fetch phone ~/phone --server localhost:8873
                                       # through a tunnel (ssh -L 8873:SERVER:873 ...): no AWS call";

#[derive(Args, Debug)]
pub struct FetchArgs {
    /// The profile to fetch (a [profiles.NAME] of vibes.toml).
    pub profile: String,
    /// The local directory to fill. Files already there are kept unless --delete is given.
    pub dest: PathBuf,
    /// Show what rsync would transfer and delete, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also delete the files in DEST that the profile does not hold (once every file has arrived).
    #[arg(long)]
    pub delete: bool,
    /// Reach the rsync server here instead of looking it up in AWS: a tunnel, a bastion, a local
    /// emulator. rsync://HOST:PORT/, HOST:PORT, HOST, or [IPV6]:PORT. AWS is then not asked at all,
    /// and vibes.toml, when there is one, only checks the profile's name.
    #[arg(long, value_name = "URL|HOST[:PORT]")]
    pub server: Option<crate::commands::fetch::RsyncServer>,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Print it as JSON (`format_version` 1) instead.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct UnlockArgs {
    /// The lock id that the "lock held" error shows.
    pub lock_id: String,
}
