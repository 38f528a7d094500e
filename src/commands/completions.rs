//! `vibes completions SHELL`: the shell completion script, generated from the CLI definition so
//! that it always knows every subcommand and flag of this vibes.

use clap::{Args, CommandFactory};
use clap_complete::Shell;
use miette::Result;

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  vibes completions bash > ~/.local/share/bash-completion/completions/vibes\n  vibes completions zsh > ~/.zfunc/_vibes\n  vibes completions fish > ~/.config/fish/completions/vibes.fish"
)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

pub fn run(args: &CompletionsArgs) -> Result<i32> {
    let mut command = crate::cli::Cli::command();
    let name = command.get_name().to_string();
    clap_complete::generate(args.shell, &mut command, name, &mut std::io::stdout());
    Ok(super::exit::OK)
}
