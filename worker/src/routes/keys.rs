//! API keys of the caller's workspace (admin only).

use pvct_core::api::{ApiKeyCreatedView, ApiKeyView, EdgeStatus, Items, KeyRevokedView, MeView};
use pvct_core::audit::AuditAction;
use pvct_core::quota::Quota;
use pvct_core::request::CreateKey;
use pvct_core::Error;
use serde_json::json as j;
use worker::Request;

use crate::auth::forget;
use crate::http::{body, json, ApiResult, OrInternal};
use crate::ids::{new_api_key, new_id, now};
use crate::store::NewKey;
use crate::Ctx;

/// The calling key: who the audit trail names it as, its role and what that
/// role may do (the web console offers only those actions).
pub fn me(ctx: &Ctx) -> ApiResult {
    let who = &ctx.who;
    let key_id = who.is_key.then(|| who.key_id.clone());
    json(
        200,
        &MeView::new(key_id, &who.workspace_id, &who.actor, who.role, who.person.clone()),
    )
}

pub async fn create(ctx: &Ctx, req: &mut Request) -> ApiResult {
    let input = CreateKey::parse(&body(req).await?)?;
    let usage = ctx
        .store
        .quota_usage(&ctx.who.workspace_id, Quota::ActiveKeys)
        .await
        .or_internal("quota")?;
    Quota::ActiveKeys.admit(usage)?;
    let key = new_api_key();
    let id = new_id();
    let at = now();
    // The key acts for the person who made it (or for the person behind
    // the key that made it).
    let person = ctx.who.person.as_ref().map(|p| p.email.as_str());
    ctx.store
        .create_key(
            &NewKey {
                id: &id,
                workspace_id: &ctx.who.workspace_id,
                name: &input.name,
                role: input.role.as_str(),
                key_hash: &key.hash(),
                key_prefix: key.display_prefix(),
                created_by: Some(&ctx.who.actor),
                created_by_person: person,
                at: &at,
            },
            &ctx.audit(AuditAction::KeyCreate, &id, &at).details(
                j!({ "name": input.name, "role": input.role.as_str(), "key_prefix": key.display_prefix(),
                              "for_person": person }),
            ),
        )
        .await
        .or_internal("create key")?;
    let api_key = ApiKeyView {
        public_key: pvct_core::langfuse::public_key(&id),
        id,
        name: input.name,
        role: input.role.as_str().to_owned(),
        key_prefix: key.display_prefix().to_owned(),
        created_by: Some(ctx.who.actor.clone()),
        created_by_person: person.map(str::to_owned),
        created_at: at,
        revoked_at: None,
    };
    json(
        201,
        &ApiKeyCreatedView {
            api_key,
            key: key.as_str().to_owned(),
        },
    )
}

pub async fn list(ctx: &Ctx) -> ApiResult {
    let items = ctx
        .store
        .list_keys(&ctx.who.workspace_id)
        .await
        .or_internal("list keys")?;
    json(200, &Items::new(items))
}

/// Revokes a key. D1 is the truth; the KV entry is deleted on every call
/// (a repeated revoke retries a delete that failed) and expires within
/// 60 s anyway, and this isolate refuses the key from now on.
pub async fn revoke(ctx: &Ctx, id: &str) -> ApiResult {
    let ws = &ctx.who.workspace_id;
    let (hash, revoked_at) = ctx
        .store
        .key_hash_in_workspace(ws, id)
        .await
        .or_internal("find key")?
        .ok_or_else(|| Error::not_found("key"))?;
    let at = match revoked_at {
        Some(at) => at,
        None => {
            let at = now();
            ctx.store
                .revoke_key(ws, id, &at, &ctx.audit(AuditAction::KeyRevoke, id, &at))
                .await
                .or_internal("revoke key")?;
            at
        }
    };
    forget(&hash);
    let edge = match ctx.kv.delete_api_key(&hash).await {
        Ok(()) => EdgeStatus::Current,
        Err(e) => {
            worker::console_error!("kv delete of a revoked key failed; it expires within 60 s: {e}");
            EdgeStatus::Pending
        }
    };
    json(
        200,
        &KeyRevokedView {
            id: id.to_owned(),
            revoked_at: at,
            edge,
        },
    )
}
