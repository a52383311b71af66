//! Randomness and time, the only impure inputs the core's decisions take.

use pvct_core::apikey::{ApiKey, KeySeed};
use pvct_core::time::iso8601_from_millis;

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // crypto.getRandomValues cannot fail for buffers this small.
    getrandom::fill(&mut buf).expect("crypto.getRandomValues is available");
    buf
}

/// A new random 128-bit id as 32 hex characters.
pub fn new_id() -> String {
    random_bytes::<16>().iter().map(|b| format!("{b:02x}")).collect()
}

/// A webhook signing secret: `whsec_` and 48 hex characters (192 bits).
pub fn new_webhook_secret() -> String {
    let hex: String = random_bytes::<24>().iter().map(|b| format!("{b:02x}")).collect();
    format!("whsec_{hex}")
}

pub fn new_api_key() -> ApiKey {
    let seed: KeySeed = random_bytes();
    ApiKey::generate(&seed)
}

pub fn now_millis() -> u64 {
    worker::Date::now().as_millis()
}

pub fn now() -> String {
    iso8601_from_millis(now_millis())
}
