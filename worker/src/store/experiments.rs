//! A/B experiments and the versions their variants name.

use serde::Deserialize;
use worker::Result;

use pvct_core::api::{ExperimentStatus, ExperimentView};
use pvct_core::routing::VariantSpec;

use super::{json_column, Store};

/// An experiment as stored; its variants column decoded here.
#[derive(Deserialize)]
struct ExperimentRow {
    id: String,
    prompt: String,
    environment: String,
    name: String,
    salt: String,
    #[serde(deserialize_with = "json_column")]
    variants: Vec<VariantSpec>,
    status: ExperimentStatus,
    started_by: String,
    started_at: String,
    updated_at: String,
    ended_by: Option<String>,
    ended_at: Option<String>,
}

impl From<ExperimentRow> for ExperimentView {
    fn from(r: ExperimentRow) -> Self {
        ExperimentView {
            id: r.id,
            prompt: r.prompt,
            environment: r.environment,
            name: r.name,
            salt: r.salt,
            variants: r.variants,
            status: r.status,
            started_by: r.started_by,
            started_at: r.started_at,
            updated_at: r.updated_at,
            ended_by: r.ended_by,
            ended_at: r.ended_at,
        }
    }
}

/// One variant's version, for the resolved document.
#[derive(Debug, Clone, Deserialize)]
pub struct VariantVersionRow {
    pub experiment_id: String,
    pub number: u32,
    pub version_id: String,
    #[serde(flatten)]
    pub body: super::deployments::VersionBody,
}

impl Store {
    const EXPERIMENT_SELECT: &'static str = "SELECT x.id, p.slug AS prompt, e.name AS environment, x.name, x.salt, \
         x.variants, x.status, x.started_by, x.started_at, x.updated_at, x.ended_by, x.ended_at \
         FROM experiments x JOIN prompts p ON p.id = x.prompt_id JOIN environments e ON e.id = x.environment_id";

    pub async fn running_experiment(&self, prompt_id: &str, environment_id: &str) -> Result<Option<ExperimentView>> {
        let row: Option<ExperimentRow> = self
            .first(
                &format!(
                    "{} WHERE x.prompt_id = ? AND x.environment_id = ? AND x.status = 'running'",
                    Self::EXPERIMENT_SELECT
                ),
                &[prompt_id.into(), environment_id.into()],
            )
            .await?;
        Ok(row.map(ExperimentView::from))
    }

    /// Running experiments in one environment, optionally of one prompt.
    pub async fn running_experiments(
        &self,
        environment_id: &str,
        prompt_slug: Option<&str>,
    ) -> Result<Vec<ExperimentView>> {
        let rows: Vec<ExperimentRow> = self
            .all(
                &format!(
                    "{} WHERE x.environment_id = ? AND x.status = 'running' AND (?2 IS NULL OR p.slug = ?2)",
                    Self::EXPERIMENT_SELECT
                ),
                &[environment_id.into(), prompt_slug.into()],
            )
            .await?;
        Ok(rows.into_iter().map(ExperimentView::from).collect())
    }

    pub async fn list_experiments(&self, prompt_id: &str) -> Result<Vec<ExperimentView>> {
        let rows: Vec<ExperimentRow> = self
            .all(
                &format!(
                    "{} WHERE x.prompt_id = ? ORDER BY x.started_at DESC, x.id",
                    Self::EXPERIMENT_SELECT
                ),
                &[prompt_id.into()],
            )
            .await?;
        Ok(rows.into_iter().map(ExperimentView::from).collect())
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
}
