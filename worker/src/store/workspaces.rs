//! Workspaces, created with their default environments and first admin key.

use worker::Result;

use pvct_core::api::WorkspaceView;
use pvct_core::audit::AuditEntry;

use super::{Arg, NewKey, Store};

impl Store {
    pub async fn workspace_name(&self, id: &str) -> Result<Option<String>> {
        #[derive(serde::Deserialize)]
        struct Row {
            name: String,
        }
        Ok(self
            .first::<Row>("SELECT name FROM workspaces WHERE id = ?", &[id.into()])
            .await?
            .map(|r| r.name))
    }

    pub async fn workspace_by_name(&self, name: &str) -> Result<Option<WorkspaceView>> {
        self.first(
            "SELECT id, name, display_name, created_at FROM workspaces WHERE name = ?",
            &[name.into()],
        )
        .await
    }

    /// A workspace with its default environments and first admin key.
    pub async fn create_workspace(
        &self,
        ws: &WorkspaceView,
        environments: &[(String, String)],
        key: &NewKey<'_>,
        audit: &AuditEntry,
    ) -> Result<()> {
        let mut batch = vec![self.stmt(
            "INSERT INTO workspaces (id, name, display_name, created_at) VALUES (?, ?, ?, ?)",
            &[
                (&ws.id).into(),
                (&ws.name).into(),
                (&ws.display_name).into(),
                (&ws.created_at).into(),
            ],
        )?];
        for (position, (id, name)) in environments.iter().enumerate() {
            batch.push(self.stmt(
                "INSERT INTO environments (id, workspace_id, name, position, policy, created_at, updated_at) \
                 VALUES (?, ?, ?, ?, '{}', ?, ?)",
                &[
                    id.into(),
                    (&ws.id).into(),
                    name.into(),
                    Arg::Int(position as i64),
                    (&ws.created_at).into(),
                    (&ws.created_at).into(),
                ],
            )?);
        }
        batch.push(self.key_stmt(key)?);
        batch.push(self.audit_stmt(audit)?);
        self.batch(batch).await
    }
}
