//! Validated names: a value of these types is known to be well formed, so code
//! that holds one never re-checks it (the "parse, don't validate" newtype).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

fn is_slug_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
}

fn check_slug_like(field: &str, value: &str, max: usize) -> Result<()> {
    if value.is_empty() || value.len() > max {
        return Err(Error::invalid_field(
            field,
            format!("{field} must be 1 to {max} characters long"),
        ));
    }
    if !value.chars().all(is_slug_char) {
        return Err(Error::invalid_field(
            field,
            format!("{field} may only contain lowercase letters a-z, digits 0-9 and '-'"),
        ));
    }
    Ok(())
}

macro_rules! slug_newtype {
    ($(#[$doc:meta])* $name:ident, $field:literal, $max:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const MAX_LEN: usize = $max;

            pub fn parse(value: &str) -> Result<Self> {
                check_slug_like($field, value, $max)?;
                Ok($name(value.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::parse(&s).map_err(|e| serde::de::Error::custom(e.message()))
            }
        }
    };
}

slug_newtype!(
    /// A prompt's identifier within its workspace: `[a-z0-9-]{1,64}`.
    Slug, "slug", 64
);
slug_newtype!(
    /// An environment name such as `production`: `[a-z0-9-]{1,32}`.
    EnvironmentName, "environment", 32
);
slug_newtype!(
    /// A workspace's short name: `[a-z0-9-]{1,64}`.
    WorkspaceName, "workspace", 64
);
slug_newtype!(
    /// An evaluator's name within its prompt, the key of its scores: `[a-z0-9-]{1,32}`.
    EvaluatorName, "name", 32
);

/// An absolute http(s) URL the worker may call (a webhook receiver, an LLM
/// judge): at most 2,000 printable characters, a host, no credentials.
pub fn http_url(field: &str, url: &str, what: &str) -> Result<String> {
    let bad = || {
        Error::invalid_field(
            field,
            format!("{field} must be an absolute http:// or https:// URL{what}"),
        )
    };
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(bad)?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if url.len() > 2000 || host.is_empty() || host.contains('@') || !url.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad());
    }
    Ok(url.to_owned())
}

/// A free-text field that must be non-empty after trimming and bounded in
/// length (prompt names, commit messages, reasons).
pub fn bounded_text(field: &str, value: &str, max_chars: usize, required: bool) -> Result<String> {
    let trimmed = value.trim();
    if required && trimmed.is_empty() {
        return Err(Error::invalid_field(field, format!("{field} must not be empty")));
    }
    if trimmed.chars().count() > max_chars {
        return Err(Error::invalid_field(
            field,
            format!("{field} must be at most {max_chars} characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_accept_lowercase_digits_and_dashes() {
        assert_eq!(Slug::parse("support-bot-2").unwrap().as_str(), "support-bot-2");
        assert!(Slug::parse(&"a".repeat(64)).is_ok());
    }

    #[test]
    fn slugs_refuse_everything_else() {
        for bad in ["", "Upper", "with space", "under_score", "é", "a/b", &"a".repeat(65)] {
            let err = Slug::parse(bad).unwrap_err();
            assert_eq!(err.code(), "invalid_field", "{bad:?}");
            assert_eq!(err.details()["field"], "slug");
        }
    }

    #[test]
    fn slug_deserialization_validates() {
        assert!(serde_json::from_str::<Slug>("\"ok\"").is_ok());
        assert!(serde_json::from_str::<Slug>("\"NOT OK\"").is_err());
    }

    #[test]
    fn bounded_text_trims_and_limits() {
        assert_eq!(bounded_text("m", "  hi ", 10, true).unwrap(), "hi");
        assert!(bounded_text("m", "   ", 10, true).is_err());
        assert_eq!(bounded_text("m", "", 10, false).unwrap(), "");
        assert!(bounded_text("m", "elevenchars", 10, false).is_err());
    }
}
