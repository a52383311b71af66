//! Environments and their gate policies.

use pvct_core::audit::AuditAction;
use pvct_core::names::EnvironmentName;
use pvct_core::request::PutEnvironment;
use pvct_core::Error;
use serde_json::{json as j, Value};
use worker::Request;

use super::parse_stored;
use crate::http::{body, json, ApiResult, OrInternal};
use crate::ids::{new_id, now};
use crate::store::{AuditEntry, EnvironmentRow};
use crate::Ctx;

fn environment_json(e: &EnvironmentRow) -> Result<Value, Error> {
    Ok(j!({
        "name": e.name, "position": e.position, "policy": parse_stored(&e.policy)?,
        "created_at": e.created_at, "updated_at": e.updated_at,
    }))
}

pub async fn list(ctx: &Ctx) -> ApiResult {
    let rows = ctx
        .store
        .environments(&ctx.who.workspace_id)
        .await
        .or_internal("environments")?;
    let items = rows.iter().map(environment_json).collect::<Result<Vec<_>, _>>()?;
    json(200, &j!({ "items": items }))
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
    let policy = serde_json::to_value(&input.policy).or_internal("policy json")?;
    let at = now();
    let audit_id = new_id();
    ctx.store
        .put_environment(
            ws,
            &new_id(),
            name.as_str(),
            input.position,
            &policy.to_string(),
            &at,
            &AuditEntry {
                id: &audit_id,
                workspace_id: ws,
                actor: &ctx.who.actor,
                action: AuditAction::EnvironmentPut,
                prompt_slug: None,
                target: name.as_str(),
                details: j!({ "policy": policy, "position": input.position, "created": !existed }),
                at: &at,
            },
        )
        .await
        .or_internal("put environment")?;
    let row = ctx
        .store
        .environment(ws, name.as_str())
        .await
        .or_internal("environment")?
        .ok_or_else(Error::internal)?;
    json(if existed { 200 } else { 201 }, &environment_json(&row)?)
}
