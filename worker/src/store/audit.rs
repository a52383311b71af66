//! Reading the audit trail (rows are written by `Store::audit_stmt`).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use worker::Result;

use super::{before_bound, json_column, Store};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditRow {
    pub seq: u32,
    pub id: String,
    pub actor: String,
    pub action: String,
    pub prompt_slug: Option<String>,
    pub target: String,
    #[serde(deserialize_with = "json_column")]
    pub details: Value,
    pub created_at: String,
}

pub struct AuditFilter<'a> {
    pub prompt: Option<&'a str>,
    pub actor: Option<&'a str>,
    pub action: Option<&'a str>,
}

impl Store {
    pub async fn list_audit(
        &self,
        workspace_id: &str,
        filter: &AuditFilter<'_>,
        before_seq: Option<u32>,
        limit: u32,
    ) -> Result<Vec<AuditRow>> {
        self.all(
            "SELECT seq, id, actor, action, prompt_slug, target, details, created_at FROM audit_log \
             WHERE workspace_id = ?1 AND (?2 IS NULL OR prompt_slug = ?2) AND (?3 IS NULL OR actor = ?3) \
             AND (?4 IS NULL OR action = ?4) AND seq < ?5 ORDER BY seq DESC LIMIT ?6",
            &[
                workspace_id.into(),
                filter.prompt.into(),
                filter.actor.into(),
                filter.action.into(),
                before_bound(before_seq),
                limit.into(),
            ],
        )
        .await
    }
}
