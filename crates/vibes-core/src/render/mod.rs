//! Rendering plans: [`human`] for people (Terraform-like symbols, unified diffs, secrets as
//! `(sensitive)`) and [`json`] for machines (a versioned, serialize-only form). Neither shows an
//! action's effects: those are for the executor and can hold whole template bodies.

mod diff;
mod human;
mod json;

pub use human::{human, Style};

/// `s` with its control characters escaped (`\n`, `\u{1b}`): text that comes from outside
/// (object keys in a bucket, file names in the sources tree) is shown, never obeyed by the
/// terminal — an escape sequence in a key could clear the screen or rewrite what a plan says.
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}
/// A message of several lines (an error quoting a log, each quoted line on a line of its own
/// under it) shown as lines: each line [`printable`], the line breaks kept.
pub fn printable_lines(s: &str) -> String {
    s.split('\n').map(printable).collect::<Vec<_>>().join("\n")
}

pub use json::{json, json_string, JsonAction, JsonAttribute, JsonChange, JsonPlan, JsonSummary};

use crate::plan::Op;

/// The symbol that marks an op in the human plan, Terraform style.
pub fn symbol(op: Op) -> &'static str {
    match op {
        Op::Create => "+",
        Op::Update => "~",
        Op::Replace => "-/+",
        Op::Delete => "-",
        Op::Run => ">",
        Op::Adopt => "&",
        Op::Blocked => "!",
    }
}

/// What an op does, in the words of the human plan's legend.
pub fn meaning(op: Op) -> &'static str {
    match op {
        Op::Create => "create",
        Op::Update => "update in place",
        Op::Replace => "replace",
        Op::Delete => "delete",
        Op::Run => "run",
        Op::Adopt => "adopt (tag what exists)",
        Op::Blocked => "blocked (nothing is done)",
    }
}

/// Every op in the order the legend and the closing count list them.
pub const OPS: [Op; 7] = [
    Op::Create,
    Op::Update,
    Op::Replace,
    Op::Delete,
    Op::Run,
    Op::Adopt,
    Op::Blocked,
];

#[cfg(test)]
mod printable_tests {
    use super::*;

    #[test]
    fn a_quoted_log_keeps_its_lines_and_loses_its_terminal_codes() {
        let error = "build failed; the end of its log:\n    | \u{1b}[31mred\u{1b}[0m\n    | done\r";
        assert_eq!(
            printable_lines(error),
            "build failed; the end of its log:\n    | \\u{1b}[31mred\\u{1b}[0m\n    | done\\r"
        );
    }
}
