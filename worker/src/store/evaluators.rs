//! Per-prompt evaluators, stored as the JSON array `Evaluator::to_json` makes.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use worker::Result;

use pvct_core::audit::AuditEntry;
use pvct_core::evaluator::{from_stored, Evaluator};

use super::Store;

/// The `evaluators` column, read back into evaluators.
fn evaluators_column<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Vec<Evaluator>, D::Error> {
    from_stored(&String::deserialize(d)?).map_err(D::Error::custom)
}

/// The prompts among a JSON array of ids that have evaluators.
const HAVING_EVALUATORS: &str = "FROM prompt_evaluators WHERE workspace_id = ? \
     AND prompt_id IN (SELECT value FROM json_each(?)) AND evaluators != '[]'";

#[derive(Deserialize)]
struct EvaluatorsRow {
    prompt_id: String,
    #[serde(deserialize_with = "evaluators_column")]
    evaluators: Vec<Evaluator>,
}

impl Store {
    pub async fn evaluators(&self, prompt_id: &str) -> Result<Option<Vec<Evaluator>>> {
        let row: Option<EvaluatorsRow> = self
            .first(
                "SELECT prompt_id, evaluators FROM prompt_evaluators WHERE prompt_id = ?",
                &[prompt_id.into()],
            )
            .await?;
        Ok(row.map(|r| r.evaluators))
    }

    /// Evaluators of several prompts (a JSON array of ids), for the prompts
    /// that have some: (prompt id, evaluators).
    pub async fn evaluators_of(&self, workspace_id: &str, prompt_ids: &str) -> Result<Vec<(String, Vec<Evaluator>)>> {
        let rows: Vec<EvaluatorsRow> = self
            .all(
                &format!("SELECT prompt_id, evaluators {HAVING_EVALUATORS}"),
                &[workspace_id.into(), prompt_ids.into()],
            )
            .await?;
        Ok(rows.into_iter().map(|r| (r.prompt_id, r.evaluators)).collect())
    }

    /// Which of several prompts (a JSON array of ids) have evaluators.
    pub async fn prompts_with_evaluators(&self, workspace_id: &str, prompt_ids: &str) -> Result<Vec<String>> {
        #[derive(Deserialize)]
        struct Row {
            prompt_id: String,
        }
        let rows: Vec<Row> = self
            .all(
                &format!("SELECT prompt_id {HAVING_EVALUATORS}"),
                &[workspace_id.into(), prompt_ids.into()],
            )
            .await?;
        Ok(rows.into_iter().map(|r| r.prompt_id).collect())
    }

    pub async fn put_evaluators(
        &self,
        workspace_id: &str,
        prompt_id: &str,
        evaluators: &[Evaluator],
        at: &str,
        audit: &AuditEntry,
    ) -> Result<()> {
        let stored = Value::Array(evaluators.iter().map(Evaluator::to_json).collect()).to_string();
        self.audited(
            self.stmt(
                "INSERT INTO prompt_evaluators (prompt_id, workspace_id, evaluators, updated_at) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (prompt_id) DO UPDATE SET evaluators = excluded.evaluators, updated_at = excluded.updated_at",
                &[prompt_id.into(), workspace_id.into(), (&stored).into(), at.into()],
            )?,
            audit,
        )
        .await
    }
}
