//! API keys: `pvct_` followed by 48 lowercase hex characters (24 random
//! bytes). Only the SHA-256 of a key is stored; the plain key is shown once.

use crate::canonical::sha256_hex;
use crate::error::{Error, ErrorKind, Result};

pub const PREFIX: &str = "pvct_";
const SECRET_HEX_LEN: usize = 48;

/// Random bytes a new key is made from; the caller supplies them so the core
/// stays free of I/O.
pub type KeySeed = [u8; 24];

/// A syntactically valid API key.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKey({}…)", self.display_prefix())
    }
}

impl ApiKey {
    pub fn generate(seed: &KeySeed) -> Self {
        let hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
        ApiKey(format!("{PREFIX}{hex}"))
    }

    pub fn parse(value: &str) -> Result<Self> {
        let ok = value.strip_prefix(PREFIX).is_some_and(|s| {
            s.len() == SECRET_HEX_LEN && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
        if ok {
            Ok(ApiKey(value.to_owned()))
        } else {
            Err(unauthenticated(
                "the API key is not of the form pvct_<48 hex characters>",
            ))
        }
    }

    /// Parses an `Authorization: Bearer pvct_…` header value.
    pub fn from_authorization(header: Option<&str>) -> Result<Self> {
        let header = header.ok_or_else(|| unauthenticated("missing Authorization: Bearer <api key> header"))?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or_else(|| unauthenticated("the Authorization header must be 'Bearer <api key>'"))?;
        ApiKey::parse(token.trim())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> String {
        sha256_hex(self.0.as_bytes())
    }

    /// The first characters, safe to show in key listings.
    pub fn display_prefix(&self) -> &str {
        &self.0[..PREFIX.len() + 8]
    }
}

pub fn unauthenticated(message: &str) -> Error {
    Error::new(ErrorKind::Unauthenticated, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_and_hash() {
        let key = ApiKey::generate(&[0xab; 24]);
        assert_eq!(key.as_str().len(), 5 + 48);
        assert_eq!(ApiKey::parse(key.as_str()).unwrap(), key);
        assert_eq!(key.hash().len(), 64);
        assert_eq!(key.display_prefix(), "pvct_abababab");
        assert!(!format!("{key:?}").contains(&"ab".repeat(20)));
    }

    #[test]
    fn bearer_header_is_required_and_checked() {
        let key = ApiKey::generate(&[1; 24]);
        assert_eq!(
            ApiKey::from_authorization(Some(&format!("Bearer {}", key.as_str()))).unwrap(),
            key
        );
        for bad in [
            None,
            Some("Basic abc"),
            Some("Bearer pvct_short"),
            Some("Bearer sk_123"),
        ] {
            assert_eq!(ApiKey::from_authorization(bad).unwrap_err().status(), 401);
        }
    }
}
