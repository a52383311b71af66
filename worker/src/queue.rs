//! The telemetry queue: jobs the API enqueues and the consumer that writes
//! them to D1. Each message is one transaction; a failed one is retried by
//! the Queue (max_retries in wrangler.toml) and redelivery is harmless.

use serde::{Deserialize, Serialize};
use worker::{Env, MessageBatch, MessageExt, Result};

use crate::evaluation::{self, Evaluation};
use crate::store::Store;

/// One execution as stored, already validated and enriched by the API.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecutionRow {
    pub id: String,
    pub prompt_id: String,
    pub version_id: String,
    pub environment: String,
    pub variant: Option<u32>,
    pub latency_ms: f64,
    pub latency_bucket: usize,
    pub tokens_in: u32,
    pub tokens_out: u32,
    pub cost_usd: Option<f64>,
    pub score: Option<f64>,
    pub is_error: u8,
    pub error: Option<String>,
    pub model: Option<String>,
    pub output: Option<String>,
    /// The expected answer for evaluators; passed on, never stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    pub hour: String,
    pub day: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Job {
    Executions {
        workspace_id: String,
        rows: Vec<ExecutionRow>,
    },
    Feedback {
        workspace_id: String,
        execution_id: String,
        value: i8,
        comment: Option<String>,
        at: String,
    },
    /// Score stored executions with their prompts' evaluators.
    Evaluate {
        workspace_id: String,
        items: Vec<Evaluation>,
    },
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
}

/// Queue messages stay well under the 128 KB limit.
pub const MAX_MESSAGE_BYTES: usize = 96 * 1024;

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

/// Queues one job to run after `seconds`.
pub async fn send_delayed(env: &Env, job: Job, seconds: u32) -> Result<()> {
    env.queue(crate::QUEUE_BINDING)?
        .send(worker::MessageBuilder::new(job).delay_seconds(seconds).build())
        .await
}

pub async fn send(env: &Env, jobs: Vec<Job>) -> Result<()> {
    let queue = env.queue(crate::QUEUE_BINDING)?;
    for job in jobs {
        queue.send(job).await?;
    }
    Ok(())
}

/// Ok(None): done; Ok(Some(s)): retry in `s` seconds; Err: retry now.
async fn run(env: &Env, store: &Store, job: &Job) -> Result<Option<u32>> {
    let done = |r: Result<()>| r.map(|()| None);
    match job {
        Job::Executions { workspace_id, rows } => {
            let json = serde_json::to_string(rows).map_err(|e| worker::Error::RustError(e.to_string()))?;
            store.ingest_executions(workspace_id, &json).await?;
            // After the rows are stored: a failure here retries the message,
            // whose ingest is then a no-op.
            done(evaluation::schedule(env, store, workspace_id, rows).await)
        }
        Job::Feedback {
            workspace_id,
            execution_id,
            value,
            comment,
            at,
        } => done(
            store
                .ingest_feedback(workspace_id, execution_id, *value, comment.as_deref(), at)
                .await,
        ),
        Job::Evaluate { workspace_id, items } => evaluation::run(store, workspace_id, items).await,
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
            let kv = crate::kv::EdgeKv::new(env.kv(crate::KV_BINDING)?);
            if crate::publish::publish_if_behind(store, &kv, workspace_id, environment_id, environment, slug)
                .await
                .is_ok()
            {
                return Ok(None);
            }
            // Not the Queue's retries, which end after max_retries: a new
            // job per failure, with growing delays, so KV catches up with D1
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
    }
}

pub async fn consume(env: &Env, store: &Store, batch: MessageBatch<Job>) -> Result<()> {
    for message in batch.messages()? {
        match run(env, store, message.body()).await {
            Ok(None) => message.ack(),
            Ok(Some(delay)) => message.retry_with_options(
                &worker::QueueRetryOptionsBuilder::new()
                    .with_delay_seconds(delay)
                    .build(),
            ),
            Err(e) => {
                worker::console_error!("queue job failed, will retry: {e}");
                message.retry();
            }
        }
    }
    Ok(())
}
