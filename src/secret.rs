//! A string that must never reach a log: `Debug` and `Display` print a placeholder, so a
//! `{:?}` of any struct holding one (an account row, a Copilot token) is safe to log.
//! Serialization is transparent, so caches and the export keep their shape.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The secret itself, for the one place that sends or stores it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Secret {
        Secret(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Secret {
        Secret(s.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_formatted_but_serialized_as_is() {
        let s = Secret::new("gho_supersecret");
        assert_eq!(
            format!("{s:?} {s} {s:#?}"),
            "[redacted] [redacted] [redacted]"
        );
        assert_eq!(serde_json::to_string(&s).unwrap(), r#""gho_supersecret""#);
        let back: Secret = serde_json::from_str(r#""gho_supersecret""#).unwrap();
        assert_eq!(back.expose(), "gho_supersecret");
    }
}
