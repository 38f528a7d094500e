//! Text changes as unified diffs, shared by both renderers so that people and machines see
//! the same diff.

use crate::address::Address;
use crate::plan::TextChange;
use similar::TextDiff;

/// Lines of context around each hunk.
const CONTEXT: usize = 3;

/// A new or removed text longer than this is summarised in the human plan instead of listed
/// line by line: a 300-line template as 300 `+` lines hides the rest of the plan.
pub(crate) const LONG_TEXT_LINES: usize = 40;

/// The unified diff of a change, headed `--- ADDRESS LABEL (live)` / `+++ ADDRESS LABEL (vibes.toml)`.
/// A side that does not exist is headed `(absent)` or `(removed)` and diffs as empty text.
pub(crate) fn unified(address: &Address, change: &TextChange) -> String {
    let before = change.before.as_deref().unwrap_or("");
    let after = change.after.as_deref().unwrap_or("");
    let old_header = format!(
        "{address} {} ({})",
        change.label,
        if change.before.is_some() {
            "live"
        } else {
            "absent"
        }
    );
    let new_header = format!(
        "{address} {} ({})",
        change.label,
        if change.after.is_some() {
            "vibes.toml"
        } else {
            "removed"
        }
    );
    TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(CONTEXT)
        .header(&old_header, &new_header)
        .to_string()
}

/// Lines of a text, counting a last line without a newline.
pub(crate) fn line_count(text: &str) -> usize {
    text.lines().count()
}

/// The one-line summary that stands in for a long text that appears or goes away whole, or
/// `None` when the diff is short enough (or a true edit) and is shown.
pub(crate) fn summary(change: &TextChange) -> Option<String> {
    match (&change.before, &change.after) {
        (None, Some(after)) if line_count(after) > LONG_TEXT_LINES => Some(format!(
            "{}: new, {} lines (not shown)",
            change.label,
            line_count(after)
        )),
        (Some(before), None) if line_count(before) > LONG_TEXT_LINES => Some(format!(
            "{}: removed, {} lines (not shown)",
            change.label,
            line_count(before)
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(before: Option<&str>, after: Option<&str>) -> TextChange {
        TextChange {
            label: "value".into(),
            before: before.map(Into::into),
            after: after.map(Into::into),
        }
    }

    #[test]
    fn an_edit_is_a_unified_diff_with_live_and_config_headers() {
        let d = unified(
            &Address::profile("phone"),
            &change(Some("A=1\nB=2\n"), Some("A=1\nB=3\n")),
        );
        assert_eq!(
            d,
            "--- profile.phone value (live)\n+++ profile.phone value (vibes.toml)\n@@ -1,2 +1,2 @@\n A=1\n-B=2\n+B=3\n"
        );
    }

    #[test]
    fn a_new_text_diffs_against_nothing() {
        let d = unified(&Address::profile("phone"), &change(None, Some("A=1\n")));
        assert!(
            d.starts_with(
                "--- profile.phone value (absent)\n+++ profile.phone value (vibes.toml)\n"
            ),
            "{d}"
        );
        assert!(d.ends_with("+A=1\n"), "{d}");
    }

    #[test]
    fn only_long_whole_texts_are_summarised() {
        let long: String = (0..41).map(|i| format!("line {i}\n")).collect();
        let exactly: String = (0..40).map(|i| format!("line {i}\n")).collect();
        assert_eq!(
            summary(&change(None, Some(&long))).as_deref(),
            Some("value: new, 41 lines (not shown)")
        );
        assert_eq!(
            summary(&change(Some(&long), None)).as_deref(),
            Some("value: removed, 41 lines (not shown)")
        );
        assert_eq!(summary(&change(None, Some(&exactly))), None);
        assert_eq!(summary(&change(Some(&long), Some(&exactly))), None);
    }
}
