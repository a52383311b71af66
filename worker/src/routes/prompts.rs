//! Prompts: create, list (cursor pages by slug), get with head and deployments.

use pvct_core::api::{LiveDeploymentView, Page, PromptDetailView};
use pvct_core::audit::AuditAction;
use pvct_core::names::Slug;
use pvct_core::page::{finish_page, PageRequest};
use pvct_core::request::CreatePrompt;
use pvct_core::{Error, ErrorKind};
use serde_json::json as j;
use worker::Request;

use super::find_prompt;
use super::versions::version_view;
use crate::http::{body, json, ApiResult, OrInternal, Query};
use crate::ids::{new_id, now};
use crate::store::PromptRow;
use crate::Ctx;

pub async fn create(ctx: &Ctx, req: &mut Request) -> ApiResult {
    let input = CreatePrompt::parse(&body(req).await?)?;
    let ws = &ctx.who.workspace_id;
    let exists = || {
        Error::new(
            ErrorKind::AlreadyExists,
            format!("a prompt '{}' already exists", input.slug),
        )
        .with_details(j!({ "field": "slug" }))
    };
    if ctx
        .store
        .prompt(ws, input.slug.as_str())
        .await
        .or_internal("find prompt")?
        .is_some()
    {
        return Err(exists());
    }
    let at = now();
    let row = PromptRow {
        id: new_id(),
        slug: input.slug.to_string(),
        name: input.name,
        description: input.description,
        kind: input.kind.as_str().to_owned(),
        created_by: Some(ctx.who.actor.clone()),
        created_at: at.clone(),
    };
    let result = ctx
        .store
        .create_prompt(
            &row,
            ws,
            &ctx.audit(AuditAction::PromptCreate, &row.slug, &at)
                .prompt(&row.slug)
                .details(j!({ "kind": row.kind, "name": row.name })),
        )
        .await;
    if result.is_err()
        && ctx
            .store
            .prompt(ws, &row.slug)
            .await
            .or_internal("find prompt")?
            .is_some()
    {
        return Err(exists());
    }
    result.or_internal("create prompt")?;
    json(201, &row)
}

pub async fn list(ctx: &Ctx) -> ApiResult {
    let q = Query::of(&ctx.url);
    let page = PageRequest::parse(q.get("limit"), q.get("cursor"))?;
    let rows = ctx
        .store
        .list_prompts(&ctx.who.workspace_id, &page)
        .await
        .or_internal("list prompts")?;
    let (rows, next) = finish_page(rows, &page, |p| p.slug.clone());
    json(200, &Page::new(rows, next))
}

pub async fn get(ctx: &Ctx, slug: &Slug) -> ApiResult {
    let prompt = find_prompt(ctx, slug).await?;
    let head = ctx.store.head(&prompt.id).await.or_internal("head")?;
    let live = ctx.store.live_of_prompt(&prompt.id).await.or_internal("live")?;
    let deployments = live
        .into_iter()
        .map(|row| {
            let view = LiveDeploymentView {
                version: row.version,
                version_id: row.version_id,
                deployment_id: row.deployment_id,
                deployed_at: row.deployed_at,
            };
            (row.environment, view)
        })
        .collect();
    let head = head.map(|v| version_view(&v, &prompt));
    json(
        200,
        &PromptDetailView {
            prompt,
            head,
            deployments,
        },
    )
}
