//! The approval queue: promotions into environments that require approval
//! wait here (202) until an approver other than the requester decides.
//! Gates are checked again at approval; approval deploys.

use pvct_core::audit::AuditAction;
use pvct_core::deployment::DeploymentAction;
use pvct_core::names::{bounded_text, EnvironmentName, Slug};
use pvct_core::request::parse_json;
use pvct_core::{Error, ErrorKind};
use serde::Deserialize;
use serde_json::json as j;
use worker::Request;

use super::deployments::{check_gates, deploy};
use super::{find_environment, find_prompt, find_version};
use crate::http::{body, json, ApiResult, OrInternal, Query};
use crate::ids::{new_id, now};
use crate::store::{EnvironmentRow, NewApproval, PromptRow, VersionRow};
use crate::Ctx;

/// Files a pending approval for promoting `version` into `env`.
pub async fn request(
    ctx: &Ctx,
    prompt: &PromptRow,
    env: &EnvironmentRow,
    version: &VersionRow,
    reason: &str,
) -> ApiResult {
    let (id, at) = (new_id(), now());
    ctx.store
        .create_approval(
            &NewApproval {
                id: &id,
                workspace_id: &ctx.who.workspace_id,
                prompt_id: &prompt.id,
                environment_id: &env.id,
                version_id: &version.id,
                reason,
                requested_by: &ctx.who.actor,
                requested_by_key: &ctx.who.key_id,
                at: &at,
            },
            &ctx.audit(
                AuditAction::ApprovalRequest,
                format!("{}@{} -> {}", prompt.slug, version.number, env.name),
                &at,
            )
            .prompt(&prompt.slug)
            .details(j!({ "approval_id": id, "environment": env.name, "version": version.number, "reason": reason })),
        )
        .await
        .or_internal("create approval")?;
    let body = j!({ "status": "pending_approval", "approval_id": id, "environment": env.name, "version": version.number,
                    "requested_by": ctx.who.actor, "created_at": at });
    let mut data = body.clone();
    data["prompt"] = j!(prompt.slug);
    crate::webhook_delivery::emit(ctx, "approval.requested", data).await;
    json(202, &body)
}

pub async fn list(ctx: &Ctx) -> ApiResult {
    let q = Query::of(&ctx.url);
    let status = q.parse("status", |s| {
        ["pending", "approved", "rejected"].into_iter().find(|k| *k == s)
    })?;
    let items = ctx
        .store
        .list_approvals(&ctx.who.workspace_id, status)
        .await
        .or_internal("approvals")?;
    json(200, &j!({ "items": items }))
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
    let ws = &ctx.who.workspace_id;
    let approval = ctx
        .store
        .approval(ws, id)
        .await
        .or_internal("approval")?
        .ok_or_else(|| Error::not_found("approval"))?;
    if approval.status != "pending" {
        return Err(Error::new(
            ErrorKind::Conflict,
            format!("this approval was already {}", approval.status),
        ));
    }
    // Four eyes: the key that asked may not decide.
    if approval.requested_by_key == ctx.who.key_id {
        return Err(Error::new(
            ErrorKind::Forbidden,
            "an approval must be decided by someone other than its requester",
        ));
    }
    let slug = Slug::parse(&approval.prompt).or_internal("stored slug")?;
    let prompt = find_prompt(ctx, &slug).await?;
    let env = find_environment(
        ctx,
        &EnvironmentName::parse(&approval.environment).or_internal("stored env")?,
    )
    .await?;
    let version = find_version(ctx, &prompt, approval.version).await?;
    if approve {
        check_gates(ctx, &prompt, &env, &version, &env.policy).await?;
    }
    let at = now();
    let (status, action) = if approve {
        ("approved", AuditAction::ApprovalApprove)
    } else {
        ("rejected", AuditAction::ApprovalReject)
    };
    let decided = ctx
        .store
        .decide_approval(
            id,
            status,
            &ctx.who.actor,
            &note,
            &at,
            &ctx.audit(
                action,
                format!("{}@{} -> {}", prompt.slug, version.number, env.name),
                &at,
            )
            .prompt(&prompt.slug)
            .details(j!({ "approval_id": id, "note": note })),
        )
        .await
        .or_internal("decide approval")?;
    if !decided {
        return Err(Error::new(
            ErrorKind::Conflict,
            "this approval was decided at the same time by someone else",
        ));
    }
    crate::webhook_delivery::emit(
        ctx,
        "approval.decided",
        j!({ "approval_id": id, "prompt": prompt.slug, "environment": env.name, "version": version.number,
             "status": status, "decided_by": ctx.who.actor, "note": note }),
    )
    .await;
    if !approve {
        return json(
            200,
            &j!({ "id": id, "status": "rejected", "decided_by": ctx.who.actor, "decided_at": at }),
        );
    }
    let reason = format!("approved by {}: {}", ctx.who.actor, approval.reason);
    deploy(
        ctx,
        &prompt,
        &env,
        &version,
        DeploymentAction::Promote,
        &reason,
        j!({ "approval_id": id }),
    )
    .await
}
