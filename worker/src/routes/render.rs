//! Rendering on the server (`POST /v1/prompts/{slug}/render`) and the
//! dependents of a snippet (`GET /v1/prompts/{slug}/dependents`).

use pvct_core::api::{DependentView, DependentsView, RenderRouting, RenderView};
use pvct_core::content::{PromptContent, PromptKind};
use pvct_core::names::Slug;
use pvct_core::render::{parse_history, render as render_content, RenderRequest};
use pvct_core::{Error, ErrorKind};
use serde_json::json as j;
use worker::Request;

use super::resolve::{load_resolved, random_u32};
use super::{find_prompt, find_version};
use crate::http::{body, json, ApiResult, OrInternal};
use crate::Ctx;

pub async fn render(ctx: &Ctx, slug: &Slug, req: &mut Request) -> ApiResult {
    let input = RenderRequest::parse(&body(req).await?)?;
    let history = parse_history(&input.history)?;
    let prompt = find_prompt(ctx, slug).await?;
    let kind = PromptKind::parse(&prompt.kind).or_internal("stored kind")?;
    // Either what an environment serves this user, or one version.
    let (version, content, variables, routing) = match (&input.environment, input.version) {
        (Some(env), _) => {
            let (doc, _, _) = load_resolved(ctx, env, slug, false).await?;
            let r = doc.resolve_for(input.user_key.as_deref(), random_u32);
            let routing = RenderRouting {
                environment: env.as_str().to_owned(),
                experiment_id: r.experiment_id,
                variant: r.variant,
                assignment: r.assignment,
            };
            (r.version, r.content, r.variables, Some(routing))
        }
        (None, Some(n)) => {
            let v = find_version(ctx, &prompt, n).await?;
            (v.number, v.expanded().clone(), v.variables, None)
        }
        (None, None) => return Err(Error::new(ErrorKind::InvalidField, "give environment or version")),
    };
    let content = PromptContent::from_value(kind, &content).or_internal("stored content")?;
    let rendered = render_content(&content, &variables, &input.variables, &history, input.strict)?;
    json(
        200,
        &RenderView {
            prompt: prompt.slug,
            kind: prompt.kind,
            version,
            rendered,
            routing,
        },
    )
}

pub async fn dependents(ctx: &Ctx, slug: &Slug) -> ApiResult {
    let prompt = find_prompt(ctx, slug).await?;
    if prompt.kind != PromptKind::Snippet.as_str() {
        return Err(Error::new(
            ErrorKind::InvalidField,
            format!("'{slug}' is a {} prompt, not a snippet", prompt.kind),
        )
        .with_details(j!({ "field": "slug" })));
    }
    let production = ctx
        .store
        .live(&ctx.who.workspace_id, slug.as_str(), "production")
        .await
        .or_internal("live")?
        .map(|l| l.version);
    let rows = ctx
        .store
        .dependents(&ctx.who.workspace_id, slug.as_str())
        .await
        .or_internal("dependents")?;
    let items = rows
        .into_iter()
        .map(|r| DependentView::new(r.prompt, r.head_version, r.pinned_version, production))
        .collect();
    json(
        200,
        &DependentsView {
            snippet: prompt.slug,
            production_version: production,
            items,
        },
    )
}
