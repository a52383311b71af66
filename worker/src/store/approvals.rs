//! The approval queue: requests to change what a protected environment
//! serves (written by the release service, store/release.rs), read here
//! as core views.

use serde::Deserialize;
use worker::Result;

use pvct_core::api::{ApprovalStatus, ApprovalTestRunView, ApprovalView, RequestedChange, StoredRunCounts};

use super::{json_column, Store};

/// An approval as stored; its change column decoded here.
#[derive(Deserialize)]
struct ApprovalRow {
    id: String,
    prompt: String,
    environment: String,
    #[serde(deserialize_with = "json_column")]
    change: RequestedChange,
    base_seq: u64,
    reason: String,
    status: ApprovalStatus,
    requested_by: String,
    requested_by_key: String,
    requested_by_person: Option<String>,
    decided_by: Option<String>,
    decision_note: Option<String>,
    created_at: String,
    decided_at: Option<String>,
    #[serde(deserialize_with = "json_column")]
    test_runs: Vec<StoredRunCounts>,
}

impl From<ApprovalRow> for ApprovalView {
    fn from(r: ApprovalRow) -> Self {
        ApprovalView {
            id: r.id,
            prompt: r.prompt,
            environment: r.environment,
            change: r.change,
            reason: r.reason,
            status: r.status,
            requested_by: r.requested_by,
            requested_by_key: r.requested_by_key,
            requested_by_person: r.requested_by_person,
            base_seq: r.base_seq,
            decided_by: r.decided_by,
            decision_note: r.decision_note,
            created_at: r.created_at,
            decided_at: r.decided_at,
            test_runs: ApprovalTestRunView::latest(r.test_runs),
        }
    }
}

impl Store {
    const APPROVAL_SELECT: &'static str = "SELECT a.id, p.slug AS prompt, e.name AS environment, a.change, a.base_seq, \
         a.reason, a.status, a.requested_by, a.requested_by_key, a.requested_by_person, a.decided_by, a.decision_note, a.created_at, a.decided_at, \
         (SELECT json_group_array(json_object('version', r.version_number, 'id', r.id, 'total', r.total, \
           'passed', (SELECT COUNT(*) FROM test_results t WHERE t.run_id = r.id AND t.passed = 1), \
           'failed', (SELECT COUNT(*) FROM test_results t WHERE t.run_id = r.id AND t.passed = 0), \
           'pass_threshold', COALESCE(json_extract(s.suite, '$.pass_threshold'), 1.0), 'started_at', r.started_at)) \
          FROM test_runs r JOIN test_suites s ON s.prompt_id = r.prompt_id AND s.revision = r.suite_revision \
          WHERE r.prompt_id = a.prompt_id \
          AND r.suite_revision = (SELECT MAX(revision) FROM test_suites WHERE prompt_id = a.prompt_id) \
          AND r.version_number IN (SELECT json_extract(a.change, '$.version') \
            UNION SELECT json_extract(v.value, '$.version') FROM json_each(a.change, '$.variants') v)) AS test_runs \
         FROM approvals a JOIN prompts p ON p.id = a.prompt_id JOIN environments e ON e.id = a.environment_id";

    pub async fn approval(&self, workspace_id: &str, id: &str) -> Result<Option<ApprovalView>> {
        let row: Option<ApprovalRow> = self
            .first(
                &format!("{} WHERE a.workspace_id = ? AND a.id = ?", Self::APPROVAL_SELECT),
                &[workspace_id.into(), id.into()],
            )
            .await?;
        Ok(row.map(ApprovalView::from))
    }

    pub async fn list_approvals(
        &self,
        workspace_id: &str,
        status: Option<ApprovalStatus>,
    ) -> Result<Vec<ApprovalView>> {
        let rows: Vec<ApprovalRow> = self
            .all(
                &format!(
                    "{} WHERE a.workspace_id = ?1 AND (?2 IS NULL OR a.status = ?2) ORDER BY a.created_at DESC LIMIT 200",
                    Self::APPROVAL_SELECT
                ),
                &[workspace_id.into(), status.map(ApprovalStatus::as_str).into()],
            )
            .await?;
        Ok(rows.into_iter().map(ApprovalView::from).collect())
    }
}
