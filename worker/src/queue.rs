//! The telemetry queue: jobs the API enqueues and the consumer that writes
//! them to D1. Each message is one transaction; a failed one is retried by
//! the Queue (max_retries in wrangler.toml) and redelivery is harmless.

use serde::{Deserialize, Serialize};
use worker::{MessageBatch, MessageExt, Result};

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
}

/// Queue messages stay well under the 128 KB limit.
pub const MAX_MESSAGE_BYTES: usize = 96 * 1024;

pub async fn consume(store: &Store, batch: MessageBatch<Job>) -> Result<()> {
    for message in batch.messages()? {
        let outcome = match message.body() {
            Job::Executions { workspace_id, rows } => match serde_json::to_string(rows) {
                Ok(rows) => store.ingest_executions(workspace_id, &rows).await,
                Err(e) => Err(worker::Error::RustError(e.to_string())),
            },
            Job::Feedback {
                workspace_id,
                execution_id,
                value,
                comment,
                at,
            } => {
                store
                    .ingest_feedback(workspace_id, execution_id, *value, comment.as_deref(), at)
                    .await
            }
        };
        match outcome {
            Ok(()) => message.ack(),
            Err(e) => {
                worker::console_error!("queue job failed, will retry: {e}");
                message.retry();
            }
        }
    }
    Ok(())
}
