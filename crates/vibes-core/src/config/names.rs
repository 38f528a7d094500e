//! Naming rules for what the config names, and "did you mean" for what it misspells.

/// The rule a name must follow, with the pattern shown in errors.
#[derive(Debug, Clone, Copy)]
pub struct NameRule {
    pub pattern: &'static str,
    first: fn(char) -> bool,
    rest: fn(char) -> bool,
    max_len: usize,
}

/// Project and stack names: they prefix AWS names (`<project>-<name>`), where CloudFormation
/// stack names allow only letters, digits and `-`; lower case keeps S3 bucket names valid.
/// At most 31 characters: the platform's templates take the project as their `Project`
/// parameter with `AllowedPattern: "^[a-z0-9][a-z0-9-]{0,30}$"` (cfn/main.yaml, cfn/vpc.yaml),
/// so a longer name would validate and then fail in CloudFormation, mid-apply.
pub const PROJECT: NameRule = NameRule {
    pattern: "^[a-z][a-z0-9-]{0,30}$",
    first: |c| c.is_ascii_lowercase(),
    rest: |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-',
    max_len: 31,
};

/// Stack names: no template parameter takes them, so they keep the longer limit.
pub const STACK: NameRule = NameRule {
    pattern: "^[a-z][a-z0-9-]{0,31}$",
    max_len: 32,
    ..PROJECT
};

/// Keys, profiles and images: the last part of an SSM path and of an EC2 key pair name.
pub const RESOURCE: NameRule = NameRule {
    pattern: "^[a-z0-9][a-z0-9_-]{0,62}$",
    first: |c| c.is_ascii_lowercase() || c.is_ascii_digit(),
    rest: |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-',
    max_len: 63,
};

impl NameRule {
    /// Why `name` breaks the rule, or `None` when it follows it.
    pub fn violation(&self, name: &str) -> Option<String> {
        let mut chars = name.chars();
        let Some(first) = chars.next() else {
            return Some("it is empty".into());
        };
        if !(self.first)(first) {
            return Some(format!("it starts with `{first}`"));
        }
        if let Some(bad) = name.chars().skip(1).find(|c| !(self.rest)(*c)) {
            return Some(format!("it contains `{bad}`"));
        }
        let len = name.chars().count();
        if len > self.max_len {
            return Some(format!(
                "it is {len} characters long, at most {} are allowed",
                self.max_len
            ));
        }
        None
    }
}

/// The known word closest to `word`, when one is close enough to be a likely misspelling.
pub fn suggest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    let word_lower = word.to_ascii_lowercase();
    known
        .iter()
        .map(|k| {
            (
                strsim::damerau_levenshtein(&word_lower, &k.to_ascii_lowercase()),
                *k,
            )
        })
        .filter(|(d, k)| *d <= (k.chars().count() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names_are_short_lower_case_words() {
        assert_eq!(PROJECT.violation("vibes"), None);
        assert_eq!(PROJECT.violation("my-music2"), None);
        assert_eq!(PROJECT.violation("Vibes").unwrap(), "it starts with `V`");
        assert_eq!(PROJECT.violation("vi_bes").unwrap(), "it contains `_`");
        assert!(PROJECT
            .violation(&"a".repeat(32))
            .unwrap()
            .contains("32 characters"));
        assert_eq!(PROJECT.violation(&"a".repeat(31)), None);
        assert!(PROJECT.violation("").is_some());
    }

    #[test]
    fn resource_names_may_start_with_a_digit_and_hold_underscores() {
        assert_eq!(RESOURCE.violation("2nd_phone"), None);
        assert!(RESOURCE.violation("-x").is_some());
        assert!(RESOURCE.violation("a.b").is_some());
    }

    #[test]
    fn suggests_the_closest_known_word() {
        assert_eq!(suggest("sourcse", &["sources", "server"]), Some("sources"));
        assert_eq!(
            suggest("instance-type", &["instance_type", "running"]),
            Some("instance_type")
        );
        assert_eq!(suggest("colour", &["sources", "server"]), None);
    }
}
