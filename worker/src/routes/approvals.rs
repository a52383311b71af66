//! The approval queue: changes to environments that require approval wait
//! here (202) until an approver other than the requester decides. Deciding
//! is a change of the release service (release.rs).

use pvct_core::api::ApprovalStatus;
use pvct_core::api::Items;
use pvct_core::names::bounded_text;
use pvct_core::request::parse_json;
use serde::Deserialize;
use worker::Request;

use crate::http::{body, json, ApiResult, OrInternal, Query};
use crate::release;
use crate::Ctx;

pub async fn list(ctx: &Ctx) -> ApiResult {
    let q = Query::of(&ctx.url);
    let status = q.parse("status", ApprovalStatus::parse)?;
    let items = ctx
        .store
        .list_approvals(&ctx.who.workspace_id, status)
        .await
        .or_internal("approvals")?;
    json(200, &Items::new(items))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Decision {
    #[serde(default)]
    note: Option<String>,
}

pub async fn decide(ctx: &Ctx, id: &str, approve: bool, req: &mut Request) -> ApiResult {
    let decision: Decision = parse_json(&body(req).await?)?;
    let note = bounded_text("note", decision.note.as_deref().unwrap_or(""), 2000, false)?;
    release::decide(ctx, id, approve, note).await
}
