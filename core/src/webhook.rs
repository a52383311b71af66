//! Workspace webhooks: which events exist, how a subscription is validated,
//! how a delivery is signed, and when a failed one is retried.
//!
//! A delivery is an HTTPS POST of `{"id", "event", "created_at", "data"}`
//! with `x-pvct-signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
//! "<t>.<body>" under the webhook's secret>`: receivers recompute it and
//! reject stale timestamps, as with Stripe's scheme.

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::error::{Error, Result};
use crate::names::http_url;

/// Events a webhook can subscribe to.
pub const EVENTS: [&str; 8] = [
    "version.created",
    "deployment.created",
    "deployment.rolled_back",
    "approval.requested",
    "approval.decided",
    "experiment.started",
    "experiment.updated",
    "experiment.ended",
];

/// A delivery is tried at most this often (the first try and five
/// retries); then it is marked failed.
pub const MAX_ATTEMPTS: u32 = 6;

/// Seconds to wait before retry number `attempt` (1-based): 2, 4, 8, 16, 32.
pub fn backoff_seconds(attempt: u32) -> u32 {
    2u32.saturating_pow(attempt.clamp(1, 10))
}

/// What attempt number `attempt` (1-based) of a delivery leads to, given the
/// receiver's status (None: no answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    Delivered,
    /// Still pending: try again in this many seconds.
    RetryIn(u32),
    /// Out of attempts.
    Failed,
}

impl AttemptOutcome {
    pub fn of(attempt: u32, status: Option<u16>) -> Self {
        match status {
            Some(s) if (200..300).contains(&s) => AttemptOutcome::Delivered,
            _ if attempt >= MAX_ATTEMPTS => AttemptOutcome::Failed,
            _ => AttemptOutcome::RetryIn(backoff_seconds(attempt)),
        }
    }

    /// The delivery's status in the log.
    pub const fn status(self) -> &'static str {
        match self {
            AttemptOutcome::Delivered => "delivered",
            AttemptOutcome::RetryIn(_) => "pending",
            AttemptOutcome::Failed => "failed",
        }
    }
}

/// `POST /v1/webhooks`: where to send which events.
#[derive(Debug, Clone, PartialEq)]
pub struct NewWebhook {
    pub url: String,
    /// Given by the caller, or None for the server to generate one.
    pub secret: Option<String>,
    /// Event names, or `["*"]` for all.
    pub events: Vec<String>,
}

impl NewWebhook {
    pub fn parse(body: &[u8]) -> Result<Self> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            url: String,
            #[serde(default)]
            secret: Option<String>,
            #[serde(default)]
            events: Option<Vec<String>>,
        }
        let raw: Raw = crate::request::parse_json(body)?;
        let url = http_url("url", &raw.url, "")?;
        if let Some(secret) = &raw.secret {
            if secret.len() < 16 || secret.len() > 256 || !secret.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(Error::invalid_field(
                    "secret",
                    "secret must be 16 to 256 printable ASCII characters",
                ));
            }
        }
        let events = raw.events.unwrap_or_else(|| vec!["*".to_owned()]);
        if events.is_empty() {
            return Err(Error::invalid_field(
                "events",
                "events must name at least one event, or \"*\"",
            ));
        }
        if let Some(bad) = events
            .iter()
            .find(|e| e.as_str() != "*" && !EVENTS.contains(&e.as_str()))
        {
            return Err(Error::invalid_field(
                "events",
                format!("unknown event '{bad}'; events are {}", EVENTS.join(", ")),
            ));
        }
        Ok(NewWebhook {
            url,
            secret: raw.secret,
            events,
        })
    }
}

/// Whether a webhook subscribed to `events` wants `event`.
pub fn wants(events: &[String], event: &str) -> bool {
    events.iter().any(|e| e == "*" || e == event)
}

/// A delivery to record in the same D1 batch as the change that causes it
/// (a transactional outbox): the change and its deliveries land together or
/// not at all, and a delivery whose job was never queued is found by the
/// sweeper once it is due.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Outgoing {
    pub id: String,
    pub webhook_id: String,
    pub event: String,
    /// The JSON body receivers get: `{"id", "event", "created_at", "workspace_id", "data"}`.
    pub payload: String,
}

/// A subscription, as far as choosing its deliveries goes.
pub struct Subscription<'a> {
    pub id: &'a str,
    pub events: &'a [String],
}

/// The deliveries of `event` to the subscriptions that want it.
pub fn outbox(
    subscriptions: &[Subscription<'_>],
    event: &str,
    data: &serde_json::Value,
    workspace_id: &str,
    at: &str,
    new_id: &mut impl FnMut() -> String,
) -> Vec<Outgoing> {
    subscriptions
        .iter()
        .filter(|s| wants(s.events, event))
        .map(|s| {
            let id = new_id();
            let payload = serde_json::json!({
                "id": id, "event": event, "created_at": at, "workspace_id": workspace_id, "data": data
            });
            Outgoing {
                id,
                webhook_id: s.id.to_owned(),
                event: event.to_owned(),
                payload: payload.to_string(),
            }
        })
        .collect()
}

/// Seconds after its change that a delivery whose job never ran is queued
/// by the sweeper (the job is queued at once; this covers a worker that
/// stopped between the commit and the send).
pub const SWEEP_AFTER_SECONDS: u64 = 60;

/// Seconds after an attempt starts before the sweeper may take the
/// delivery up again: past the outbound deadline, so a slow attempt in
/// flight is never doubled.
pub const IN_FLIGHT_SECONDS: u64 = 60;

/// The most deliveries one sweep queues; the next sweep takes the rest.
pub const SWEEP_BATCH: u32 = 500;

/// The `x-pvct-signature` header value for `body` sent at `timestamp`.
pub fn signature(secret: &str, timestamp: u64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={timestamp},v1={hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_the_hmac_sha256_test_vector_shape() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        // Ours signs "<t>.<body>".
        let s = signature("Jefe", 12, "what do ya want for nothing?");
        assert!(s.starts_with("t=12,v1=") && s.len() == "t=12,v1=".len() + 64);
        assert_ne!(signature("Jefe", 13, "x"), signature("Jefe", 12, "x"));
    }

    #[test]
    fn subscriptions_are_validated() {
        let ok = NewWebhook::parse(br#"{"url": "http://127.0.0.1:9/hook", "events": ["version.created"]}"#).unwrap();
        assert_eq!(ok.events, ["version.created"]);
        assert!(wants(&ok.events, "version.created") && !wants(&ok.events, "experiment.ended"));
        let all = NewWebhook::parse(br#"{"url": "https://example.com/h"}"#).unwrap();
        assert!(wants(&all.events, "approval.decided"));
        for bad in [
            r#"{"url": "ftp://x"}"#,
            r#"{"url": "https://u:p@x/"}"#,
            r#"{"url": "https://x", "events": ["nope"]}"#,
            r#"{"url": "https://x", "events": []}"#,
            r#"{"url": "https://x", "secret": "short"}"#,
            r#"{"url": "https://x", "other": 1}"#,
        ] {
            assert_eq!(
                NewWebhook::parse(bad.as_bytes()).unwrap_err().kind().code(),
                "invalid_field",
                "{bad}"
            );
        }
    }

    #[test]
    fn attempts_deliver_retry_then_fail() {
        assert_eq!(AttemptOutcome::of(1, Some(204)), AttemptOutcome::Delivered);
        assert_eq!(AttemptOutcome::of(1, Some(503)), AttemptOutcome::RetryIn(2));
        assert_eq!(AttemptOutcome::of(3, None), AttemptOutcome::RetryIn(8));
        assert_eq!(AttemptOutcome::of(MAX_ATTEMPTS, Some(500)), AttemptOutcome::Failed);
        let events = vec!["version.created".to_owned()];
        let all = vec!["*".to_owned()];
        let subs = [
            Subscription {
                id: "a",
                events: &events,
            },
            Subscription { id: "b", events: &all },
        ];
        let mut n = 0;
        let mut ids = || {
            n += 1;
            format!("d{n}")
        };
        let data = serde_json::json!({ "prompt": "bot" });
        let out = outbox(
            &subs,
            "deployment.created",
            &data,
            "ws",
            "2026-12-04T00:00:00Z",
            &mut ids,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].webhook_id, "b");
        let payload: serde_json::Value = serde_json::from_str(&out[0].payload).unwrap();
        assert_eq!(payload["id"], "d1");
        assert_eq!(payload["data"]["prompt"], "bot");
        assert_eq!(outbox(&subs, "version.created", &data, "ws", "t", &mut ids).len(), 2);
        assert_eq!(AttemptOutcome::of(MAX_ATTEMPTS, Some(200)).status(), "delivered");
    }

    #[test]
    fn backoff_doubles_from_two_seconds() {
        assert_eq!((1..=5).map(backoff_seconds).collect::<Vec<_>>(), [2, 4, 8, 16, 32]);
    }
}
