//! Test suites per prompt and their runs: the suite's revisions, starting
//! a run (on the workspace's provider, or grading a client's outputs),
//! reading runs, comparing two.

use pvct_core::api::{Items, TestResultView, TestRunCompareView, TestRunHead, TestRunView, TestSuiteView};
use pvct_core::audit::AuditAction;
use pvct_core::names::Slug;
use pvct_core::test_suite::{compare_runs, next_revision, CaseOutcome, RunRequest, Suite, MAX_RUN_BODY_BYTES};
use pvct_core::{Error, ErrorKind};
use serde_json::json;
use worker::Request;

use super::{find_prompt, find_version};
use crate::http::{body, body_within, json, ApiResult, OrInternal, Query};
use crate::ids::now;
use crate::store::{grade_of, PromptRow, RunRow};
use crate::Ctx;

pub async fn get_suite(ctx: &Ctx, slug: &Slug) -> ApiResult {
    let prompt = find_prompt(ctx, slug).await?;
    let view = match ctx.store.test_suite(&prompt.id).await.or_internal("suite")? {
        Some(row) => TestSuiteView::new(
            &prompt.slug,
            row.revision,
            &row.suite,
            Some(row.author),
            Some(row.created_at),
        ),
        None => TestSuiteView::new(
            &prompt.slug,
            0,
            &Suite {
                cases: Vec::new(),
                pass_threshold: 1.0,
                auto_run: false,
            },
            None,
            None,
        ),
    };
    json(200, &view)
}

/// Appends a revision of the suite, unless it is the current one already.
pub async fn put_suite(ctx: &Ctx, slug: &Slug, req: &mut Request) -> ApiResult {
    let suite = Suite::parse(&body(req).await?)?;
    let prompt = find_prompt(ctx, slug).await?;
    let current = ctx.store.test_suite(&prompt.id).await.or_internal("suite")?;
    let Some(revision) = next_revision(current.as_ref().map(|c| (c.revision, c.suite_hash.as_str())), &suite) else {
        return get_suite(ctx, slug).await;
    };
    let at = now();
    let audit = ctx
        .audit(AuditAction::TestsPut, format!("{}#{revision}", prompt.slug), &at)
        .prompt(&prompt.slug)
        .details(json!({ "revision": revision, "cases": suite.cases.len(), "pass_threshold": suite.pass_threshold }));
    if let Err(e) = ctx
        .store
        .put_test_suite(
            &ctx.who.workspace_id,
            &prompt.id,
            revision,
            &suite,
            &ctx.who.actor,
            &at,
            &audit,
        )
        .await
    {
        // Another editor took this revision first: theirs stands.
        let now_at = ctx.store.test_suite(&prompt.id).await.or_internal("suite")?;
        if now_at.is_some_and(|c| c.revision >= revision) {
            return Err(Error::new(
                ErrorKind::Conflict,
                "the suite changed meanwhile; read it and try again",
            ));
        }
        return Err(crate::http::internal("put suite", e));
    }
    json(
        200,
        &TestSuiteView::new(&prompt.slug, revision, &suite, Some(ctx.who.actor.clone()), Some(at)),
    )
}

/// `POST /v1/prompts/{slug}/versions/{n}/test-runs`.
pub async fn start_run(ctx: &Ctx, slug: &Slug, number: u32, req: &mut Request) -> ApiResult {
    let request = RunRequest::parse(&body_within(req, MAX_RUN_BODY_BYTES).await?)?;
    let prompt = find_prompt(ctx, slug).await?;
    let version = find_version(ctx, &prompt, number).await?;
    let suite = ctx
        .store
        .test_suite(&prompt.id)
        .await
        .or_internal("suite")?
        .filter(|s| !s.suite.cases.is_empty())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::NoTestSuite,
                format!(
                    "'{}' has no test cases: PUT /v1/prompts/{}/tests first",
                    prompt.slug, prompt.slug
                ),
            )
        })?;
    request.check(&suite.suite)?;
    let run = crate::test_runs::start(ctx, &prompt, &version, &suite, request).await?;
    let status = if run.mode == "provider" { 202 } else { 201 };
    json(status, &run_view(ctx, &prompt, &run, false).await?)
}

pub async fn list_runs(ctx: &Ctx, slug: &Slug) -> ApiResult {
    let prompt = find_prompt(ctx, slug).await?;
    let version = Query::of(&ctx.url).parse("version", |s| s.parse::<u32>().ok().filter(|n| *n > 0))?;
    let runs = ctx.store.test_runs(&prompt.id, version).await.or_internal("runs")?;
    let items = runs.into_iter().map(|r| head_view(&prompt, r)).collect();
    json(200, &Items::new(items))
}

pub async fn get_run(ctx: &Ctx, slug: &Slug, id: &str) -> ApiResult {
    let prompt = find_prompt(ctx, slug).await?;
    let run = find_run(ctx, &prompt, id).await?;
    json(200, &run_view(ctx, &prompt, &run, true).await?)
}

pub async fn compare(ctx: &Ctx, slug: &Slug) -> ApiResult {
    let q = Query::of(&ctx.url);
    let id = |name: &str| {
        q.get(name).filter(|s| !s.is_empty()).map(str::to_owned).ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidQuery,
                format!("the query parameter '{name}' (a run id) is required"),
            )
            .with_details(json!({ "parameter": name }))
        })
    };
    let (a, b) = (id("a")?, id("b")?);
    let prompt = find_prompt(ctx, slug).await?;
    let (ra, rb) = (find_run(ctx, &prompt, &a).await?, find_run(ctx, &prompt, &b).await?);
    let (va, vb) = (
        run_view(ctx, &prompt, &ra, true).await?,
        run_view(ctx, &prompt, &rb, true).await?,
    );
    let outcomes = |v: &TestRunView| -> Vec<CaseOutcome> {
        v.results
            .iter()
            .flatten()
            .map(|r| CaseOutcome {
                case: r.case.clone(),
                passed: r.passed,
                output: r.output.clone(),
            })
            .collect()
    };
    let cases = compare_runs(&outcomes(&va), &outcomes(&vb));
    let strip = |mut v: TestRunView| {
        v.results = None;
        v
    };
    json(
        200,
        &TestRunCompareView {
            a: strip(va),
            b: strip(vb),
            cases,
        },
    )
}

async fn find_run(ctx: &Ctx, prompt: &PromptRow, id: &str) -> Result<RunRow, Error> {
    ctx.store
        .test_run(&prompt.id, id)
        .await
        .or_internal("run")?
        .ok_or_else(|| Error::not_found("test run"))
}

fn head_view(prompt: &PromptRow, r: RunRow) -> TestRunView {
    let summary = r.summary();
    let threshold = r.pass_threshold;
    TestRunView::new(
        TestRunHead {
            id: r.id,
            prompt: prompt.slug.clone(),
            version: r.version_number,
            suite_revision: r.suite_revision,
            mode: r.mode,
            started_by: r.started_by,
            started_at: r.started_at,
        },
        summary,
        threshold,
        None,
    )
}

/// A run as answered, with its results when asked.
pub async fn run_view(ctx: &Ctx, prompt: &PromptRow, run: &RunRow, with_results: bool) -> Result<TestRunView, Error> {
    let mut view = head_view(prompt, run.clone());
    if with_results {
        let rows = ctx.store.test_results(&run.id).await.or_internal("results")?;
        let results = rows
            .iter()
            .map(|r| {
                let grade = grade_of(r).or_internal("stored grade")?;
                Ok(TestResultView {
                    case: r.case_name.clone(),
                    passed: r.passed.map(|p| p == 1),
                    output: r.output.clone(),
                    error: r.error.clone(),
                    latency_ms: r.latency_ms,
                    cost_usd: r.cost_usd,
                    assertions: serde_json::to_value(&grade.assertions).or_internal("grade json")?,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        view.results = Some(results);
    }
    Ok(view)
}
