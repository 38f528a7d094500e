//! The `vibes` command line. Each command is a thin wrapper over an operation of vibes-core;
//! errors are printed once, by miette, with their spans into the file at fault.

#[macro_use]
mod out;
mod cli;
mod commands;
mod reporter;
mod session;
mod source_archive;
mod style;

use clap::Parser;
use cli::{Cli, Command};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli);
    init_error_reports();
    let code = match run(&cli) {
        Ok(code) => code,
        Err(report) => {
            errln!("{report:?}");
            commands::exit::ERROR
        }
    };
    ExitCode::from(code as u8)
}

fn run(cli: &Cli) -> miette::Result<i32> {
    match &cli.command {
        Command::Validate => commands::validate::run(cli),
        Command::Show(args) => commands::show::run(cli, args),
        Command::Completions(args) => commands::completions::run(args),
        Command::Man(args) => commands::man::run(args),
        Command::Build(args) => {
            commands::build::run(args, |asked| profiles_from_config(cli, asked))
        }
        Command::Plan(args) => runtime()?.block_on(commands::plan::run(cli, args)),
        Command::Apply(args) => runtime()?.block_on(commands::apply::run(
            cli,
            commands::apply::Request {
                plan_file: args.plan_file.as_ref(),
                auto_approve: args.auto_approve,
                parallelism: args.parallelism,
                selection: args.selection.clone(),
                destroy: false,
            },
        )),
        Command::Destroy(args) => runtime()?.block_on(commands::apply::run(
            cli,
            commands::apply::Request {
                plan_file: None,
                auto_approve: args.auto_approve,
                parallelism: args.parallelism,
                selection: cli::Selection {
                    include_data: args.include_data,
                    ..Default::default()
                },
                destroy: true,
            },
        )),
        Command::Unlock(args) => runtime()?.block_on(commands::unlock::run(cli, args)),
        Command::Status(args) => runtime()?.block_on(commands::status::run(cli, args)),
        Command::Fetch(args) => runtime()?.block_on(commands::fetch::run(cli, args)),
    }
}

fn runtime() -> miette::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| miette::miette!("cannot start the async runtime: {e}"))
}

/// What `vibes build` takes from vibes.toml: (name, text) of each profile asked for, and the
/// `[sources] format`.
type ConfigForBuild = (Vec<(String, String)>, Option<String>);

/// `vibes build [--profile NAME]…`: the texts of the named profiles of vibes.toml, or of all,
/// with its `[sources] format`.
fn profiles_from_config(
    cli: &Cli,
    asked: commands::build::ConfigProfiles<'_>,
) -> miette::Result<ConfigForBuild> {
    use commands::build::ConfigProfiles;
    let names: &[String] = match asked {
        ConfigProfiles::None => return Ok((Vec::new(), None)),
        ConfigProfiles::Named(names) => names,
        ConfigProfiles::All => &[],
    };
    // A local build uses [sources] and [profiles] only: what the cloud needs is not asked.
    let loaded = session::load_desired_for(&cli.config, vibes_core::config::Use::Local);
    let (desired, _, _) = loaded.map_err(|e| match asked {
        ConfigProfiles::All => {
            e.wrap_err("vibes build without --profile builds every profile of vibes.toml")
        }
        _ => e,
    })?;
    let format = desired.sources.as_ref().and_then(|s| s.format.clone());
    if asked == ConfigProfiles::All {
        if desired.profiles.is_empty() {
            return Err(miette::miette!(
                help =
                    "add a [profiles.NAME] section, or give a tup.config with --profile-file FILE",
                "{} names no profiles to build",
                cli.config.display()
            ));
        }
        let profiles = desired
            .profiles
            .iter()
            .map(|(name, p)| (name.clone(), p.text.clone()))
            .collect();
        return Ok((profiles, format));
    }
    let profiles = names
        .iter()
        .map(|n| match desired.profiles.get(n) {
            Some(p) => Ok((n.clone(), p.text.clone())),
            None => Err(miette::miette!(
                "no profile `{n}` in {}: it has {}",
                cli.config.display(),
                desired
                    .profiles
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        })
        .collect::<miette::Result<_>>()?;
    Ok((profiles, format))
}

/// Errors as miette reports; lines are wrapped only on a terminal, so that logs and scripts see
/// each message whole.
fn init_error_reports() {
    let terminal = style::stderr_is_terminal();
    let _ = miette::set_hook(Box::new(move |_| {
        Box::new(
            miette::MietteHandlerOpts::new()
                .wrap_lines(terminal)
                .build(),
        )
    }));
}

/// -v: vibes' own operations; -vv: also the AWS SDK's. Never below debug for the SDK: its
/// trace level would log request bodies, and those can hold SecureString values.
fn init_logging(cli: &Cli) {
    let filter = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "warn,vibes=debug,vibes_core=debug,vibes_aws=debug",
        (false, _) => "info,vibes=debug,vibes_core=debug,vibes_aws=debug,aws_config=debug,aws_smithy_runtime=debug",
    };
    // Escape codes only on a terminal: CI logs get plain lines.
    let colour = style::stderr_is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let filter = tracing_subscriber::EnvFilter::try_from_env("VIBES_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(colour)
        .try_init();
}
