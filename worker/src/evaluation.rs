//! Evaluators at work: after executions are stored, the consumer queues an
//! `Evaluate` job for those with output whose prompt has evaluators; the job
//! scores them (the core decides; judge evaluators call the workspace's
//! endpoint) and records the scores once. Scores already recorded are
//! skipped, so a retried job only redoes what failed.

use std::collections::{BTreeMap, BTreeSet};

use pvct_core::evaluator::{Evaluator, Verdict};
use pvct_core::judge;
use serde::{Deserialize, Serialize};
use serde_json::json;
use worker::{Env, Result};

use crate::ids::now;
use crate::outbound::post_json;
use crate::queue::{chunk, send, ExecutionRow, Job};
use crate::store::Store;
use futures_util::StreamExt;
use pvct_core::settings::Settings;

/// One execution to score.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Evaluation {
    pub execution_id: String,
    pub prompt_id: String,
    pub output: String,
    #[serde(default)]
    pub reference: Option<String>,
}

fn rust_error(e: impl std::fmt::Display) -> worker::Error {
    worker::Error::RustError(e.to_string())
}

/// Queues `Evaluate` jobs for the stored rows that have output and whose
/// prompt has evaluators.
pub async fn schedule(env: &Env, store: &Store, workspace_id: &str, rows: &[ExecutionRow]) -> Result<()> {
    let prompts: BTreeSet<&str> = rows
        .iter()
        .filter(|r| r.output.is_some())
        .map(|r| r.prompt_id.as_str())
        .collect();
    if prompts.is_empty() {
        return Ok(());
    }
    let ids = serde_json::to_string(&prompts).map_err(rust_error)?;
    let evaluated: BTreeSet<String> = store
        .prompts_with_evaluators(workspace_id, &ids)
        .await?
        .into_iter()
        .collect();
    let items: Vec<Evaluation> = rows
        .iter()
        .filter(|r| evaluated.contains(&r.prompt_id))
        .filter_map(|r| {
            Some(Evaluation {
                execution_id: r.id.clone(),
                prompt_id: r.prompt_id.clone(),
                output: r.output.clone()?,
                reference: r.reference.clone(),
            })
        })
        .collect();
    let jobs = chunk(items)
        .into_iter()
        .flat_map(|c| c.chunks(ITEMS_PER_JOB).map(<[Evaluation]>::to_vec).collect::<Vec<_>>())
        .map(|items| Job::Evaluate {
            workspace_id: workspace_id.to_owned(),
            items,
        })
        .collect();
    send(env, jobs).await
}

/// Scores `items` and records the scores; Ok(Some(s)) asks the Queue to
/// run the job again in `s` seconds because judge calls that may succeed
/// later failed. A judge reply that can never be read is logged, not retried.
pub async fn run(store: &Store, workspace_id: &str, items: &[Evaluation]) -> Result<Option<u32>> {
    let prompt_ids: BTreeSet<&str> = items.iter().map(|i| i.prompt_id.as_str()).collect();
    let evaluators: BTreeMap<String, Vec<Evaluator>> = store
        .evaluators_of(workspace_id, &serde_json::to_string(&prompt_ids).map_err(rust_error)?)
        .await?
        .into_iter()
        .collect();
    let execution_ids: Vec<&str> = items.iter().map(|i| i.execution_id.as_str()).collect();
    let done: BTreeSet<(String, String)> = store
        .scored(
            workspace_id,
            &serde_json::to_string(&execution_ids).map_err(rust_error)?,
        )
        .await?
        .into_iter()
        .collect();
    // Rule evaluators score at once; judge calls are collected and run
    // below, a few at a time.
    let (mut scores, mut asks) = (Vec::new(), Vec::new());
    for item in items {
        for evaluator in evaluators.get(&item.prompt_id).into_iter().flatten() {
            if done.contains(&(item.execution_id.clone(), evaluator.name.to_string())) {
                continue;
            }
            match evaluator.evaluate(&item.output, item.reference.as_deref()) {
                Verdict::Score(s) => scores.push(score_row(item, evaluator, s)),
                Verdict::NotApplicable => {}
                Verdict::AskJudge { criteria } => asks.push((item, evaluator, criteria)),
            }
        }
    }
    if !scores.is_empty() {
        store
            .record_scores(workspace_id, &serde_json::Value::Array(scores).to_string(), &now())
            .await?;
    }
    if asks.is_empty() {
        return Ok(None);
    }
    let settings = store.settings(workspace_id).await?;
    // No judge configured: nothing to ask; the evaluators endpoint warns about it.
    let Some(endpoint) = settings.as_ref().and_then(JudgeEndpoint::of) else {
        return Ok(None);
    };
    let endpoint = &endpoint;
    let mut answers = futures_util::stream::iter(asks)
        .map(|(item, evaluator, criteria)| async move { (item, evaluator, endpoint.ask(criteria, item).await) })
        .buffer_unordered(JUDGE_CONCURRENCY);
    let mut failures = 0usize;
    // Each score is recorded as it comes: a consumer stopped midway loses
    // only the calls in flight, and the retry skips what is recorded.
    while let Some((item, evaluator, answer)) = answers.next().await {
        match answer {
            Ok(s) => {
                let row = serde_json::Value::Array(vec![score_row(item, evaluator, s)]);
                store.record_scores(workspace_id, &row.to_string(), &now()).await?;
            }
            Err((e, retriable)) => {
                worker::console_error!("judge call failed for {}: {e}", item.execution_id);
                failures += usize::from(retriable);
            }
        }
    }
    // Retry later, not at once: a judge that failed (rate limit, outage)
    // needs time. Scores recorded above are skipped on the retry.
    Ok((failures > 0).then_some(JUDGE_RETRY_SECONDS))
}

fn score_row(item: &Evaluation, evaluator: &Evaluator, score: f64) -> serde_json::Value {
    json!({ "execution_id": item.execution_id, "evaluator": evaluator.name, "score": score })
}

/// Executions per `Evaluate` job: with the evaluators of a prompt, this
/// bounds the judge calls one message makes.
const ITEMS_PER_JOB: usize = 20;

/// Judge calls in flight at once, per message.
const JUDGE_CONCURRENCY: usize = 4;

/// Seconds before a job whose judge calls failed runs again.
const JUDGE_RETRY_SECONDS: u32 = 10;

struct JudgeEndpoint<'a> {
    url: &'a str,
    model: &'a str,
    api_key: Option<&'a str>,
}

impl<'a> JudgeEndpoint<'a> {
    fn of(s: &'a Settings) -> Option<Self> {
        Some(JudgeEndpoint {
            url: s.judge_url.as_deref()?,
            model: s.judge_model.as_deref()?,
            api_key: s.judge_api_key.as_deref(),
        })
    }

    /// The judge's score, or why there is none and whether asking again may help.
    async fn ask(&self, criteria: &str, item: &Evaluation) -> std::result::Result<f64, (String, bool)> {
        let body = judge::request_body(self.model, criteria, &item.output, item.reference.as_deref());
        let bearer = self.api_key.map(|k| format!("Bearer {k}"));
        let headers: Vec<(&str, &str)> = bearer.iter().map(|b| ("authorization", b.as_str())).collect();
        match post_json(self.url, &headers, &body.to_string()).await {
            Err(e) => Err((e.to_string(), true)),
            // Rate limits and server errors pass; other refusals will not.
            Ok((status, _)) if !(200..300).contains(&status) => {
                Err((format!("judge answered {status}"), judge::worth_retrying(status)))
            }
            Ok((_, reply)) => judge::parse_reply(&reply).map_err(|e| (e.message().to_owned(), false)),
        }
    }
}
