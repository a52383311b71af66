//! The release service's SQL: one prompt's state in one environment, read
//! into the planner's [`EnvState`], and a [`Plan`] written as one D1 batch
//! behind its guards.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use worker::{D1PreparedStatement, Result};

use pvct_core::api::ExperimentView;
use pvct_core::deployment::live_stack;
use pvct_core::gates::Measurements;
use pvct_core::histogram::Histogram;
use pvct_core::release::{EnvState, Guard, LiveDeployment, Plan, VersionFacts, Write};
use pvct_core::render::VersionVariables;
use pvct_core::test_suite::best_run;
use pvct_core::webhook::Outgoing;

use super::{json_column_or_default, Arg, Store};

/// What the service has resolved before loading: the prompt, the
/// environment, where its gates measure, and the versions to know about.
pub struct StateQuery<'a> {
    pub workspace_id: &'a str,
    pub prompt_id: &'a str,
    pub slug: &'a str,
    pub environment_id: &'a str,
    pub environment: &'a str,
    pub policy: pvct_core::environment::GatePolicy,
    pub measured_in: String,
    pub versions: Vec<u32>,
}

#[derive(Deserialize)]
struct FactsRow {
    id: String,
    number: u32,
    bytes: u64,
    #[serde(deserialize_with = "json_column_or_default")]
    variables: VersionVariables,
}

#[derive(Deserialize)]
struct LiveDeploymentRow {
    id: String,
    version: u32,
    version_id: String,
    created_at: String,
}

#[derive(Deserialize)]
struct Seq {
    seq: u64,
}

/// A guard that fails the whole batch when its condition no longer holds:
/// `json()` of malformed text raises an SQL error, which rolls back every
/// statement of the batch (a D1 batch is one transaction).
const FAIL: &str = "json('release guard: the state changed')";

/// What a version (`v`) adds to a bundle, in bytes of its stored JSON.
const VERSION_BYTES: &str =
    "length(COALESCE(v.resolved_content, v.content)) + length(v.model_params) + length(v.variables)";

impl Store {
    /// The environment's release sequence (0 before its first change).
    pub async fn release_seq(&self, environment_id: &str) -> Result<u64> {
        Ok(self
            .first::<Seq>(
                "SELECT COALESCE(MAX(seq), 0) AS seq FROM releases WHERE environment_id = ?",
                &[environment_id.into()],
            )
            .await?
            .map_or(0, |s| s.seq))
    }

    /// The prompts of an environment released after sequence `after`, each
    /// with its last release (one row per prompt, however many releases).
    pub async fn releases_after(&self, environment_id: &str, after: u64) -> Result<Vec<(String, u64)>> {
        #[derive(serde::Deserialize)]
        struct Row {
            slug: String,
            seq: u64,
        }
        let rows: Vec<Row> = self
            .all(
                "SELECT p.slug AS slug, MAX(r.seq) AS seq FROM releases r JOIN prompts p ON p.id = r.prompt_id \
                 WHERE r.environment_id = ? AND r.seq > ? GROUP BY p.slug",
                &[environment_id.into(), super::Arg::Int(after as i64)],
            )
            .await?;
        Ok(rows.into_iter().map(|r| (r.slug, r.seq)).collect())
    }

    /// Each named prompt's last release sequence in the environment: the
    /// sequence its published document carries at least.
    pub async fn prompt_release_seqs(
        &self,
        environment_id: &str,
        slugs: &[&str],
    ) -> Result<std::collections::BTreeMap<String, u64>> {
        #[derive(serde::Deserialize)]
        struct Row {
            slug: String,
            seq: u64,
        }
        let rows: Vec<Row> = self
            .all(
                "SELECT p.slug AS slug, MAX(r.seq) AS seq FROM releases r JOIN prompts p ON p.id = r.prompt_id \
                 WHERE r.environment_id = ?1 AND p.slug IN (SELECT value FROM json_each(?2)) GROUP BY p.slug",
                &[environment_id.into(), (&super::encode(slugs)?).into()],
            )
            .await?;
        Ok(rows.into_iter().map(|r| (r.slug, r.seq)).collect())
    }

    pub async fn release_state(&self, q: &StateQuery<'_>) -> Result<EnvState> {
        let env_seq = self.release_seq(q.environment_id).await?;
        let prompt_seq = self
            .first::<Seq>(
                "SELECT COALESCE(MAX(seq), 0) AS seq FROM releases WHERE environment_id = ? AND prompt_id = ?",
                &[q.environment_id.into(), q.prompt_id.into()],
            )
            .await?
            .map_or(0, |s| s.seq);
        let history = self.deployment_steps(q.prompt_id, q.environment_id).await?;
        let live: Option<LiveDeploymentRow> = self
            .first(
                "SELECT d.id, v.number AS version, v.id AS version_id, d.created_at FROM deployments d \
                 JOIN prompt_versions v ON v.id = d.version_id \
                 WHERE d.prompt_id = ? AND d.environment_id = ? ORDER BY d.seq DESC LIMIT 1",
                &[q.prompt_id.into(), q.environment_id.into()],
            )
            .await?;
        let experiment: Option<ExperimentView> = self.running_experiment(q.prompt_id, q.environment_id).await?;
        #[derive(Deserialize)]
        struct Id {
            id: String,
        }
        let pending: Vec<Id> = self
            .all(
                "SELECT id FROM approvals WHERE prompt_id = ? AND environment_id = ? AND status = 'pending' \
                 ORDER BY created_at",
                &[q.prompt_id.into(), q.environment_id.into()],
            )
            .await?;

        let mut wanted: BTreeSet<u32> = q.versions.iter().copied().collect();
        wanted.extend(live_stack(&history));
        let numbers = serde_json::to_string(&wanted).map_err(|e| worker::Error::RustError(e.to_string()))?;
        let rows: Vec<FactsRow> = self
            .all(
                &format!(
                    "SELECT id, number, variables, {VERSION_BYTES} AS bytes FROM prompt_versions v \
                     WHERE prompt_id = ? AND number IN (SELECT value FROM json_each(?))"
                ),
                &[q.prompt_id.into(), (&numbers).into()],
            )
            .await?;
        let mut measurements = if q.policy.has_gates() {
            self.measurements(q.prompt_id, &q.measured_in).await?
        } else {
            BTreeMap::new()
        };
        if q.policy.needs_test_run() {
            let (rates, threshold) = self.test_run_pass_rates(q.prompt_id).await?;
            for row in &rows {
                let mine: Vec<f64> = rates.iter().filter(|(id, _)| *id == row.id).map(|(_, r)| *r).collect();
                let fact = threshold.and_then(|t| best_run(&mine, t));
                measurements.entry(row.id.clone()).or_default().test_run = fact;
            }
        }
        let versions = rows
            .into_iter()
            .map(|r| {
                let m = measurements.get(&r.id).cloned().unwrap_or_default();
                (
                    r.number,
                    VersionFacts {
                        number: r.number,
                        id: r.id,
                        variables: r.variables,
                        bytes: r.bytes,
                        measurements: m,
                    },
                )
            })
            .collect();
        Ok(EnvState {
            workspace_id: q.workspace_id.to_owned(),
            prompt_id: q.prompt_id.to_owned(),
            slug: q.slug.to_owned(),
            environment_id: q.environment_id.to_owned(),
            environment: q.environment.to_owned(),
            policy: q.policy.clone(),
            measured_in: q.measured_in.clone(),
            env_seq,
            prompt_seq,
            history,
            live: live.map(|l| LiveDeployment {
                id: l.id,
                version: l.version,
                version_id: l.version_id,
                created_at: l.created_at,
            }),
            experiment,
            pending: pending.into_iter().map(|p| p.id).collect(),
            versions,
            other_prompts_bytes: self.other_prompts_bytes(q.environment_id, q.prompt_id).await?,
        })
    }

    /// What the environment's bundle holds for every prompt but this one:
    /// the live versions and the variants of running experiments.
    async fn other_prompts_bytes(&self, environment_id: &str, prompt_id: &str) -> Result<u64> {
        #[derive(Deserialize)]
        struct Bytes {
            bytes: u64,
        }
        let row: Option<Bytes> = self
            .first(
                &format!(
                    "SELECT (SELECT COALESCE(SUM(COALESCE(d.bytes, {VERSION_BYTES})), 0) FROM deployments d \
                     JOIN prompt_versions v ON v.id = d.version_id \
                     WHERE d.environment_id = ?1 AND d.prompt_id != ?2 AND d.seq = (SELECT MAX(seq) FROM deployments d2 \
                     WHERE d2.prompt_id = d.prompt_id AND d2.environment_id = d.environment_id)) \
                     + (SELECT COALESCE(SUM({VERSION_BYTES}), 0) FROM experiments x, json_each(x.variants) j \
                     JOIN prompt_versions v ON v.prompt_id = x.prompt_id AND v.number = json_extract(j.value, '$.version') \
                     WHERE x.environment_id = ?1 AND x.prompt_id != ?2 AND x.status = 'running') AS bytes"
                ),
                &[environment_id.into(), prompt_id.into()],
            )
            .await?;
        Ok(row.map_or(0, |r| r.bytes))
    }

    /// What the gates read, per version id, over all time.
    async fn measurements(&self, prompt_id: &str, environment: &str) -> Result<BTreeMap<String, Measurements>> {
        let (from, to) = ("0000-01-01T00", "9999-12-31T23");
        let rollups = self.rollups(prompt_id, environment, from, to).await?;
        let buckets = self.latency_histograms(prompt_id, environment, from, to).await?;
        let mut histograms: BTreeMap<&str, Histogram> = BTreeMap::new();
        for b in &buckets {
            histograms
                .entry(&b.version_id)
                .or_default()
                .add_bucket(b.bucket, b.count);
        }
        Ok(rollups
            .iter()
            .map(|r| {
                let p95 = histograms.get(r.version_id.as_str()).and_then(|h| h.quantile(0.95));
                (
                    r.version_id.clone(),
                    Measurements::of(r.calls, r.errors, r.score_sum, r.score_count, p95),
                )
            })
            .collect())
    }

    /// Whether every guard of a plan still holds (after a failed batch: if
    /// they do, the batch failed for another reason than a moved state).
    pub async fn guards_hold(&self, state: &EnvState, guards: &[Guard]) -> Result<bool> {
        for guard in guards {
            let holds = match guard {
                Guard::EnvSeq(seq) => self.release_seq(&state.environment_id).await? == *seq,
                Guard::ApprovalPending(id) => {
                    #[derive(Deserialize)]
                    struct Status {
                        status: String,
                    }
                    self.first::<Status>("SELECT status FROM approvals WHERE id = ?", &[id.into()])
                        .await?
                        .is_some_and(|s| s.status == "pending")
                }
            };
            if !holds {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Writes `plan` in one batch: guards first, then the writes and the
    /// release row. Fails, writing nothing, if a guard no longer holds.
    /// `outbox`: the webhook deliveries the change causes, and when the
    /// sweeper takes them up if their jobs are never queued.
    pub async fn execute(
        &self,
        state: &EnvState,
        plan: &Plan,
        actor: &str,
        at: &str,
        outbox: (&[Outgoing], String),
    ) -> Result<()> {
        let mut batch: Vec<D1PreparedStatement> = Vec::new();
        for guard in &plan.guards {
            batch.push(match guard {
                Guard::EnvSeq(seq) => self.stmt(
                    &format!(
                        "SELECT CASE WHEN (SELECT COALESCE(MAX(seq), 0) FROM releases WHERE environment_id = ?) = ? \
                         THEN 1 ELSE {FAIL} END"
                    ),
                    &[(&state.environment_id).into(), Arg::Int(*seq as i64)],
                )?,
                Guard::ApprovalPending(id) => self.stmt(
                    &format!(
                        "SELECT CASE WHEN (SELECT status FROM approvals WHERE id = ?) = 'pending' THEN 1 ELSE {FAIL} END"
                    ),
                    &[id.into()],
                )?,
            });
        }
        for write in &plan.writes {
            batch.push(self.write_stmt(state, write, actor, at)?);
        }
        if let Some(seq) = plan.release {
            batch.push(self.stmt(
                "INSERT INTO releases (environment_id, seq, workspace_id, prompt_id, created_at) VALUES (?, ?, ?, ?, ?)",
                &[
                    (&state.environment_id).into(),
                    Arg::Int(seq as i64),
                    (&state.workspace_id).into(),
                    (&state.prompt_id).into(),
                    at.into(),
                ],
            )?);
        }
        if !outbox.0.is_empty() {
            batch.push(self.outbox_stmt(&state.workspace_id, outbox.0, at, &outbox.1)?);
        }
        self.batch(batch).await
    }

    fn write_stmt(&self, s: &EnvState, write: &Write, actor: &str, at: &str) -> Result<D1PreparedStatement> {
        match write {
            Write::Deploy {
                id,
                version_id,
                action,
                reason,
                ..
            } => self.stmt(
                &format!(
                    "INSERT INTO deployments (id, workspace_id, prompt_id, environment_id, version_id, action, reason, actor, \
                     created_at, bytes) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, {VERSION_BYTES} \
                     FROM prompt_versions v WHERE v.id = ?5"
                ),
                &[
                    id.into(),
                    (&s.workspace_id).into(),
                    (&s.prompt_id).into(),
                    (&s.environment_id).into(),
                    version_id.into(),
                    action.as_str().into(),
                    reason.into(),
                    actor.into(),
                    at.into(),
                ],
            ),
            Write::StartExperiment(x) => {
                let variants = json_text(&x.variants)?;
                self.stmt(
                    "INSERT INTO experiments (id, workspace_id, prompt_id, environment_id, name, salt, variants, status, \
                     started_by, started_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?)",
                    &[
                        (&x.id).into(),
                        (&s.workspace_id).into(),
                        (&s.prompt_id).into(),
                        (&s.environment_id).into(),
                        (&x.name).into(),
                        (&x.salt).into(),
                        (&variants).into(),
                        actor.into(),
                        at.into(),
                        at.into(),
                    ],
                )
            }
            Write::UpdateExperiment(x) => {
                let variants = json_text(&x.variants)?;
                self.stmt(
                    "UPDATE experiments SET name = ?, salt = ?, variants = ?, updated_at = ? WHERE id = ? AND status = 'running'",
                    &[
                        (&x.name).into(),
                        (&x.salt).into(),
                        (&variants).into(),
                        at.into(),
                        (&x.id).into(),
                    ],
                )
            }
            Write::EndExperiment { id } => self.stmt(
                "UPDATE experiments SET status = 'ended', ended_by = ?, ended_at = ?, updated_at = ? \
                 WHERE id = ? AND status = 'running'",
                &[actor.into(), at.into(), at.into(), id.into()],
            ),
            Write::RequestApproval(a) => {
                let change = json_text(&a.change)?;
                self.stmt(
                    "INSERT INTO approvals (id, workspace_id, prompt_id, environment_id, change, base_seq, reason, status, \
                     requested_by, requested_by_key, requested_by_person, created_at) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?)",
                    &[
                        (&a.id).into(),
                        (&s.workspace_id).into(),
                        (&s.prompt_id).into(),
                        (&s.environment_id).into(),
                        (&change).into(),
                        Arg::Int(a.base_seq as i64),
                        (&a.reason).into(),
                        (&a.requested_by).into(),
                        (&a.requested_by_key).into(),
                        a.requested_by_person.as_deref().into(),
                        at.into(),
                    ],
                )
            }
            Write::Supersede { ids } => {
                let ids = json_text(ids)?;
                self.stmt(
                    "UPDATE approvals SET status = 'superseded', decided_at = ?, \
                     decision_note = 'superseded by a newer request' \
                     WHERE status = 'pending' AND id IN (SELECT value FROM json_each(?))",
                    &[at.into(), (&ids).into()],
                )
            }
            Write::DecideApproval { id, status, note } => self.stmt(
                "UPDATE approvals SET status = ?, decided_by = ?, decision_note = ?, decided_at = ? \
                 WHERE id = ? AND status = 'pending'",
                &[status.as_str().into(), actor.into(), note.into(), at.into(), id.into()],
            ),
            Write::Audit(entry) => self.audit_stmt(entry),
        }
    }
}

/// A planned value as the text of a JSON column.
fn json_text<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| worker::Error::RustError(e.to_string()))
}
