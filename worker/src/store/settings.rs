//! Workspace settings.

use worker::{D1PreparedStatement, Result};

use pvct_core::audit::AuditEntry;
use pvct_core::settings::Settings;

use super::Store;

/// The secret fields' names in the sealed values' associated data.
const JUDGE_KEY: &str = "judge_api_key";
const PROVIDER_KEY: &str = "provider_api_key";

impl Store {
    /// The workspace's settings, the judge's and provider's keys opened.
    pub async fn settings(&self, workspace_id: &str) -> Result<Option<Settings>> {
        let row: Option<Settings> = self
            .first(
                "SELECT retention_days, judge_url, judge_model, judge_api_key, provider_url, provider_model, \
                 provider_api_key, default_role, updated_at FROM workspace_settings WHERE workspace_id = ?",
                &[workspace_id.into()],
            )
            .await?;
        row.map(|mut s| {
            s.judge_api_key = s
                .judge_api_key
                .map(|k| self.open(workspace_id, JUDGE_KEY, &k))
                .transpose()?;
            s.provider_api_key = s
                .provider_api_key
                .map(|k| self.open(workspace_id, PROVIDER_KEY, &k))
                .transpose()?;
            Ok(s)
        })
        .transpose()
    }

    /// Writes the settings, the keys sealed, with `more` statements (the
    /// notification channels' rows) in the same batch.
    pub async fn put_settings(
        &self,
        workspace_id: &str,
        row: &Settings,
        audit: &AuditEntry,
        more: Vec<D1PreparedStatement>,
    ) -> Result<()> {
        let sealed = row
            .judge_api_key
            .as_deref()
            .map(|k| self.seal(workspace_id, JUDGE_KEY, k))
            .transpose()?;
        let sealed_provider = row
            .provider_api_key
            .as_deref()
            .map(|k| self.seal(workspace_id, PROVIDER_KEY, k))
            .transpose()?;
        let mut statements = vec![
            self.stmt(
                "INSERT INTO workspace_settings (workspace_id, retention_days, judge_url, judge_model, judge_api_key, \
                 provider_url, provider_model, provider_api_key, default_role, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (workspace_id) DO UPDATE SET \
                 retention_days = excluded.retention_days, judge_url = excluded.judge_url, \
                 judge_model = excluded.judge_model, judge_api_key = excluded.judge_api_key, \
                 provider_url = excluded.provider_url, provider_model = excluded.provider_model, \
                 provider_api_key = excluded.provider_api_key, default_role = excluded.default_role, \
                 updated_at = excluded.updated_at",
                &[
                    workspace_id.into(),
                    row.retention_days.into(),
                    row.judge_url.as_deref().into(),
                    row.judge_model.as_deref().into(),
                    sealed.as_deref().into(),
                    row.provider_url.as_deref().into(),
                    row.provider_model.as_deref().into(),
                    sealed_provider.as_deref().into(),
                    row.default_role.map(|r| r.as_str()).into(),
                    (&row.updated_at).into(),
                ],
            )?,
            self.audit_stmt(audit)?,
        ];
        statements.extend(more);
        self.batch(statements).await
    }
}
