//! Prompt versions: commits, history, and which versions pin a snippet.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use worker::Result;

use pvct_core::audit::AuditEntry;
use pvct_core::render::VersionVariables;
use pvct_core::template::IncludeGraph;
use pvct_core::webhook::Outgoing;

use super::{before_bound, json_column, json_column_opt, json_column_or_default, Store};

#[derive(Debug, Clone, Deserialize)]
pub struct VersionRow {
    pub id: String,
    pub number: u32,
    pub parent_number: Option<u32>,
    #[serde(deserialize_with = "json_column")]
    pub content: Value,
    /// The content with its includes expanded; versions written before
    /// includes existed have none.
    #[serde(deserialize_with = "json_column_opt")]
    pub resolved_content: Option<Value>,
    // Versions written before variables were recorded hold "[]": no variables.
    #[serde(deserialize_with = "json_column_or_default")]
    pub variables: VersionVariables,
    #[serde(deserialize_with = "json_column")]
    pub snippet_pins: IncludeGraph,
    #[serde(deserialize_with = "json_column")]
    pub model_params: Value,
    pub content_hash: String,
    pub author: String,
    pub commit_msg: String,
    pub created_at: String,
}

impl VersionRow {
    /// The content as served: includes expanded.
    pub fn expanded(&self) -> &Value {
        self.resolved_content.as_ref().unwrap_or(&self.content)
    }
}

pub struct NewVersion<'a> {
    pub id: &'a str,
    pub prompt_id: &'a str,
    pub number: u32,
    pub parent_id: Option<&'a str>,
    pub content: &'a str,
    pub resolved_content: &'a str,
    pub variables: &'a str,
    pub snippet_pins: &'a str,
    pub model_params: &'a str,
    pub content_hash: &'a str,
    pub author: &'a str,
    pub message: &'a str,
    pub at: &'a str,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DependentRow {
    pub prompt: String,
    pub head_version: u32,
    pub pinned_version: u32,
}

const VERSION_COLUMNS: &str = "v.id, v.number, p2.number AS parent_number, v.content, v.resolved_content, v.variables, v.snippet_pins, v.model_params, \
     v.content_hash, v.author, v.commit_msg, v.created_at";

impl Store {
    pub async fn head(&self, prompt_id: &str) -> Result<Option<VersionRow>> {
        self.first(
            &format!(
                "SELECT {VERSION_COLUMNS} FROM prompt_versions v LEFT JOIN prompt_versions p2 ON p2.id = v.parent_id \
                 WHERE v.prompt_id = ? ORDER BY v.number DESC LIMIT 1"
            ),
            &[prompt_id.into()],
        )
        .await
    }

    pub async fn version(&self, prompt_id: &str, number: u32) -> Result<Option<VersionRow>> {
        self.first(
            &format!(
                "SELECT {VERSION_COLUMNS} FROM prompt_versions v LEFT JOIN prompt_versions p2 ON p2.id = v.parent_id \
                 WHERE v.prompt_id = ? AND v.number = ?"
            ),
            &[prompt_id.into(), number.into()],
        )
        .await
    }

    /// A page of versions, newest first; without `with_content` the
    /// content columns are not read (they read as JSON null).
    pub async fn list_versions(
        &self,
        prompt_id: &str,
        before: Option<u32>,
        limit: u32,
        with_content: bool,
    ) -> Result<Vec<VersionRow>> {
        let columns = if with_content {
            VERSION_COLUMNS.to_owned()
        } else {
            VERSION_COLUMNS.replace(
                "v.content, v.resolved_content",
                "'null' AS content, NULL AS resolved_content",
            )
        };
        self.all(
            &format!(
                "SELECT {columns} FROM prompt_versions v LEFT JOIN prompt_versions p2 ON p2.id = v.parent_id \
                 WHERE v.prompt_id = ? AND v.number < ? ORDER BY v.number DESC LIMIT ?"
            ),
            &[prompt_id.into(), before_bound(before), limit.into()],
        )
        .await
    }

    /// Inserts a version; fails (and writes nothing) if its number is taken,
    /// which is how a concurrent commit on the same head loses.
    /// With the webhook deliveries the version causes (`outbox`), in one batch.
    pub async fn insert_version(
        &self,
        v: &NewVersion<'_>,
        audit: &AuditEntry,
        outbox: (&[Outgoing], String),
    ) -> Result<()> {
        let mut batch = vec![
            self.stmt(
                "INSERT INTO prompt_versions (id, prompt_id, number, parent_id, content, resolved_content, variables, \
                 snippet_pins, model_params, content_hash, author, commit_msg, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                &[
                    v.id.into(),
                    v.prompt_id.into(),
                    v.number.into(),
                    v.parent_id.into(),
                    v.content.into(),
                    v.resolved_content.into(),
                    v.variables.into(),
                    v.snippet_pins.into(),
                    v.model_params.into(),
                    v.content_hash.into(),
                    v.author.into(),
                    v.message.into(),
                    v.at.into(),
                ],
            )?,
            self.audit_stmt(audit)?,
        ];
        if !outbox.0.is_empty() {
            batch.push(self.outbox_stmt(&audit.workspace_id, outbox.0, v.at, &outbox.1)?);
        }
        self.batch(batch).await
    }

    /// The head versions that pin snippet `slug`, with the pinned number.
    pub async fn dependents(&self, workspace_id: &str, slug: &str) -> Result<Vec<DependentRow>> {
        self.all(
            "SELECT p.slug AS prompt, v.number AS head_version, \
             CAST(json_extract(v.snippet_pins, '$.pins.' || json_quote(?2)) AS INTEGER) AS pinned_version \
             FROM prompt_versions v JOIN prompts p ON p.id = v.prompt_id \
             WHERE p.workspace_id = ?1 \
             AND v.number = (SELECT MAX(number) FROM prompt_versions WHERE prompt_id = v.prompt_id) \
             AND json_extract(v.snippet_pins, '$.pins.' || json_quote(?2)) IS NOT NULL ORDER BY p.slug",
            &[workspace_id.into(), slug.into()],
        )
        .await
    }

    pub async fn version_numbers(&self, prompt_id: &str) -> Result<Vec<u32>> {
        #[derive(Deserialize)]
        struct Row {
            number: u32,
        }
        let rows: Vec<Row> = self
            .all(
                "SELECT number FROM prompt_versions WHERE prompt_id = ?",
                &[prompt_id.into()],
            )
            .await?;
        Ok(rows.into_iter().map(|r| r.number).collect())
    }

    /// Which of `version_ids` are versions of this workspace: id → prompt id.
    pub async fn versions_in_workspace(&self, workspace_id: &str, version_ids: &str) -> Result<Vec<(String, String)>> {
        #[derive(Deserialize)]
        struct Row {
            id: String,
            prompt_id: String,
        }
        let rows: Vec<Row> = self
            .all(
                "SELECT v.id, v.prompt_id FROM prompt_versions v JOIN prompts p ON p.id = v.prompt_id \
                 WHERE p.workspace_id = ? AND v.id IN (SELECT value FROM json_each(?))",
                &[workspace_id.into(), version_ids.into()],
            )
            .await?;
        Ok(rows.into_iter().map(|r| (r.id, r.prompt_id)).collect())
    }
}
