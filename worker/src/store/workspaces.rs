//! Workspaces, created with their default environments and first admin key.

use worker::Result;

use pvct_core::api::WorkspaceView;
use pvct_core::audit::AuditEntry;
use pvct_core::quota::Quota;

use super::{Arg, NewKey, Store};

impl Store {
    /// How many of what `quota` caps the workspace has now.
    pub async fn quota_usage(&self, workspace_id: &str, quota: Quota) -> Result<u32> {
        #[derive(serde::Deserialize)]
        struct Count {
            n: u32,
        }
        let sql = match quota {
            Quota::Webhooks => "SELECT COUNT(*) AS n FROM webhooks WHERE workspace_id = ? AND deleted_at IS NULL AND channel = 'webhook'",
            Quota::Environments => "SELECT COUNT(*) AS n FROM environments WHERE workspace_id = ?",
            Quota::ActiveKeys => "SELECT COUNT(*) AS n FROM api_keys WHERE workspace_id = ? AND revoked_at IS NULL",
        };
        Ok(self
            .first::<Count>(sql, &[workspace_id.into()])
            .await?
            .map_or(0, |c| c.n))
    }

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
