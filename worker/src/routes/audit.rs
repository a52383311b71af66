//! `GET /v1/audit`: the append-only trail, newest first, filterable.

use pvct_core::api::{AuditEntryView, Page};
use pvct_core::audit::AuditAction;
use pvct_core::page::{finish_page, PageRequest};

use crate::http::{json, ApiResult, OrInternal, Query};
use crate::store::AuditFilter;
use crate::Ctx;

pub async fn list(ctx: &Ctx) -> ApiResult {
    let q = Query::of(&ctx.url);
    let page = PageRequest::parse(q.get("limit"), q.get("cursor"))?;
    let action = q.parse("action", |s| AuditAction::parse(s).map(AuditAction::as_str))?;
    let filter = AuditFilter {
        prompt: q.get("prompt"),
        actor: q.get("actor"),
        action,
    };
    let rows = ctx
        .store
        .list_audit(&ctx.who.workspace_id, &filter, page.after_number()?, page.fetch_size())
        .await
        .or_internal("audit")?;
    let (rows, next) = finish_page(rows, &page, |r| r.seq.to_string());
    let items = rows
        .into_iter()
        .map(|r| AuditEntryView {
            id: r.id,
            actor: r.actor,
            action: r.action,
            prompt: r.prompt_slug,
            target: r.target,
            details: r.details,
            created_at: r.created_at,
        })
        .collect();
    json(200, &Page::new(items, next))
}
