//! A/B experiments and the versions their variants name.

use serde::Deserialize;
use worker::Result;

use pvct_core::audit::AuditEntry;

use super::Store;

#[derive(Debug, Clone, Deserialize)]
pub struct ExperimentRow {
    pub id: String,
    pub prompt_slug: String,
    pub environment: String,
    pub name: String,
    pub salt: String,
    pub variants: String,
    pub status: String,
    pub started_by: String,
    pub started_at: String,
    pub updated_at: String,
    pub ended_by: Option<String>,
    pub ended_at: Option<String>,
}

/// One variant's version, for the resolved document.
#[derive(Debug, Clone, Deserialize)]
pub struct VariantVersionRow {
    pub experiment_id: String,
    pub number: u32,
    pub version_id: String,
    pub content: String,
    pub model_params: String,
    pub variables: String,
    pub content_hash: String,
}

pub struct NewExperiment<'a> {
    pub id: &'a str,
    pub workspace_id: &'a str,
    pub prompt_id: &'a str,
    pub environment_id: &'a str,
    pub name: &'a str,
    pub salt: &'a str,
    pub variants: &'a str,
    pub actor: &'a str,
    pub at: &'a str,
}

impl Store {
    const EXPERIMENT_SELECT: &'static str =
        "SELECT x.id, p.slug AS prompt_slug, e.name AS environment, x.name, x.salt, \
         x.variants, x.status, x.started_by, x.started_at, x.updated_at, x.ended_by, x.ended_at \
         FROM experiments x JOIN prompts p ON p.id = x.prompt_id JOIN environments e ON e.id = x.environment_id";

    pub async fn running_experiment(&self, prompt_id: &str, environment_id: &str) -> Result<Option<ExperimentRow>> {
        self.first(
            &format!(
                "{} WHERE x.prompt_id = ? AND x.environment_id = ? AND x.status = 'running'",
                Self::EXPERIMENT_SELECT
            ),
            &[prompt_id.into(), environment_id.into()],
        )
        .await
    }

    /// Running experiments in one environment, optionally of one prompt.
    pub async fn running_experiments(
        &self,
        environment_id: &str,
        prompt_slug: Option<&str>,
    ) -> Result<Vec<ExperimentRow>> {
        self.all(
            &format!(
                "{} WHERE x.environment_id = ? AND x.status = 'running' AND (?2 IS NULL OR p.slug = ?2)",
                Self::EXPERIMENT_SELECT
            ),
            &[environment_id.into(), prompt_slug.into()],
        )
        .await
    }

    pub async fn list_experiments(&self, prompt_id: &str) -> Result<Vec<ExperimentRow>> {
        self.all(
            &format!(
                "{} WHERE x.prompt_id = ? ORDER BY x.started_at DESC, x.id",
                Self::EXPERIMENT_SELECT
            ),
            &[prompt_id.into()],
        )
        .await
    }

    /// The versions named by running experiments' variants in one environment.
    pub async fn variant_versions(
        &self,
        environment_id: &str,
        prompt_slug: Option<&str>,
    ) -> Result<Vec<VariantVersionRow>> {
        self.all(
            "SELECT x.id AS experiment_id, v.number, v.id AS version_id, COALESCE(v.resolved_content, v.content) AS content, v.model_params, v.variables, v.content_hash \
             FROM experiments x JOIN prompts p ON p.id = x.prompt_id, json_each(x.variants) j \
             JOIN prompt_versions v ON v.prompt_id = x.prompt_id AND v.number = json_extract(j.value, '$.version') \
             WHERE x.environment_id = ?1 AND x.status = 'running' AND (?2 IS NULL OR p.slug = ?2)",
            &[environment_id.into(), prompt_slug.into()],
        )
        .await
    }

    pub async fn start_experiment(&self, x: &NewExperiment<'_>, audit: &AuditEntry) -> Result<()> {
        self.audited(
            self.stmt(
                "INSERT INTO experiments (id, workspace_id, prompt_id, environment_id, name, salt, variants, status, \
                 started_by, started_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?)",
                &[
                    x.id.into(),
                    x.workspace_id.into(),
                    x.prompt_id.into(),
                    x.environment_id.into(),
                    x.name.into(),
                    x.salt.into(),
                    x.variants.into(),
                    x.actor.into(),
                    x.at.into(),
                    x.at.into(),
                ],
            )?,
            audit,
        )
        .await
    }

    pub async fn update_experiment(
        &self,
        id: &str,
        name: &str,
        salt: &str,
        variants: &str,
        at: &str,
        audit: &AuditEntry,
    ) -> Result<()> {
        self.audited(
        self.stmt(
            "UPDATE experiments SET name = ?, salt = ?, variants = ?, updated_at = ? WHERE id = ? AND status = 'running'",
            &[name.into(), salt.into(), variants.into(), at.into(), id.into()],
        )?,
        audit,
    )
        .await
    }

    pub async fn end_experiment(&self, id: &str, actor: &str, at: &str, audit: &AuditEntry) -> Result<()> {
        self.audited(
            self.stmt(
                "UPDATE experiments SET status = 'ended', ended_by = ?, ended_at = ?, updated_at = ? \
                 WHERE id = ? AND status = 'running'",
                &[actor.into(), at.into(), at.into(), id.into()],
            )?,
            audit,
        )
        .await
    }
}
