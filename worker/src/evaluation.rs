//! Evaluators at work: after executions are stored, the consumer queues an
//! `Evaluate` job for those with output whose prompt has evaluators; the job
//! scores them (the core decides; judge evaluators call the workspace's
//! endpoint) and records the scores once. Scores already recorded are
//! skipped, so a retried job only redoes what failed.

use std::collections::{BTreeMap, BTreeSet};

use pvct_core::evaluator::{from_stored, Evaluator, Verdict};
use pvct_core::judge;
use serde::{Deserialize, Serialize};
use serde_json::json;
use worker::{wasm_bindgen::JsValue, Env, Fetch, Headers, Method, Request, RequestInit, Result};

use crate::ids::now;
use crate::queue::{chunk, send, ExecutionRow, Job};
use crate::store::{SettingsRow, Store};

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
        .evaluators_of(workspace_id, &ids)
        .await?
        .into_iter()
        .map(|(prompt_id, _)| prompt_id)
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
        .map(|items| Job::Evaluate {
            workspace_id: workspace_id.to_owned(),
            items,
        })
        .collect();
    send(env, jobs).await
}

/// Scores `items`; records what was scored, then fails (so the Queue
/// retries) if any judge call failed.
pub async fn run(store: &Store, workspace_id: &str, items: &[Evaluation]) -> Result<()> {
    let prompt_ids: BTreeSet<&str> = items.iter().map(|i| i.prompt_id.as_str()).collect();
    let mut evaluators: BTreeMap<String, Vec<Evaluator>> = BTreeMap::new();
    for (prompt_id, stored) in store
        .evaluators_of(workspace_id, &serde_json::to_string(&prompt_ids).map_err(rust_error)?)
        .await?
    {
        evaluators.insert(prompt_id, from_stored(&stored).map_err(rust_error)?);
    }
    let execution_ids: Vec<&str> = items.iter().map(|i| i.execution_id.as_str()).collect();
    let done: BTreeSet<(String, String)> = store
        .scored(
            workspace_id,
            &serde_json::to_string(&execution_ids).map_err(rust_error)?,
        )
        .await?
        .into_iter()
        .collect();
    let mut settings: Option<Option<SettingsRow>> = None;
    let (mut scores, mut failures) = (Vec::new(), 0usize);
    for item in items {
        for evaluator in evaluators.get(&item.prompt_id).into_iter().flatten() {
            if done.contains(&(item.execution_id.clone(), evaluator.name.to_string())) {
                continue;
            }
            let score = match evaluator.evaluate(&item.output, item.reference.as_deref()) {
                Verdict::Score(s) => Some(s),
                Verdict::NotApplicable => None,
                Verdict::AskJudge { criteria } => {
                    if settings.is_none() {
                        settings = Some(store.settings(workspace_id).await?);
                    }
                    match settings.as_ref().and_then(|s| s.as_ref()).and_then(JudgeEndpoint::of) {
                        // No judge configured: nothing to ask; the evaluators
                        // endpoint warns about it.
                        None => None,
                        Some(endpoint) => match endpoint.ask(criteria, item).await {
                            Ok(s) => Some(s),
                            Err(e) => {
                                worker::console_error!("judge call failed for {}: {e}", item.execution_id);
                                failures += 1;
                                None
                            }
                        },
                    }
                }
            };
            if let Some(score) = score {
                scores.push(json!({ "execution_id": item.execution_id, "evaluator": evaluator.name, "score": score }));
            }
        }
    }
    if !scores.is_empty() {
        store
            .record_scores(workspace_id, &serde_json::Value::Array(scores).to_string(), &now())
            .await?;
    }
    if failures > 0 {
        return Err(rust_error(format!("{failures} judge calls failed")));
    }
    Ok(())
}

struct JudgeEndpoint<'a> {
    url: &'a str,
    model: &'a str,
    api_key: Option<&'a str>,
}

impl<'a> JudgeEndpoint<'a> {
    fn of(s: &'a SettingsRow) -> Option<Self> {
        Some(JudgeEndpoint {
            url: s.judge_url.as_deref()?,
            model: s.judge_model.as_deref()?,
            api_key: s.judge_api_key.as_deref(),
        })
    }

    async fn ask(&self, criteria: &str, item: &Evaluation) -> Result<f64> {
        let body = judge::request_body(self.model, criteria, &item.output, item.reference.as_deref());
        let headers = Headers::new();
        headers.set("content-type", "application/json")?;
        if let Some(key) = self.api_key {
            headers.set("authorization", &format!("Bearer {key}"))?;
        }
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_headers(headers)
            .with_body(Some(JsValue::from_str(&body.to_string())));
        let mut response = Fetch::Request(Request::new_with_init(self.url, &init)?).send().await?;
        let status = response.status_code();
        if !(200..300).contains(&status) {
            return Err(rust_error(format!("judge answered {status}")));
        }
        judge::parse_reply(&response.bytes().await?).map_err(|e| rust_error(e.message()))
    }
}
