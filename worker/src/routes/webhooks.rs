//! Workspace webhooks (admins): subscribe a URL to events, list, delete,
//! and read the delivery log. The signing secret is shown once, at creation.

use pvct_core::api::{Items, RedeliveryView, WebhookCreatedView, WebhookDeletedView, WebhookView};
use pvct_core::audit::AuditAction;
use pvct_core::quota::Quota;
use pvct_core::secrets::redact_url;
use pvct_core::webhook::NewWebhook;
use pvct_core::Error;
use serde_json::json;
use worker::Request;

use crate::http::{body, json, ApiResult, OrInternal};
use crate::ids::{new_id, new_webhook_secret, now};
use crate::store::WebhookRow;
use crate::Ctx;

/// The webhook without its secret.
fn view(w: WebhookRow) -> WebhookView {
    WebhookView {
        id: w.id,
        url: w.url,
        events: w.events,
        created_by: w.created_by,
        created_at: w.created_at,
    }
}

pub async fn list(ctx: &Ctx) -> ApiResult {
    let hooks = ctx
        .store
        .webhooks_for(&ctx.who.workspace_id)
        .await
        .or_internal("webhooks")?;
    json(
        200,
        &Items::new(hooks.into_iter().filter(WebhookRow::is_webhook).map(view).collect()),
    )
}

pub async fn create(ctx: &Ctx, req: &mut Request) -> ApiResult {
    let input = NewWebhook::parse(&body(req).await?)?;
    let usage = ctx
        .store
        .quota_usage(&ctx.who.workspace_id, Quota::Webhooks)
        .await
        .or_internal("quota")?;
    Quota::Webhooks.admit(usage)?;
    let row = WebhookRow {
        id: new_id(),
        url: input.url,
        secret: input.secret.unwrap_or_else(new_webhook_secret),
        events: input.events,
        created_by: ctx.who.actor.clone(),
        created_at: now(),
        channel: "webhook".to_owned(),
        sender: None,
    };
    ctx.store
        .create_webhook(
            &ctx.who.workspace_id,
            &row,
            &ctx.audit(AuditAction::WebhookCreate, &row.id, &row.created_at)
                .details(json!({ "url": redact_url(&row.url), "events": row.events })),
        )
        .await
        .or_internal("create webhook")?;
    let secret = row.secret.clone();
    json(
        201,
        &WebhookCreatedView {
            webhook: view(row),
            secret,
        },
    )
}

pub async fn delete(ctx: &Ctx, id: &str) -> ApiResult {
    let at = now();
    let deleted = ctx
        .store
        .delete_webhook(
            &ctx.who.workspace_id,
            id,
            &at,
            &ctx.audit(AuditAction::WebhookDelete, id, &at),
        )
        .await
        .or_internal("delete webhook")?;
    if !deleted {
        return Err(Error::not_found("webhook"));
    }
    json(
        200,
        &WebhookDeletedView {
            id: id.to_owned(),
            deleted_at: at,
        },
    )
}

pub async fn deliveries(ctx: &Ctx, id: &str) -> ApiResult {
    let ws = &ctx.who.workspace_id;
    if !ctx.store.webhook_exists(ws, id).await.or_internal("webhook")? {
        return Err(Error::not_found("webhook"));
    }
    let items = ctx.store.list_deliveries(ws, id).await.or_internal("deliveries")?;
    json(200, &Items::new(items))
}

/// Sends a delivery again: a new delivery of the same payload, queued now.
pub async fn redeliver(ctx: &Ctx, id: &str, delivery_id: &str) -> ApiResult {
    let ws = &ctx.who.workspace_id;
    let (new, at) = (new_id(), now());
    let audit = ctx
        .audit(AuditAction::WebhookRedeliver, id, &at)
        .details(json!({ "delivery_id": delivery_id, "redelivery_id": new }));
    let found = ctx
        .store
        .redeliver(
            ws,
            id,
            delivery_id,
            &new,
            &at,
            &crate::webhook_delivery::sweep_due(),
            &audit,
        )
        .await
        .or_internal("redeliver")?;
    if !found {
        return Err(Error::not_found("delivery"));
    }
    crate::webhook_delivery::dispatch_ids(&ctx.env, &ctx.store, ws, std::slice::from_ref(&new)).await;
    json(
        202,
        &RedeliveryView {
            id: new,
            status: "pending",
        },
    )
}

/// The notifications sent to Slack and by email, newest first.
pub async fn notifications(ctx: &Ctx) -> ApiResult {
    let items = ctx
        .store
        .list_notifications(&ctx.who.workspace_id)
        .await
        .or_internal("notifications")?;
    json(200, &Items::new(items))
}
