//! Terminal facts: colour and interactivity.

use std::io::IsTerminal;

/// Colour plans only on a terminal, and never when NO_COLOR is set.
pub fn plan_style() -> vibes_core::render::Style {
    vibes_core::render::Style {
        color: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    }
}

pub fn stdin_is_terminal() -> bool {
    std::io::stdin().is_terminal()
}

pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}
