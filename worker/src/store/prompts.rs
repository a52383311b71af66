//! Prompts.

use worker::Result;

use pvct_core::api::PromptView;
use pvct_core::audit::AuditEntry;
use pvct_core::page::PageRequest;

use super::Store;

/// A prompt row holds exactly what the API shows of a prompt.
pub type PromptRow = PromptView;

impl Store {
    /// A prompt's kind by id (the queue's jobs know prompts by id).
    pub async fn prompt_kind(&self, prompt_id: &str) -> Result<Option<String>> {
        #[derive(serde::Deserialize)]
        struct Row {
            kind: String,
        }
        let row: Option<Row> = self
            .first("SELECT kind FROM prompts WHERE id = ?", &[prompt_id.into()])
            .await?;
        Ok(row.map(|r| r.kind))
    }

    pub async fn prompt(&self, workspace_id: &str, slug: &str) -> Result<Option<PromptRow>> {
        self.first(
            "SELECT id, slug, name, description, kind, created_by, created_at FROM prompts \
             WHERE workspace_id = ? AND slug = ?",
            &[workspace_id.into(), slug.into()],
        )
        .await
    }

    pub async fn list_prompts(&self, workspace_id: &str, page: &PageRequest) -> Result<Vec<PromptRow>> {
        self.all(
            "SELECT id, slug, name, description, kind, created_by, created_at FROM prompts \
             WHERE workspace_id = ? AND slug > ? ORDER BY slug LIMIT ?",
            &[
                workspace_id.into(),
                page.after.as_deref().unwrap_or("").into(),
                page.fetch_size().into(),
            ],
        )
        .await
    }

    pub async fn create_prompt(&self, p: &PromptRow, workspace_id: &str, audit: &AuditEntry) -> Result<()> {
        self.audited(
            self.stmt(
                "INSERT INTO prompts (id, workspace_id, slug, name, description, kind, created_by, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                &[
                    (&p.id).into(),
                    workspace_id.into(),
                    (&p.slug).into(),
                    (&p.name).into(),
                    (&p.description).into(),
                    (&p.kind).into(),
                    p.created_by.as_deref().into(),
                    (&p.created_at).into(),
                ],
            )?,
            audit,
        )
        .await
    }
}
