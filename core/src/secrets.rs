//! Secrets at rest: judge API keys and webhook signing secrets are stored
//! sealed with AES-256-GCM under the deployment's key
//! (`PVCT_ENCRYPTION_KEY`, 32 bytes in base64), never in clear.
//!
//! A sealed value reads `pvct:v1:<key id>:<nonce>:<ciphertext>` (base64url
//! without padding). The key id (the first 8 hex digits of the key's
//! SHA-256) says which key sealed it, so keys rotate: set the new key as
//! `PVCT_ENCRYPTION_KEY` and the old one as `PVCT_ENCRYPTION_KEY_PREVIOUS`;
//! values sealed under either open, new values are sealed under the new one,
//! and a value read under the previous key is sealed again when its row is
//! next written. The associated data binds a value to its workspace and
//! field, so a sealed value copied into another row does not open. A value
//! without the prefix is a clear-text value from before encryption and is
//! read as it is (sealed on its next write).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorKind, Result};

const PREFIX: &str = "pvct:v1:";

/// A deployment key, parsed from its base64 form.
#[derive(Clone)]
pub struct SecretKey {
    key: [u8; 32],
    id: String,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey({})", self.id)
    }
}

impl SecretKey {
    /// `text`: 32 bytes in standard base64 (what `openssl rand -base64 32` prints).
    pub fn parse(text: &str) -> Result<SecretKey> {
        let bytes = STANDARD
            .decode(text.trim())
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Internal,
                    "PVCT_ENCRYPTION_KEY must be 32 bytes in base64 (openssl rand -base64 32)",
                )
            })?;
        let digest = Sha256::digest(bytes);
        let id = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        Ok(SecretKey { key: bytes, id })
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

/// The keys a deployment opens secrets with: the current one, and the
/// previous one while a rotation is under way.
#[derive(Debug, Clone)]
pub struct Keyring {
    pub current: SecretKey,
    pub previous: Option<SecretKey>,
}

/// What a secret is, for the associated data: the same value sealed for
/// another workspace or field does not open here.
pub fn context(workspace_id: &str, field: &str) -> String {
    format!("{workspace_id}/{field}")
}

impl Keyring {
    /// Seals `plain` with `nonce` (12 random bytes, new for every value).
    pub fn seal(&self, context: &str, plain: &str, nonce: [u8; 12]) -> String {
        let cipher = Aes256Gcm::new_from_slice(&self.current.key).expect("a 32-byte key");
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .expect("AES-GCM seals any message this size");
        format!(
            "{PREFIX}{}:{}:{}",
            self.current.id,
            URL_SAFE_NO_PAD.encode(nonce),
            URL_SAFE_NO_PAD.encode(sealed)
        )
    }

    /// Opens a stored value; a value from before encryption is returned as
    /// it is. Errors when no key of the ring sealed it, or it was altered.
    pub fn open(&self, context: &str, stored: &str) -> Result<Opened> {
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            return Ok(Opened {
                plain: stored.to_owned(),
                reseal: true,
            });
        };
        let broken = || {
            Error::new(
                ErrorKind::Internal,
                "a stored secret does not open with this deployment's keys",
            )
        };
        let mut parts = rest.splitn(3, ':');
        let (id, nonce, data) = match (parts.next(), parts.next(), parts.next()) {
            (Some(i), Some(n), Some(d)) => (i, n, d),
            _ => return Err(broken()),
        };
        let key = if id == self.current.id {
            &self.current
        } else {
            self.previous.as_ref().filter(|k| k.id == id).ok_or_else(broken)?
        };
        let nonce = URL_SAFE_NO_PAD
            .decode(nonce)
            .ok()
            .filter(|n| n.len() == 12)
            .ok_or_else(broken)?;
        let data = URL_SAFE_NO_PAD.decode(data).map_err(|_| broken())?;
        let cipher = Aes256Gcm::new_from_slice(&key.key).expect("a 32-byte key");
        let plain = cipher
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &data,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| broken())?;
        Ok(Opened {
            plain: String::from_utf8(plain).map_err(|_| broken())?,
            reseal: id != self.current.id,
        })
    }
}

/// An opened secret, and whether its stored form should be sealed again
/// (clear text from before encryption, or sealed under the previous key).
#[derive(Debug, Clone, PartialEq)]
pub struct Opened {
    pub plain: String,
    pub reseal: bool,
}

/// Whether a stored value is sealed (for tests and migrations).
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(PREFIX)
}

/// A URL as the audit trail keeps it: scheme, host, port and path, without
/// userinfo, query or fragment, which may carry credentials.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return String::new();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let path_end = rest[end..].find(['?', '#']).map_or(rest.len(), |i| end + i);
    format!("{scheme}://{host}{}", &rest[end..path_end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SecretKey {
        SecretKey::parse(&STANDARD.encode([byte; 32])).unwrap()
    }

    #[test]
    fn a_sealed_value_opens_only_in_its_context_and_unaltered() {
        let ring = Keyring {
            current: key(1),
            previous: None,
        };
        let ctx = context("ws1", "judge_api_key");
        let sealed = ring.seal(&ctx, "sk-secret", [7; 12]);
        assert!(is_sealed(&sealed));
        assert!(!sealed.contains("sk-secret"));
        assert_eq!(
            ring.open(&ctx, &sealed).unwrap(),
            Opened {
                plain: "sk-secret".into(),
                reseal: false
            }
        );
        assert!(ring.open(&context("ws2", "judge_api_key"), &sealed).is_err());
        assert!(ring.open(&context("ws1", "webhook_secret"), &sealed).is_err());
        let mut altered = sealed.clone().into_bytes();
        let last = altered.len() - 2;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        assert!(ring.open(&ctx, &String::from_utf8(altered).unwrap()).is_err());
        assert!(ring.open(&ctx, "pvct:v1:nonsense").is_err());
        // Different nonces, different ciphertexts.
        assert_ne!(ring.seal(&ctx, "sk-secret", [8; 12]), sealed);
    }

    #[test]
    fn keys_rotate_through_the_previous_key() {
        let old = Keyring {
            current: key(1),
            previous: None,
        };
        let ctx = context("ws", "webhook_secret");
        let sealed_old = old.seal(&ctx, "whsec_1", [1; 12]);
        let rotated = Keyring {
            current: key(2),
            previous: Some(key(1)),
        };
        let opened = rotated.open(&ctx, &sealed_old).unwrap();
        assert_eq!(opened.plain, "whsec_1");
        assert!(
            opened.reseal,
            "read under the previous key: sealed again on the next write"
        );
        let sealed_new = rotated.seal(&ctx, "whsec_1", [2; 12]);
        assert!(!rotated.open(&ctx, &sealed_new).unwrap().reseal);
        let after = Keyring {
            current: key(2),
            previous: None,
        };
        assert!(after.open(&ctx, &sealed_old).is_err(), "a retired key no longer opens");
        // Clear text from before encryption reads as it is, to be sealed.
        assert_eq!(
            after.open(&ctx, "whsec_plain").unwrap(),
            Opened {
                plain: "whsec_plain".into(),
                reseal: true
            }
        );
    }

    #[test]
    fn keys_are_32_bytes_of_base64() {
        assert!(SecretKey::parse("c2hvcnQ=").is_err());
        assert!(SecretKey::parse("not base64!").is_err());
        assert_eq!(key(1).id().len(), 8);
        assert_ne!(key(1).id(), key(2).id());
        assert!(!format!("{:?}", key(1)).contains("AQEB"), "Debug never shows the key");
    }

    #[test]
    fn audit_urls_lose_credentials() {
        assert_eq!(
            redact_url("https://user:pass@hooks.example.com:8443/in/abc?token=x#f"),
            "https://hooks.example.com:8443/in/abc"
        );
        assert_eq!(redact_url("https://hooks.example.com"), "https://hooks.example.com");
        assert_eq!(redact_url("http://h/p?q"), "http://h/p");
        assert_eq!(redact_url("not a url"), "");
    }
}
