//! Promotion, rollback and the deployment history of a prompt. Promote and
//! rollback are changes of the release service (release.rs).

use pvct_core::api::Page;
use pvct_core::names::{EnvironmentName, Slug};
use pvct_core::page::{finish_page, PageRequest};
use pvct_core::release::Change;
use pvct_core::request::{Promote, Rollback};
use worker::Request;

use super::find_prompt;
use crate::http::{body, json, ApiResult, OrInternal, Query};
use crate::release;
use crate::Ctx;

pub async fn promote(ctx: &Ctx, slug: &Slug, req: &mut Request) -> ApiResult {
    let input = Promote::parse(&body(req).await?)?;
    let environment = input.environment.clone();
    release::change(ctx, slug, &environment, input.change()).await
}

pub async fn rollback(ctx: &Ctx, slug: &Slug, req: &mut Request) -> ApiResult {
    let input = Rollback::parse(&body(req).await?)?;
    let change = Change::Rollback { reason: input.reason };
    release::change(ctx, slug, &input.environment, change).await
}

pub async fn list(ctx: &Ctx, slug: &Slug) -> ApiResult {
    let q = Query::of(&ctx.url);
    let environment = q.parse("environment", |s| EnvironmentName::parse(s).ok())?;
    let page = PageRequest::parse(q.get("limit"), q.get("cursor"))?;
    let before = page.after_number()?;
    let prompt = find_prompt(ctx, slug).await?;
    let rows = ctx
        .store
        .list_deployments(
            &prompt.id,
            environment.as_ref().map(|e| e.as_str()),
            before,
            page.fetch_size(),
        )
        .await
        .or_internal("deployments")?;
    let (rows, next) = finish_page(rows, &page, |d| d.seq.to_string());
    let items: Vec<_> = rows.into_iter().map(|d| d.view).collect();
    json(200, &Page::new(items, next))
}
