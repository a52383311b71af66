//! `GET /v1/audit`: the append-only trail, newest first, filterable.

use pvct_core::api::{AuditEntryView, Page};
use pvct_core::audit::AuditAction;
use pvct_core::member::Person;
use pvct_core::page::{finish_page, PageRequest};

use crate::http::{json, ApiResult, OrInternal, Query};
use crate::store::AuditFilter;
use crate::Ctx;

pub async fn list(ctx: &Ctx) -> ApiResult {
    let q = Query::of(&ctx.url);
    let page = PageRequest::parse(q.get("limit"), q.get("cursor"))?;
    let action = q.parse("action", |s| AuditAction::parse(s).map(AuditAction::as_str))?;
    // Bounds in the stored form, so text comparison is time order.
    let instant = |s: &str| {
        pvct_core::time::parse_iso_millis(s)
            .filter(|ms| *ms >= 0)
            .map(|ms| pvct_core::time::iso8601_from_millis(ms as u64))
    };
    let (since, until) = (q.parse("since", instant)?, q.parse("until", instant)?);
    // Emails are stored lowercased.
    let person = q.get("person").filter(|p| !p.is_empty()).map(str::to_ascii_lowercase);
    let filter = AuditFilter {
        prompt: q.get("prompt"),
        actor: q.get("actor"),
        person: person.as_deref(),
        action,
        since: since.as_deref(),
        until: until.as_deref(),
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
            person: r.person_email.map(|email| Person {
                name: r.person_name.unwrap_or_else(|| email.clone()),
                email,
            }),
            action: r.action,
            prompt: r.prompt_slug,
            target: r.target,
            details: r.details,
            created_at: r.created_at,
        })
        .collect();
    json(200, &Page::new(items, next))
}
