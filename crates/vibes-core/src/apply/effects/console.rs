//! What a worker's console says of its compile unit: systemd prints there when it skips a unit
//! (an ordering cycle, an unmet condition) or fails to start it. Such a worker will never
//! compile nor power off; without reading its console, vibes would wait for it until the
//! compile's timeout. The unit's own output goes to the console too
//! (`StandardOutput=journal+console`), which is what a worker that stopped without a status
//! leaves to say why.

/// The compile unit's name as systemd prints it (its status lines may cut the rest short:
/// `vibes-compile.ser…`).
pub const COMPILE_UNIT: &str = "vibes-compile";

/// How many console lines an error quotes at most.
const QUOTED: usize = 12;

/// systemd's words for a unit that will not run on this boot.
const NEVER_RUNS: &[&str] = &[
    "ordering cycle found, skipping",
    "deleted to break ordering cycle",
    "failed to start",
    "dependency failed for",
    "skipped because of an unmet condition",
    "was skipped because",
];

/// The console's lines that say `unit` will not run, with the lines that explain it (the
/// ordering cycle's dependencies), when systemd said so; `None` while it has not.
pub fn unit_will_not_run(console: &str, unit: &str) -> Option<Vec<String>> {
    let lines: Vec<String> = console.lines().map(strip_terminal_codes).collect();
    let verdict = lines.iter().any(|l| {
        let lower = l.to_lowercase();
        l.contains(unit) && NEVER_RUNS.iter().any(|w| lower.contains(w))
    });
    if !verdict {
        return None;
    }
    Some(last(
        lines
            .into_iter()
            .filter(|l| l.contains(unit) || l.contains("Found dependency on"))
            .collect(),
    ))
}

/// The console's last lines that name `unit` (its status lines and its own output).
pub fn lines_about(console: &str, unit: &str) -> Vec<String> {
    last(
        console
            .lines()
            .map(strip_terminal_codes)
            .filter(|l| l.contains(unit))
            .collect(),
    )
}

fn last(mut lines: Vec<String>) -> Vec<String> {
    let cut = lines.len().saturating_sub(QUOTED);
    lines.drain(..cut);
    lines
}

/// A console line without its colour and cursor sequences (`ESC [ … letter`) and its
/// carriage returns.
fn strip_terminal_codes(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' if chars.peek() == Some(&'[') => {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Debian 12's systemd 252, as it printed the cycle on a booted machine.
    const CYCLE: &str = "\
[    0.912] systemd[1]: multi-user.target: Found ordering cycle on vibes-compile.service/start
[    0.912] systemd[1]: multi-user.target: Found dependency on cloud-final.service/start
[    0.912] systemd[1]: multi-user.target: Found dependency on multi-user.target/start
[    0.912] systemd[1]: multi-user.target: Job vibes-compile.service/start deleted to break ordering cycle starting with multi-user.target/start
\u{1b}[0;1;31m[ SKIP ]\u{1b}[0m Ordering cycle found, skipping \u{1b}[0;1;39mvibes-compile.service\u{1b}[0m
[  OK  ] Reached target multi-user.target - Multi-User System.
";

    #[test]
    fn a_unit_skipped_for_an_ordering_cycle_is_told_with_the_cycle() {
        let lines = unit_will_not_run(CYCLE, COMPILE_UNIT).expect("a verdict");
        assert_eq!(lines.len(), 5, "{lines:#?}");
        assert!(lines[1].ends_with("Found dependency on cloud-final.service/start"));
        assert_eq!(
            lines[4],
            "[ SKIP ] Ordering cycle found, skipping vibes-compile.service"
        );
    }

    #[test]
    fn a_unit_that_failed_to_start_is_told_and_one_that_runs_is_not() {
        let failed = "[FAILED] Failed to start \u{1b}[0;1;39mvibes-compile.ser…e, record the status, power off\u{1b}[0m.\n";
        assert_eq!(
            unit_will_not_run(failed, COMPILE_UNIT),
            Some(vec![
                "[FAILED] Failed to start vibes-compile.ser…e, record the status, power off."
                    .to_string()
            ])
        );
        let running = "[  OK  ] Started vibes-compile.service - vibes: compile.\n[  12.1] vibes-compile[126]: vibes-compile: profiles: archive phone\n";
        assert_eq!(unit_will_not_run(running, COMPILE_UNIT), None);
        assert_eq!(lines_about(running, COMPILE_UNIT).len(), 2);
    }

    #[test]
    fn an_error_quotes_only_the_last_lines() {
        let many: String = (0..40)
            .map(|n| format!("vibes-compile[1]: line {n}\n"))
            .collect();
        let lines = lines_about(&many, COMPILE_UNIT);
        assert_eq!(lines.len(), QUOTED);
        assert_eq!(lines.last().unwrap(), "vibes-compile[1]: line 39");
    }
}
