//! Test runs at work: starting one (a client's outputs graded at once, or
//! the workspace's provider asked for each case by queue jobs), and the
//! jobs that run cases and ask the judge. What a case's output scores is
//! the core's (`test_suite`); this module moves bytes and records results.
//! Every job is idempotent: a case already recorded is skipped.

use std::collections::BTreeMap;

use futures_util::StreamExt;
use pvct_core::content::{PromptContent, PromptKind};
use pvct_core::pricing::ModelPrice;
use pvct_core::provider::{self, Answered};
use pvct_core::settings::Settings;
use pvct_core::test_suite::{grade_client_outputs, Case, CaseResult, RunRequest, Suite};
use pvct_core::{Error, ErrorKind};
use serde_json::json;
use worker::{Env, Result};

use crate::evaluation::JudgeEndpoint;
use crate::http::OrInternal;
use crate::ids::{new_id, now, now_millis};
use crate::outbound::{post_json_within, PROVIDER_DEADLINE};
use crate::queue::rust_error;
use crate::queue::{send, Job};
use crate::store::{grade_of, NewResult, NewRun, PromptRow, RunRow, Store, SuiteRow, VersionRow};
use crate::Ctx;
use pvct_core::audit::AuditAction;

/// Cases per `TestCases` job: with the concurrency below, this bounds the
/// provider calls one message makes.
const CASES_PER_JOB: usize = 5;
/// Provider calls in flight at once, per message.
const PROVIDER_CONCURRENCY: usize = 4;
/// Seconds before a job whose provider or judge calls failed runs again.
const RETRY_SECONDS: u32 = 10;

fn new_result(r: &CaseResult) -> NewResult<'_> {
    NewResult {
        case_name: &r.case,
        passed: r.grade.passed(),
        output: &r.output,
        error: r.error.as_deref(),
        latency_ms: r.latency_ms,
        cost_usd: r.cost_usd,
        grade: serde_json::to_string(&r.grade).unwrap_or_else(|_| "{}".into()),
    }
}

/// Starts a run of `suite` against `version`; answers the stored run.
pub async fn start(
    ctx: &Ctx,
    prompt: &PromptRow,
    version: &VersionRow,
    suite: &SuiteRow,
    request: RunRequest,
) -> std::result::Result<RunRow, Error> {
    let ws = &ctx.who.workspace_id;
    let (mode, results) = match &request {
        RunRequest::Provider => {
            let settings = ctx.store.settings(ws).await.or_internal("settings")?;
            if settings.is_none_or(|s| s.provider_url.is_none()) {
                return Err(Error::new(
                    ErrorKind::ProviderNotConfigured,
                    "no provider to run the prompt on: set one with PUT /v1/settings {\"provider\": {\"url\", \"model\", \"api_key\"}}, or send outputs from `pvct test --exec`",
                ));
            }
            ("provider", Vec::new())
        }
        RunRequest::Client(outputs) => ("client", grade_client_outputs(&suite.suite, outputs)),
    };
    let (id, at) = (new_id(), now());
    let total = u32::try_from(suite.suite.cases.len()).unwrap_or(u32::MAX);
    let run = NewRun {
        id: &id,
        workspace_id: ws,
        prompt_id: &prompt.id,
        version_id: &version.id,
        version_number: version.number,
        suite_revision: suite.revision,
        mode,
        total,
        started_by: &ctx.who.actor,
        started_at: &at,
    };
    let audit = ctx
        .audit(
            AuditAction::TestRunStart,
            format!("{}@{}", prompt.slug, version.number),
            &at,
        )
        .prompt(&prompt.slug)
        .details(json!({ "run_id": id, "mode": mode, "suite_revision": suite.revision }));
    let rows: Vec<NewResult> = results.iter().map(new_result).collect();
    ctx.store
        .insert_test_run(&run, &rows, &audit)
        .await
        .or_internal("insert run")?;
    let jobs = jobs_for(ws, &id, &suite.suite, &request, &results);
    if let Err(e) = send(&ctx.env, jobs).await {
        // Without its jobs the run would wait for ever: it ends failed,
        // saying why, and the caller may start another.
        let _ = give_up_run(
            &ctx.store,
            &suite.suite,
            &id,
            "the run could not be queued; start another",
        )
        .await;
        return Err(crate::http::internal("queue test jobs", e));
    }
    ctx.store
        .test_run(&prompt.id, &id)
        .await
        .or_internal("run")?
        .ok_or_else(Error::internal)
}

/// The jobs a new run needs: the provider's cases in chunks, or one judge
/// job when a client's outputs wait for judge assertions.
fn jobs_for(workspace_id: &str, run_id: &str, suite: &Suite, request: &RunRequest, results: &[CaseResult]) -> Vec<Job> {
    match request {
        RunRequest::Provider => suite
            .cases
            .chunks(CASES_PER_JOB)
            .map(|chunk| Job::TestCases {
                workspace_id: workspace_id.to_owned(),
                run_id: run_id.to_owned(),
                cases: chunk.iter().map(|c| c.name.clone()).collect(),
            })
            .collect(),
        RunRequest::Client(_) if results.iter().any(|r| r.grade.passed().is_none()) => {
            vec![judge_job(workspace_id, run_id)]
        }
        RunRequest::Client(_) => Vec::new(),
    }
}

fn judge_job(workspace_id: &str, run_id: &str) -> Job {
    Job::JudgeTestRun {
        workspace_id: workspace_id.to_owned(),
        run_id: run_id.to_owned(),
    }
}

/// Judge calls one `JudgeTestRun` job makes before it queues the next.
const JUDGE_ASKS_PER_JOB: usize = 20;

/// What a job needs to know of its run.
struct RunContext {
    suite: Suite,
    version: VersionRow,
    kind: PromptKind,
    settings: Settings,
}

async fn load(store: &Store, workspace_id: &str, run_id: &str) -> Result<Option<RunContext>> {
    let Some((prompt_id, run)) = store.test_run_by_id(workspace_id, run_id).await? else {
        // The run is another workspace's or gone: nothing to do.
        return Ok(None);
    };
    let suite = store
        .test_suite_at(&prompt_id, run.suite_revision)
        .await?
        .ok_or_else(|| rust_error("the run's suite revision is gone"))?
        .suite;
    let version = store
        .version(&prompt_id, run.version_number)
        .await?
        .ok_or_else(|| rust_error("the run's version is gone"))?;
    let kind = store
        .prompt_kind(&prompt_id)
        .await?
        .and_then(|k| PromptKind::parse(&k).ok())
        .ok_or_else(|| rust_error("the run's prompt is gone"))?;
    let settings = store.settings(workspace_id).await?.unwrap_or_default();
    Ok(Some(RunContext {
        suite,
        version,
        kind,
        settings,
    }))
}

/// A provider call's outcome for one case: a result to record, or a
/// failure worth retrying later.
enum Called {
    Done(CaseResult),
    Retry(String),
}

/// Runs `cases` of the run on the workspace's provider, records each as
/// it comes, and queues the judge for those that need it. Ok(Some(s)):
/// some calls failed in a way that may pass later; run again in `s` s.
pub async fn run_cases(
    env: &Env,
    store: &Store,
    workspace_id: &str,
    run_id: &str,
    cases: &[String],
) -> Result<Option<u32>> {
    let Some(rc) = load(store, workspace_id, run_id).await? else {
        return Ok(None);
    };
    let states = store.test_result_states(run_id).await?;
    let recorded: Vec<&String> = states.iter().map(|(c, _)| c).collect();
    let todo: Vec<&Case> = cases
        .iter()
        .filter(|c| !recorded.contains(c))
        .filter_map(|c| rc.suite.case(c))
        .collect();
    if todo.is_empty() {
        // A retry after every case was recorded: make sure the judge is
        // asked for those still waiting (the first try may have stopped
        // before it queued the judge).
        let waiting = states.iter().any(|(c, p)| p.is_none() && cases.contains(c));
        if waiting {
            send(env, vec![judge_job(workspace_id, run_id)]).await?;
        }
        return Ok(None);
    }
    let (Some(url), Some(model)) = (
        rc.settings.provider_url.as_deref(),
        rc.settings.provider_model.as_deref(),
    ) else {
        // The provider was removed after the run started: its cases fail, said so.
        let results: Vec<CaseResult> = todo
            .iter()
            .map(|c| CaseResult::of(c, None, Some("no provider is configured any more".into()), None, None))
            .collect();
        let rows: Vec<NewResult> = results.iter().map(new_result).collect();
        return store.record_test_results(run_id, &rows, &now()).await.map(|()| None);
    };
    let overrides: BTreeMap<String, ModelPrice> = store
        .price_overrides(workspace_id)
        .await?
        .into_iter()
        .map(|p| {
            (
                p.model,
                ModelPrice {
                    input_per_million: p.input_per_million,
                    output_per_million: p.output_per_million,
                },
            )
        })
        .collect();
    let content = PromptContent::from_value(rc.kind, rc.version.expanded()).map_err(|e| rust_error(e.message()))?;
    let bearer = rc.settings.provider_api_key.as_ref().map(|k| format!("Bearer {k}"));
    let (rc, content, overrides, bearer) = (&rc, &content, &overrides, &bearer);
    let mut calls = futures_util::stream::iter(todo)
        .map(|case| async move {
            let rendered = match case.render(content, &rc.version.variables) {
                Ok(r) => r,
                Err(why) => return Called::Done(CaseResult::of(case, None, Some(why), None, None)),
            };
            let body = provider::request_body(&rendered, &rc.version.model_params, model);
            let used_model = body["model"].as_str().unwrap_or(model).to_owned();
            let headers: Vec<(&str, &str)> = bearer.iter().map(|b| ("authorization", b.as_str())).collect();
            let started = now_millis();
            let (status, reply) = match post_json_within(url, &headers, &body.to_string(), PROVIDER_DEADLINE).await {
                Ok(answer) => answer,
                Err(e) => return Called::Retry(e.to_string()),
            };
            let latency = Some((now_millis() - started) as f64);
            match provider::read_answer(status, &reply, &used_model, overrides) {
                Answered::Retry(why) => Called::Retry(why),
                Answered::Failed(why) => Called::Done(CaseResult::of(case, None, Some(why), latency, None)),
                Answered::Output { text, cost_usd } => {
                    Called::Done(CaseResult::of(case, Some(&text), None, latency, cost_usd))
                }
            }
        })
        .buffer_unordered(PROVIDER_CONCURRENCY);
    let (mut retry, mut needs_judge) = (0usize, false);
    // Each case is recorded as it comes: a consumer stopped midway loses
    // only the calls in flight, and the retry skips what is recorded.
    while let Some(called) = calls.next().await {
        match called {
            Called::Done(result) => {
                needs_judge |= result.grade.passed().is_none();
                store
                    .record_test_results(run_id, &[new_result(&result)], &now())
                    .await?;
            }
            Called::Retry(why) => {
                worker::console_error!("test run {run_id}: provider call failed, retried later: {why}");
                retry += 1;
            }
        }
    }
    if needs_judge {
        send(env, vec![judge_job(workspace_id, run_id)]).await?;
    }
    Ok((retry > 0).then_some(RETRY_SECONDS))
}

/// Asks the judge for the run's judge assertions still waiting, at most
/// [`JUDGE_ASKS_PER_JOB`] per job (the next job takes the rest).
pub async fn judge_run(env: &Env, store: &Store, workspace_id: &str, run_id: &str) -> Result<Option<u32>> {
    let Some(rc) = load(store, workspace_id, run_id).await? else {
        return Ok(None);
    };
    let judge = JudgeEndpoint::of(&rc.settings);
    let (mut retry, mut asked) = (0usize, 0usize);
    for row in store
        .test_results(run_id)
        .await?
        .into_iter()
        .filter(|r| r.passed.is_none())
    {
        let Some(case) = rc.suite.case(&row.case_name) else {
            continue;
        };
        if asked >= JUDGE_ASKS_PER_JOB {
            send(env, vec![judge_job(workspace_id, run_id)]).await?;
            break;
        }
        let mut grade = grade_of(&row)?;
        for (index, criteria, threshold) in case.judge_asks() {
            if grade.assertions.get(index).is_some_and(|a| a.passed.is_some()) {
                continue;
            }
            match &judge {
                // No judge to ask: the assertion cannot pass.
                None => grade.unjudged(index),
                Some(j) => {
                    asked += 1;
                    match j.ask(criteria, &row.output, case.reference.as_deref()).await {
                        Ok(score) => grade.judged(index, score, threshold),
                        Err((why, true)) => {
                            worker::console_error!("test run {run_id}: judge call failed, retried later: {why}");
                            retry += 1;
                        }
                        Err((_, false)) => grade.unjudged(index),
                    }
                }
            }
        }
        let json = serde_json::to_string(&grade).map_err(rust_error)?;
        store
            .update_test_result(run_id, &row.case_name, &row.grade, grade.passed(), &json)
            .await?;
    }
    Ok((retry > 0).then_some(RETRY_SECONDS))
}

/// Ends what a run still waits for as failed, saying `why`: its cases not
/// recorded yet, and judge assertions not answered. For a run whose jobs
/// could not be queued, or gave up (dead letters), so no run waits for ever.
pub async fn give_up_run(store: &Store, suite: &Suite, run_id: &str, why: &str) -> Result<()> {
    let states = store.test_result_states(run_id).await?;
    let missing: Vec<CaseResult> = suite
        .cases
        .iter()
        .filter(|c| !states.iter().any(|(name, _)| *name == c.name))
        .map(|c| CaseResult::of(c, None, Some(why.to_owned()), None, None))
        .collect();
    let rows: Vec<NewResult> = missing.iter().map(new_result).collect();
    store.record_test_results(run_id, &rows, &now()).await?;
    for row in store
        .test_results(run_id)
        .await?
        .into_iter()
        .filter(|r| r.passed.is_none())
    {
        let mut grade = grade_of(&row)?;
        if let Some(case) = suite.case(&row.case_name) {
            for (index, _, _) in case.judge_asks() {
                if grade.assertions.get(index).is_some_and(|a| a.passed.is_none()) {
                    grade.unjudged(index);
                }
            }
        }
        let json = serde_json::to_string(&grade).map_err(rust_error)?;
        store
            .update_test_result(
                run_id,
                &row.case_name,
                &row.grade,
                grade.passed().or(Some(false)),
                &json,
            )
            .await?;
    }
    Ok(())
}

/// A test job that became a dead letter: its run ends instead of waiting.
pub async fn job_gave_up(store: &Store, workspace_id: &str, run_id: &str, attempts: u32) -> Result<()> {
    let Some(rc) = load(store, workspace_id, run_id).await? else {
        return Ok(());
    };
    let why = format!("gave up after {attempts} attempts: the provider or the judge did not answer");
    give_up_run(store, &rc.suite, run_id, &why).await
}

/// Starts a provider run of the new version when its prompt's suite asks
/// for one on every commit and a provider is set; a failure is logged, the
/// commit stands.
pub async fn on_commit(ctx: &Ctx, prompt: &PromptRow, version: &VersionRow) {
    let started = async {
        let Some(suite) = ctx.store.test_suite(&prompt.id).await.or_internal("suite")? else {
            return Ok(());
        };
        if !suite.suite.auto_run || suite.suite.cases.is_empty() {
            return Ok(());
        }
        match start(ctx, prompt, version, &suite, RunRequest::Provider).await {
            Err(e) if e.kind() == ErrorKind::ProviderNotConfigured => Ok(()),
            other => other.map(|_| ()),
        }
    };
    if let Err(e) = started.await {
        worker::console_error!(
            "auto test run of {}@{} not started: {}",
            prompt.slug,
            version.number,
            e.message()
        );
    }
}
