//! A secret string: a password hash or token that must never reach output.
//!
//! `Secret` has no `Display`, prints `Secret(***)` for `Debug` and serialises
//! to a fixed placeholder, so putting one into a plan, a log line or a test
//! snapshot cannot leak it. Only [`Secret::expose`] gives the value, and only
//! providers call it, at the moment they write it.

use serde::{Serialize, Serializer};

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

/// What a secret serialises to.
pub const REDACTED: &str = "(sensitive)";

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value. Call only where it is written to its destination.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_its_value() {
        let s = Secret::new("hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!serde_json::to_string(&s).unwrap().contains("hunter2"));
        assert_eq!(s.expose(), "hunter2");
    }
}
