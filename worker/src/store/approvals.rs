//! The approval queue of promotions into protected environments.

use serde::{Deserialize, Serialize};
use worker::Result;

use pvct_core::audit::AuditEntry;

use super::Store;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApprovalRow {
    pub id: String,
    pub prompt: String,
    pub environment: String,
    pub version: u32,
    pub reason: String,
    pub status: String,
    pub requested_by: String,
    #[serde(skip_serializing)]
    pub requested_by_key: String,
    pub decided_by: Option<String>,
    pub decision_note: Option<String>,
    pub created_at: String,
    pub decided_at: Option<String>,
}

pub struct NewApproval<'a> {
    pub id: &'a str,
    pub workspace_id: &'a str,
    pub prompt_id: &'a str,
    pub environment_id: &'a str,
    pub version_id: &'a str,
    pub reason: &'a str,
    pub requested_by: &'a str,
    pub requested_by_key: &'a str,
    pub at: &'a str,
}

impl Store {
    const APPROVAL_SELECT: &'static str = "SELECT a.id, p.slug AS prompt, e.name AS environment, v.number AS version, \
         a.reason, a.status, a.requested_by, a.requested_by_key, a.decided_by, a.decision_note, a.created_at, a.decided_at \
         FROM approvals a JOIN prompts p ON p.id = a.prompt_id JOIN environments e ON e.id = a.environment_id \
         JOIN prompt_versions v ON v.id = a.version_id";

    pub async fn create_approval(&self, a: &NewApproval<'_>, audit: &AuditEntry) -> Result<()> {
        self.audited(
            self.stmt(
                "INSERT INTO approvals (id, workspace_id, prompt_id, environment_id, version_id, reason, status, \
                 requested_by, requested_by_key, created_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
                &[
                    a.id.into(),
                    a.workspace_id.into(),
                    a.prompt_id.into(),
                    a.environment_id.into(),
                    a.version_id.into(),
                    a.reason.into(),
                    a.requested_by.into(),
                    a.requested_by_key.into(),
                    a.at.into(),
                ],
            )?,
            audit,
        )
        .await
    }

    pub async fn approval(&self, workspace_id: &str, id: &str) -> Result<Option<ApprovalRow>> {
        self.first(
            &format!("{} WHERE a.workspace_id = ? AND a.id = ?", Self::APPROVAL_SELECT),
            &[workspace_id.into(), id.into()],
        )
        .await
    }

    pub async fn list_approvals(&self, workspace_id: &str, status: Option<&str>) -> Result<Vec<ApprovalRow>> {
        self.all(
            &format!(
                "{} WHERE a.workspace_id = ?1 AND (?2 IS NULL OR a.status = ?2) ORDER BY a.created_at DESC LIMIT 200",
                Self::APPROVAL_SELECT
            ),
            &[workspace_id.into(), status.into()],
        )
        .await
    }

    /// Decides a pending approval; false if it was no longer pending.
    pub async fn decide_approval(
        &self,
        id: &str,
        status: &str,
        decided_by: &str,
        note: &str,
        at: &str,
        audit: &AuditEntry,
    ) -> Result<bool> {
        let results = self
            .db
            .batch(vec![
                self.stmt(
                    "UPDATE approvals SET status = ?, decided_by = ?, decision_note = ?, decided_at = ? \
                     WHERE id = ? AND status = 'pending'",
                    &[status.into(), decided_by.into(), note.into(), at.into(), id.into()],
                )?,
                self.audit_stmt(audit)?,
            ])
            .await?;
        Ok(results
            .first()
            .and_then(|r| r.meta().ok().flatten())
            .and_then(|m| m.changes)
            .unwrap_or(0)
            == 1)
    }
}
