//! Client tokens as EC2 keeps them (RunInstances, CreateVolume): moto stores a ClientToken and
//! ignores it, so the behaviour that vibes' launches depend on is modelled here.
//!
//! From "Ensuring Idempotency", Amazon EC2 API Reference
//! (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/Run_Instance_Idempotency.html>):
//!
//! > If you repeat a request, the same response is returned for each repeated request. The only
//! > information that might vary in the response is the state of the instance.
//!
//! > A client token is valid for at least 24 hours after the termination of the instance. You
//! > should not reuse a client token in another call later on.
//!
//! > If you repeat a request with the same client token, but change another request parameter,
//! > Amazon EC2 returns an IdempotentParameterMismatch error.
//!
//! The fake never forgets a token (its tests last less than 24 hours).

use std::collections::BTreeMap;
use vibes_core::tags::short_hash;

/// What a request's token says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Claim {
    /// Never seen: the request creates.
    New,
    /// Seen with the same parameters: the same resource is the answer, in whatever state it is.
    Repeat(String),
    /// Seen with other parameters: `IdempotentParameterMismatch`.
    Mismatch,
}

/// Tokens of one API, each with a hash of the parameters it was first used with and the id of
/// what it made.
#[derive(Debug, Default)]
pub(super) struct ClientTokens {
    seen: BTreeMap<String, (String, String)>,
}

impl ClientTokens {
    pub fn claim(&self, token: &str, parameters: &str) -> Claim {
        match self.seen.get(token) {
            None => Claim::New,
            Some((first, id)) if first == parameters => Claim::Repeat(id.clone()),
            Some(_) => Claim::Mismatch,
        }
    }

    /// The token made `id` from `parameters`.
    pub fn record(&mut self, token: &str, parameters: &str, id: &str) {
        self.seen
            .insert(token.to_string(), (parameters.to_string(), id.to_string()));
    }
}

/// A hash of a request's parameters, the token left out: two requests that differ in any
/// parameter hash differently.
pub(super) fn parameters_hash<T: serde::Serialize>(parameters: &T) -> String {
    let json = serde_json::to_vec(parameters).expect("request parameters serialize");
    short_hash(&[&json])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_answers_with_what_it_made_only_for_the_same_parameters() {
        let mut tokens = ClientTokens::default();
        let a = parameters_hash(&("lt-1", "t3.small"));
        let b = parameters_hash(&("lt-1", "t3.large"));
        assert_eq!(tokens.claim("tok", &a), Claim::New);
        tokens.record("tok", &a, "i-1");
        assert_eq!(tokens.claim("tok", &a), Claim::Repeat("i-1".into()));
        assert_eq!(tokens.claim("tok", &b), Claim::Mismatch);
        assert_eq!(tokens.claim("other", &b), Claim::New);
    }
}
