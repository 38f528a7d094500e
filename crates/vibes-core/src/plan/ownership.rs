//! Whose is it? One answer for every kind of resource the planner meets under a name vibes
//! gives, and for every tagged resource it might delete.
//!
//! Without a state file, vibes recognises its resources by two things together: the ownership
//! tags (`vibes:project`, `vibes:address`) and the name vibes gives that address (key pair
//! `<project>-<key>`, parameter `/<project>/…`, stack `<project>-<stack>`). Either alone is not
//! enough: a name can be taken by hand or by another project, and tags can be copied onto
//! anything. So:
//! - another project's resource is never written, replaced or deleted: the action is blocked
//!   and names the owner;
//! - an untagged resource with vibes' name is adopted by tagging it, and only when vibes would
//!   change nothing else; anything more waits for `--replace ADDR`;
//! - a tagged resource whose name is not the one vibes gives is not deleted: vibes did not put
//!   it there, so a note says so and it is left alone.

use crate::address::{Address, Kind};
use crate::tags::{self, Tags};

/// Where a resource found under vibes' name for an address stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Standing<'o> {
    /// Nothing there: vibes makes it.
    Missing,
    /// `vibes:project` names another project.
    Foreign { owner: &'o str },
    /// This project's tags, for another address: not where vibes would have put it.
    Misaddressed { tagged: &'o str },
    /// Without this project's ownership tags (made by hand, or tagged only in part). `same`:
    /// vibes would change nothing but its tags.
    Untagged { same: bool },
    /// Ours, and it differs from the config.
    Drifted,
    /// Ours, and as the config says.
    InSync,
}

/// Classifies what was found for `address` by its tags; `same` says whether it already is what
/// the config asks for (asked only of an untagged resource or one of ours).
pub(crate) fn standing<'o>(
    project: &str,
    address: &Address,
    tags: Option<&'o Tags>,
    same: impl FnOnce() -> bool,
) -> Standing<'o> {
    let Some(tags) = tags else {
        return Standing::Missing;
    };
    let owner = tags.get(tags::PROJECT).map(String::as_str);
    let tagged = tags.get(tags::ADDRESS).map(String::as_str);
    match (owner, tagged) {
        (Some(o), _) if o != project => Standing::Foreign { owner: o },
        // Without its address tag, this project's tag alone is not vibes' mark (vibes always
        // writes both): tagging it completes an adoption.
        (None, _) | (Some(_), None) => Standing::Untagged { same: same() },
        (Some(_), Some(t)) if t != address.to_string() => Standing::Misaddressed { tagged: t },
        (Some(_), Some(_)) => {
            if same() {
                Standing::InSync
            } else {
                Standing::Drifted
            }
        }
    }
}

/// A resource as a reason names it: `key pair vibes-builds`, `parameter /vibes/profiles/x`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Thing<'a> {
    pub what: &'a str,
    pub name: &'a str,
}

impl std::fmt::Display for Thing<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.what, self.name)
    }
}

/// Why vibes declines to touch another project's resource, and how to go on.
pub(crate) fn foreign(thing: Thing, owner: &str) -> String {
    format!(
        "{thing} belongs to project {owner} (its vibes:project tag): vibes never changes another project's resources; \
         give this one another name in vibes.toml, or remove {} from project {owner} first",
        thing.name
    )
}

/// Why vibes declines to touch a resource tagged for another of its own addresses.
pub(crate) fn misaddressed(thing: Thing, tagged: &str, address: &Address) -> String {
    format!(
        "{thing} carries this project's tags for {tagged}, not {address}: vibes did not put it here and leaves it as it is; \
         correct or remove its vibes:address tag"
    )
}

/// Why an untagged resource is not adopted: adopting would change more than its tags.
pub(crate) fn differs(thing: Thing, what_differs: &str, address: &Address) -> String {
    format!(
        "{thing} exists without vibes tags and differs from vibes.toml ({what_differs}); vibes adopts only by tagging: \
         make vibes.toml match it, remove it, or pass --replace {address} to have vibes' version replace it"
    )
}

/// What the planner may do with a tagged resource that the config no longer names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Leftover {
    /// Not this project's, or not of this kind: nothing to do.
    NotOurs,
    /// This project's, under the name vibes gives its address: vibes may delete it.
    Ours(Address),
    /// This project's tags under another name than vibes gives: left alone, with a note.
    Misnamed { address: Address, note: String },
}

/// Classifies a resource carrying tags for `kind` by its tags and name: vibes deletes only what
/// it would have made, with its tags *and* under the name `conventional` gives its address.
pub(crate) fn leftover(
    project: &str,
    kind: Kind,
    thing: Thing,
    tags: &Tags,
    conventional: impl FnOnce(&Address) -> String,
) -> Leftover {
    if tags.get(tags::PROJECT).map(String::as_str) != Some(project) {
        return Leftover::NotOurs;
    }
    let Some(address) = tags
        .get(tags::ADDRESS)
        .and_then(|a| a.parse::<Address>().ok())
        .filter(|a| a.kind == kind)
    else {
        return Leftover::NotOurs;
    };
    let expected = conventional(&address);
    if thing.name == expected {
        return Leftover::Ours(address);
    }
    let note = format!(
        "{thing} carries this project's tags for {address}, but vibes names that {} {expected}: \
         it is not deleted; remove its vibes:* tags if it is not vibes'",
        thing.what
    );
    Leftover::Misnamed { address, note }
}

/// The kinds `--replace` applies to: those whose adoption can be refused because vibes would
/// change more than tags. Others are replaced when their spec changes (images, the server) or
/// are data.
pub fn replaceable(address: &Address) -> Result<(), String> {
    match address.kind {
        Kind::Key | Kind::Stack | Kind::Profile | Kind::Image | Kind::Compile => Ok(()),
        _ => Err(format!(
            "--replace takes key.NAME, stack.NAME, profile.NAME, image.NAME or compile; vibes replaces {address} by itself when its spec changes"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(pairs: &[(&str, &str)]) -> Tags {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn standing_is_by_project_then_address_then_content() {
        fn s<'o>(tags: Option<&'o Tags>, same: bool) -> Standing<'o> {
            standing("p", &Address::key("builds"), tags, || same)
        }
        assert_eq!(s(None, true), Standing::Missing);
        let other = t(&[(tags::PROJECT, "q"), (tags::ADDRESS, "key.builds")]);
        assert_eq!(s(Some(&other), true), Standing::Foreign { owner: "q" });
        assert_eq!(
            s(Some(&Tags::new()), false),
            Standing::Untagged { same: false }
        );
        let half = t(&[(tags::PROJECT, "p")]);
        assert_eq!(s(Some(&half), true), Standing::Untagged { same: true });
        let elsewhere = t(&[(tags::PROJECT, "p"), (tags::ADDRESS, "key.worker")]);
        assert_eq!(
            s(Some(&elsewhere), true),
            Standing::Misaddressed {
                tagged: "key.worker"
            }
        );
        let ours = t(&[(tags::PROJECT, "p"), (tags::ADDRESS, "key.builds")]);
        assert_eq!(s(Some(&ours), true), Standing::InSync);
        assert_eq!(s(Some(&ours), false), Standing::Drifted);
    }

    #[test]
    fn only_what_has_our_tags_and_our_name_may_be_deleted() {
        let thing = |name| Thing {
            what: "key pair",
            name,
        };
        let conventional = |a: &Address| format!("p-{}", a.name());
        let ours = t(&[(tags::PROJECT, "p"), (tags::ADDRESS, "key.x")]);
        assert_eq!(
            leftover("p", Kind::Key, thing("p-x"), &ours, conventional),
            Leftover::Ours(Address::key("x"))
        );
        let Leftover::Misnamed { note, .. } =
            leftover("p", Kind::Key, thing("other-x"), &ours, conventional)
        else {
            panic!("a misnamed one is left alone")
        };
        assert!(note.contains("other-x") && note.contains("p-x"), "{note}");
        let theirs = t(&[(tags::PROJECT, "q"), (tags::ADDRESS, "key.x")]);
        assert_eq!(
            leftover("p", Kind::Key, thing("p-x"), &theirs, conventional),
            Leftover::NotOurs
        );
        assert_eq!(
            leftover("p", Kind::Stack, thing("p-x"), &ours, conventional),
            Leftover::NotOurs,
            "another kind's tags"
        );
    }
}
