//! Webhooks at work, through a transactional outbox: `outbox` turns a
//! change's events into pending deliveries that the caller writes in the
//! same D1 batch as the change; after the commit `dispatch` queues them (one
//! `send_batch`); the consumer's `deliver` sends each signed and retries with
//! backoff until it lands or runs out of attempts. A delivery whose job was
//! never queued (the send failed, the worker stopped) is queued by `sweep`,
//! which the minute cron runs, once it is due. Every attempt is logged.

use pvct_core::notification::{self, Channel};
use pvct_core::release::Event;
use pvct_core::time::iso8601_from_millis;
use pvct_core::webhook::{
    outbox as plan_outbox, AttemptOutcome, Outgoing, Subscription, EVENTS, IN_FLIGHT_SECONDS, SWEEP_AFTER_SECONDS,
    SWEEP_BATCH,
};
use pvct_core::Error;
use worker::{Env, Result};

use crate::http::OrInternal;
use crate::ids::{new_id, now, now_millis};
use crate::outbound::{post_json, Failure};
use crate::queue::{send, Job};
use crate::store::{channels_of, Store};

/// `seconds` from now, as stored.
fn in_seconds(seconds: u64) -> String {
    iso8601_from_millis(now_millis() + seconds * 1000)
}

/// The pending deliveries of `events`: to the workspace's webhooks, and
/// the notifications of the people to tell on its Slack and email
/// channels (links point into the console at `console`).
pub async fn outbox(
    store: &Store,
    workspace_id: &str,
    events: &[Event],
    at: &str,
    console: &str,
) -> Result<Vec<Outgoing>, Error> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let hooks = store.webhooks_for(workspace_id).await.or_internal("webhooks")?;
    let subscriptions: Vec<Subscription> = hooks
        .iter()
        .filter(|h| h.is_webhook())
        .map(|h| Subscription {
            id: &h.id,
            events: &h.events,
        })
        .collect();
    let mut out: Vec<Outgoing> = events
        .iter()
        .filter(|e| EVENTS.contains(&e.name))
        .flat_map(|e| plan_outbox(&subscriptions, e.name, &e.data, workspace_id, at, &mut new_id))
        .collect();
    let channels = channels_of(&hooks);
    if channels.slack.is_some() || channels.email.is_some() {
        let members = store.members(workspace_id).await.or_internal("members")?;
        for e in events {
            if let Some(notice) = notification::notice(e, &members, console) {
                out.extend(notification::outbox(&notice, &channels, &mut new_id));
            }
        }
    }
    Ok(out)
}

/// When the sweeper takes up a delivery recorded now whose job never ran.
pub fn sweep_due() -> String {
    in_seconds(SWEEP_AFTER_SECONDS)
}

/// Queues the jobs of deliveries committed with their change. A failure is
/// logged, never the caller's error: the change has committed, and the
/// deliveries are marked due so the next sweep queues them.
pub async fn dispatch(env: &Env, store: &Store, workspace_id: &str, outgoing: &[Outgoing]) {
    let ids: Vec<String> = outgoing.iter().map(|d| d.id.clone()).collect();
    dispatch_ids(env, store, workspace_id, &ids).await;
}

/// [`dispatch`] by delivery ids.
pub async fn dispatch_ids(env: &Env, store: &Store, workspace_id: &str, ids: &[String]) {
    if ids.is_empty() {
        return;
    }
    let jobs = ids
        .iter()
        .map(|id| Job::Deliver {
            workspace_id: workspace_id.to_owned(),
            delivery_id: id.clone(),
        })
        .collect();
    if let Err(e) = send(env, jobs).await {
        worker::console_error!("{} webhook deliveries not queued; the sweeper will: {e}", ids.len());
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        if let Err(e) = store.deliveries_due_now(&ids, &now()).await {
            worker::console_error!("deliveries not marked due; the sweeper takes them within a minute: {e}");
        }
    }
}

/// The minute cron: queues pending deliveries that are due and have no job.
pub async fn sweep(env: &Env, store: &Store) -> Result<usize> {
    let due = store
        .claim_due_deliveries(&now(), &in_seconds(SWEEP_AFTER_SECONDS), SWEEP_BATCH)
        .await?;
    let jobs: Vec<Job> = due
        .iter()
        .map(|d| Job::Deliver {
            workspace_id: d.workspace_id.clone(),
            delivery_id: d.id.clone(),
        })
        .collect();
    let count = jobs.len();
    send(env, jobs).await?;
    Ok(count)
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
        let at = now();
        let why = if d.channel == "webhook" {
            "webhook deleted"
        } else {
            "channel removed"
        };
        store
            .update_delivery(&d.id, "failed", d.attempts, None, Some(why), &at, &at)
            .await?;
        return Ok(None);
    }
    let attempts = d.attempts + 1;
    // Counted before sending: a run killed mid-POST still used an attempt.
    store
        .update_delivery(
            &d.id,
            "pending",
            attempts,
            None,
            Some("sending"),
            &now(),
            &in_seconds(IN_FLIGHT_SECONDS),
        )
        .await?;
    let channel = Channel::parse(&d.channel).unwrap_or(Channel::Webhook);
    let (status, error) = match post(channel, &d.url, &d.secret, &d.event, &d.id, &d.payload).await {
        Ok(s) if (200..300).contains(&s) => (Some(s), None),
        Ok(s) => (Some(s), Some(format!("the receiver answered {s}"))),
        Err(e) => (None, Some(format!("not delivered: {e}"))),
    };
    let outcome = AttemptOutcome::of(attempts, status);
    // A retry is queued below; the sweeper takes it up only if that job is lost.
    let due = match outcome {
        AttemptOutcome::RetryIn(seconds) => in_seconds(u64::from(seconds) + IN_FLIGHT_SECONDS),
        AttemptOutcome::Delivered | AttemptOutcome::Failed => now(),
    };
    store
        .update_delivery(
            &d.id,
            outcome.status(),
            attempts,
            status,
            error.as_deref(),
            &now(),
            &due,
        )
        .await?;
    Ok(match outcome {
        AttemptOutcome::RetryIn(seconds) => Some(seconds),
        AttemptOutcome::Delivered | AttemptOutcome::Failed => None,
    })
}

async fn post(
    channel: Channel,
    url: &str,
    secret: &str,
    event: &str,
    id: &str,
    payload: &str,
) -> std::result::Result<u16, Failure> {
    let request = notification::request(channel, url, secret, event, id, payload, now_millis() / 1000);
    let headers: Vec<(&str, &str)> = request.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    post_json(&request.url, &headers, payload)
        .await
        .map(|(status, _)| status)
}
