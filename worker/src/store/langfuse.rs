//! What the Langfuse-compatible API stores beside the registry: each
//! prompt's Langfuse name and tags (`prompt_names`), and the reads its list
//! and views need.

use serde::Deserialize;
use worker::Result;

use pvct_core::audit::AuditEntry;

use super::{json_column, PromptRow, Store};

/// A prompt with its Langfuse name and tags.
pub struct NamedPrompt {
    pub prompt: PromptRow,
    pub name: String,
    pub tags: Vec<String>,
}

#[derive(Deserialize)]
struct NameRow {
    id: String,
    slug: String,
    kind: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default, deserialize_with = "super::json_column_opt")]
    tags: Option<Vec<String>>,
}

/// One version, as the compatibility list needs it.
#[derive(Deserialize)]
pub struct VersionStamp {
    pub prompt_id: String,
    pub number: u32,
    pub created_at: String,
    #[serde(deserialize_with = "json_column")]
    pub model_params: serde_json::Value,
}

/// What is deployed where, per prompt.
#[derive(Deserialize)]
pub struct LiveStamp {
    pub prompt_id: String,
    pub environment: String,
    pub version: u32,
}

const PROMPT_COLUMNS: &str = "p.id, p.slug, p.name, p.description, p.kind, p.created_by, p.created_at";

impl Store {
    /// The prompt a Langfuse name stands for: its recorded name, else a
    /// native prompt whose slug is the name.
    pub async fn prompt_by_name(&self, workspace_id: &str, name: &str) -> Result<Option<NamedPrompt>> {
        #[derive(Deserialize)]
        struct Row {
            #[serde(flatten)]
            prompt: PromptRow,
            #[serde(default)]
            external: Option<String>,
            #[serde(default, deserialize_with = "super::json_column_opt")]
            tags: Option<Vec<String>>,
        }
        let row: Option<Row> = self
            .first(
                &format!(
                    "SELECT {PROMPT_COLUMNS}, n.name AS external, n.tags FROM prompt_names n \
                     JOIN prompts p ON p.id = n.prompt_id WHERE n.workspace_id = ?1 AND n.name = ?2 \
                     UNION ALL SELECT {PROMPT_COLUMNS}, NULL, NULL FROM prompts p \
                     WHERE p.workspace_id = ?1 AND p.slug = ?2 \
                       AND NOT EXISTS (SELECT 1 FROM prompt_names m WHERE m.prompt_id = p.id) \
                     LIMIT 1"
                ),
                &[workspace_id.into(), name.into()],
            )
            .await?;
        Ok(row.map(|r| NamedPrompt {
            name: r.external.unwrap_or_else(|| r.prompt.slug.clone()),
            tags: r.tags.unwrap_or_default(),
            prompt: r.prompt,
        }))
    }

    /// A new prompt under a Langfuse name, with its audit row.
    pub async fn create_named_prompt(
        &self,
        workspace_id: &str,
        p: &PromptRow,
        name: &str,
        tags: &[String],
        audit: &AuditEntry,
    ) -> Result<()> {
        let tags = serde_json::to_string(tags).map_err(|e| worker::Error::RustError(e.to_string()))?;
        self.batch(vec![
            self.stmt(
                "INSERT INTO prompts (id, workspace_id, slug, name, description, kind, created_by, created_at) \
                 VALUES (?, ?, ?, ?, '', ?, ?, ?)",
                &[
                    (&p.id).into(),
                    workspace_id.into(),
                    (&p.slug).into(),
                    (&p.name).into(),
                    (&p.kind).into(),
                    p.created_by.as_deref().into(),
                    (&p.created_at).into(),
                ],
            )?,
            self.stmt(
                "INSERT INTO prompt_names (workspace_id, name, prompt_id, tags) VALUES (?, ?, ?, ?)",
                &[workspace_id.into(), name.into(), (&p.id).into(), (&tags).into()],
            )?,
            self.audit_stmt(audit)?,
        ])
        .await
    }

    /// Records a prompt's Langfuse name and tags (upsert).
    pub async fn set_name_and_tags(
        &self,
        workspace_id: &str,
        prompt_id: &str,
        name: &str,
        tags: &[String],
    ) -> Result<()> {
        let tags = serde_json::to_string(tags).map_err(|e| worker::Error::RustError(e.to_string()))?;
        self.stmt(
            "INSERT INTO prompt_names (workspace_id, name, prompt_id, tags) VALUES (?, ?, ?, ?) \
             ON CONFLICT (prompt_id) DO UPDATE SET tags = excluded.tags",
            &[workspace_id.into(), name.into(), prompt_id.into(), (&tags).into()],
        )?
        .run()
        .await
        .map(|_| ())
    }

    /// Every text and chat prompt of a workspace: (id, kind, Langfuse name
    /// or slug, tags).
    pub async fn named_prompts(&self, workspace_id: &str) -> Result<Vec<(String, String, String, Vec<String>)>> {
        let rows: Vec<NameRow> = self
            .all(
                "SELECT p.id, p.slug, p.kind, n.name, n.tags FROM prompts p LEFT JOIN prompt_names n ON n.prompt_id = p.id \
                 WHERE p.workspace_id = ? AND p.kind != 'snippet' ORDER BY p.slug LIMIT 10000",
                &[workspace_id.into()],
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let name = r.name.unwrap_or_else(|| r.slug.clone());
                (r.id, r.kind, name, r.tags.unwrap_or_default())
            })
            .collect())
    }

    /// The versions of every prompt of a workspace.
    pub async fn version_stamps(&self, workspace_id: &str) -> Result<Vec<VersionStamp>> {
        self.all(
            "SELECT v.prompt_id, v.number, v.created_at, v.model_params FROM prompt_versions v \
             JOIN prompts p ON p.id = v.prompt_id WHERE p.workspace_id = ? ORDER BY v.prompt_id, v.number",
            &[workspace_id.into()],
        )
        .await
    }

    /// What is deployed in each environment, per prompt of a workspace.
    pub async fn live_stamps(&self, workspace_id: &str) -> Result<Vec<LiveStamp>> {
        self.all(
            "SELECT d.prompt_id, e.name AS environment, v.number AS version FROM deployments d \
             JOIN environments e ON e.id = d.environment_id JOIN prompt_versions v ON v.id = d.version_id \
             WHERE d.workspace_id = ? AND d.seq = (SELECT MAX(seq) FROM deployments d2 \
               WHERE d2.prompt_id = d.prompt_id AND d2.environment_id = d.environment_id)",
            &[workspace_id.into()],
        )
        .await
    }

    /// Langfuse names of the given slugs (for references shown unresolved).
    pub async fn names_of_slugs(&self, workspace_id: &str, slugs: &[String]) -> Result<Vec<(String, String)>> {
        #[derive(Deserialize)]
        struct Row {
            slug: String,
            name: String,
        }
        let slugs = serde_json::to_string(slugs).map_err(|e| worker::Error::RustError(e.to_string()))?;
        let rows: Vec<Row> = self
            .all(
                "SELECT p.slug, COALESCE(n.name, p.slug) AS name FROM prompts p \
                 LEFT JOIN prompt_names n ON n.prompt_id = p.id \
                 WHERE p.workspace_id = ? AND p.slug IN (SELECT value FROM json_each(?))",
                &[workspace_id.into(), (&slugs).into()],
            )
            .await?;
        Ok(rows.into_iter().map(|r| (r.slug, r.name)).collect())
    }
}
