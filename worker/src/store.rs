//! Every SQL statement of the worker. D1 is the source of truth; each state
//! change is one `batch` (one transaction) that includes its audit row, so a
//! change and its audit entry land together or not at all.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use worker::wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, Result};

use pvct_core::audit::AuditAction;
use pvct_core::deployment::{DeploymentAction, DeploymentStep};
use pvct_core::page::PageRequest;
use pvct_core::settings::{Settings, DEFAULT_RETENTION_DAYS};

/// Something SQL can bind.
pub enum Arg<'a> {
    Text(&'a str),
    Int(i64),
    Null,
}

impl From<&Arg<'_>> for JsValue {
    fn from(arg: &Arg<'_>) -> JsValue {
        match arg {
            Arg::Text(s) => JsValue::from_str(s),
            Arg::Int(n) => JsValue::from_f64(*n as f64),
            Arg::Null => JsValue::NULL,
        }
    }
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(s: &'a str) -> Self {
        Arg::Text(s)
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(s: &'a String) -> Self {
        Arg::Text(s)
    }
}

impl From<u32> for Arg<'_> {
    fn from(n: u32) -> Self {
        Arg::Int(i64::from(n))
    }
}

impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(s: Option<&'a str>) -> Self {
        s.map_or(Arg::Null, Arg::Text)
    }
}

/// Stands for "no upper bound" in keyset pagination; exact as a JS number.
const MAX_SAFE_INTEGER: i64 = 9_007_199_254_740_991;

pub struct Store {
    db: D1Database,
}

// ---- rows -------------------------------------------------------------------

#[derive(Debug, Clone, Deserialize)]
pub struct KeyRow {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub role: String,
    pub key_prefix: String,
    pub revoked_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyListRow {
    pub id: String,
    pub name: String,
    pub role: String,
    pub key_prefix: String,
    pub created_by: Option<String>,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkspaceRow {
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EnvironmentRow {
    pub id: String,
    pub name: String,
    pub position: u32,
    pub policy: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PromptRow {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub kind: String,
    pub created_by: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct VersionRow {
    pub id: String,
    pub number: u32,
    pub parent_number: Option<u32>,
    pub content: String,
    pub resolved_content: Option<String>,
    pub variables: String,
    pub snippet_pins: String,
    pub model_params: String,
    pub content_hash: String,
    pub author: String,
    pub commit_msg: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DeploymentRow {
    pub seq: u32,
    pub id: String,
    pub environment: String,
    pub version: u32,
    pub version_id: String,
    pub action: String,
    pub reason: String,
    pub actor: String,
    pub created_at: String,
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
    pub content: String,
    pub model_params: String,
    pub variables: String,
    pub content_hash: String,
    pub deployment_id: String,
    pub deployed_at: String,
}

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

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PriceRow {
    pub model: String,
    pub input_per_million: f64,
    pub output_per_million: f64,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApprovalRow {
    pub id: String,
    pub prompt: String,
    pub environment: String,
    pub version: u32,
    pub reason: String,
    pub status: String,
    pub requested_by: String,
    #[serde(skip_serializing)]
    pub requested_by_key: String,
    pub decided_by: Option<String>,
    pub decision_note: Option<String>,
    pub created_at: String,
    pub decided_at: Option<String>,
}

pub struct NewApproval<'a> {
    pub id: &'a str,
    pub workspace_id: &'a str,
    pub prompt_id: &'a str,
    pub environment_id: &'a str,
    pub version_id: &'a str,
    pub reason: &'a str,
    pub requested_by: &'a str,
    pub requested_by_key: &'a str,
    pub at: &'a str,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RollupRow {
    pub version: u32,
    pub version_id: String,
    pub calls: u64,
    pub errors: u64,
    pub cost_sum: f64,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub score_sum: f64,
    pub score_sq_sum: f64,
    pub score_count: u64,
    pub feedback_up: u64,
    pub feedback_down: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct BucketRow {
    pub version_id: String,
    pub bucket: usize,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DependentRow {
    pub prompt: String,
    pub head_version: u32,
    pub pinned_version: u32,
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

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditRow {
    pub seq: u32,
    pub id: String,
    pub actor: String,
    pub action: String,
    pub prompt_slug: Option<String>,
    pub target: String,
    pub details: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WebhookRow {
    pub id: String,
    pub url: String,
    pub secret: String,
    /// A JSON array of event names.
    pub events: String,
    pub created_by: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DeliveryRow {
    pub id: String,
    pub event: String,
    pub payload: String,
    pub status: String,
    pub attempts: u32,
    pub url: String,
    pub secret: String,
    pub deleted: u8,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EvaluatorRollupRow {
    pub version_id: String,
    pub evaluator: String,
    pub score_sum: f64,
    pub score_count: u64,
}

/// An audit row to write in the same batch as the change it records.
pub struct AuditEntry<'a> {
    pub id: &'a str,
    pub workspace_id: &'a str,
    pub actor: &'a str,
    pub action: AuditAction,
    pub prompt_slug: Option<&'a str>,
    pub target: &'a str,
    pub details: Value,
    pub at: &'a str,
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

pub struct NewDeployment<'a> {
    pub id: &'a str,
    pub workspace_id: &'a str,
    pub prompt_id: &'a str,
    pub environment_id: &'a str,
    pub version_id: &'a str,
    pub action: DeploymentAction,
    pub reason: &'a str,
    pub actor: &'a str,
    pub at: &'a str,
}

pub struct NewKey<'a> {
    pub id: &'a str,
    pub workspace_id: &'a str,
    pub name: &'a str,
    pub role: &'a str,
    pub key_hash: &'a str,
    pub key_prefix: &'a str,
    pub created_by: Option<&'a str>,
    pub at: &'a str,
}

pub struct AuditFilter<'a> {
    pub prompt: Option<&'a str>,
    pub actor: Option<&'a str>,
    pub action: Option<&'a str>,
}

const VERSION_COLUMNS: &str = "v.id, v.number, p2.number AS parent_number, v.content, v.resolved_content, v.variables, v.snippet_pins, v.model_params, \
     v.content_hash, v.author, v.commit_msg, v.created_at";

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
    pub fn new(db: D1Database) -> Self {
        Store { db }
    }

    fn stmt(&self, sql: &str, args: &[Arg<'_>]) -> Result<D1PreparedStatement> {
        let values: Vec<JsValue> = args.iter().map(JsValue::from).collect();
        self.db.prepare(sql).bind(&values)
    }

    async fn first<T: for<'de> Deserialize<'de>>(&self, sql: &str, args: &[Arg<'_>]) -> Result<Option<T>> {
        self.stmt(sql, args)?.first::<T>(None).await
    }

    async fn all<T: for<'de> Deserialize<'de>>(&self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<T>> {
        self.stmt(sql, args)?.all().await?.results::<T>()
    }

    async fn batch(&self, statements: Vec<D1PreparedStatement>) -> Result<()> {
        self.db.batch(statements).await.map(|_| ())
    }

    fn audit_stmt(&self, e: &AuditEntry<'_>) -> Result<D1PreparedStatement> {
        let details = e.details.to_string();
        self.stmt(
            "INSERT INTO audit_log (id, workspace_id, actor, action, prompt_slug, target, details, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            &[
                e.id.into(),
                e.workspace_id.into(),
                e.actor.into(),
                e.action.as_str().into(),
                e.prompt_slug.into(),
                e.target.into(),
                (&details).into(),
                e.at.into(),
            ],
        )
    }

    // ---- keys and workspaces ------------------------------------------------

    pub async fn key_by_hash(&self, hash: &str) -> Result<Option<KeyRow>> {
        self.first(
            "SELECT id, workspace_id, name, role, key_prefix, revoked_at FROM api_keys WHERE key_hash = ?",
            &[hash.into()],
        )
        .await
    }

    fn key_stmt(&self, k: &NewKey<'_>) -> Result<D1PreparedStatement> {
        self.stmt(
            "INSERT INTO api_keys (id, workspace_id, name, role, key_hash, key_prefix, created_by, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            &[
                k.id.into(),
                k.workspace_id.into(),
                k.name.into(),
                k.role.into(),
                k.key_hash.into(),
                k.key_prefix.into(),
                k.created_by.into(),
                k.at.into(),
            ],
        )
    }

    pub async fn workspace_by_name(&self, name: &str) -> Result<Option<WorkspaceRow>> {
        self.first(
            "SELECT id, name, display_name, created_at FROM workspaces WHERE name = ?",
            &[name.into()],
        )
        .await
    }

    /// A workspace with its default environments and first admin key.
    pub async fn create_workspace(
        &self,
        ws: &WorkspaceRow,
        environments: &[(String, String)],
        key: &NewKey<'_>,
        audit: &AuditEntry<'_>,
    ) -> Result<()> {
        let mut batch = vec![self.stmt(
            "INSERT INTO workspaces (id, name, display_name, created_at) VALUES (?, ?, ?, ?)",
            &[
                (&ws.id).into(),
                (&ws.name).into(),
                (&ws.display_name).into(),
                (&ws.created_at).into(),
            ],
        )?];
        for (position, (id, name)) in environments.iter().enumerate() {
            batch.push(self.stmt(
                "INSERT INTO environments (id, workspace_id, name, position, policy, created_at, updated_at) \
                 VALUES (?, ?, ?, ?, '{}', ?, ?)",
                &[
                    id.into(),
                    (&ws.id).into(),
                    name.into(),
                    Arg::Int(position as i64),
                    (&ws.created_at).into(),
                    (&ws.created_at).into(),
                ],
            )?);
        }
        batch.push(self.key_stmt(key)?);
        batch.push(self.audit_stmt(audit)?);
        self.batch(batch).await
    }

    pub async fn create_key(&self, key: &NewKey<'_>, audit: &AuditEntry<'_>) -> Result<()> {
        self.batch(vec![self.key_stmt(key)?, self.audit_stmt(audit)?]).await
    }

    pub async fn list_keys(&self, workspace_id: &str) -> Result<Vec<KeyListRow>> {
        self.all(
            "SELECT id, name, role, key_prefix, created_by, created_at, revoked_at FROM api_keys \
             WHERE workspace_id = ? ORDER BY created_at, id",
            &[workspace_id.into()],
        )
        .await
    }

    pub async fn key_hash_in_workspace(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> Result<Option<(String, Option<String>)>> {
        #[derive(Deserialize)]
        struct Row {
            key_hash: String,
            revoked_at: Option<String>,
        }
        let row: Option<Row> = self
            .first(
                "SELECT key_hash, revoked_at FROM api_keys WHERE workspace_id = ? AND id = ?",
                &[workspace_id.into(), id.into()],
            )
            .await?;
        Ok(row.map(|r| (r.key_hash, r.revoked_at)))
    }

    pub async fn revoke_key(&self, workspace_id: &str, id: &str, at: &str, audit: &AuditEntry<'_>) -> Result<()> {
        self.batch(vec![
            self.stmt(
                "UPDATE api_keys SET revoked_at = ? WHERE workspace_id = ? AND id = ? AND revoked_at IS NULL",
                &[at.into(), workspace_id.into(), id.into()],
            )?,
            self.audit_stmt(audit)?,
        ])
        .await
    }

    // ---- environments ---------------------------------------------------------

    pub async fn environments(&self, workspace_id: &str) -> Result<Vec<EnvironmentRow>> {
        self.all(
            "SELECT id, name, position, policy, created_at, updated_at FROM environments \
             WHERE workspace_id = ? ORDER BY position, name",
            &[workspace_id.into()],
        )
        .await
    }

    pub async fn environment(&self, workspace_id: &str, name: &str) -> Result<Option<EnvironmentRow>> {
        self.first(
            "SELECT id, name, position, policy, created_at, updated_at FROM environments \
             WHERE workspace_id = ? AND name = ?",
            &[workspace_id.into(), name.into()],
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn put_environment(
        &self,
        workspace_id: &str,
        id: &str,
        name: &str,
        position: Option<u32>,
        policy: &str,
        at: &str,
        audit: &AuditEntry<'_>,
    ) -> Result<()> {
        let position = position.map_or(Arg::Null, |p| Arg::Int(i64::from(p)));
        let upsert = self.stmt(
            "INSERT INTO environments (id, workspace_id, name, position, policy, created_at, updated_at) \
             VALUES (?1, ?2, ?3, COALESCE(?4, (SELECT COALESCE(MAX(position), -1) + 1 FROM environments \
             WHERE workspace_id = ?2)), ?5, ?6, ?6) \
             ON CONFLICT (workspace_id, name) DO UPDATE SET \
             position = COALESCE(?4, environments.position), policy = excluded.policy, updated_at = excluded.updated_at",
            &[id.into(), workspace_id.into(), name.into(), position, policy.into(), at.into()],
        )?;
        self.batch(vec![upsert, self.audit_stmt(audit)?]).await
    }

    // ---- prompts and versions -------------------------------------------------

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

    pub async fn create_prompt(&self, p: &PromptRow, workspace_id: &str, audit: &AuditEntry<'_>) -> Result<()> {
        self.batch(vec![
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
            self.audit_stmt(audit)?,
        ])
        .await
    }

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

    pub async fn list_versions(&self, prompt_id: &str, before: Option<u32>, limit: u32) -> Result<Vec<VersionRow>> {
        self.all(
            &format!(
                "SELECT {VERSION_COLUMNS} FROM prompt_versions v LEFT JOIN prompt_versions p2 ON p2.id = v.parent_id \
                 WHERE v.prompt_id = ? AND v.number < ? ORDER BY v.number DESC LIMIT ?"
            ),
            &[
                prompt_id.into(),
                Arg::Int(before.map_or(MAX_SAFE_INTEGER, i64::from)),
                limit.into(),
            ],
        )
        .await
    }

    /// Inserts a version; fails (and writes nothing) if its number is taken,
    /// which is how a concurrent commit on the same head loses.
    pub async fn insert_version(&self, v: &NewVersion<'_>, audit: &AuditEntry<'_>) -> Result<()> {
        self.batch(vec![
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
        ])
        .await
    }

    // ---- deployments ------------------------------------------------------------

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

    pub async fn insert_deployment(&self, d: &NewDeployment<'_>, audit: &AuditEntry<'_>) -> Result<()> {
        self.batch(vec![
            self.stmt(
                "INSERT INTO deployments (id, workspace_id, prompt_id, environment_id, version_id, action, reason, \
                 actor, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                &[
                    d.id.into(),
                    d.workspace_id.into(),
                    d.prompt_id.into(),
                    d.environment_id.into(),
                    d.version_id.into(),
                    d.action.as_str().into(),
                    d.reason.into(),
                    d.actor.into(),
                    d.at.into(),
                ],
            )?,
            self.audit_stmt(audit)?,
        ])
        .await
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
                Arg::Int(before_seq.map_or(MAX_SAFE_INTEGER, i64::from)),
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

    // ---- experiments -------------------------------------------------------------

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

    pub async fn start_experiment(&self, x: &NewExperiment<'_>, audit: &AuditEntry<'_>) -> Result<()> {
        self.batch(vec![
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
            self.audit_stmt(audit)?,
        ])
        .await
    }

    pub async fn update_experiment(
        &self,
        id: &str,
        name: &str,
        salt: &str,
        variants: &str,
        at: &str,
        audit: &AuditEntry<'_>,
    ) -> Result<()> {
        self.batch(vec![
            self.stmt(
                "UPDATE experiments SET name = ?, salt = ?, variants = ?, updated_at = ? WHERE id = ? AND status = 'running'",
                &[name.into(), salt.into(), variants.into(), at.into(), id.into()],
            )?,
            self.audit_stmt(audit)?,
        ])
        .await
    }

    pub async fn end_experiment(&self, id: &str, actor: &str, at: &str, audit: &AuditEntry<'_>) -> Result<()> {
        self.batch(vec![
            self.stmt(
                "UPDATE experiments SET status = 'ended', ended_by = ?, ended_at = ?, updated_at = ? \
                 WHERE id = ? AND status = 'running'",
                &[actor.into(), at.into(), at.into(), id.into()],
            )?,
            self.audit_stmt(audit)?,
        ])
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

    /// Drops raw executions from days before `cutoff_day` that are already
    /// rolled up; rollups are kept. Returns how many rows went.
    /// Drops rolled-up raw executions (and their evaluator scores) older
    /// than each workspace's retention, counted back from `today`.
    pub async fn drop_expired_executions(&self, today: &str) -> Result<()> {
        let expired = format!(
            "day < date(?1, '-' || COALESCE((SELECT retention_days FROM workspace_settings s \
             WHERE s.workspace_id = executions.workspace_id), {DEFAULT_RETENTION_DAYS}) || ' days') AND rolled_up = 1"
        );
        self.batch(vec![
            self.stmt(
                &format!(
                    "DELETE FROM execution_scores WHERE rolled_up = 1 AND EXISTS (SELECT 1 FROM executions \
                     WHERE executions.workspace_id = execution_scores.workspace_id \
                     AND executions.id = execution_scores.execution_id AND {expired})"
                ),
                &[today.into()],
            )?,
            self.stmt(&format!("DELETE FROM executions WHERE {expired}"), &[today.into()])?,
        ])
        .await
    }

    // ---- prices -------------------------------------------------------------------

    pub async fn price_overrides(&self, workspace_id: &str) -> Result<Vec<PriceRow>> {
        self.all(
            "SELECT model, input_per_million, output_per_million, updated_at FROM model_prices WHERE workspace_id = ? \
             ORDER BY model",
            &[workspace_id.into()],
        )
        .await
    }

    pub async fn put_price(&self, workspace_id: &str, row: &PriceRow, audit: &AuditEntry<'_>) -> Result<()> {
        let values: Vec<JsValue> = vec![
            JsValue::from_str(workspace_id),
            JsValue::from_str(&row.model),
            JsValue::from_f64(row.input_per_million),
            JsValue::from_f64(row.output_per_million),
            JsValue::from_str(&row.updated_at),
        ];
        let upsert = self
            .db
            .prepare(
                "INSERT INTO model_prices (workspace_id, model, input_per_million, output_per_million, updated_at) \
                 VALUES (?, ?, ?, ?, ?) ON CONFLICT (workspace_id, model) DO UPDATE SET \
                 input_per_million = excluded.input_per_million, output_per_million = excluded.output_per_million, \
                 updated_at = excluded.updated_at",
            )
            .bind(&values)?;
        self.batch(vec![upsert, self.audit_stmt(audit)?]).await
    }

    // ---- approvals -----------------------------------------------------------------

    const APPROVAL_SELECT: &'static str = "SELECT a.id, p.slug AS prompt, e.name AS environment, v.number AS version, \
         a.reason, a.status, a.requested_by, a.requested_by_key, a.decided_by, a.decision_note, a.created_at, a.decided_at \
         FROM approvals a JOIN prompts p ON p.id = a.prompt_id JOIN environments e ON e.id = a.environment_id \
         JOIN prompt_versions v ON v.id = a.version_id";

    pub async fn create_approval(&self, a: &NewApproval<'_>, audit: &AuditEntry<'_>) -> Result<()> {
        self.batch(vec![
            self.stmt(
                "INSERT INTO approvals (id, workspace_id, prompt_id, environment_id, version_id, reason, status, \
                 requested_by, requested_by_key, created_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
                &[
                    a.id.into(),
                    a.workspace_id.into(),
                    a.prompt_id.into(),
                    a.environment_id.into(),
                    a.version_id.into(),
                    a.reason.into(),
                    a.requested_by.into(),
                    a.requested_by_key.into(),
                    a.at.into(),
                ],
            )?,
            self.audit_stmt(audit)?,
        ])
        .await
    }

    pub async fn approval(&self, workspace_id: &str, id: &str) -> Result<Option<ApprovalRow>> {
        self.first(
            &format!("{} WHERE a.workspace_id = ? AND a.id = ?", Self::APPROVAL_SELECT),
            &[workspace_id.into(), id.into()],
        )
        .await
    }

    pub async fn list_approvals(&self, workspace_id: &str, status: Option<&str>) -> Result<Vec<ApprovalRow>> {
        self.all(
            &format!(
                "{} WHERE a.workspace_id = ?1 AND (?2 IS NULL OR a.status = ?2) ORDER BY a.created_at DESC LIMIT 200",
                Self::APPROVAL_SELECT
            ),
            &[workspace_id.into(), status.into()],
        )
        .await
    }

    /// Decides a pending approval; false if it was no longer pending.
    pub async fn decide_approval(
        &self,
        id: &str,
        status: &str,
        decided_by: &str,
        note: &str,
        at: &str,
        audit: &AuditEntry<'_>,
    ) -> Result<bool> {
        let results = self
            .db
            .batch(vec![
                self.stmt(
                    "UPDATE approvals SET status = ?, decided_by = ?, decision_note = ?, decided_at = ? \
                     WHERE id = ? AND status = 'pending'",
                    &[status.into(), decided_by.into(), note.into(), at.into(), id.into()],
                )?,
                self.audit_stmt(audit)?,
            ])
            .await?;
        Ok(results
            .first()
            .and_then(|r| r.meta().ok().flatten())
            .and_then(|m| m.changes)
            .unwrap_or(0)
            == 1)
    }

    // ---- telemetry ------------------------------------------------------------------

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

    /// Inserts a chunk of executions (a JSON array) and rolls up the ones
    /// not counted yet, in one transaction: a redelivered chunk changes
    /// nothing. Feedback that arrived before its execution is rolled up here
    /// too.
    pub async fn ingest_executions(&self, workspace_id: &str, rows: &str) -> Result<()> {
        let ws: Arg = workspace_id.into();
        let ids = "(SELECT json_extract(value, '$.id') FROM json_each(?2))";
        self.batch(vec![
            self.stmt(
                "INSERT OR IGNORE INTO executions (workspace_id, id, prompt_id, version_id, environment, variant, \
                 latency_ms, latency_bucket, tokens_in, tokens_out, cost_usd, score, is_error, error, model, output, \
                 hour, day, created_at) \
                 SELECT ?1, json_extract(value, '$.id'), json_extract(value, '$.prompt_id'), \
                 json_extract(value, '$.version_id'), json_extract(value, '$.environment'), json_extract(value, '$.variant'), \
                 json_extract(value, '$.latency_ms'), json_extract(value, '$.latency_bucket'), \
                 json_extract(value, '$.tokens_in'), json_extract(value, '$.tokens_out'), json_extract(value, '$.cost_usd'), \
                 json_extract(value, '$.score'), json_extract(value, '$.is_error'), json_extract(value, '$.error'), \
                 json_extract(value, '$.model'), json_extract(value, '$.output'), json_extract(value, '$.hour'), \
                 json_extract(value, '$.day'), json_extract(value, '$.created_at') FROM json_each(?2)",
                &[workspace_id.into(), rows.into()],
            )?,
            self.stmt(
                &format!(
                    "INSERT INTO version_rollups (workspace_id, version_id, environment, hour, calls, errors, cost_sum, \
                     tokens_in, tokens_out, score_sum, score_sq_sum, score_count) \
                     SELECT workspace_id, version_id, environment, hour, COUNT(*), SUM(is_error), SUM(COALESCE(cost_usd, 0)), \
                     SUM(tokens_in), SUM(tokens_out), SUM(COALESCE(score, 0)), SUM(COALESCE(score * score, 0)), \
                     SUM(score IS NOT NULL) FROM executions \
                     WHERE workspace_id = ?1 AND rolled_up = 0 AND id IN {ids} GROUP BY version_id, environment, hour \
                     ON CONFLICT (version_id, environment, hour) DO UPDATE SET calls = calls + excluded.calls, \
                     errors = errors + excluded.errors, cost_sum = cost_sum + excluded.cost_sum, \
                     tokens_in = tokens_in + excluded.tokens_in, tokens_out = tokens_out + excluded.tokens_out, \
                     score_sum = score_sum + excluded.score_sum, score_sq_sum = score_sq_sum + excluded.score_sq_sum, \
                     score_count = score_count + excluded.score_count"
                ),
                &[ws, rows.into()],
            )?,
            self.stmt(
                &format!(
                    "INSERT INTO latency_buckets (version_id, environment, hour, bucket, count) \
                     SELECT version_id, environment, hour, latency_bucket, COUNT(*) FROM executions \
                     WHERE workspace_id = ?1 AND rolled_up = 0 AND id IN {ids} \
                     GROUP BY version_id, environment, hour, latency_bucket \
                     ON CONFLICT (version_id, environment, hour, bucket) DO UPDATE SET count = count + excluded.count"
                ),
                &[workspace_id.into(), rows.into()],
            )?,
            self.stmt(
                &format!("UPDATE executions SET rolled_up = 1 WHERE workspace_id = ?1 AND rolled_up = 0 AND id IN {ids}"),
                &[workspace_id.into(), rows.into()],
            )?,
            self.feedback_rollup_stmt(workspace_id)?,
            self.feedback_mark_stmt(workspace_id)?,
        ])
        .await
    }

    fn feedback_rollup_stmt(&self, workspace_id: &str) -> Result<D1PreparedStatement> {
        self.stmt(
            "INSERT INTO version_rollups (workspace_id, version_id, environment, hour, feedback_up, feedback_down) \
             SELECT e.workspace_id, e.version_id, e.environment, e.hour, SUM(f.value > 0), SUM(f.value < 0) \
             FROM feedback f JOIN executions e ON e.workspace_id = f.workspace_id AND e.id = f.execution_id \
             WHERE f.workspace_id = ?1 AND f.rolled_up = 0 GROUP BY e.version_id, e.environment, e.hour \
             ON CONFLICT (version_id, environment, hour) DO UPDATE SET \
             feedback_up = feedback_up + excluded.feedback_up, feedback_down = feedback_down + excluded.feedback_down",
            &[workspace_id.into()],
        )
    }

    fn feedback_mark_stmt(&self, workspace_id: &str) -> Result<D1PreparedStatement> {
        self.stmt(
            "UPDATE feedback SET rolled_up = 1 WHERE workspace_id = ?1 AND rolled_up = 0 AND EXISTS \
             (SELECT 1 FROM executions e WHERE e.workspace_id = feedback.workspace_id AND e.id = feedback.execution_id)",
            &[workspace_id.into()],
        )
    }

    /// Records feedback once per execution and rolls it up if its execution
    /// has arrived (otherwise the execution's ingest does).
    pub async fn ingest_feedback(
        &self,
        workspace_id: &str,
        execution_id: &str,
        value: i8,
        comment: Option<&str>,
        at: &str,
    ) -> Result<()> {
        self.batch(vec![
            self.stmt(
                "INSERT OR IGNORE INTO feedback (workspace_id, execution_id, value, comment, created_at) VALUES (?, ?, ?, ?, ?)",
                &[workspace_id.into(), execution_id.into(), Arg::Int(i64::from(value)), comment.into(), at.into()],
            )?,
            self.feedback_rollup_stmt(workspace_id)?,
            self.feedback_mark_stmt(workspace_id)?,
        ])
        .await
    }

    /// Summed rollups per version of one prompt in one environment.
    pub async fn rollups(&self, prompt_id: &str, environment: &str, from: &str, to: &str) -> Result<Vec<RollupRow>> {
        self.all(
            "SELECT v.number AS version, v.id AS version_id, SUM(r.calls) AS calls, SUM(r.errors) AS errors, \
             SUM(r.cost_sum) AS cost_sum, SUM(r.tokens_in) AS tokens_in, SUM(r.tokens_out) AS tokens_out, \
             SUM(r.score_sum) AS score_sum, SUM(r.score_sq_sum) AS score_sq_sum, SUM(r.score_count) AS score_count, \
             SUM(r.feedback_up) AS feedback_up, SUM(r.feedback_down) AS feedback_down \
             FROM version_rollups r JOIN prompt_versions v ON v.id = r.version_id \
             WHERE v.prompt_id = ? AND r.environment = ? AND r.hour >= ? AND r.hour <= ? \
             GROUP BY v.id ORDER BY v.number DESC",
            &[prompt_id.into(), environment.into(), from.into(), to.into()],
        )
        .await
    }

    pub async fn latency_histograms(
        &self,
        prompt_id: &str,
        environment: &str,
        from: &str,
        to: &str,
    ) -> Result<Vec<BucketRow>> {
        self.all(
            "SELECT b.version_id, b.bucket, SUM(b.count) AS count FROM latency_buckets b \
             JOIN prompt_versions v ON v.id = b.version_id \
             WHERE v.prompt_id = ? AND b.environment = ? AND b.hour >= ? AND b.hour <= ? GROUP BY b.version_id, b.bucket",
            &[prompt_id.into(), environment.into(), from.into(), to.into()],
        )
        .await
    }

    /// Per version and evaluator: summed evaluator scores.
    pub async fn evaluator_rollups(
        &self,
        prompt_id: &str,
        environment: &str,
        from: &str,
        to: &str,
    ) -> Result<Vec<EvaluatorRollupRow>> {
        self.all(
            "SELECT r.version_id, r.evaluator, SUM(r.score_sum) AS score_sum, SUM(r.score_count) AS score_count \
             FROM evaluator_rollups r JOIN prompt_versions v ON v.id = r.version_id \
             WHERE v.prompt_id = ? AND r.environment = ? AND r.hour >= ? AND r.hour <= ? \
             GROUP BY r.version_id, r.evaluator ORDER BY r.evaluator",
            &[prompt_id.into(), environment.into(), from.into(), to.into()],
        )
        .await
    }

    // ---- evaluators and settings ----------------------------------------------------

    pub async fn evaluators(&self, prompt_id: &str) -> Result<Option<String>> {
        #[derive(Deserialize)]
        struct Row {
            evaluators: String,
        }
        let row: Option<Row> = self
            .first(
                "SELECT evaluators FROM prompt_evaluators WHERE prompt_id = ?",
                &[prompt_id.into()],
            )
            .await?;
        Ok(row.map(|r| r.evaluators))
    }

    /// Evaluators of several prompts (a JSON array of ids): (prompt id, evaluators JSON).
    pub async fn evaluators_of(&self, workspace_id: &str, prompt_ids: &str) -> Result<Vec<(String, String)>> {
        #[derive(Deserialize)]
        struct Row {
            prompt_id: String,
            evaluators: String,
        }
        let rows: Vec<Row> = self
            .all(
                "SELECT prompt_id, evaluators FROM prompt_evaluators WHERE workspace_id = ? \
                 AND prompt_id IN (SELECT value FROM json_each(?)) AND evaluators != '[]'",
                &[workspace_id.into(), prompt_ids.into()],
            )
            .await?;
        Ok(rows.into_iter().map(|r| (r.prompt_id, r.evaluators)).collect())
    }

    pub async fn put_evaluators(
        &self,
        workspace_id: &str,
        prompt_id: &str,
        evaluators: &str,
        at: &str,
        audit: &AuditEntry<'_>,
    ) -> Result<()> {
        self.batch(vec![
            self.stmt(
                "INSERT INTO prompt_evaluators (prompt_id, workspace_id, evaluators, updated_at) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (prompt_id) DO UPDATE SET evaluators = excluded.evaluators, updated_at = excluded.updated_at",
                &[prompt_id.into(), workspace_id.into(), evaluators.into(), at.into()],
            )?,
            self.audit_stmt(audit)?,
        ])
        .await
    }

    pub async fn settings(&self, workspace_id: &str) -> Result<Option<Settings>> {
        self.first(
            "SELECT retention_days, judge_url, judge_model, judge_api_key, updated_at FROM workspace_settings \
             WHERE workspace_id = ?",
            &[workspace_id.into()],
        )
        .await
    }

    pub async fn put_settings(&self, workspace_id: &str, row: &Settings, audit: &AuditEntry<'_>) -> Result<()> {
        self.batch(vec![
            self.stmt(
                "INSERT INTO workspace_settings (workspace_id, retention_days, judge_url, judge_model, judge_api_key, \
                 updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (workspace_id) DO UPDATE SET \
                 retention_days = excluded.retention_days, judge_url = excluded.judge_url, \
                 judge_model = excluded.judge_model, judge_api_key = excluded.judge_api_key, \
                 updated_at = excluded.updated_at",
                &[
                    workspace_id.into(),
                    row.retention_days.into(),
                    row.judge_url.as_deref().into(),
                    row.judge_model.as_deref().into(),
                    row.judge_api_key.as_deref().into(),
                    (&row.updated_at).into(),
                ],
            )?,
            self.audit_stmt(audit)?,
        ])
        .await
    }

    /// (execution id, evaluator) pairs already scored among `execution_ids` (a JSON array).
    pub async fn scored(&self, workspace_id: &str, execution_ids: &str) -> Result<Vec<(String, String)>> {
        #[derive(Deserialize)]
        struct Row {
            execution_id: String,
            evaluator: String,
        }
        let rows: Vec<Row> = self
            .all(
                "SELECT execution_id, evaluator FROM execution_scores WHERE workspace_id = ? \
                 AND execution_id IN (SELECT value FROM json_each(?))",
                &[workspace_id.into(), execution_ids.into()],
            )
            .await?;
        Ok(rows.into_iter().map(|r| (r.execution_id, r.evaluator)).collect())
    }

    /// Records scores (a JSON array of {execution_id, evaluator, score}) and
    /// rolls up the new ones into the version's score sums, overall and per
    /// evaluator, in one transaction: a repeated job changes nothing.
    pub async fn record_scores(&self, workspace_id: &str, scores: &str, at: &str) -> Result<()> {
        let pending = "FROM execution_scores s JOIN executions e ON e.workspace_id = s.workspace_id \
                       AND e.id = s.execution_id WHERE s.workspace_id = ?1 AND s.rolled_up = 0";
        self.batch(vec![
            self.stmt(
                "INSERT OR IGNORE INTO execution_scores (workspace_id, execution_id, evaluator, score, created_at) \
                 SELECT ?1, json_extract(value, '$.execution_id'), json_extract(value, '$.evaluator'), \
                 json_extract(value, '$.score'), ?3 FROM json_each(?2)",
                &[workspace_id.into(), scores.into(), at.into()],
            )?,
            self.stmt(
                &format!(
                    "INSERT INTO version_rollups (workspace_id, version_id, environment, hour, score_sum, score_sq_sum, \
                     score_count) SELECT e.workspace_id, e.version_id, e.environment, e.hour, SUM(s.score), \
                     SUM(s.score * s.score), COUNT(*) {pending} GROUP BY e.version_id, e.environment, e.hour \
                     ON CONFLICT (version_id, environment, hour) DO UPDATE SET score_sum = score_sum + excluded.score_sum, \
                     score_sq_sum = score_sq_sum + excluded.score_sq_sum, score_count = score_count + excluded.score_count"
                ),
                &[workspace_id.into()],
            )?,
            self.stmt(
                &format!(
                    "INSERT INTO evaluator_rollups (version_id, environment, hour, evaluator, score_sum, score_sq_sum, \
                     score_count) SELECT e.version_id, e.environment, e.hour, s.evaluator, SUM(s.score), \
                     SUM(s.score * s.score), COUNT(*) {pending} GROUP BY e.version_id, e.environment, e.hour, s.evaluator \
                     ON CONFLICT (version_id, environment, hour, evaluator) DO UPDATE SET \
                     score_sum = score_sum + excluded.score_sum, score_sq_sum = score_sq_sum + excluded.score_sq_sum, \
                     score_count = score_count + excluded.score_count"
                ),
                &[workspace_id.into()],
            )?,
            self.stmt(
                "UPDATE execution_scores SET rolled_up = 1 WHERE workspace_id = ?1 AND rolled_up = 0 AND EXISTS \
                 (SELECT 1 FROM executions e WHERE e.workspace_id = execution_scores.workspace_id \
                 AND e.id = execution_scores.execution_id)",
                &[workspace_id.into()],
            )?,
        ])
        .await
    }

    /// One execution as stored, with its evaluator scores.
    pub async fn execution(&self, workspace_id: &str, id: &str) -> Result<Option<Value>> {
        #[derive(Deserialize)]
        struct Row {
            execution: String,
        }
        let row: Option<Row> = self
            .first(
                "SELECT json_object('id', e.id, 'prompt', p.slug, 'version', v.number, 'version_id', e.version_id, \
                 'environment', e.environment, 'variant', e.variant, 'latency_ms', e.latency_ms, \
                 'tokens_in', e.tokens_in, 'tokens_out', e.tokens_out, 'cost_usd', e.cost_usd, 'score', e.score, \
                 'error', e.error, 'model', e.model, 'output', e.output, 'created_at', e.created_at, \
                 'feedback', (SELECT f.value FROM feedback f WHERE f.workspace_id = e.workspace_id AND f.execution_id = e.id), \
                 'scores', (SELECT json_group_object(s.evaluator, s.score) FROM execution_scores s \
                            WHERE s.workspace_id = e.workspace_id AND s.execution_id = e.id)) AS execution \
                 FROM executions e JOIN prompt_versions v ON v.id = e.version_id JOIN prompts p ON p.id = e.prompt_id \
                 WHERE e.workspace_id = ? AND e.id = ?",
                &[workspace_id.into(), id.into()],
            )
            .await?;
        row.map(|r| serde_json::from_str(&r.execution))
            .transpose()
            .map_err(|e| worker::Error::RustError(e.to_string()))
    }

    // ---- webhooks -----------------------------------------------------------------

    /// Live webhooks of a workspace, with their secrets (for emitting only).
    pub async fn webhooks_for(&self, workspace_id: &str) -> Result<Vec<WebhookRow>> {
        self.all(
            "SELECT id, url, secret, events, created_by, created_at FROM webhooks \
             WHERE workspace_id = ? AND deleted_at IS NULL ORDER BY created_at",
            &[workspace_id.into()],
        )
        .await
    }

    pub async fn create_webhook(&self, workspace_id: &str, w: &WebhookRow, audit: &AuditEntry<'_>) -> Result<()> {
        self.batch(vec![
            self.stmt(
                "INSERT INTO webhooks (id, workspace_id, url, secret, events, created_by, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
                &[
                    (&w.id).into(),
                    workspace_id.into(),
                    (&w.url).into(),
                    (&w.secret).into(),
                    (&w.events).into(),
                    (&w.created_by).into(),
                    (&w.created_at).into(),
                ],
            )?,
            self.audit_stmt(audit)?,
        ])
        .await
    }

    /// Soft-deletes a webhook (its delivery log stays); false if there is none.
    pub async fn delete_webhook(&self, workspace_id: &str, id: &str, at: &str, audit: &AuditEntry<'_>) -> Result<bool> {
        let exists: Option<Value> = self
            .first(
                "SELECT id FROM webhooks WHERE workspace_id = ? AND id = ? AND deleted_at IS NULL",
                &[workspace_id.into(), id.into()],
            )
            .await?;
        if exists.is_none() {
            return Ok(false);
        }
        self.batch(vec![
            self.stmt(
                "UPDATE webhooks SET deleted_at = ? WHERE workspace_id = ? AND id = ? AND deleted_at IS NULL",
                &[at.into(), workspace_id.into(), id.into()],
            )?,
            self.audit_stmt(audit)?,
        ])
        .await?;
        Ok(true)
    }

    /// Whether the workspace has this webhook (deleted ones keep their log).
    pub async fn webhook_exists(&self, workspace_id: &str, id: &str) -> Result<bool> {
        let row: Option<Value> = self
            .first(
                "SELECT id FROM webhooks WHERE workspace_id = ? AND id = ?",
                &[workspace_id.into(), id.into()],
            )
            .await?;
        Ok(row.is_some())
    }

    /// Records pending deliveries (a JSON array of {id, webhook_id, event, payload}).
    pub async fn insert_deliveries(&self, workspace_id: &str, rows: &str, at: &str) -> Result<()> {
        self.stmt(
            "INSERT INTO webhook_deliveries (id, webhook_id, workspace_id, event, payload, status, created_at, updated_at) \
             SELECT json_extract(value, '$.id'), json_extract(value, '$.webhook_id'), ?1, json_extract(value, '$.event'), \
             json_extract(value, '$.payload'), 'pending', ?3, ?3 FROM json_each(?2)",
            &[workspace_id.into(), rows.into(), at.into()],
        )?
        .run()
        .await
        .map(|_| ())
    }

    /// A delivery with what sending it needs.
    pub async fn delivery(&self, workspace_id: &str, id: &str) -> Result<Option<DeliveryRow>> {
        self.first(
            "SELECT d.id, d.event, d.payload, d.status, d.attempts, w.url, w.secret, w.deleted_at IS NOT NULL AS deleted \
             FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
             WHERE d.workspace_id = ? AND d.id = ?",
            &[workspace_id.into(), id.into()],
        )
        .await
    }

    pub async fn update_delivery(
        &self,
        id: &str,
        status: &str,
        attempts: u32,
        response_status: Option<u16>,
        last_error: Option<&str>,
        at: &str,
    ) -> Result<()> {
        self.stmt(
            "UPDATE webhook_deliveries SET status = ?, attempts = ?, response_status = ?, last_error = ?, updated_at = ? \
             WHERE id = ?",
            &[
                status.into(),
                attempts.into(),
                response_status.map_or(Arg::Null, |s| Arg::Int(i64::from(s))),
                last_error.into(),
                at.into(),
                id.into(),
            ],
        )?
        .run()
        .await
        .map(|_| ())
    }

    pub async fn list_deliveries(&self, workspace_id: &str, webhook_id: &str) -> Result<Vec<Value>> {
        #[derive(Deserialize)]
        struct Row {
            delivery: String,
        }
        let rows: Vec<Row> = self
            .all(
                "SELECT json_object('id', id, 'event', event, 'status', status, 'attempts', attempts, \
                 'response_status', response_status, 'last_error', last_error, 'payload', json(payload), \
                 'created_at', created_at, 'updated_at', updated_at) AS delivery \
                 FROM webhook_deliveries WHERE workspace_id = ? AND webhook_id = ? ORDER BY created_at DESC, id LIMIT 200",
                &[workspace_id.into(), webhook_id.into()],
            )
            .await?;
        rows.iter()
            .map(|r| serde_json::from_str(&r.delivery).map_err(|e| worker::Error::RustError(e.to_string())))
            .collect()
    }

    // ---- audit --------------------------------------------------------------------

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
                Arg::Int(before_seq.map_or(MAX_SAFE_INTEGER, i64::from)),
                limit.into(),
            ],
        )
        .await
    }
}
