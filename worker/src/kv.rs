//! KV: the edge copy of what D1 decides. Resolved prompts and bundles are
//! stored as ready-to-send JSON with their ETag in the KV metadata, so the
//! hot path is one KV read with no parsing or hashing. API key lookups are
//! cached here too, so authenticating a resolve does not touch D1.
//!
//! Every document carries, in its metadata, the release sequence of the
//! environment it reflects: a write never replaces a newer document with an
//! older one. Key entries expire after [`API_KEY_TTL_SECONDS`], which bounds
//! how long a revoked key can live on at the edge.

use serde::{Deserialize, Serialize};
use worker::{KvStore, Result};

pub struct EdgeKv {
    kv: KvStore,
    /// The binding itself, for what workers-rs does not wrap (bulk reads).
    raw: worker::wasm_bindgen::JsValue,
}

/// KV's minimum expiration, and the bound on a revoked key's life in KV.
pub const API_KEY_TTL_SECONDS: u64 = 60;

#[derive(Serialize, Deserialize)]
struct Meta {
    etag: String,
    /// The environment's release sequence the document reflects (0 for
    /// documents written before sequences existed).
    #[serde(default)]
    seq: u64,
}

/// A cached document: its JSON text, ETag and release sequence.
pub struct Cached {
    pub body: String,
    pub etag: String,
    pub seq: u64,
}

/// What a document write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Stored,
    /// KV already held a document of a later sequence; it was kept.
    KeptNewer,
}

/// The principal a key hash resolves to, as cached.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CachedKey {
    pub key_id: String,
    pub workspace_id: String,
    pub name: String,
    pub role: String,
    pub prefix: String,
    /// The email of the person who created the key, if one did.
    #[serde(default)]
    pub person: Option<String>,
}

pub fn resolved_key(workspace_id: &str, environment: &str, slug: &str) -> String {
    format!("resolved/{workspace_id}/{environment}/{slug}")
}

/// The isolate cache's key of an environment's whole bundle (KV holds it
/// as shards).
pub fn bundle_key(workspace_id: &str, environment: &str) -> String {
    format!("bundle/{workspace_id}/{environment}")
}

/// One shard of an environment's bundle (`pvct_core::resolved::shard_of`).
pub fn shard_key(workspace_id: &str, environment: &str, shard: u32) -> String {
    format!("bundle/{workspace_id}/{environment}/{shard}")
}

/// KV metadata (a plain JS object) read through JSON.
fn serde_wasm_bindgen_free(value: &worker::wasm_bindgen::JsValue) -> Result<Meta> {
    let text: String = worker::js_sys::JSON::stringify(value)?.into();
    serde_json::from_str(&text).map_err(|e| worker::Error::RustError(e.to_string()))
}

fn api_key_key(hash: &str) -> String {
    format!("apikey/{hash}")
}

impl EdgeKv {
    /// The store behind the worker's `binding`.
    pub fn of(env: &worker::Env, binding: &str) -> Result<Self> {
        let raw = worker::js_sys::Reflect::get(env, &binding.into())
            .map_err(|_| worker::Error::RustError(format!("no binding {binding}")))?;
        Ok(EdgeKv {
            kv: env.kv(binding)?,
            raw,
        })
    }

    async fn get_doc(&self, key: &str) -> Result<Option<Cached>> {
        let (body, meta) = self.kv.get(key).text_with_metadata::<Meta>().await?;
        Ok(match (body, meta) {
            (Some(body), Some(meta)) => Some(Cached {
                body,
                etag: meta.etag,
                seq: meta.seq,
            }),
            _ => None,
        })
    }

    /// Writes `doc` unless KV holds one of a later sequence. KV has no
    /// compare-and-set: two writers can still cross, which is why a
    /// publisher re-reads D1's sequence after writing and goes again if it
    /// moved (publish.rs).
    async fn put_doc(&self, key: &str, doc: &Cached) -> Result<Written> {
        let current = self.kv.get(key).text_with_metadata::<Meta>().await?.1;
        if current.is_some_and(|m| m.seq > doc.seq) {
            return Ok(Written::KeptNewer);
        }
        self.kv
            .put(key, doc.body.as_str())?
            .metadata(Meta {
                etag: doc.etag.clone(),
                seq: doc.seq,
            })?
            .execute()
            .await?;
        Ok(Written::Stored)
    }

    pub async fn resolved(&self, ws: &str, env: &str, slug: &str) -> Result<Option<Cached>> {
        self.get_doc(&resolved_key(ws, env, slug)).await
    }

    pub async fn put_resolved(&self, ws: &str, env: &str, slug: &str, doc: &Cached) -> Result<Written> {
        self.put_doc(&resolved_key(ws, env, slug), doc).await
    }

    pub async fn shard(&self, ws: &str, env: &str, shard: u32) -> Result<Option<Cached>> {
        self.get_doc(&shard_key(ws, env, shard)).await
    }

    /// Every shard of an environment's bundle, in shard order, in one bulk
    /// read (`getWithMetadata` with a list of keys: one KV operation, not 64).
    pub async fn shards(&self, ws: &str, env: &str, count: u32) -> Result<Vec<Option<Cached>>> {
        use worker::js_sys::{Array, Function, Map, Promise, Reflect};
        use worker::wasm_bindgen::JsCast;
        let keys: Vec<String> = (0..count).map(|k| shard_key(ws, env, k)).collect();
        let list = Array::new();
        for k in &keys {
            list.push(&k.as_str().into());
        }
        let get: Function = Reflect::get(&self.raw, &"getWithMetadata".into())?.dyn_into()?;
        let promise: Promise = get.call2(&self.raw, &list, &"text".into())?.dyn_into()?;
        let found: Map = worker::wasm_bindgen_futures::JsFuture::from(promise)
            .await?
            .dyn_into()?;
        keys.iter()
            .map(|k| {
                let entry = found.get(&k.as_str().into());
                let value = Reflect::get(&entry, &"value".into()).ok().and_then(|v| v.as_string());
                let meta = Reflect::get(&entry, &"metadata".into()).ok().filter(|m| m.is_object());
                Ok(match (value, meta) {
                    (Some(body), Some(meta)) => {
                        let meta: Meta = serde_wasm_bindgen_free(&meta)?;
                        Some(Cached {
                            body,
                            etag: meta.etag,
                            seq: meta.seq,
                        })
                    }
                    _ => None,
                })
            })
            .collect()
    }

    pub async fn put_shard(&self, ws: &str, env: &str, shard: u32, doc: &Cached) -> Result<Written> {
        self.put_doc(&shard_key(ws, env, shard), doc).await
    }

    pub async fn api_key(&self, hash: &str) -> Result<Option<CachedKey>> {
        Ok(self.kv.get(&api_key_key(hash)).json::<CachedKey>().await?)
    }

    pub async fn put_api_key(&self, hash: &str, key: &CachedKey) -> Result<()> {
        self.kv
            .put(&api_key_key(hash), key)?
            .expiration_ttl(API_KEY_TTL_SECONDS)
            .execute()
            .await?;
        Ok(())
    }

    pub async fn delete_api_key(&self, hash: &str) -> Result<()> {
        self.kv.delete(&api_key_key(hash)).await?;
        Ok(())
    }
}
