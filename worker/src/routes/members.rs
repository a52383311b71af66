//! The workspace's people (admins): members by email or identity-provider
//! group, each with a role. Removing a member revokes the keys they made.

use pvct_core::api::{Items, MemberRemovedView};
use pvct_core::audit::AuditAction;
use pvct_core::member::{keep_an_admin, MemberUpdate, NewMember};
use pvct_core::Error;
use serde_json::json;
use worker::Request;

use crate::auth::{forget, forget_people};
use crate::http::{body, json, ApiResult, OrInternal};
use crate::ids::{new_id, now};
use crate::Ctx;

pub async fn list(ctx: &Ctx) -> ApiResult {
    let members = ctx.store.members(&ctx.who.workspace_id).await.or_internal("members")?;
    json(200, &Items::new(members))
}

pub async fn add(ctx: &Ctx, req: &mut Request) -> ApiResult {
    let input = NewMember::parse(&body(req).await?)?;
    let ws = &ctx.who.workspace_id;
    let members = ctx.store.members(ws).await.or_internal("members")?;
    let at = now();
    let member = input.admit(&members, new_id(), &ctx.who.actor, &at)?;
    let audit = ctx
        .audit(
            AuditAction::MemberAdd,
            member
                .email
                .as_ref()
                .or(member.group.as_ref())
                .cloned()
                .unwrap_or_default(),
            &at,
        )
        .details(json!({ "member_id": member.id, "role": member.role, "subscribed": member.subscribed }));
    ctx.store
        .add_member(ws, &member, &audit)
        .await
        .or_internal("add member")?;
    forget_people();
    json(201, &member)
}

pub async fn update(ctx: &Ctx, id: &str, req: &mut Request) -> ApiResult {
    let update = MemberUpdate::parse(&body(req).await?)?;
    let ws = &ctx.who.workspace_id;
    let members = ctx.store.members(ws).await.or_internal("members")?;
    let current = members
        .iter()
        .find(|m| m.id == id)
        .ok_or_else(|| Error::not_found("member"))?;
    let at = now();
    let next = update.apply(current, &at);
    let after: Vec<_> = members
        .iter()
        .map(|m| if m.id == id { next.clone() } else { m.clone() })
        .collect();
    keep_an_admin(&members, &after)?;
    let audit = ctx
        .audit(
            AuditAction::MemberUpdate,
            current
                .email
                .as_ref()
                .or(current.group.as_ref())
                .cloned()
                .unwrap_or_default(),
            &at,
        )
        .details(
            json!({ "member_id": id, "role": next.role, "previous_role": current.role, "subscribed": next.subscribed }),
        );
    ctx.store
        .update_member(ws, &next, &audit)
        .await
        .or_internal("update member")?;
    forget_people();
    json(200, &next)
}

pub async fn remove(ctx: &Ctx, id: &str) -> ApiResult {
    let ws = &ctx.who.workspace_id;
    let members = ctx.store.members(ws).await.or_internal("members")?;
    let gone = members
        .iter()
        .find(|m| m.id == id)
        .ok_or_else(|| Error::not_found("member"))?;
    let after: Vec<_> = members.iter().filter(|m| m.id != id).cloned().collect();
    keep_an_admin(&members, &after)?;
    let at = now();
    let audit = ctx
        .audit(
            AuditAction::MemberRemove,
            gone.email.as_ref().or(gone.group.as_ref()).cloned().unwrap_or_default(),
            &at,
        )
        .details(json!({ "member_id": id, "role": gone.role }));
    let revoked = ctx
        .store
        .remove_member(ws, gone, &at, &audit)
        .await
        .or_internal("remove member")?;
    forget_people();
    for hash in &revoked {
        forget(hash);
        if let Err(e) = ctx.kv.delete_api_key(hash).await {
            worker::console_error!("kv delete of a removed member's key failed; it expires within 60 s: {e}");
        }
    }
    json(
        200,
        &MemberRemovedView {
            id: id.to_owned(),
            removed_at: at,
            keys_revoked: revoked.len(),
        },
    )
}
