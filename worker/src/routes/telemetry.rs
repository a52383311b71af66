//! Telemetry: execution batches and feedback go to the Queue (202); the
//! metrics come from the rollups the consumer maintains.

use std::collections::{BTreeMap, BTreeSet};

use pvct_core::api::{
    CompareView, ComparedVersionView, ExecutionsAcceptedView, FeedbackAcceptedView, LogObjectView, MetricsView,
    PriceOverrideView, PricesView, PromotionStatsView, TelemetryLogView, VersionMetricsView, WeekPromotionsView,
};
use pvct_core::audit::AuditAction;
use pvct_core::histogram::{bucket_of, Histogram, RELATIVE_ERROR_BOUND};
use pvct_core::names::{EnvironmentName, Slug};
use pvct_core::pricing::{cost_usd, ModelPrice};
use pvct_core::raw_log::LogObjectId;
use pvct_core::rollup::FeedbackRow;
use pvct_core::telemetry::{
    compare as compare_versions, hour_and_day, parse_batch, summarize, EvaluatorScore, Feedback, ParsedBatch, Rejected,
    RollupSums,
};
use pvct_core::time::{is_date, parse_day, week_starts};
use pvct_core::{Error, ErrorKind};
use serde_json::json as j;
use worker::Request;

use super::find_prompt;
use crate::http::{body, json, ApiResult, OrInternal, Query};
use crate::ids::now;
use crate::queue::{chunk, ExecutionRow, Job};
use crate::raw_log::RawLog;
use crate::Ctx;

async fn enqueue(ctx: &Ctx, jobs: Vec<Job>) -> Result<(), Error> {
    crate::queue::send(&ctx.env, jobs).await.or_internal("queue send")
}

pub async fn executions(ctx: &Ctx, req: &mut Request) -> ApiResult {
    json(202, &ingest(ctx, &body(req).await?).await?)
}

/// Validates and queues a batch of executions (`{"executions": [...]}`);
/// also what Langfuse-traced generations are counted through.
pub async fn ingest(ctx: &Ctx, bytes: &[u8]) -> Result<ExecutionsAcceptedView, Error> {
    let ParsedBatch { records, mut rejected } = parse_batch(bytes)?;
    let ws = &ctx.who.workspace_id;
    // Versions must be this workspace's; environments must exist.
    let ids: BTreeSet<&str> = records.iter().map(|(_, r)| r.prompt_version_id.as_str()).collect();
    let ids_json = serde_json::to_string(&ids).or_internal("ids json")?;
    let known: BTreeMap<String, String> = ctx
        .store
        .versions_in_workspace(ws, &ids_json)
        .await
        .or_internal("versions")?
        .into_iter()
        .collect();
    let environments: BTreeSet<String> = ctx
        .store
        .environments(ws)
        .await
        .or_internal("environments")?
        .into_iter()
        .map(|e| e.name)
        .collect();
    let overrides = price_overrides(ctx).await?;
    let at = now();
    let (hour, day) = hour_and_day(&at)?;
    let mut rows = Vec::new();
    for (index, r) in records {
        let Some(prompt_id) = known.get(&r.prompt_version_id) else {
            rejected.push(Rejected {
                index,
                code: "unknown_version",
                message: "no such prompt version".into(),
            });
            continue;
        };
        if !environments.contains(&r.environment) {
            rejected.push(Rejected {
                index,
                code: "unknown_environment",
                message: "no such environment".into(),
            });
            continue;
        }
        let row = ExecutionRow {
            id: r.id,
            prompt_id: prompt_id.clone(),
            version_id: r.prompt_version_id,
            environment: r.environment,
            variant: r.variant,
            latency_ms: r.latency_ms,
            latency_bucket: bucket_of(r.latency_ms),
            tokens_in: r.tokens_in,
            tokens_out: r.tokens_out,
            // The client's cost wins; otherwise the price table's, if the model has one.
            cost_usd: r
                .cost_usd
                .or_else(|| cost_usd(r.model.as_deref()?, r.tokens_in, r.tokens_out, &overrides)),
            score: r.score,
            is_error: u8::from(r.error.is_some()),
            error: r.error,
            model: r.model,
            output: r.output,
            reference: r.reference,
            hour: hour.clone(),
            day: day.clone(),
            created_at: at.clone(),
        };
        rows.push(row);
    }
    let accepted = rows.len();
    let jobs = chunk(rows)
        .into_iter()
        .map(|rows| Job::Executions {
            workspace_id: ws.clone(),
            rows,
        })
        .collect();
    enqueue(ctx, jobs).await?;
    // Positions in the request, whichever check refused them.
    rejected.sort_by_key(|r| r.index);
    Ok(ExecutionsAcceptedView { accepted, rejected })
}

/// Queues feedback on one execution, counted on the version and
/// environment the client names (they must be this workspace's).
pub async fn feedback(ctx: &Ctx, req: &mut Request) -> ApiResult {
    let f = Feedback::parse(&body(req).await?)?;
    let ws = &ctx.who.workspace_id;
    let ids = serde_json::to_string(&[f.prompt_version_id.as_str()]).or_internal("ids json")?;
    if ctx
        .store
        .versions_in_workspace(ws, &ids)
        .await
        .or_internal("versions")?
        .is_empty()
    {
        return Err(Error::invalid_field("prompt_version_id", "no such prompt version"));
    }
    if !ctx
        .store
        .environments(ws)
        .await
        .or_internal("environments")?
        .iter()
        .any(|e| e.name == f.environment.as_str())
    {
        return Err(Error::invalid_field("environment", "no such environment"));
    }
    enqueue(
        ctx,
        vec![Job::Feedback {
            workspace_id: ws.clone(),
            feedback: FeedbackRow {
                execution_id: f.execution_id.clone(),
                value: f.value,
                comment: f.comment,
                version_id: f.prompt_version_id,
                environment: f.environment.to_string(),
                at: now(),
            },
        }],
    )
    .await?;
    json(
        202,
        &FeedbackAcceptedView {
            accepted: true,
            execution_id: f.execution_id,
        },
    )
}

/// `GET /v1/telemetry/log?day=YYYY-MM-DD[&cursor=…][&limit=…]`: the raw
/// log objects of one day, oldest first.
pub async fn log_objects(ctx: &Ctx) -> ApiResult {
    let q = Query::of(&ctx.url);
    let day = q.parse("day", |s| is_date(s).then(|| s.to_owned()))?.ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidQuery,
            "the query parameter 'day' (YYYY-MM-DD) is required",
        )
    })?;
    let limit = q
        .parse("limit", |s| s.parse::<u32>().ok().filter(|n| (1..=1000).contains(n)))?
        .unwrap_or(100);
    let cursor = q.get("cursor").filter(|c| !c.is_empty());
    let listed = RawLog::new(&ctx.env)
        .or_internal("raw log binding")?
        .list(&ctx.who.workspace_id, &day, cursor, limit)
        .await;
    let (items, next_cursor) = match (listed, cursor) {
        (Ok(page), _) => page,
        // R2 refuses a cursor it did not hand out.
        (Err(_), Some(_)) => {
            return Err(
                Error::new(ErrorKind::InvalidQuery, "cursor is not one this API returned")
                    .with_details(j!({ "parameter": "cursor" })),
            )
        }
        (Err(e), None) => return Err(crate::http::internal("raw log list", e)),
    };
    let items = items
        .into_iter()
        .map(|o| LogObjectView {
            id: o.id.id(),
            kind: o.id.kind().as_str(),
            hour: o.id.hour().to_owned(),
            bytes: o.bytes,
        })
        .collect();
    json(
        200,
        &TelemetryLogView {
            day,
            items,
            next_cursor,
        },
    )
}

/// `GET /v1/telemetry/log/{id}`: one object's records as NDJSON.
pub async fn log_object(ctx: &Ctx, id: &LogObjectId) -> ApiResult {
    let text = RawLog::new(&ctx.env)
        .or_internal("raw log binding")?
        .get(&ctx.who.workspace_id, id)
        .await
        .or_internal("raw log get")?
        .ok_or_else(|| Error::not_found("raw log object"))?;
    crate::http::ndjson(text)
}

/// The environment and hour range of a metrics query.
fn metrics_scope(q: &Query) -> Result<(EnvironmentName, String, String), Error> {
    let env = q
        .parse("environment", |s| EnvironmentName::parse(s).ok())?
        .ok_or_else(|| Error::new(ErrorKind::InvalidQuery, "the query parameter 'environment' is required"))?;
    let hour_of = |name: &str, default: &str| -> Result<String, Error> {
        Ok(hour_and_day(q.get(name).filter(|s| !s.is_empty()).unwrap_or(default))
            .map_err(|e| e.with_details(j!({ "parameter": name })))?
            .0)
    };
    Ok((env, hour_of("from", "0000-01-01T00")?, hour_of("to", "9999-12-31T23")?))
}

/// Per version: (number, id, rollup sums, latency histogram).
type VersionFigures = (u32, String, RollupSums, Histogram);

async fn version_figures(
    ctx: &Ctx,
    prompt_id: &str,
    env: &str,
    from: &str,
    to: &str,
) -> Result<Vec<VersionFigures>, Error> {
    let rows = ctx
        .store
        .rollups(prompt_id, env, from, to)
        .await
        .or_internal("rollups")?;
    let buckets = ctx
        .store
        .latency_histograms(prompt_id, env, from, to)
        .await
        .or_internal("buckets")?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let mut h = Histogram::default();
            for b in buckets.iter().filter(|b| b.version_id == r.version_id) {
                h.add_bucket(b.bucket, b.count);
            }
            let sums = RollupSums {
                calls: r.calls,
                errors: r.errors,
                cost_sum: r.cost_sum,
                tokens_in: r.tokens_in,
                tokens_out: r.tokens_out,
                score_sum: r.score_sum,
                score_sq_sum: r.score_sq_sum,
                score_count: r.score_count,
                feedback_up: r.feedback_up,
                feedback_down: r.feedback_down,
            };
            (r.version, r.version_id, sums, h)
        })
        .collect())
}

pub async fn metrics(ctx: &Ctx, slug: &Slug) -> ApiResult {
    let (env, from, to) = metrics_scope(&Query::of(&ctx.url))?;
    let prompt = find_prompt(ctx, slug).await?;
    let per_evaluator = ctx
        .store
        .evaluator_rollups(&prompt.id, env.as_str(), &from, &to)
        .await
        .or_internal("evaluator rollups")?;
    let items = version_figures(ctx, &prompt.id, env.as_str(), &from, &to)
        .await?
        .into_iter()
        .map(|(version, version_id, sums, h)| {
            let evaluators = per_evaluator
                .iter()
                .filter(|r| r.version_id == version_id)
                .map(|r| {
                    (
                        r.evaluator.clone(),
                        EvaluatorScore::from_sums(r.score_sum, r.score_count),
                    )
                })
                .collect();
            VersionMetricsView {
                version,
                version_id,
                metrics: summarize(&sums, &h),
                evaluators,
            }
        })
        .collect();
    json(
        200,
        &MetricsView {
            prompt: prompt.slug,
            environment: env.as_str().to_owned(),
            from,
            to,
            latency_relative_error_bound: RELATIVE_ERROR_BOUND,
            items,
        },
    )
}

pub async fn compare(ctx: &Ctx, slug: &Slug) -> ApiResult {
    let q = Query::of(&ctx.url);
    let (env, from, to) = metrics_scope(&q)?;
    let (a, b) = (q.version_number("a")?, q.version_number("b")?);
    let prompt = find_prompt(ctx, slug).await?;
    for n in [a, b] {
        super::find_version(ctx, &prompt, n).await?;
    }
    let figures = version_figures(ctx, &prompt.id, env.as_str(), &from, &to).await?;
    let empty = (RollupSums::default(), Histogram::default());
    let of = |n: u32| {
        figures
            .iter()
            .find(|f| f.0 == n)
            .map_or((&empty.0, &empty.1), |f| (&f.2, &f.3))
    };
    let (fa, fb) = (of(a), of(b));
    let comparison = compare_versions((&format!("v{a}"), &format!("v{b}")), fa, fb);
    json(
        200,
        &CompareView {
            prompt: prompt.slug,
            environment: env.as_str().to_owned(),
            from,
            to,
            a: ComparedVersionView {
                version: a,
                metrics: summarize(fa.0, fa.1),
            },
            b: ComparedVersionView {
                version: b,
                metrics: summarize(fb.0, fb.1),
            },
            comparison,
        },
    )
}

async fn price_overrides(ctx: &Ctx) -> Result<BTreeMap<String, ModelPrice>, Error> {
    Ok(ctx
        .store
        .price_overrides(&ctx.who.workspace_id)
        .await
        .or_internal("prices")?
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
        .collect())
}

pub async fn list_prices(ctx: &Ctx) -> ApiResult {
    let overrides = ctx
        .store
        .price_overrides(&ctx.who.workspace_id)
        .await
        .or_internal("prices")?;
    json(200, &PricesView::new(overrides))
}

pub async fn put_price(ctx: &Ctx, model: &str, req: &mut Request) -> ApiResult {
    let price: ModelPrice = pvct_core::request::parse_json(&body(req).await?)?;
    price.validate()?;
    if model.is_empty() || model.len() > 200 || !model.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::invalid_field(
            "model",
            "a model name is 1 to 200 printable characters",
        ));
    }
    let at = now();
    let row = PriceOverrideView {
        model: model.to_owned(),
        input_per_million: price.input_per_million,
        output_per_million: price.output_per_million,
        updated_at: at.clone(),
    };
    ctx.store
        .put_price(
            &ctx.who.workspace_id,
            &row,
            &ctx.audit(AuditAction::PricePut, model, &at).details(
                j!({ "input_per_million": price.input_per_million, "output_per_million": price.output_per_million }),
            ),
        )
        .await
        .or_internal("put price")?;
    json(200, &row)
}

/// Promotions into an environment (production by default) per week: the
/// product's north-star figure.
pub async fn promotion_stats(ctx: &Ctx) -> ApiResult {
    let q = Query::of(&ctx.url);
    let weeks = q
        .parse("weeks", |s| s.parse::<u32>().ok().filter(|n| (1..=104).contains(n)))?
        .unwrap_or(12);
    let env = q.parse("environment", |s| EnvironmentName::parse(s).ok())?;
    let env = env.as_ref().map_or("production", |e| e.as_str());
    let starts = week_starts(crate::ids::now_millis(), weeks);
    let days = ctx
        .store
        .promotion_days(&ctx.who.workspace_id, env, &starts[0])
        .await
        .or_internal("promotions")?;
    let first = parse_day(&starts[0]).unwrap_or_default();
    let mut counts = vec![0u64; starts.len()];
    for day in days.iter().filter_map(|d| parse_day(d)) {
        if let Some(c) = usize::try_from((day - first) / 7).ok().and_then(|i| counts.get_mut(i)) {
            *c += 1;
        }
    }
    let weeks = starts
        .into_iter()
        .zip(counts)
        .map(|(week_start, promotions)| WeekPromotionsView { week_start, promotions })
        .collect();
    json(
        200,
        &PromotionStatsView {
            environment: env.to_owned(),
            weeks,
        },
    )
}
