//! NoEcho stack parameters: CloudFormation never shows their values again (DescribeStacks
//! answers `****`), so vibes cannot compare them with the config the way it compares the
//! others. Instead, each create or update records a salted, deliberately slow hash of each
//! NoEcho value in one stack tag ([`crate::tags::NOECHO`]), and a plan compares the config's
//! value against that record: an unchanged secret is "no change", a changed one an update.
//!
//! The record is a PBKDF2-HMAC-SHA256 of the value with a random salt and
//! [`ROUNDS`] rounds: the tag is readable by anyone who may DescribeStacks, so a plain hash of
//! a short password would be a guessable copy of it.

use std::collections::{BTreeMap, BTreeSet};

/// PBKDF2 rounds: enough that guessing a value from its record is slow, few enough that a
/// plan comparing a handful of parameters stays well under a millisecond each in a release
/// build.
const ROUNDS: u32 = 20_000;

/// Hex digits of the digest kept: a tag value holds at most 256 characters.
const DIGEST_HEX: usize = 16;
const SALT_HEX: usize = 8;

/// The parameters a template declares with `NoEcho: true` (YAML or JSON; CloudFormation's
/// short-form tags such as `!Ref` are read as any other tagged value). A template that does
/// not parse declares none: CloudFormation will say what is wrong with it.
pub fn declared(template_body: &str) -> BTreeSet<String> {
    let Ok(doc) = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(template_body) else {
        return BTreeSet::new();
    };
    let Some(params) = doc.get("Parameters").and_then(|p| p.as_mapping()) else {
        return BTreeSet::new();
    };
    params
        .iter()
        .filter(|(_, spec)| {
            spec.get("NoEcho").is_some_and(|v| {
                v.as_bool() == Some(true)
                    || v.as_str().is_some_and(|s| s.eq_ignore_ascii_case("true"))
            })
        })
        .filter_map(|(name, _)| name.as_str().map(str::to_string))
        .collect()
}

/// The tag value recording `values` of the NoEcho parameters among them, with a fresh salt
/// each; `None` when there are none. Records that would pass the tag's 256 characters are
/// left out (those parameters are then reported as not comparable).
pub fn record(noecho: &BTreeSet<String>, values: &BTreeMap<String, String>) -> Option<String> {
    let mut out = String::new();
    for (name, value) in values.iter().filter(|(k, _)| noecho.contains(*k)) {
        let salt = format!("{:0width$x}", fastrand::u32(..), width = SALT_HEX);
        let entry = format!("{name}:{salt}:{}", digest(&salt, name, value));
        if out.len() + entry.len() + 1 > 256 {
            break;
        }
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(&entry);
    }
    (!out.is_empty()).then_some(out)
}

/// Whether the record in `tag` shows `name` set to `value` when the stack was last written:
/// `None` when the tag holds no record of `name`.
pub fn matches(tag: Option<&str>, name: &str, value: &str) -> Option<bool> {
    tag?.split(',').find_map(|entry| {
        let mut parts = entry.splitn(3, ':');
        let (n, salt, d) = (parts.next()?, parts.next()?, parts.next()?);
        (n == name).then(|| digest(salt, name, value) == d)
    })
}

fn digest(salt: &str, name: &str, value: &str) -> String {
    let mut out = [0u8; 32];
    // The parameter's name is part of the salt: two parameters with one value differ.
    let salt = format!("vibes-noecho:{salt}:{name}");
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(value.as_bytes(), salt.as_bytes(), ROUNDS, &mut out);
    hex::encode(out)[..DIGEST_HEX].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = "Parameters:\n  DbPassword:\n    Type: String\n    NoEcho: true\n  Token:\n    Type: String\n    NoEcho: 'true'\n  Name:\n    Type: String\nResources:\n  B:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: !Ref Name\n";

    #[test]
    fn noecho_parameters_are_read_from_yaml_and_json_templates() {
        assert_eq!(
            declared(TEMPLATE),
            BTreeSet::from(["DbPassword".to_string(), "Token".to_string()])
        );
        let json = r#"{"Parameters": {"Secret": {"Type": "String", "NoEcho": true}, "Open": {"Type": "String"}}}"#;
        assert_eq!(declared(json), BTreeSet::from(["Secret".to_string()]));
        assert!(declared("not: [a template").is_empty());
    }

    #[test]
    fn a_record_recognises_the_same_value_and_no_other_and_never_holds_it() {
        let noecho = declared(TEMPLATE);
        let values = BTreeMap::from([
            ("DbPassword".to_string(), "hunter2".to_string()),
            ("Name".to_string(), "plain".to_string()),
        ]);
        let tag = record(&noecho, &values).unwrap();
        assert!(!tag.contains("hunter2"), "{tag}");
        assert!(
            !tag.contains("Name"),
            "only NoEcho parameters are recorded: {tag}"
        );
        assert_eq!(matches(Some(&tag), "DbPassword", "hunter2"), Some(true));
        assert_eq!(matches(Some(&tag), "DbPassword", "hunter3"), Some(false));
        assert_eq!(matches(Some(&tag), "Token", "x"), None);
        assert_eq!(matches(None, "DbPassword", "hunter2"), None);
        // A fresh salt each time: the same value does not give the same record twice.
        assert_ne!(record(&noecho, &values).unwrap(), tag);
    }
}
