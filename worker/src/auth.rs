//! Who is calling: API key → workspace and role.
//!
//! Lookups go isolate cache → KV → D1, so the hot path does not touch D1.
//! Revocation is bounded: KV entries expire after 60 s (kv.rs), isolate
//! entries after ISOLATE_TTL_MS; revoke deletes the KV entry (again on every
//! repeated revoke) and marks the key revoked in the revoking isolate. So a
//! revoked key is refused at once where it was revoked and everywhere within
//! 60 s plus KV's propagation. Unknown keys are remembered as unknown for
//! UNKNOWN_TTL_MS, so random `pvct_…` keys do not cost a D1 query each. The
//! README states these bounds.

use std::cell::RefCell;

use pvct_core::apikey::{unauthenticated, ApiKey};
use pvct_core::role::Role;
use pvct_core::Error;

use crate::http::OrInternal;
use crate::isolate_cache::TtlMap;
use crate::kv::{CachedKey, EdgeKv};
use crate::store::Store;

const ISOLATE_TTL_MS: u64 = 30_000;
const ISOLATE_CACHE_MAX: usize = 10_000;
/// How long an unknown or revoked key is refused from this isolate's memory.
const UNKNOWN_TTL_MS: u64 = 3_000;
/// How long a key revoked here stays refused here whatever KV still says.
const REVOKED_TTL_MS: u64 = 120_000;

thread_local! {
    static KEYS: RefCell<TtlMap<CachedKey>> = RefCell::new(TtlMap::new(ISOLATE_TTL_MS, ISOLATE_CACHE_MAX));
    static UNKNOWN: RefCell<TtlMap<()>> = RefCell::new(TtlMap::new(UNKNOWN_TTL_MS, ISOLATE_CACHE_MAX));
    static REVOKED: RefCell<TtlMap<()>> = RefCell::new(TtlMap::new(REVOKED_TTL_MS, ISOLATE_CACHE_MAX));
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub key_id: String,
    pub workspace_id: String,
    pub role: Role,
    /// How the audit trail names the caller: `<key name> (<key prefix>)`.
    pub actor: String,
}

impl Principal {
    fn from_cached(key: &CachedKey) -> Result<Self, Error> {
        Ok(Principal {
            key_id: key.key_id.clone(),
            workspace_id: key.workspace_id.clone(),
            role: Role::parse(&key.role).map_err(|_| Error::internal())?,
            actor: format!("{} ({})", key.name, key.prefix),
        })
    }
}

pub async fn authenticate(key: &ApiKey, kv: &EdgeKv, store: &Store) -> Result<(Principal, &'static str), Error> {
    let hash = key.hash();
    let refused = || unauthenticated("the API key is unknown or revoked");
    if REVOKED.with(|c| c.borrow().get(&hash)).is_some() || UNKNOWN.with(|c| c.borrow().get(&hash)).is_some() {
        return Err(refused());
    }
    let cached = KEYS.with(|c| c.borrow().get(&hash));
    if let Some(k) = cached {
        return Ok((Principal::from_cached(&k)?, "isolate"));
    }
    let (entry, source) = match kv.api_key(&hash).await.or_internal("kv api key")? {
        Some(k) => (k, "kv"),
        None => {
            let Some(row) = store
                .key_by_hash(&hash)
                .await
                .or_internal("d1 api key")?
                .filter(|r| r.revoked_at.is_none())
            else {
                UNKNOWN.with(|c| c.borrow_mut().put(&hash, ()));
                return Err(refused());
            };
            let entry = CachedKey {
                key_id: row.id,
                workspace_id: row.workspace_id,
                name: row.name,
                role: row.role,
                prefix: row.key_prefix,
            };
            kv.put_api_key(&hash, &entry).await.or_internal("kv put api key")?;
            (entry, "d1")
        }
    };
    remember(&hash, &entry);
    Ok((Principal::from_cached(&entry)?, source))
}

fn remember(hash: &str, entry: &CachedKey) {
    KEYS.with(|c| c.borrow_mut().put(hash, entry.clone()));
}

/// Forgets a revoked key in this isolate and refuses it here from now on,
/// even while a KV entry (until it expires) still names it.
pub fn forget(hash: &str) {
    KEYS.with(|c| c.borrow_mut().remove(hash));
    REVOKED.with(|c| c.borrow_mut().put(hash, ()));
}
