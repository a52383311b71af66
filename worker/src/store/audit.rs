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
    pub person_email: Option<String>,
    pub person_name: Option<String>,
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
    /// The person's email.
    pub person: Option<&'a str>,
    pub action: Option<&'a str>,
    /// ISO-8601 bounds: at or after `since`, before `until`.
    pub since: Option<&'a str>,
    pub until: Option<&'a str>,
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
            "SELECT seq, id, actor, person_email, person_name, action, prompt_slug, target, details, created_at FROM audit_log \
             WHERE workspace_id = ?1 AND (?2 IS NULL OR prompt_slug = ?2) AND (?3 IS NULL OR actor = ?3) \
             AND (?4 IS NULL OR action = ?4) AND seq < ?5 AND (?7 IS NULL OR person_email = ?7) \
             AND (?8 IS NULL OR created_at >= ?8) AND (?9 IS NULL OR created_at < ?9) ORDER BY seq DESC LIMIT ?6",
            &[
                workspace_id.into(),
                filter.prompt.into(),
                filter.actor.into(),
                filter.action.into(),
                before_bound(before_seq),
                limit.into(),
                filter.person.into(),
                filter.since.into(),
                filter.until.into(),
            ],
        )
        .await
    }
}
