//! Per-prompt evaluators: which checks score this prompt's executions.

use pvct_core::api::EvaluatorsView;
use pvct_core::audit::AuditAction;
use pvct_core::evaluator::{parse_evaluators, Evaluator};
use pvct_core::names::Slug;
use serde_json::json;
use worker::Request;

use super::find_prompt;
use crate::http::{body, json, ApiResult, OrInternal};
use crate::ids::now;
use crate::Ctx;

/// The evaluators as shown, with a warning when a judge has no endpoint to ask.
async fn view(ctx: &Ctx, slug: &Slug, evaluators: &[Evaluator]) -> ApiResult {
    let judge_configured = ctx
        .store
        .settings(&ctx.who.workspace_id)
        .await
        .or_internal("settings")?
        .is_some_and(|s| s.judge_url.is_some());
    json(200, &EvaluatorsView::new(slug.as_str(), evaluators, judge_configured))
}

pub async fn get(ctx: &Ctx, slug: &Slug) -> ApiResult {
    let prompt = find_prompt(ctx, slug).await?;
    let evaluators = ctx
        .store
        .evaluators(&prompt.id)
        .await
        .or_internal("evaluators")?
        .unwrap_or_default();
    view(ctx, slug, &evaluators).await
}

/// Replaces the prompt's evaluators (an empty list removes them). Scores
/// already given stay; new executions are scored by the new set.
pub async fn put(ctx: &Ctx, slug: &Slug, req: &mut Request) -> ApiResult {
    let evaluators = parse_evaluators(&body(req).await?)?;
    let prompt = find_prompt(ctx, slug).await?;
    let at = now();
    ctx.store
        .put_evaluators(
            &ctx.who.workspace_id,
            &prompt.id,
            &evaluators,
            &at,
            &ctx.audit(AuditAction::EvaluatorsPut, &prompt.id, &at)
                .prompt(slug.as_str())
                .details(json!({ "evaluators": evaluators.iter().map(|e| e.name.as_str()).collect::<Vec<_>>() })),
        )
        .await
        .or_internal("put evaluators")?;
    view(ctx, slug, &evaluators).await
}
