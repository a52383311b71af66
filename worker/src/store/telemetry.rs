//! Telemetry: executions, feedback and evaluator scores, their rollups,
//! and retention.

use serde::Deserialize;
use serde_json::Value;
use worker::{D1PreparedStatement, Result};

use pvct_core::settings::DEFAULT_RETENTION_DAYS;

use super::{decode, Arg, Store};

/// The ids of a chunk of executions (a JSON array of rows) as a JSON array.
fn ids_json(rows: &str) -> Result<String> {
    #[derive(Deserialize)]
    struct Id {
        id: String,
    }
    let ids: Vec<Id> = decode(rows)?;
    super::encode(&ids.iter().map(|i| i.id.as_str()).collect::<Vec<_>>())
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

#[derive(Debug, Clone, Deserialize)]
pub struct EvaluatorRollupRow {
    pub version_id: String,
    pub evaluator: String,
    pub score_sum: f64,
    pub score_count: u64,
}

impl Store {
    /// Every workspace's id, for the daily retention jobs.
    pub async fn workspace_ids(&self) -> Result<Vec<String>> {
        #[derive(Deserialize)]
        struct Row {
            id: String,
        }
        let rows: Vec<Row> = self.all("SELECT id FROM workspaces ORDER BY id", &[]).await?;
        Ok(rows.into_iter().map(|r| r.id).collect())
    }

    /// Deletes up to `chunk` of the workspace's oldest rolled-up raw
    /// executions past its retention (counted back from `today`), with
    /// their evaluator scores and feedback, in one transaction, through the
    /// (workspace_id, day) index; then feedback past the retention whose
    /// execution never arrived. Rollups stay. Returns how many executions
    /// went: a full chunk means there may be more.
    pub async fn prune_executions(&self, workspace_id: &str, today: &str, chunk: u32) -> Result<u32> {
        let cutoff = format!(
            "date(?2, '-' || COALESCE((SELECT retention_days FROM workspace_settings WHERE workspace_id = ?1), \
             {DEFAULT_RETENTION_DAYS}) || ' days')"
        );
        let doomed = format!(
            "SELECT id FROM executions WHERE workspace_id = ?1 AND day < {cutoff} AND rolled_up = 1 ORDER BY day, id LIMIT ?3"
        );
        let args = || -> [Arg; 3] { [workspace_id.into(), today.into(), chunk.into()] };
        let results = self
            .db
            .batch(vec![
                self.stmt(
                    &format!("DELETE FROM execution_scores WHERE workspace_id = ?1 AND execution_id IN ({doomed})"),
                    &args(),
                )?,
                self.stmt(
                    &format!("DELETE FROM feedback WHERE workspace_id = ?1 AND execution_id IN ({doomed})"),
                    &args(),
                )?,
                self.stmt(
                    &format!("DELETE FROM executions WHERE workspace_id = ?1 AND id IN ({doomed})"),
                    &args(),
                )?,
                self.stmt(
                    &format!(
                        "DELETE FROM feedback WHERE rowid IN (SELECT rowid FROM feedback WHERE workspace_id = ?1 \
                         AND rolled_up = 0 AND substr(created_at, 1, 10) < {cutoff} LIMIT ?3)"
                    ),
                    &args(),
                )?,
            ])
            .await?;
        let deleted = results
            .get(2)
            .and_then(|r| r.meta().ok().flatten())
            .and_then(|m| m.changes)
            .unwrap_or(0);
        Ok(u32::try_from(deleted).unwrap_or(u32::MAX))
    }

    /// Inserts a chunk of executions (a JSON array) and rolls up the ones
    /// not counted yet, in one transaction: a redelivered chunk changes
    /// nothing. Feedback that arrived before its execution is rolled up here
    /// too.
    pub async fn ingest_executions(&self, workspace_id: &str, rows: &str) -> Result<u64> {
        let ws: Arg = workspace_id.into();
        let ids = "(SELECT json_extract(value, '$.id') FROM json_each(?2))";
        self.batch_rows_written(vec![
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
            self.feedback_rollup_stmt(workspace_id, &ids_json(rows)?)?,
            self.feedback_mark_stmt(workspace_id, &ids_json(rows)?)?,
        ])
        .await
    }

    /// Rolls up the uncounted feedback of the executions in `execution_ids`
    /// (a JSON array) whose execution is stored: by primary key, never a
    /// scan of the workspace's uncounted feedback.
    fn feedback_rollup_stmt(&self, workspace_id: &str, execution_ids: &str) -> Result<D1PreparedStatement> {
        self.stmt(
            "INSERT INTO version_rollups (workspace_id, version_id, environment, hour, feedback_up, feedback_down) \
             SELECT e.workspace_id, e.version_id, e.environment, e.hour, SUM(f.value > 0), SUM(f.value < 0) \
             FROM feedback f JOIN executions e ON e.workspace_id = f.workspace_id AND e.id = f.execution_id \
             WHERE f.workspace_id = ?1 AND f.execution_id IN (SELECT value FROM json_each(?2)) AND f.rolled_up = 0 \
             GROUP BY e.version_id, e.environment, e.hour \
             ON CONFLICT (version_id, environment, hour) DO UPDATE SET \
             feedback_up = feedback_up + excluded.feedback_up, feedback_down = feedback_down + excluded.feedback_down",
            &[workspace_id.into(), execution_ids.into()],
        )
    }

    fn feedback_mark_stmt(&self, workspace_id: &str, execution_ids: &str) -> Result<D1PreparedStatement> {
        self.stmt(
            "UPDATE feedback SET rolled_up = 1 WHERE workspace_id = ?1 AND execution_id IN (SELECT value FROM json_each(?2)) \
             AND rolled_up = 0 AND EXISTS \
             (SELECT 1 FROM executions e WHERE e.workspace_id = feedback.workspace_id AND e.id = feedback.execution_id)",
            &[workspace_id.into(), execution_ids.into()],
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
        let one = super::encode(&[execution_id])?;
        self.batch(vec![
            self.stmt(
                "INSERT OR IGNORE INTO feedback (workspace_id, execution_id, value, comment, created_at) VALUES (?, ?, ?, ?, ?)",
                &[workspace_id.into(), execution_id.into(), Arg::Int(i64::from(value)), comment.into(), at.into()],
            )?,
            self.feedback_rollup_stmt(workspace_id, &one)?,
            self.feedback_mark_stmt(workspace_id, &one)?,
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
        row.map(|r| decode(&r.execution)).transpose()
    }
}
