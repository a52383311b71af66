//! The telemetry consumer's writes: each message of executions, each
//! feedback and each set of evaluator scores goes to the raw log (R2) under
//! its content key, then into the rollups (D1) once (`Store::count_once`).
//! A message counted before is skipped whole. Otherwise the R2 write comes
//! first and is idempotent, so a failure between the two retries the
//! message without losing or doubling anything.

use pvct_core::raw_log::{ndjson, LogKind, LogObjectId};
use pvct_core::rollup::{self, FeedbackRow, MessageKey, ScoreRow};
use pvct_core::telemetry::{hour_and_day, ExecutionRow};
use worker::{Env, Result};

use crate::queue::rust_error;
use crate::raw_log::RawLog;
use crate::store::{Claim, Store};

/// Writes `records` as the raw log object (`hour`, `kind`, `key`), then
/// counts the deltas once. Answers D1's rows written.
async fn log_and_count<T: serde::Serialize>(
    env: &Env,
    store: &Store,
    workspace_id: &str,
    (hour, kind, key): (&str, LogKind, &MessageKey),
    records: &[T],
    deltas: (&[rollup::RollupDelta], &[rollup::EvaluatorDelta]),
) -> Result<u64> {
    // Counted before (a client's retry, maybe in a later hour; a second
    // vote on an execution): nothing to log or count again.
    if !store.counted(workspace_id, &[key]).await?.is_empty() {
        return Ok(0);
    }
    let id = LogObjectId::new(hour, kind, key.as_str());
    RawLog::new(env)?
        .put(workspace_id, &id, ndjson(records).map_err(rust_error)?)
        .await?;
    let nonce = crate::ids::new_id();
    let claim = Claim {
        key,
        nonce: &nonce,
        day: id.day(),
    };
    store.count_once(workspace_id, &claim, deltas.0, deltas.1).await
}

/// One message of executions (all from one request, so one hour).
pub async fn executions(env: &Env, store: &Store, workspace_id: &str, rows: &[ExecutionRow]) -> Result<()> {
    let Some(first) = rows.first() else {
        return Ok(());
    };
    let key = MessageKey::of("executions", rows.iter().map(|r| r.id.as_str()));
    let stored: Vec<ExecutionRow> = rows.iter().map(ExecutionRow::logged).collect();
    let written = log_and_count(
        env,
        store,
        workspace_id,
        (&first.hour, LogKind::Executions, &key),
        &stored,
        (&rollup::of_executions(rows), &[]),
    )
    .await?;
    worker::console_log!("telemetry_ingest executions={} rows_written={written}", rows.len());
    Ok(())
}

/// One feedback, counted once per execution (the first one counts).
pub async fn feedback(env: &Env, store: &Store, workspace_id: &str, f: &FeedbackRow) -> Result<()> {
    let (hour, _) = hour_and_day(&f.at).map_err(|e| rust_error(e.message()))?;
    let key = MessageKey::of("feedback", [f.execution_id.as_str()]);
    log_and_count(
        env,
        store,
        workspace_id,
        (&hour, LogKind::Feedback, &key),
        std::slice::from_ref(f),
        (&rollup::of_feedback(f, &hour), &[]),
    )
    .await
    .map(|_| ())
}

/// Evaluator scores under `key`, counted once.
pub async fn scores(env: &Env, store: &Store, workspace_id: &str, key: &MessageKey, scores: &[ScoreRow]) -> Result<()> {
    let Some(first) = scores.first() else {
        return Ok(());
    };
    let (versions, evaluators) = rollup::of_scores(scores);
    log_and_count(
        env,
        store,
        workspace_id,
        (&first.hour, LogKind::Scores, key),
        scores,
        (&versions, &evaluators),
    )
    .await
    .map(|_| ())
}
