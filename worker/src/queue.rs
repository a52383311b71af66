//! Background jobs: what the API enqueues, on which queue, and the
//! consumer that runs them. The core decides the queue of each kind of work
//! and what happens after a failure (`pvct_core::jobs`); this module sends
//! messages and stores dead letters. Every job is idempotent, so running
//! one again after a failure is harmless.

use pvct_core::jobs::{after_failure, prune_again, AfterFailure, Consumer, DeadReason, JobQueue, PRUNE_CHUNK};
use pvct_core::raw_log::cutoffs;
use pvct_core::rollup::FeedbackRow;
use pvct_core::settings::DEFAULT_RETENTION_DAYS;
pub use pvct_core::telemetry::ExecutionRow;
use serde::{Deserialize, Serialize};
use worker::wasm_bindgen::JsValue;
use worker::{Env, MessageBatch, MessageExt, Result};

use crate::evaluation::{self, Evaluation};
use crate::store::Store;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Job {
    Executions {
        workspace_id: String,
        rows: Vec<ExecutionRow>,
    },
    Feedback {
        workspace_id: String,
        feedback: FeedbackRow,
    },
    /// Score executions with their prompts' evaluators.
    Evaluate {
        workspace_id: String,
        items: Vec<Evaluation>,
    },
    /// Run some cases of a test run on the workspace's provider.
    TestCases {
        workspace_id: String,
        run_id: String,
        cases: Vec<String>,
    },
    /// Ask the judge for a test run's judge assertions still waiting.
    JudgeTestRun { workspace_id: String, run_id: String },
    /// Send one webhook delivery.
    Deliver { workspace_id: String, delivery_id: String },
    /// Bring KV up to the environment's release sequence after a publish
    /// failed behind a committed change; retried until it succeeds.
    Publish {
        workspace_id: String,
        environment_id: String,
        environment: String,
        slug: String,
        /// How many times it has failed before: the next try waits longer.
        #[serde(default)]
        round: u32,
    },
    /// Delete one page of a workspace's raw log and one chunk of its ledger
    /// past its retention; a full page or chunk queues the next.
    Prune { workspace_id: String, today: String },
}

/// Queue messages stay well under the 128 KB limit.
pub const MAX_MESSAGE_BYTES: usize = 96 * 1024;

/// `send_batch` takes at most 100 messages and 256 KB in all.
const BATCH_MESSAGES: usize = 100;
const BATCH_BYTES: usize = 240 * 1024;

/// Splits items into messages of at most [`MAX_MESSAGE_BYTES`] each.
pub fn chunk<T: Serialize>(items: Vec<T>) -> Vec<Vec<T>> {
    let (mut chunks, mut current, mut size) = (Vec::new(), Vec::new(), 0usize);
    for item in items {
        let item_size = serde_json::to_string(&item).map(|s| s.len()).unwrap_or(0);
        if size + item_size > MAX_MESSAGE_BYTES && !current.is_empty() {
            chunks.push(std::mem::take(&mut current));
            size = 0;
        }
        size += item_size;
        current.push(item);
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

impl Job {
    /// The queue that carries this kind of work.
    pub fn queue(&self) -> JobQueue {
        match self {
            Job::Executions { .. } | Job::Feedback { .. } | Job::Prune { .. } => JobQueue::Telemetry,
            Job::Evaluate { .. } | Job::TestCases { .. } | Job::JudgeTestRun { .. } => JobQueue::Evaluations,
            Job::Deliver { .. } => JobQueue::Deliveries,
            Job::Publish { .. } => JobQueue::Publish,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Job::Executions { .. } => "executions",
            Job::Feedback { .. } => "feedback",
            Job::Evaluate { .. } => "evaluate",
            Job::TestCases { .. } => "test_cases",
            Job::JudgeTestRun { .. } => "test_judge",
            Job::Deliver { .. } => "deliver",
            Job::Publish { .. } => "publish",
            Job::Prune { .. } => "prune",
        }
    }

    fn workspace_id(&self) -> &str {
        match self {
            Job::Executions { workspace_id, .. }
            | Job::Feedback { workspace_id, .. }
            | Job::Evaluate { workspace_id, .. }
            | Job::TestCases { workspace_id, .. }
            | Job::JudgeTestRun { workspace_id, .. }
            | Job::Deliver { workspace_id, .. }
            | Job::Publish { workspace_id, .. }
            | Job::Prune { workspace_id, .. } => workspace_id,
        }
    }
}

/// A job as it travels: `{"job": …, "attempt": n}`, sent as JSON text, so
/// a message that no longer reads as a job can still be stored as it came.
/// (Not flattened: serde's flatten path costs the worker's wasm ~40 KB.)
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    pub job: Job,
    #[serde(default)]
    pub attempt: u32,
}

impl Envelope {
    /// Reads a message body: an envelope, or a bare job as messages were
    /// sent before envelopes (a first attempt).
    fn read(text: &str) -> serde_json::Result<Envelope> {
        serde_json::from_str::<Envelope>(text).or_else(|e| {
            serde_json::from_str::<Job>(text)
                .map(|job| Envelope { job, attempt: 0 })
                .map_err(|_| e)
        })
    }
}

/// An error of ours (a decode, a missing row) as the runtime's error type.
pub(crate) fn rust_error(e: impl std::fmt::Display) -> worker::Error {
    worker::Error::RustError(e.to_string())
}

fn text_of(envelope: &Envelope) -> Result<String> {
    serde_json::to_string(envelope).map_err(rust_error)
}

/// Queues one job to run after `seconds`.
pub async fn send_delayed(env: &Env, job: Job, seconds: u32) -> Result<()> {
    send_envelope(env, &Envelope { job, attempt: 0 }, seconds).await
}

async fn send_envelope(env: &Env, envelope: &Envelope, seconds: u32) -> Result<()> {
    env.queue(envelope.job.queue().binding())?
        .send(
            worker::MessageBuilder::new(text_of(envelope)?)
                .delay_seconds(seconds)
                .build(),
        )
        .await
}

/// Queues `jobs` on their queues, in as few `send_batch` calls as the
/// Queue's batch limits allow.
pub async fn send(env: &Env, jobs: Vec<Job>) -> Result<()> {
    for queue in JobQueue::ALL {
        let texts = jobs
            .iter()
            .filter(|j| j.queue() == queue)
            .map(|job| {
                text_of(&Envelope {
                    job: job.clone(),
                    attempt: 0,
                })
            })
            .collect::<Result<Vec<String>>>()?;
        if texts.is_empty() {
            continue;
        }
        let producer = env.queue(queue.binding())?;
        let (mut batch, mut bytes) = (Vec::new(), 0usize);
        for text in texts {
            if !batch.is_empty() && (batch.len() == BATCH_MESSAGES || bytes + text.len() > BATCH_BYTES) {
                producer.send_batch(std::mem::take(&mut batch)).await?;
                bytes = 0;
            }
            bytes += text.len();
            batch.push(text);
        }
        producer.send_batch(batch).await?;
    }
    Ok(())
}

/// Ok(None): done; Ok(Some(s)): run again in `s` seconds; Err: failed.
async fn run(env: &Env, store: &Store, job: &Job) -> Result<Option<u32>> {
    let done = |r: Result<()>| r.map(|()| None);
    match job {
        Job::Executions { workspace_id, rows } => {
            crate::ingest::executions(env, store, workspace_id, rows).await?;
            // After the rows are counted: a failure here retries the
            // message, whose counting is then a no-op.
            done(evaluation::schedule(env, store, workspace_id, rows).await)
        }
        Job::Feedback { workspace_id, feedback } => {
            done(crate::ingest::feedback(env, store, workspace_id, feedback).await)
        }
        Job::Evaluate { workspace_id, items } => evaluation::run(env, store, workspace_id, items).await,
        Job::TestCases {
            workspace_id,
            run_id,
            cases,
        } => crate::test_runs::run_cases(env, store, workspace_id, run_id, cases).await,
        Job::JudgeTestRun { workspace_id, run_id } => {
            crate::test_runs::judge_run(env, store, workspace_id, run_id).await
        }
        Job::Deliver {
            workspace_id,
            delivery_id,
        } => crate::webhook_delivery::deliver(store, workspace_id, delivery_id).await,
        Job::Publish {
            workspace_id,
            environment_id,
            environment,
            slug,
            round,
        } => {
            let kv = crate::kv::EdgeKv::of(env, crate::KV_BINDING)?;
            if crate::publish::publish_if_behind(store, &kv, workspace_id, environment_id, environment, slug)
                .await
                .is_ok()
            {
                return Ok(None);
            }
            // Not the job's attempts, which end in a dead letter: a new job
            // per failure, with growing delays, so KV catches up with D1
            // however long it was down.
            let next = Job::Publish {
                workspace_id: workspace_id.clone(),
                environment_id: environment_id.clone(),
                environment: environment.clone(),
                slug: slug.clone(),
                round: round.saturating_add(1),
            };
            send_delayed(env, next, pvct_core::release::publish_retry_seconds(*round)).await?;
            Ok(None)
        }
        Job::Prune { workspace_id, today } => {
            let retention = store
                .settings(workspace_id)
                .await?
                .map_or(DEFAULT_RETENTION_DAYS, |s| s.retention_days);
            let cutoffs = cutoffs(today, retention)
                .ok_or_else(|| worker::Error::RustError(format!("prune job with a bad day: {today}")))?;
            let page_full = crate::raw_log::RawLog::new(env)?
                .prune(workspace_id, &cutoffs.raw_log)
                .await?;
            let deleted = [
                store.prune_ledger(workspace_id, &cutoffs.ledger, PRUNE_CHUNK).await?,
                store
                    .prune_dead_letters(workspace_id, &cutoffs.dead_letters, PRUNE_CHUNK)
                    .await?,
            ];
            if prune_again(&deleted, page_full) {
                let next = Job::Prune {
                    workspace_id: workspace_id.clone(),
                    today: today.clone(),
                };
                send(env, vec![next]).await?;
            }
            Ok(None)
        }
    }
}

/// A message body as text: the JSON text we send, or (for a message sent
/// as a structured value by an earlier version) its JSON rendering.
fn body_text(body: &JsValue) -> String {
    body.as_string().unwrap_or_else(|| {
        worker::js_sys::JSON::stringify(body)
            .ok()
            .and_then(|s| s.as_string())
            .unwrap_or_default()
    })
}

/// What a dead letter can say about a message it could not read.
fn unreadable_identity(text: &str) -> (String, String) {
    let value: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    // An envelope's job, or a bare job.
    let value = value.get("job").unwrap_or(&value);
    let field = |name: &str| value.get(name).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
    let kind = Some(field("kind"))
        .filter(|k| !k.is_empty())
        .unwrap_or_else(|| "unknown".into());
    (field("workspace_id"), kind)
}

pub async fn consume(env: &Env, store: &Store, batch: MessageBatch<String>) -> Result<()> {
    let name = batch.queue();
    let Some(consumer) = Consumer::of_queue_name(&name) else {
        worker::console_error!("messages from an unknown queue {name}: retried, not run");
        batch.retry_all();
        return Ok(());
    };
    // One message at a time, each settled alone: a message that fails or
    // does not read never fails the others.
    for message in batch.raw_iter() {
        let text = body_text(&message.body());
        let settled = match consumer {
            Consumer::DeadLetters => bury_crashed(store, &text).await,
            Consumer::Jobs(queue) => handle(env, store, queue, &text).await,
        };
        match settled {
            Ok(()) => message.ack(),
            Err(e) => {
                // Not even a retry or a dead letter could be written (D1 or
                // the Queue is down): the Queue redelivers it.
                worker::console_error!("queue message {} not settled, redelivered: {e}", message.id());
                message.retry();
            }
        }
    }
    Ok(())
}

async fn handle(env: &Env, store: &Store, queue: JobQueue, text: &str) -> Result<()> {
    let envelope: Envelope = match Envelope::read(text) {
        Ok(envelope) => envelope,
        Err(e) => {
            let (workspace_id, kind) = unreadable_identity(text);
            let id = crate::ids::new_id();
            worker::console_error!("dead letter {id}: a {queue:?} message does not read as a job: {e}");
            return store
                .bury(
                    &id,
                    &workspace_id,
                    queue,
                    &kind,
                    DeadReason::Unreadable,
                    1,
                    text,
                    &crate::ids::now(),
                )
                .await;
        }
    };
    let attempt = envelope.attempt + 1;
    let asked = match run(env, store, &envelope.job).await {
        Ok(None) => return Ok(()),
        Ok(Some(delay)) => Some(delay),
        Err(e) => {
            worker::console_error!("{} job failed (attempt {attempt}): {e}", envelope.job.kind());
            None
        }
    };
    match after_failure(attempt, asked) {
        AfterFailure::RetryIn(seconds) => {
            let again = Envelope {
                job: envelope.job,
                attempt,
            };
            send_envelope(env, &again, seconds).await
        }
        AfterFailure::DeadLetter => {
            let id = crate::ids::new_id();
            let job = &envelope.job;
            // A test run whose job gave up ends failed rather than waiting.
            if let Job::TestCases {
                workspace_id, run_id, ..
            }
            | Job::JudgeTestRun { workspace_id, run_id } = job
            {
                if let Err(e) = crate::test_runs::job_gave_up(store, workspace_id, run_id, attempt).await {
                    worker::console_error!("test run {run_id} not ended after its job gave up: {e}");
                }
            }
            worker::console_error!(
                "dead letter {id}: {} job of {} gave up after {attempt} attempts",
                job.kind(),
                job.workspace_id()
            );
            store
                .bury(
                    &id,
                    job.workspace_id(),
                    queue,
                    job.kind(),
                    DeadReason::Failed,
                    attempt,
                    text,
                    &crate::ids::now(),
                )
                .await
        }
    }
}

/// A message the Queue moved to the dead-letter queue: its consumer never
/// answered for it.
async fn bury_crashed(store: &Store, text: &str) -> Result<()> {
    let id = crate::ids::new_id();
    let (workspace_id, kind, queue, attempt) = match Envelope::read(text) {
        Ok(e) => (
            e.job.workspace_id().to_owned(),
            e.job.kind().to_owned(),
            e.job.queue(),
            e.attempt + 1,
        ),
        Err(_) => {
            let (ws, kind) = unreadable_identity(text);
            (ws, kind, JobQueue::Telemetry, 1)
        }
    };
    worker::console_error!("dead letter {id}: a {kind} job reached the dead-letter queue");
    store
        .bury(
            &id,
            &workspace_id,
            queue,
            &kind,
            DeadReason::ConsumerCrashed,
            attempt,
            text,
            &crate::ids::now(),
        )
        .await
}

/// Sends a stored dead letter's job again, as a first attempt.
pub async fn replay(env: &Env, queue: JobQueue, body: &str) -> Result<()> {
    let text = match Envelope::read(body) {
        Ok(mut envelope) => {
            envelope.attempt = 0;
            text_of(&envelope)?
        }
        // Unreadable to this version: sent as it came, to be read by a
        // version that can (or dead-lettered again).
        Err(_) => body.to_owned(),
    };
    env.queue(queue.binding())?.send(text).await
}
