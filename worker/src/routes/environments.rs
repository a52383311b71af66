//! Environments and their gate policies.

use pvct_core::api::{EnvironmentView, Items};
use pvct_core::audit::AuditAction;
use pvct_core::names::EnvironmentName;
use pvct_core::quota::Quota;
use pvct_core::request::PutEnvironment;
use pvct_core::Error;
use serde_json::json as j;
use worker::Request;

use crate::http::{body, json, ApiResult, OrInternal};
use crate::ids::{new_id, now};
use crate::store::EnvironmentRow;
use crate::Ctx;

fn environment_view(e: EnvironmentRow) -> EnvironmentView {
    EnvironmentView {
        name: e.name,
        position: e.position,
        policy: e.policy,
        created_at: e.created_at,
        updated_at: e.updated_at,
    }
}

pub async fn list(ctx: &Ctx) -> ApiResult {
    let rows = ctx
        .store
        .environments(&ctx.who.workspace_id)
        .await
        .or_internal("environments")?;
    let items = rows.into_iter().map(environment_view).collect();
    json(200, &Items::new(items))
}

pub async fn put(ctx: &Ctx, name: &EnvironmentName, req: &mut Request) -> ApiResult {
    let input = PutEnvironment::parse(&body(req).await?)?;
    let ws = &ctx.who.workspace_id;
    let existed = ctx
        .store
        .environment(ws, name.as_str())
        .await
        .or_internal("environment")?
        .is_some();
    if !existed {
        let usage = ctx
            .store
            .quota_usage(ws, Quota::Environments)
            .await
            .or_internal("quota")?;
        Quota::Environments.admit(usage)?;
    }
    let policy = serde_json::to_value(&input.policy).or_internal("policy json")?;
    let at = now();
    ctx.store
        .put_environment(
            ws,
            &new_id(),
            name.as_str(),
            input.position,
            &input.policy,
            &at,
            &ctx.audit(AuditAction::EnvironmentPut, name.as_str(), &at)
                .details(j!({ "policy": policy, "position": input.position, "created": !existed })),
        )
        .await
        .or_internal("put environment")?;
    let row = ctx
        .store
        .environment(ws, name.as_str())
        .await
        .or_internal("environment")?
        .ok_or_else(Error::internal)?;
    json(if existed { 200 } else { 201 }, &environment_view(row))
}
