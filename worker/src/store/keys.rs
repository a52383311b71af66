//! API keys: looked up by hash on the auth path, created, listed, revoked.

use serde::Deserialize;
use worker::{D1PreparedStatement, Result};

use pvct_core::api::ApiKeyView;
use pvct_core::audit::AuditEntry;

use super::Store;

#[derive(Debug, Clone, Deserialize)]
pub struct KeyRow {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub role: String,
    pub key_prefix: String,
    pub revoked_at: Option<String>,
    #[serde(default)]
    pub created_by_person: Option<String>,
}

pub struct NewKey<'a> {
    pub id: &'a str,
    pub workspace_id: &'a str,
    pub name: &'a str,
    pub role: &'a str,
    pub key_hash: &'a str,
    pub key_prefix: &'a str,
    pub created_by: Option<&'a str>,
    pub created_by_person: Option<&'a str>,
    pub at: &'a str,
}

impl Store {
    pub async fn key_by_hash(&self, hash: &str) -> Result<Option<KeyRow>> {
        self.first(
            "SELECT id, workspace_id, name, role, key_prefix, revoked_at, created_by_person FROM api_keys WHERE key_hash = ?",
            &[hash.into()],
        )
        .await
    }

    pub(super) fn key_stmt(&self, k: &NewKey<'_>) -> Result<D1PreparedStatement> {
        self.stmt(
            "INSERT INTO api_keys (id, workspace_id, name, role, key_hash, key_prefix, created_by, created_by_person, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            &[
                k.id.into(),
                k.workspace_id.into(),
                k.name.into(),
                k.role.into(),
                k.key_hash.into(),
                k.key_prefix.into(),
                k.created_by.into(),
                k.created_by_person.into(),
                k.at.into(),
            ],
        )
    }

    pub async fn create_key(&self, key: &NewKey<'_>, audit: &AuditEntry) -> Result<()> {
        self.audited(self.key_stmt(key)?, audit).await
    }

    pub async fn list_keys(&self, workspace_id: &str) -> Result<Vec<ApiKeyView>> {
        self.all(
            "SELECT id, name, role, 'pk-pvct-' || id AS public_key, key_prefix, created_by, created_by_person, created_at, revoked_at FROM api_keys \
             WHERE workspace_id = ? ORDER BY created_at, id",
            &[workspace_id.into()],
        )
        .await
    }

    pub async fn key_hash_in_workspace(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> Result<Option<(String, Option<String>)>> {
        #[derive(Deserialize)]
        struct Row {
            key_hash: String,
            revoked_at: Option<String>,
        }
        let row: Option<Row> = self
            .first(
                "SELECT key_hash, revoked_at FROM api_keys WHERE workspace_id = ? AND id = ?",
                &[workspace_id.into(), id.into()],
            )
            .await?;
        Ok(row.map(|r| (r.key_hash, r.revoked_at)))
    }

    pub async fn revoke_key(&self, workspace_id: &str, id: &str, at: &str, audit: &AuditEntry) -> Result<()> {
        self.audited(
            self.stmt(
                "UPDATE api_keys SET revoked_at = ? WHERE workspace_id = ? AND id = ? AND revoked_at IS NULL",
                &[at.into(), workspace_id.into(), id.into()],
            )?,
            audit,
        )
        .await
    }
}
