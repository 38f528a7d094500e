//! What the reads of every service share: which resources a project's read keeps, and how many
//! per-resource reads run at once. The services' reads use it, and `observe` is made of them.

use vibes_core::tags::{Tags, PROJECT};

/// How many per-resource reads (tags, templates, object heads) run at once.
pub(crate) const READ_CONCURRENCY: usize = 16;

/// Whether the planner must see a resource: tagged for `project`, or under the project's names
/// (`<project>-…`) whoever tagged it. Whose it is, is the planner's question
/// (`plan::ownership`): an untagged one is adopted, another project's is left alone and shown
/// blocked, rather than mistaken for "not found" and created over.
pub(crate) fn in_view(project: &str, name: &str, tags: &Tags) -> bool {
    tags.get(PROJECT).map(String::as_str) == Some(project)
        || name.starts_with(&format!("{project}-"))
}

/// Whether a resource in view carries another project's tag: its details are not read.
pub(crate) fn foreign(project: &str, tags: &Tags) -> bool {
    tags.get(PROJECT).is_some_and(|p| p != project)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_seen_is_what_is_tagged_for_the_project_or_named_like_it() {
        let mut tagged = Tags::new();
        tagged.insert(PROJECT.into(), "vibes".into());
        assert!(in_view("vibes", "anything", &tagged));
        assert!(
            in_view("other", "other-builds", &tagged),
            "another project's tag under our name is seen, to be shown blocked"
        );
        assert!(foreign("other", &tagged));
        assert!(!foreign("vibes", &tagged) && !foreign("vibes", &Tags::new()));
        assert!(in_view("vibes", "vibes-builds", &Tags::new()));
        assert!(!in_view("vibes", "vibesx-builds", &Tags::new()));
        assert!(!in_view("vibes", "builds", &Tags::new()));
    }
}
