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

use pvct_core::access_token::{AccessConfig, Identity};
use pvct_core::apikey::{unauthenticated, ApiKey};
use pvct_core::member::{membership, Person};
use pvct_core::role::Role;
use pvct_core::{Error, ErrorKind};

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
    /// People's standing, by token identity and requested workspace.
    static PEOPLE: RefCell<TtlMap<Principal>> = RefCell::new(TtlMap::new(PEOPLE_TTL_MS, ISOLATE_CACHE_MAX));
}

/// How long a person's role is taken from this isolate's memory. A member
/// change clears it in the isolate that made it; elsewhere it takes effect
/// within this time.
const PEOPLE_TTL_MS: u64 = 30_000;

/// The authenticated caller: an API key, or a person signed in through
/// Cloudflare Access.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The key's id, or `person:<email>` for a person (never a key's id,
    /// so comparing credentials never confuses the two).
    pub key_id: String,
    pub workspace_id: String,
    pub role: Role,
    /// How the audit trail names the caller: `<key name> (<key prefix>)`,
    /// or `Name <email>` for a person.
    pub actor: String,
    /// The person behind the call: the one signed in, or the one who
    /// created the key.
    pub person: Option<Person>,
    pub is_key: bool,
}

impl Principal {
    fn from_cached(key: &CachedKey) -> Result<Self, Error> {
        Ok(Principal {
            key_id: key.key_id.clone(),
            workspace_id: key.workspace_id.clone(),
            role: Role::parse(&key.role).map_err(|_| Error::internal())?,
            actor: format!("{} ({})", key.name, key.prefix),
            person: key.person.as_ref().map(|email| Person {
                email: email.clone(),
                name: email.clone(),
            }),
            is_key: true,
        })
    }
}

/// A person signed in through Access: their role in the workspace they
/// name (the `Pvct-Workspace` header, by name) or, without one, in the one
/// workspace they are a member of.
pub async fn sign_in_person(
    config: &AccessConfig,
    token: &str,
    workspace: Option<&str>,
    store: &Store,
) -> Result<Principal, Error> {
    let identity = crate::access::verify(config, token).await?;
    let cache_key = format!(
        "{}|{}|{}",
        identity.email,
        identity.groups.join(","),
        workspace.unwrap_or("")
    );
    if let Some(p) = PEOPLE.with(|c| c.borrow().get(&cache_key)) {
        return Ok(p);
    }
    let principal = standing(&identity, workspace, store).await?;
    PEOPLE.with(|c| c.borrow_mut().put(&cache_key, principal.clone()));
    Ok(principal)
}

async fn standing(identity: &Identity, workspace: Option<&str>, store: &Store) -> Result<Principal, Error> {
    let workspace_id = match workspace {
        Some(name) => {
            store
                .workspace_by_name(name)
                .await
                .or_internal("workspace by name")?
                .ok_or_else(|| not_a_member(identity))?
                .id
        }
        None => {
            let mut ids = store
                .workspaces_of(&identity.email, &identity.groups)
                .await
                .or_internal("workspaces of person")?;
            if ids.is_empty() {
                // A deployment with one workspace lets its default role in.
                ids = store.workspace_ids().await.or_internal("workspaces")?;
            }
            match ids.as_slice() {
                [one] => one.clone(),
                [] => return Err(not_a_member(identity)),
                _ => {
                    return Err(Error::new(
                        ErrorKind::InvalidQuery,
                        "you are a member of several workspaces: name one in the Pvct-Workspace header",
                    )
                    .with_details(serde_json::json!({ "header": "pvct-workspace" })))
                }
            }
        }
    };
    let members = store.members(&workspace_id).await.or_internal("members")?;
    let default_role = store
        .settings(&workspace_id)
        .await
        .or_internal("settings")?
        .and_then(|s| s.default_role);
    let m = membership(identity, &members, default_role)?;
    Ok(Principal {
        key_id: format!("person:{}", m.person.email),
        workspace_id,
        role: m.role,
        actor: m.person.actor(),
        person: Some(m.person),
        is_key: false,
    })
}

fn not_a_member(identity: &Identity) -> Error {
    Error::new(
        ErrorKind::NotAMember,
        format!("{} is signed in but not a member of this workspace", identity.email),
    )
    .with_details(serde_json::json!({ "email": identity.email }))
}

/// Forgets every person's standing in this isolate (members changed).
pub fn forget_people() {
    PEOPLE.with(|c| *c.borrow_mut() = TtlMap::new(PEOPLE_TTL_MS, ISOLATE_CACHE_MAX));
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
                person: row.created_by_person,
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
