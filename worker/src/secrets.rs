//! The deployment's encryption keys (`PVCT_ENCRYPTION_KEY`, and
//! `PVCT_ENCRYPTION_KEY_PREVIOUS` during a rotation), read once per
//! request from secrets (production) or `.dev.vars` (local). Sealing and
//! opening are the core's (`pvct_core::secrets`); the store uses them as it
//! writes and reads secret columns.

use pvct_core::secrets::{Keyring, SecretKey};
use worker::Env;

const CURRENT: &str = "PVCT_ENCRYPTION_KEY";
const PREVIOUS: &str = "PVCT_ENCRYPTION_KEY_PREVIOUS";

fn text(env: &Env, name: &str) -> Option<String> {
    env.secret(name)
        .map(|s| s.to_string())
        .or_else(|_| env.var(name).map(|v| v.to_string()))
        .ok()
        .filter(|s| !s.trim().is_empty())
}

/// The keyring, or None when no key is configured (then secrets cannot be
/// stored, and only values from before encryption can be read). A key that
/// does not parse is logged and treated as missing.
pub fn keyring(env: &Env) -> Option<Keyring> {
    let parse = |name: &str| {
        text(env, name).and_then(|t| match SecretKey::parse(&t) {
            Ok(k) => Some(k),
            Err(e) => {
                worker::console_error!("{name}: {}", e.message());
                None
            }
        })
    };
    Some(Keyring {
        current: parse(CURRENT)?,
        previous: parse(PREVIOUS),
    })
}
