//! Bounds on a YAML file of the tree, checked on its text before it is parsed. A YAML parser
//! expands every alias into a copy of what its anchor names: a 610 KB file holding one 10 KB
//! anchored string and 200,000 aliases of it asks for gigabytes, and deeply nested flow
//! collections take the parser quadratic time. mustup's files are a few kilobytes; these bounds
//! are far above any of them, and far below what would hurt a build.

/// The most bytes a YAML file of the tree may hold.
pub const SIZE_LIMIT: usize = 1 << 20;
/// The most bytes the aliases of one file may expand to (the anchored text each repeats).
pub const EXPANSION_LIMIT: usize = 4 << 20;
/// The deepest flow collections (`[`, `{`) may nest.
pub const DEPTH_LIMIT: usize = 64;

/// Why `text` is refused, at a 1-based line and column.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Checks `text` against the bounds.
pub fn check(text: &str) -> Result<(), Refusal> {
    if text.len() > SIZE_LIMIT {
        return Err(Refusal {
            line: 1,
            column: 1,
            message: format!(
                "the file is {} bytes; a YAML file of the tree may hold at most {SIZE_LIMIT}",
                text.len()
            ),
        });
    }
    let lines: Vec<&str> = text.lines().collect();
    let mut anchors: std::collections::HashMap<&str, usize> = Default::default();
    let mut expanded = 0usize;
    let mut depth = 0usize;
    for (n, line) in lines.iter().enumerate() {
        let at = |column: usize, message: String| Refusal {
            line: n + 1,
            column: column + 1,
            message,
        };
        let mut quote: Option<char> = None;
        let mut previous = ' ';
        for (i, c) in line.char_indices() {
            match quote {
                Some(q) => {
                    if c == q {
                        quote = None;
                    }
                }
                None => {
                    let node_start =
                        previous.is_whitespace() || matches!(previous, '[' | '{' | ',');
                    match c {
                        '#' if previous.is_whitespace() => break,
                        '\'' | '"' if node_start => quote = Some(c),
                        '[' | '{' => {
                            depth += 1;
                            if depth > DEPTH_LIMIT {
                                return Err(at(
                                    i,
                                    format!(
                                        "flow collections nest deeper than {DEPTH_LIMIT} levels"
                                    ),
                                ));
                            }
                        }
                        ']' | '}' => depth = depth.saturating_sub(1),
                        '&' if node_start => {
                            let name = name_at(&line[i + 1..]);
                            anchors.insert(name, anchored_size(&lines, n, i));
                        }
                        '*' if node_start => {
                            let name = name_at(&line[i + 1..]);
                            expanded += anchors.get(name).copied().unwrap_or(0);
                            if expanded > EXPANSION_LIMIT {
                                return Err(at(i, format!(
                                    "the aliases of this file expand to more than {EXPANSION_LIMIT} bytes (alias `*{name}` here)"
                                )));
                            }
                        }
                        _ => {}
                    }
                }
            }
            previous = c;
        }
    }
    Ok(())
}

/// An anchor's or alias's name: up to a space, a comma or a bracket.
fn name_at(rest: &str) -> &str {
    let end = rest
        .find(|c: char| c.is_whitespace() || matches!(c, ',' | '[' | ']' | '{' | '}'))
        .unwrap_or(rest.len());
    &rest[..end]
}

/// The text an anchor on `line` at `column` names, at most: the rest of its line and every
/// following line indented deeper than it.
fn anchored_size(lines: &[&str], line: usize, column: usize) -> usize {
    let indent = |l: &str| l.len() - l.trim_start().len();
    let own = indent(lines[line]);
    let mut size = lines[line].len() - column;
    for l in &lines[line + 1..] {
        if !l.trim().is_empty() && indent(l) <= own {
            break;
        }
        size += l.len() + 1;
    }
    size
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alias_bomb_is_refused_where_it_passes_the_bound() {
        let mut text = format!("big: &b '{}'\nall:\n", "x".repeat(10_000));
        for _ in 0..1_000 {
            text.push_str("  - *b\n");
        }
        let r = check(&text).unwrap_err();
        assert!(r.message.contains("expand to more than"), "{r:?}");
        // About 10 KB an alias: refused at the 420th or so, not at the end.
        assert!((400..450).contains(&r.line), "{r:?}");
    }

    #[test]
    fn deep_flow_nesting_and_size_are_refused() {
        let deep = format!("a: {}{}\n", "[".repeat(100), "]".repeat(100));
        let r = check(&deep).unwrap_err();
        assert_eq!((r.line, r.column), (1, 4 + DEPTH_LIMIT));
        let big = format!("a: '{}'\n", "x".repeat(SIZE_LIMIT));
        assert!(check(&big).unwrap_err().message.contains("at most 1048576"));
    }

    #[test]
    fn ordinary_metadata_with_anchors_quotes_and_comments_passes() {
        let text = "tags:\n  common:\n    artist: &a 'Ace * of [Base'  # [*not*\n    album artist: *a\n    title: \"*NSYNC {\"\n  Vorbis:\n    GENRE: [Pop, Euro]\n";
        assert_eq!(check(text), Ok(()));
    }
}
