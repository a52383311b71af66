//! Evaluators at work: after executions are counted, the consumer queues an
//! `Evaluate` job for those with output whose prompt has evaluators; the job
//! scores them (the core decides; judge evaluators call the workspace's
//! endpoint) and counts the scores once (`ingest::scores`). Rule scores of
//! a job are counted under one key; each judge score under its own, so a
//! retried job asks the judge only what is not counted yet.

use std::collections::{BTreeMap, BTreeSet};

use pvct_core::evaluator::{Evaluator, Verdict};
use pvct_core::judge;
use pvct_core::rollup::{MessageKey, ScoreRow};
use serde::{Deserialize, Serialize};
use worker::{Env, Result};

use crate::outbound::post_json;
use crate::queue::rust_error;
use crate::queue::{chunk, send, ExecutionRow, Job};
use crate::store::Store;
use futures_util::StreamExt;
use pvct_core::settings::Settings;

/// One execution to score, with the group its scores count in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Evaluation {
    pub execution_id: String,
    pub prompt_id: String,
    pub version_id: String,
    pub environment: String,
    pub hour: String,
    pub output: String,
    #[serde(default)]
    pub reference: Option<String>,
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
                version_id: r.version_id.clone(),
                environment: r.environment.clone(),
                hour: r.hour.clone(),
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
pub async fn run(env: &Env, store: &Store, workspace_id: &str, items: &[Evaluation]) -> Result<Option<u32>> {
    let prompt_ids: BTreeSet<&str> = items.iter().map(|i| i.prompt_id.as_str()).collect();
    let evaluators: BTreeMap<String, Vec<Evaluator>> = store
        .evaluators_of(workspace_id, &serde_json::to_string(&prompt_ids).map_err(rust_error)?)
        .await?
        .into_iter()
        .collect();
    // Rule evaluators score at once; judge calls are collected and run
    // below, a few at a time.
    let (mut scores, mut asks) = (Vec::new(), Vec::new());
    for item in items {
        for evaluator in evaluators.get(&item.prompt_id).into_iter().flatten() {
            match evaluator.evaluate(&item.output, item.reference.as_deref()) {
                Verdict::Score(s) => scores.push(score_row(item, evaluator, s)),
                Verdict::NotApplicable => {}
                Verdict::AskJudge { criteria } => asks.push((item, evaluator, criteria)),
            }
        }
    }
    if !scores.is_empty() {
        // The same items and evaluators give the same scores and the same key.
        let key = MessageKey::of(
            "rules",
            scores
                .iter()
                .flat_map(|s| [s.execution_id.as_str(), s.evaluator.as_str()]),
        );
        crate::ingest::scores(env, store, workspace_id, &key, &scores).await?;
    }
    if asks.is_empty() {
        return Ok(None);
    }
    let keys: Vec<MessageKey> = asks
        .iter()
        .map(|(item, evaluator, _)| ScoreRow::judge_key(&item.execution_id, evaluator.name.as_str()))
        .collect();
    let counted: BTreeSet<String> = store
        .counted(workspace_id, &keys.iter().collect::<Vec<_>>())
        .await?
        .into_iter()
        .collect();
    let asks: Vec<_> = asks
        .into_iter()
        .zip(keys)
        .filter(|(_, key)| !counted.contains(key.as_str()))
        .collect();
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
        .map(|((item, evaluator, criteria), key)| async move {
            (
                item,
                evaluator,
                key,
                endpoint.ask(criteria, &item.output, item.reference.as_deref()).await,
            )
        })
        .buffer_unordered(JUDGE_CONCURRENCY);
    let mut failures = 0usize;
    // Each score is counted as it comes: a consumer stopped midway loses
    // only the calls in flight, and the retry skips what is counted.
    while let Some((item, evaluator, key, answer)) = answers.next().await {
        match answer {
            Ok(s) => {
                crate::ingest::scores(env, store, workspace_id, &key, &[score_row(item, evaluator, s)]).await?;
            }
            Err((e, retriable)) => {
                worker::console_error!("judge call failed for {}: {e}", item.execution_id);
                failures += usize::from(retriable);
            }
        }
    }
    // Retry later, not at once: a judge that failed (rate limit, outage)
    // needs time. Scores counted above are skipped on the retry.
    Ok((failures > 0).then_some(JUDGE_RETRY_SECONDS))
}

fn score_row(item: &Evaluation, evaluator: &Evaluator, score: f64) -> ScoreRow {
    ScoreRow {
        execution_id: item.execution_id.clone(),
        evaluator: evaluator.name.to_string(),
        score,
        version_id: item.version_id.clone(),
        environment: item.environment.clone(),
        hour: item.hour.clone(),
    }
}

/// Executions per `Evaluate` job: with the evaluators of a prompt, this
/// bounds the judge calls one message makes.
const ITEMS_PER_JOB: usize = 20;

/// Judge calls in flight at once, per message.
const JUDGE_CONCURRENCY: usize = 4;

/// Seconds before a job whose judge calls failed runs again.
const JUDGE_RETRY_SECONDS: u32 = 10;

pub(crate) struct JudgeEndpoint<'a> {
    url: &'a str,
    model: &'a str,
    api_key: Option<&'a str>,
}

impl<'a> JudgeEndpoint<'a> {
    pub(crate) fn of(s: &'a Settings) -> Option<Self> {
        Some(JudgeEndpoint {
            url: s.judge_url.as_deref()?,
            model: s.judge_model.as_deref()?,
            api_key: s.judge_api_key.as_deref(),
        })
    }

    /// The judge's score, or why there is none and whether asking again may help.
    pub(crate) async fn ask(
        &self,
        criteria: &str,
        output: &str,
        reference: Option<&str>,
    ) -> std::result::Result<f64, (String, bool)> {
        let body = judge::request_body(self.model, criteria, output, reference);
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
