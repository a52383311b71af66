//! Telemetry in D1: the hourly rollups per version, and the ledger that
//! counts each queue message once. Raw records are in the raw log (R2,
//! `crate::raw_log`), never here: D1's writes grow with the versions being
//! served, not with traffic.

use serde::Deserialize;

use pvct_core::rollup::{EvaluatorDelta, MessageKey, RollupDelta};

use worker::Result;

use super::{encode, Arg, Store};

/// One run's claim on a message: its key, a nonce only this run knows, and
/// the day the ledger row is kept from (for retention).
pub struct Claim<'a> {
    pub key: &'a MessageKey,
    pub nonce: &'a str,
    pub day: &'a str,
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

/// The upserts below apply only when this run's claim is the stored one.
const CLAIMED: &str = "EXISTS (SELECT 1 FROM telemetry_ledger WHERE workspace_id = ?1 AND key = ?2 AND nonce = ?3)";

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

    /// Adds a message's deltas to the rollups once: the ledger row of its
    /// key and the upserts are one transaction, and the upserts apply only
    /// if this run's claim is the one stored, so a message counted before
    /// (redelivered, retried by the client, replayed) changes nothing.
    /// One statement per table, one row written per group. Answers D1's
    /// rows written.
    pub async fn count_once(
        &self,
        workspace_id: &str,
        claim: &Claim<'_>,
        deltas: &[RollupDelta],
        evaluators: &[EvaluatorDelta],
    ) -> Result<u64> {
        let (deltas, evaluators) = (
            (!deltas.is_empty()).then(|| encode(deltas)).transpose()?,
            (!evaluators.is_empty()).then(|| encode(evaluators)).transpose()?,
        );
        fn args<'a>(workspace_id: &'a str, claim: &'a Claim<'_>, json: &'a str) -> [Arg<'a>; 4] {
            [
                workspace_id.into(),
                claim.key.as_str().into(),
                claim.nonce.into(),
                json.into(),
            ]
        }
        let mut statements =
            vec![self.stmt(
            "INSERT INTO telemetry_ledger (workspace_id, key, nonce, day) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            &[workspace_id.into(), claim.key.as_str().into(), claim.nonce.into(), claim.day.into()],
        )?];
        if let Some(deltas) = &deltas {
            statements.push(self.stmt(
                &format!(
                    "INSERT INTO version_rollups (workspace_id, version_id, environment, hour, calls, errors, cost_sum, \
                     tokens_in, tokens_out, score_sum, score_sq_sum, score_count, feedback_up, feedback_down, latency) \
                     SELECT ?1, json_extract(value, '$.version_id'), json_extract(value, '$.environment'), \
                     json_extract(value, '$.hour'), json_extract(value, '$.sums.calls'), json_extract(value, '$.sums.errors'), \
                     json_extract(value, '$.sums.cost_sum'), json_extract(value, '$.sums.tokens_in'), \
                     json_extract(value, '$.sums.tokens_out'), json_extract(value, '$.sums.score_sum'), \
                     json_extract(value, '$.sums.score_sq_sum'), json_extract(value, '$.sums.score_count'), \
                     json_extract(value, '$.sums.feedback_up'), json_extract(value, '$.sums.feedback_down'), \
                     json_extract(value, '$.latency') FROM json_each(?4) WHERE {CLAIMED} \
                     ON CONFLICT (version_id, environment, hour) DO UPDATE SET calls = calls + excluded.calls, \
                     errors = errors + excluded.errors, cost_sum = cost_sum + excluded.cost_sum, \
                     tokens_in = tokens_in + excluded.tokens_in, tokens_out = tokens_out + excluded.tokens_out, \
                     score_sum = score_sum + excluded.score_sum, score_sq_sum = score_sq_sum + excluded.score_sq_sum, \
                     score_count = score_count + excluded.score_count, feedback_up = feedback_up + excluded.feedback_up, \
                     feedback_down = feedback_down + excluded.feedback_down, \
                     latency = CASE WHEN excluded.latency = '{{}}' THEN version_rollups.latency ELSE \
                     (SELECT json_group_object(key, total) FROM (SELECT key, SUM(value) AS total FROM \
                     (SELECT key, value FROM json_each(version_rollups.latency) \
                     UNION ALL SELECT key, value FROM json_each(excluded.latency)) GROUP BY key)) END"
                ),
                &args(workspace_id, claim, deltas),
            )?);
        }
        if let Some(evaluators) = &evaluators {
            statements.push(self.stmt(
                &format!(
                    "INSERT INTO evaluator_rollups (version_id, environment, hour, evaluator, score_sum, score_sq_sum, \
                     score_count) SELECT json_extract(value, '$.version_id'), json_extract(value, '$.environment'), \
                     json_extract(value, '$.hour'), json_extract(value, '$.evaluator'), json_extract(value, '$.score_sum'), \
                     json_extract(value, '$.score_sq_sum'), json_extract(value, '$.score_count') \
                     FROM json_each(?4) WHERE {CLAIMED} \
                     ON CONFLICT (version_id, environment, hour, evaluator) DO UPDATE SET \
                     score_sum = score_sum + excluded.score_sum, score_sq_sum = score_sq_sum + excluded.score_sq_sum, \
                     score_count = score_count + excluded.score_count"
                ),
                &args(workspace_id, claim, evaluators),
            )?);
        }
        self.batch_rows_written(statements).await
    }

    /// Which of `keys` were counted already (for judge scores: a retried
    /// job does not ask the judge again).
    pub async fn counted(&self, workspace_id: &str, keys: &[&MessageKey]) -> Result<Vec<String>> {
        #[derive(Deserialize)]
        struct Row {
            key: String,
        }
        let keys = encode(&keys.iter().map(|k| k.as_str()).collect::<Vec<_>>())?;
        let rows: Vec<Row> = self
            .all(
                "SELECT key FROM telemetry_ledger WHERE workspace_id = ? AND key IN (SELECT value FROM json_each(?))",
                &[workspace_id.into(), (&keys).into()],
            )
            .await?;
        Ok(rows.into_iter().map(|r| r.key).collect())
    }

    /// Deletes up to `chunk` of the workspace's ledger rows from days
    /// before `first_kept_day`, through the (workspace_id, day) index.
    /// Rollups stay. A full chunk means there may be more.
    pub async fn prune_ledger(&self, workspace_id: &str, first_kept_day: &str, chunk: u32) -> Result<u32> {
        let result = self
            .stmt(
                "DELETE FROM telemetry_ledger WHERE workspace_id = ?1 AND key IN (SELECT key FROM telemetry_ledger \
                 WHERE workspace_id = ?1 AND day < ?2 ORDER BY day LIMIT ?3)",
                &[workspace_id.into(), first_kept_day.into(), chunk.into()],
            )?
            .run()
            .await?;
        let deleted = result.meta().ok().flatten().and_then(|m| m.changes).unwrap_or(0);
        Ok(u32::try_from(deleted).unwrap_or(u32::MAX))
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
            "SELECT r.version_id, CAST(b.key AS INTEGER) AS bucket, SUM(b.value) AS count \
             FROM version_rollups r JOIN prompt_versions v ON v.id = r.version_id, json_each(r.latency) b \
             WHERE v.prompt_id = ? AND r.environment = ? AND r.hour >= ? AND r.hour <= ? \
             GROUP BY r.version_id, b.key",
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
}
