//! Deployments: the history of promotions and rollbacks, and what is live.

use serde::Deserialize;
use worker::Result;

use pvct_core::api::DeploymentView;
use pvct_core::deployment::{DeploymentAction, DeploymentStep};

use super::{before_bound, json_column, json_column_or_default, Store};

/// One deployment of the history, with its place in it (for pages).
#[derive(Debug, Clone, Deserialize)]
pub struct DeploymentRow {
    pub seq: u32,
    #[serde(flatten)]
    pub view: DeploymentView,
}

/// What a resolved document needs of a version: its expanded content,
/// parameters, variables and hash (the live version and experiment
/// variants alike).
#[derive(Debug, Clone, Deserialize)]
pub struct VersionBody {
    #[serde(deserialize_with = "json_column")]
    pub content: serde_json::Value,
    #[serde(deserialize_with = "json_column")]
    pub model_params: serde_json::Value,
    /// Versions written before variables were recorded decode as none.
    #[serde(deserialize_with = "json_column_or_default")]
    pub variables: pvct_core::render::VersionVariables,
    pub content_hash: String,
}

/// The live deployment of a prompt in an environment, with everything the
/// resolved document needs.
#[derive(Debug, Clone, Deserialize)]
pub struct LiveRow {
    pub environment_id: String,
    pub slug: String,
    pub name: String,
    pub kind: String,
    pub environment: String,
    pub version: u32,
    pub version_id: String,
    #[serde(flatten)]
    pub body: VersionBody,
    pub deployment_id: String,
    pub deployed_at: String,
}

const LIVE_SELECT: &str =
    "SELECT e.id AS environment_id, p.slug, p.name, p.kind, e.name AS environment, v.number AS version, \
     v.id AS version_id, COALESCE(v.resolved_content, v.content) AS content, v.model_params, v.variables, v.content_hash, d.id AS deployment_id, \
     d.created_at AS deployed_at \
     FROM deployments d \
     JOIN prompts p ON p.id = d.prompt_id \
     JOIN environments e ON e.id = d.environment_id \
     JOIN prompt_versions v ON v.id = d.version_id \
     WHERE d.seq = (SELECT MAX(seq) FROM deployments d2 \
                    WHERE d2.prompt_id = d.prompt_id AND d2.environment_id = d.environment_id)";

impl Store {
    /// The deployment steps of one prompt in one environment, oldest first.
    pub async fn deployment_steps(&self, prompt_id: &str, environment_id: &str) -> Result<Vec<DeploymentStep>> {
        #[derive(Deserialize)]
        struct Row {
            action: String,
            version: u32,
        }
        let rows: Vec<Row> = self
            .all(
                "SELECT d.action, v.number AS version FROM deployments d JOIN prompt_versions v ON v.id = d.version_id \
                 WHERE d.prompt_id = ? AND d.environment_id = ? ORDER BY d.seq",
                &[prompt_id.into(), environment_id.into()],
            )
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                DeploymentAction::parse(&r.action).map(|action| DeploymentStep {
                    action,
                    version: r.version,
                })
            })
            .collect())
    }

    pub async fn list_deployments(
        &self,
        prompt_id: &str,
        environment: Option<&str>,
        before_seq: Option<u32>,
        limit: u32,
    ) -> Result<Vec<DeploymentRow>> {
        self.all(
            "SELECT d.seq, d.id, e.name AS environment, v.number AS version, v.id AS version_id, d.action, d.reason, \
             d.actor, d.created_at FROM deployments d JOIN environments e ON e.id = d.environment_id \
             JOIN prompt_versions v ON v.id = d.version_id \
             WHERE d.prompt_id = ? AND (?2 IS NULL OR e.name = ?2) AND d.seq < ?3 ORDER BY d.seq DESC LIMIT ?4",
            &[
                prompt_id.into(),
                environment.into(),
                before_bound(before_seq),
                limit.into(),
            ],
        )
        .await
    }

    /// What is live of one prompt, in every environment.
    pub async fn live_of_prompt(&self, prompt_id: &str) -> Result<Vec<LiveRow>> {
        self.all(
            &format!("{LIVE_SELECT} AND d.prompt_id = ? ORDER BY e.position"),
            &[prompt_id.into()],
        )
        .await
    }

    /// What is live of one prompt in one environment.
    pub async fn live(&self, workspace_id: &str, slug: &str, environment: &str) -> Result<Option<LiveRow>> {
        self.first(
            &format!("{LIVE_SELECT} AND p.workspace_id = ? AND p.slug = ? AND e.name = ?"),
            &[workspace_id.into(), slug.into(), environment.into()],
        )
        .await
    }

    /// Every prompt live in one environment.
    pub async fn live_in_environment(&self, environment_id: &str) -> Result<Vec<LiveRow>> {
        self.all(
            &format!("{LIVE_SELECT} AND d.environment_id = ? ORDER BY p.slug"),
            &[environment_id.into()],
        )
        .await
    }

    /// The slugs of every prompt live in one environment (no content: what
    /// a shard's rebuild picks its prompts from).
    pub async fn live_slugs(&self, environment_id: &str) -> Result<Vec<String>> {
        #[derive(Deserialize)]
        struct Row {
            slug: String,
        }
        let rows: Vec<Row> = self
            .all(
                "SELECT DISTINCT p.slug FROM deployments d JOIN prompts p ON p.id = d.prompt_id \
                 WHERE d.environment_id = ? ORDER BY p.slug",
                &[environment_id.into()],
            )
            .await?;
        Ok(rows.into_iter().map(|r| r.slug).collect())
    }

    /// What is live in one environment of the prompts named.
    pub async fn live_among(&self, environment_id: &str, slugs: &[&str]) -> Result<Vec<LiveRow>> {
        self.all(
            &format!(
                "{LIVE_SELECT} AND d.environment_id = ? AND p.slug IN (SELECT value FROM json_each(?)) ORDER BY p.slug"
            ),
            &[environment_id.into(), (&super::encode(slugs)?).into()],
        )
        .await
    }

    /// When promotions into `environment` happened since `since` (a day).
    pub async fn promotion_days(&self, workspace_id: &str, environment: &str, since: &str) -> Result<Vec<String>> {
        #[derive(Deserialize)]
        struct Row {
            day: String,
        }
        let rows: Vec<Row> = self
            .all(
                "SELECT substr(d.created_at, 1, 10) AS day FROM deployments d JOIN environments e ON e.id = d.environment_id \
                 WHERE d.workspace_id = ? AND e.name = ? AND d.action = 'promote' AND d.created_at >= ?",
                &[workspace_id.into(), environment.into(), since.into()],
            )
            .await?;
        Ok(rows.into_iter().map(|r| r.day).collect())
    }
}
