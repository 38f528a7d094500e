//! Secrets (private keys, SecureString values) in a type that never shows itself.

use std::fmt;

/// A secret value. Debug, Display and Serialize all print `(sensitive)`; the only way to
/// the bytes is [`Secret::expose`], which is called at the one place a secret is handed to AWS.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

pub const SENSITIVE: &str = "(sensitive)";

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The secret itself. Call this only to pass it to the API that stores it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(SENSITIVE)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(SENSITIVE)
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(SENSITIVE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn never_shows_itself() {
        let s = Secret::new("-----BEGIN OPENSSH PRIVATE KEY-----abc");
        assert_eq!(format!("{s}"), SENSITIVE);
        assert_eq!(format!("{s:?}"), SENSITIVE);
        assert_eq!(format!("{:?}", Some(&s)), "Some((sensitive))");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"(sensitive)\"");
        assert!(s.expose().starts_with("-----BEGIN"));
    }
}
