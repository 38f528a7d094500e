//! "Did you mean …?": for a name that names nothing, the nearest of the names that exist — the
//! same name under another extension first (`cover-front.png` → `cover-front.jpeg`), else the
//! most alike by edit distance, when alike enough to be worth saying.

use std::path::Path;

/// How alike (normalized Damerau-Levenshtein, 0 to 1) a name must be to be offered.
const ALIKE: f64 = 0.6;

/// The candidate `wanted` most likely meant, if any is close.
pub fn nearest<'c>(wanted: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let stem = |n: &str| {
        Path::new(n)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or(n)
            .to_lowercase()
    };
    let wanted_stem = stem(wanted);
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        if c == wanted {
            continue;
        }
        // The same name under another extension beats any spelling.
        let alike = strsim::normalized_damerau_levenshtein(wanted, c);
        let score = if stem(c) == wanted_stem {
            1.0 + alike
        } else {
            alike
        };
        if score >= ALIKE && best.is_none_or(|(b, _)| score > b) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c)
}

/// `message` with ` (did you mean `NAME`?)` when a candidate is near.
pub fn with_hint<'c>(
    message: String,
    wanted: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> String {
    match nearest(wanted, candidates) {
        Some(near) => format!("{message} (did you mean `{near}`?)"),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_name_under_another_extension_comes_first() {
        let files = ["cover-back.jpeg", "cover-front.jpeg", "cover-front.txt"];
        assert!(matches!(
            nearest("cover-front.png", files),
            Some("cover-front.jpeg" | "cover-front.txt")
        ));
        assert_eq!(
            nearest("cover-back.png", ["cover-back.jpeg", "01-a.wave"]),
            Some("cover-back.jpeg")
        );
    }

    #[test]
    fn a_misspelling_gets_the_nearest_and_nothing_alike_gets_none() {
        let tracks = [
            "ace_of_base/happy_nation/04-all_that_she_wants",
            "abba/gold/01-dancing_queen",
        ];
        assert_eq!(
            nearest("ace_of_base/happy_nation/04-all_that_she_want", tracks),
            Some("ace_of_base/happy_nation/04-all_that_she_wants")
        );
        assert_eq!(nearest("All that she wants # FIXME", ["zz/yy/01-x"]), None);
    }
}
