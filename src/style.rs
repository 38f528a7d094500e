//! Terminal facts: colour and interactivity.

use std::io::IsTerminal;

/// Colour plans only on a terminal, and never when NO_COLOR is set; with `-v`, long lists whole.
pub fn plan_style(cli: &crate::cli::Cli) -> vibes_core::render::Style {
    vibes_core::render::Style {
        color: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        full_lists: cli.verbose > 0,
    }
}

pub fn stdin_is_terminal() -> bool {
    std::io::stdin().is_terminal()
}

pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}
