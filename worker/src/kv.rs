//! KV: the edge copy of what D1 decides. Resolved prompts and bundles are
//! stored as ready-to-send JSON with their ETag in the KV metadata, so the
//! hot path is one KV read with no parsing or hashing. API key lookups are
//! cached here too, so authenticating a resolve does not touch D1.

use serde::{Deserialize, Serialize};
use worker::{KvStore, Result};

pub struct EdgeKv {
    kv: KvStore,
}

#[derive(Serialize, Deserialize)]
struct Meta {
    etag: String,
}

/// A cached document: its JSON text and ETag.
pub struct Cached {
    pub body: String,
    pub etag: String,
}

/// The principal a key hash resolves to, as cached.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CachedKey {
    pub key_id: String,
    pub workspace_id: String,
    pub name: String,
    pub role: String,
    pub prefix: String,
}

pub fn resolved_key(workspace_id: &str, environment: &str, slug: &str) -> String {
    format!("resolved/{workspace_id}/{environment}/{slug}")
}

pub fn bundle_key(workspace_id: &str, environment: &str) -> String {
    format!("bundle/{workspace_id}/{environment}")
}

fn api_key_key(hash: &str) -> String {
    format!("apikey/{hash}")
}

impl EdgeKv {
    pub fn new(kv: KvStore) -> Self {
        EdgeKv { kv }
    }

    async fn get_doc(&self, key: &str) -> Result<Option<Cached>> {
        let (body, meta) = self.kv.get(key).text_with_metadata::<Meta>().await?;
        Ok(match (body, meta) {
            (Some(body), Some(meta)) => Some(Cached { body, etag: meta.etag }),
            _ => None,
        })
    }

    async fn put_doc(&self, key: &str, doc: &Cached) -> Result<()> {
        self.kv
            .put(key, doc.body.as_str())?
            .metadata(Meta { etag: doc.etag.clone() })?
            .execute()
            .await?;
        Ok(())
    }

    pub async fn resolved(&self, ws: &str, env: &str, slug: &str) -> Result<Option<Cached>> {
        self.get_doc(&resolved_key(ws, env, slug)).await
    }

    pub async fn put_resolved(&self, ws: &str, env: &str, slug: &str, doc: &Cached) -> Result<()> {
        self.put_doc(&resolved_key(ws, env, slug), doc).await
    }

    pub async fn bundle(&self, ws: &str, env: &str) -> Result<Option<Cached>> {
        self.get_doc(&bundle_key(ws, env)).await
    }

    pub async fn put_bundle(&self, ws: &str, env: &str, doc: &Cached) -> Result<()> {
        self.put_doc(&bundle_key(ws, env), doc).await
    }

    pub async fn api_key(&self, hash: &str) -> Result<Option<CachedKey>> {
        Ok(self.kv.get(&api_key_key(hash)).json::<CachedKey>().await?)
    }

    pub async fn put_api_key(&self, hash: &str, key: &CachedKey) -> Result<()> {
        self.kv.put(&api_key_key(hash), key)?.execute().await?;
        Ok(())
    }

    pub async fn delete_api_key(&self, hash: &str) -> Result<()> {
        self.kv.delete(&api_key_key(hash)).await?;
        Ok(())
    }
}
