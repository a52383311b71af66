//! Environments and their gate policies.

use serde::Deserialize;
use worker::Result;

use pvct_core::audit::AuditEntry;
use pvct_core::environment::GatePolicy;

use super::{encode, json_column, Arg, Store};

#[derive(Debug, Clone, Deserialize)]
pub struct EnvironmentRow {
    pub id: String,
    pub name: String,
    pub position: u32,
    #[serde(deserialize_with = "json_column")]
    pub policy: GatePolicy,
    pub created_at: String,
    pub updated_at: String,
}

impl Store {
    pub async fn environments(&self, workspace_id: &str) -> Result<Vec<EnvironmentRow>> {
        self.all(
            "SELECT id, name, position, policy, created_at, updated_at FROM environments \
             WHERE workspace_id = ? ORDER BY position, name",
            &[workspace_id.into()],
        )
        .await
    }

    pub async fn environment(&self, workspace_id: &str, name: &str) -> Result<Option<EnvironmentRow>> {
        self.first(
            "SELECT id, name, position, policy, created_at, updated_at FROM environments \
             WHERE workspace_id = ? AND name = ?",
            &[workspace_id.into(), name.into()],
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn put_environment(
        &self,
        workspace_id: &str,
        id: &str,
        name: &str,
        position: Option<u32>,
        policy: &GatePolicy,
        at: &str,
        audit: &AuditEntry,
    ) -> Result<()> {
        let policy = encode(policy)?;
        let position = position.map_or(Arg::Null, |p| Arg::Int(i64::from(p)));
        let upsert = self.stmt(
            "INSERT INTO environments (id, workspace_id, name, position, policy, created_at, updated_at) \
             VALUES (?1, ?2, ?3, COALESCE(?4, (SELECT COALESCE(MAX(position), -1) + 1 FROM environments \
             WHERE workspace_id = ?2)), ?5, ?6, ?6) \
             ON CONFLICT (workspace_id, name) DO UPDATE SET \
             position = COALESCE(?4, environments.position), policy = excluded.policy, updated_at = excluded.updated_at",
            &[id.into(), workspace_id.into(), name.into(), position, (&policy).into(), at.into()],
        )?;
        self.audited(upsert, audit).await
    }
}
