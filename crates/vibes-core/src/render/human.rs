//! The plan for people: a header and legend, each action in plan order with its symbol, address,
//! op and reason, its attributes, its text changes as unified diffs, what it waits for; then the
//! planner's notes as warnings and a closing count.

use super::diff;
use super::{meaning, symbol, OPS};
use crate::cost::usd_text;
use crate::plan::{Action, Op, Plan};
use crate::secret::SENSITIVE;
use anstyle::{AnsiColor, Effects};
use std::fmt::Write as _;

/// How to render. Colors are off unless asked for (the CLI asks on a terminal).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
    /// Show long lists (the files a sync uploads or deletes) whole, not their first
    /// [`LIST_SHOWN`] lines and a count (`vibes plan -v`).
    pub full_lists: bool,
}

/// Lines of a long list shown unless [`Style::full_lists`].
pub const LIST_SHOWN: usize = 10;

/// Indentation of everything under an action's title line.
const BODY: &str = "      ";

pub fn human(plan: &Plan, style: &Style) -> String {
    let paint = Painter { on: style.color };
    let mut out = String::new();
    if plan.is_empty() {
        out.push_str("No changes. The account matches the config.\n");
        notes(&mut out, plan, paint);
        return out;
    }
    let _ = writeln!(
        out,
        "Plan for project {}: {}, in the order they start; each starts once the actions on its `after:` line are done.",
        plan.project,
        count(plan.actions.len(), "action", "actions")
    );
    out.push('\n');
    out.push_str("Symbols:\n");
    let counts = plan.counts();
    for op in OPS.into_iter().filter(|op| counts.contains_key(op)) {
        let _ = writeln!(
            out,
            "  {} {}",
            paint.op(op, &format!("{:>3}", symbol(op))),
            meaning(op)
        );
    }
    for (i, a) in plan.actions.iter().enumerate() {
        out.push('\n');
        action(&mut out, plan, i, a, paint, style.full_lists);
    }
    notes(&mut out, plan, paint);
    out.push('\n');
    let n = |op: Op| counts.get(&op).copied().unwrap_or(0);
    let _ = writeln!(
        out,
        "{}: {} to create, {} to update, {} to replace, {} to delete, {} to run, {} to adopt; {} blocked.",
        paint.bold("Plan"),
        n(Op::Create),
        n(Op::Update),
        n(Op::Replace),
        n(Op::Delete),
        n(Op::Run),
        n(Op::Adopt),
        n(Op::Blocked),
    );
    // A sync counts as one run whatever it deletes: say how many objects go, so that the
    // closing line never reads "0 to delete" over a sync that deletes thousands.
    let objects = plan.objects_to_delete();
    if objects > 0 {
        let _ = writeln!(
            out,
            "{} {} from the sources bucket.",
            paint.bold("Deletes"),
            count(objects, "object", "objects")
        );
    }
    if let Some(c) = &plan.cost {
        let _ = writeln!(
            out,
            "{}: ~{} once; idle ~{}/month now, ~{}/month after ({}).",
            paint.bold("Cost"),
            usd_text(c.once_usd),
            usd_text(c.idle_before_usd_month),
            usd_text(c.idle_after_usd_month),
            c.prices
        );
    }
    out
}

fn action(out: &mut String, plan: &Plan, i: usize, a: &Action, paint: Painter, full_lists: bool) {
    let _ = writeln!(
        out,
        "{} {} ({}: {})",
        paint.op(a.op, &format!("{:>3}", symbol(a.op))),
        paint.bold(&a.address.to_string()),
        a.op.as_str(),
        super::printable(&a.reason)
    );
    let width = a
        .attributes
        .iter()
        .map(|at| at.name.chars().count())
        .max()
        .unwrap_or(0);
    for at in &a.attributes {
        let value = match &at.value {
            // Line by line: a value's own line breaks are layout, anything else that is a
            // control character came from outside (an object key, a file name) and is escaped.
            Some(v) => {
                let mut lines: Vec<_> = v.split('\n').map(super::printable).collect();
                if !full_lists && lines.len() > LIST_SHOWN + 1 {
                    let more = lines.len() - LIST_SHOWN;
                    lines.truncate(LIST_SHOWN);
                    lines.push(format!("… and {more} more (vibes plan -v lists them all)").into());
                }
                lines.join(&format!("\n{BODY}{:width$}   ", ""))
            }
            None => paint.dim(SENSITIVE),
        };
        let _ = writeln!(out, "{BODY}{:width$} = {value}", at.name);
    }
    for change in &a.changes {
        if let Some(summary) = diff::summary(change) {
            let _ = writeln!(out, "{BODY}{summary}");
            continue;
        }
        for line in diff::unified(&a.address, change).lines() {
            let _ = writeln!(out, "{BODY}{}", paint.diff_line(line));
        }
    }
    let mut waits: Vec<usize> = plan.dependencies(i).collect();
    waits.sort_unstable();
    if !waits.is_empty() {
        let names: Vec<String> = waits
            .iter()
            .map(|&j| plan.actions[j].address.to_string())
            .collect();
        let _ = writeln!(out, "{BODY}after: {}", names.join(", "));
    }
}

fn notes(out: &mut String, plan: &Plan, paint: Painter) {
    if plan.notes.is_empty() {
        return;
    }
    out.push('\n');
    for note in &plan.notes {
        let _ = writeln!(
            out,
            "{} {}",
            paint.warning("Warning:"),
            super::printable(note)
        );
    }
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Wraps text in ANSI styles when color is on, and leaves it alone otherwise.
#[derive(Clone, Copy)]
struct Painter {
    on: bool,
}

impl Painter {
    fn paint(self, style: anstyle::Style, text: &str) -> String {
        if self.on {
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    }

    fn fg(color: AnsiColor) -> anstyle::Style {
        anstyle::Style::new().fg_color(Some(color.into()))
    }

    fn op(self, op: Op, text: &str) -> String {
        let style = match op {
            Op::Create => Self::fg(AnsiColor::Green),
            Op::Update => Self::fg(AnsiColor::Yellow),
            Op::Replace => Self::fg(AnsiColor::Magenta),
            Op::Delete => Self::fg(AnsiColor::Red),
            Op::Run => Self::fg(AnsiColor::Cyan),
            Op::Adopt => Self::fg(AnsiColor::Blue),
            Op::Blocked => Self::fg(AnsiColor::Red).effects(Effects::BOLD),
        };
        self.paint(style, text)
    }

    fn bold(self, text: &str) -> String {
        self.paint(anstyle::Style::new().effects(Effects::BOLD), text)
    }

    fn dim(self, text: &str) -> String {
        self.paint(anstyle::Style::new().effects(Effects::DIMMED), text)
    }

    fn warning(self, text: &str) -> String {
        self.paint(Self::fg(AnsiColor::Yellow).effects(Effects::BOLD), text)
    }

    fn diff_line(self, line: &str) -> String {
        let style = if line.starts_with("+++") || line.starts_with("---") {
            anstyle::Style::new().effects(Effects::BOLD)
        } else if line.starts_with('+') {
            Self::fg(AnsiColor::Green)
        } else if line.starts_with('-') {
            Self::fg(AnsiColor::Red)
        } else if line.starts_with("@@") {
            Self::fg(AnsiColor::Cyan)
        } else {
            return line.to_string();
        };
        self.paint(style, line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::Address;
    use crate::plan::{Attribute, TextChange};
    use std::collections::BTreeMap;

    fn one(action: Action) -> Plan {
        Plan {
            project: "vibes".into(),
            actions: vec![action],
            edges: vec![],
            notes: vec![],
            cost: None,
        }
    }

    fn key_create() -> Action {
        Action {
            address: Address::key("builds"),
            op: Op::Create,
            reason: "not found".into(),
            attributes: vec![
                Attribute::new("key_name", "vibes-builds"),
                Attribute::sensitive("private_key_value"),
            ],
            changes: vec![],
            effects: vec![],
            relies_on: BTreeMap::new(),
        }
    }

    #[test]
    fn the_empty_plan_says_there_is_nothing_to_do() {
        let plan = Plan {
            project: "vibes".into(),
            actions: vec![],
            edges: vec![],
            notes: vec![],
            cost: None,
        };
        assert_eq!(
            human(&plan, &Style::default()),
            "No changes. The account matches the config.\n"
        );
    }

    #[test]
    fn sensitive_attributes_show_as_sensitive_and_names_align() {
        let text = human(&one(key_create()), &Style::default());
        assert!(
            text.contains("  + key.builds (create: not found)\n"),
            "{text}"
        );
        assert!(
            text.contains("      key_name          = vibes-builds\n"),
            "{text}"
        );
        assert!(
            text.contains("      private_key_value = (sensitive)\n"),
            "{text}"
        );
    }

    #[test]
    fn colors_appear_only_when_asked_for() {
        let plain = human(
            &one(key_create()),
            &Style {
                color: false,
                full_lists: false,
            },
        );
        let colored = human(
            &one(key_create()),
            &Style {
                color: true,
                full_lists: false,
            },
        );
        assert!(!plain.contains('\x1b'));
        assert!(colored.contains("\x1b["));
        // Without the escapes, the colored plan says the same thing.
        let stripped = regexless_strip(&colored);
        assert_eq!(stripped, plain);
    }

    #[test]
    fn a_long_new_text_is_summarised_and_a_short_one_shown() {
        let mut a = key_create();
        let long: String = (0..300).map(|i| format!("line {i}\n")).collect();
        a.changes.push(TextChange {
            label: "template".into(),
            before: None,
            after: Some(long),
        });
        a.changes.push(TextChange {
            label: "value".into(),
            before: None,
            after: Some("short\n".into()),
        });
        let text = human(&one(a), &Style::default());
        assert!(
            text.contains("      template: new, 300 lines (not shown)\n"),
            "{text}"
        );
        assert!(!text.contains("line 299"), "{text}");
        assert!(text.contains("      +short\n"), "{text}");
    }

    /// Removes ANSI CSI sequences (`ESC [ ... m`).
    fn regexless_strip(s: &str) -> String {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                for c in chars.by_ref() {
                    if c == 'm' {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn a_long_list_shows_its_first_lines_and_a_count_unless_asked_for_whole() {
        let mut a = key_create();
        let keys: Vec<String> = (1..=25).map(|i| format!("album/{i:02}.flac")).collect();
        a.attributes.push(Attribute::new("upload", keys.join("\n")));
        let short = human(&one(a.clone()), &Style::default());
        assert!(short.contains("album/10.flac"), "{short}");
        assert!(!short.contains("album/11.flac"), "{short}");
        assert!(
            short.contains("… and 15 more (vibes plan -v lists them all)"),
            "{short}"
        );
        let full = human(
            &one(a),
            &Style {
                full_lists: true,
                ..Style::default()
            },
        );
        assert!(
            full.contains("album/25.flac") && !full.contains("more"),
            "{full}"
        );
    }
}
