//! Webhooks at work: `emit` records a pending delivery per subscribed
//! webhook and queues it; the consumer's `deliver` sends it signed, and
//! asks the Queue to retry with backoff until it lands or runs out of
//! attempts. Every attempt is written to the delivery log.

use pvct_core::webhook::{signature, wants, AttemptOutcome};
use serde_json::{json, Value};
use worker::Result;

use crate::ids::{new_id, now, now_millis};
use crate::outbound::{post_json, Failure};
use crate::queue::{send, Job};
use crate::store::Store;
use crate::Ctx;

/// Queues `event` for the workspace's webhooks that want it. A state change
/// has already committed when this runs, so a failure here is logged, never
/// turned into an error for the caller.
pub async fn emit(ctx: &Ctx, event: &str, data: Value) {
    if let Err(e) = try_emit(ctx, event, data).await {
        worker::console_error!("webhook event {event} not queued: {e}");
    }
}

async fn try_emit(ctx: &Ctx, event: &str, data: Value) -> Result<()> {
    let ws = &ctx.who.workspace_id;
    let hooks = ctx.store.webhooks_for(ws).await?;
    let at = now();
    let rows: Vec<Value> = hooks
        .iter()
        .filter(|h| wants(&h.events, event))
        .map(|h| {
            let id = new_id();
            let payload = json!({ "id": id, "event": event, "created_at": at, "workspace_id": ws, "data": data });
            json!({ "id": id, "webhook_id": h.id, "event": event, "payload": payload.to_string() })
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    ctx.store
        .insert_deliveries(ws, &Value::Array(rows.clone()).to_string(), &at)
        .await?;
    let jobs = rows
        .iter()
        .map(|r| Job::Deliver {
            workspace_id: ws.clone(),
            delivery_id: r["id"].as_str().unwrap_or_default().to_owned(),
        })
        .collect();
    send(&ctx.env, jobs).await
}

/// Sends one delivery. Ok(None): done (delivered, failed for good, or
/// nothing to do); Ok(Some(s)): retry in `s` seconds.
pub async fn deliver(store: &Store, workspace_id: &str, delivery_id: &str) -> Result<Option<u32>> {
    let Some(d) = store.delivery(workspace_id, delivery_id).await? else {
        return Ok(None);
    };
    if d.status != "pending" {
        return Ok(None);
    }
    if d.deleted != 0 {
        store
            .update_delivery(&d.id, "failed", d.attempts, None, Some("webhook deleted"), &now())
            .await?;
        return Ok(None);
    }
    let attempts = d.attempts + 1;
    // Counted before sending: a run killed mid-POST still used an attempt.
    store
        .update_delivery(&d.id, "pending", attempts, None, Some("sending"), &now())
        .await?;
    let (status, error) = match post(&d.url, &d.secret, &d.event, &d.id, &d.payload).await {
        Ok(s) if (200..300).contains(&s) => (Some(s), None),
        Ok(s) => (Some(s), Some(format!("the receiver answered {s}"))),
        Err(e) => (None, Some(format!("not delivered: {e}"))),
    };
    let outcome = AttemptOutcome::of(attempts, status);
    store
        .update_delivery(&d.id, outcome.status(), attempts, status, error.as_deref(), &now())
        .await?;
    Ok(match outcome {
        AttemptOutcome::RetryIn(seconds) => Some(seconds),
        AttemptOutcome::Delivered | AttemptOutcome::Failed => None,
    })
}

async fn post(url: &str, secret: &str, event: &str, id: &str, payload: &str) -> std::result::Result<u16, Failure> {
    let signature = signature(secret, now_millis() / 1000, payload);
    let headers = [
        ("user-agent", "pvct-webhooks/0.1"),
        ("x-pvct-event", event),
        ("x-pvct-delivery", id),
        ("x-pvct-signature", signature.as_str()),
    ];
    post_json(url, &headers, payload).await.map(|(status, _)| status)
}
