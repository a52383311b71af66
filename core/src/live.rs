//! Live updates: what running apps are told when what an environment
//! serves changes, so they revalidate at once instead of when their cache
//! expires.
//!
//! One hub per workspace (a Durable Object) is told of every committed
//! change with the environment's release sequence, and fans it out to the
//! environment's subscribers: WebSockets (`GET /v1/live?environment=E`)
//! and long polls (`GET /v1/bundle?environment=E&wait=S` with
//! `If-None-Match`). A subscriber that hears of sequence N fetches the
//! bundle with `min_seq=N`, which the worker answers with a bundle at least
//! that new (from D1 if KV has not caught up), so a change message never
//! leads to a stale bundle.
//!
//! The wire protocol (text frames, JSON):
//! - on connect: `{"type": "hello", "environment", "seq"}` (the last
//!   sequence the hub heard of, 0 when none);
//! - on each change: `{"type": "changed", "environment", "seq", "etag",
//!   "prompts": [slug]}` (`etag` is the bundle's when it was published, or
//!   `null`);
//! - heartbeat: a client sends `ping` and gets `pong`, answered without
//!   waking the hub (hibernation); a client that hears nothing for two
//!   intervals reconnects.
//!
//! Browsers cannot set headers on a WebSocket, so a key may instead be sent
//! as a subprotocol: `Sec-WebSocket-Protocol: pvct.v1, pvct_<48 hex>`; the
//! hub answers with `pvct.v1`.

use serde::{Deserialize, Serialize};

use crate::apikey::ApiKey;
use crate::error::{Error, ErrorKind, Result};

/// The subprotocol the hub speaks (and answers with when offered).
pub const SUBPROTOCOL: &str = "pvct.v1";
/// The text a client sends as a heartbeat, and the hub's answer.
pub const PING: &str = "ping";
pub const PONG: &str = "pong";
/// How long a long poll may be held, in seconds.
pub const MAX_WAIT_SECONDS: u32 = 30;

/// A change to what an environment serves, as subscribers get it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub environment: String,
    pub seq: u64,
    #[serde(default)]
    pub etag: Option<String>,
    #[serde(default)]
    pub prompts: Vec<String>,
}

/// Something people watch happened in an environment without changing
/// what it serves (an approval requested or rejected): the console
/// refreshes; SDKs ignore it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    pub environment: String,
    /// The webhook event's name (`approval.requested`, `approval.decided`).
    pub event: String,
    #[serde(default)]
    pub prompt: Option<String>,
}

/// The events of a change the live channel relays as [`Activity`].
pub const ACTIVITY_EVENTS: [&str; 2] = ["approval.requested", "approval.decided"];

/// A message on the live channel.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Message<'a> {
    Hello { environment: &'a str, seq: u64 },
    Changed(&'a Change),
    Activity(&'a Activity),
}

impl Message<'_> {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The hub's tag for an environment's sockets.
pub fn tag(environment: &str) -> String {
    format!("env:{environment}")
}

/// `?wait=S`: how long to hold a long poll (1 to 30 s), or `None` for an
/// ordinary request.
pub fn wait_seconds(raw: Option<&str>) -> Result<Option<u32>> {
    match raw.map(str::trim) {
        None => Ok(None),
        Some(s) => s
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_WAIT_SECONDS).contains(n))
            .map(Some)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidQuery,
                    format!("wait must be a number of seconds from 1 to {MAX_WAIT_SECONDS}"),
                )
                .with_details(serde_json::json!({ "parameter": "wait" }))
            }),
    }
}

/// `?min_seq=N`: the release sequence a bundle must be at, if asked.
pub fn min_seq(raw: Option<&str>) -> Result<Option<u64>> {
    raw.map(|s| {
        s.trim().parse::<u64>().map_err(|_| {
            Error::new(
                ErrorKind::InvalidQuery,
                "min_seq must be a release sequence (0 or more)",
            )
            .with_details(serde_json::json!({ "parameter": "min_seq" }))
        })
    })
    .transpose()
}

/// Whether a long poll is held: only when the client names the bundle it
/// has (`If-None-Match` with this exact ETag; `*` names none).
pub fn holds(if_none_match: Option<&str>, etag: &str) -> bool {
    if_none_match.is_some_and(|h| {
        h.split(',')
            .map(str::trim)
            .any(|c| c.strip_prefix("W/").unwrap_or(c) == etag)
    })
}

/// The API key a WebSocket client offered as a subprotocol, if any.
pub fn key_in_protocols(header: Option<&str>) -> Option<ApiKey> {
    header?.split(',').map(str::trim).find_map(|p| ApiKey::parse(p).ok())
}

/// Whether the client offered the hub's subprotocol (so the answer must
/// name it).
pub fn offers_subprotocol(header: Option<&str>) -> bool {
    header.is_some_and(|h| h.split(',').any(|p| p.trim() == SUBPROTOCOL))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_tagged_json() {
        let c = Change {
            environment: "production".into(),
            seq: 7,
            etag: Some("\"e\"".into()),
            prompts: vec!["bot".into()],
        };
        let v: serde_json::Value = serde_json::from_str(&Message::Changed(&c).to_json()).unwrap();
        assert_eq!(v["type"], "changed");
        assert_eq!(v["seq"], 7);
        assert_eq!(v["prompts"][0], "bot");
        let hello: serde_json::Value = serde_json::from_str(
            &Message::Hello {
                environment: "dev",
                seq: 0,
            }
            .to_json(),
        )
        .unwrap();
        assert_eq!(
            hello,
            serde_json::json!({ "type": "hello", "environment": "dev", "seq": 0 })
        );
    }

    #[test]
    fn waits_are_bounded() {
        assert_eq!(wait_seconds(None).unwrap(), None);
        assert!(wait_seconds(Some("")).is_err(), "an empty wait is no number");
        assert_eq!(wait_seconds(Some("25")).unwrap(), Some(25));
        for bad in ["0", "31", "-1", "soon"] {
            assert_eq!(wait_seconds(Some(bad)).unwrap_err().code(), "invalid_query", "{bad}");
        }
    }

    #[test]
    fn min_seq_is_a_number_when_given() {
        assert_eq!(min_seq(None).unwrap(), None);
        assert_eq!(min_seq(Some("7")).unwrap(), Some(7));
        for bad in ["", "-1", "x"] {
            assert_eq!(min_seq(Some(bad)).unwrap_err().code(), "invalid_query", "{bad}");
        }
    }

    #[test]
    fn only_the_current_etag_holds_a_poll() {
        assert!(holds(Some("\"a\""), "\"a\""));
        assert!(holds(Some("\"x\", W/\"a\""), "\"a\""));
        assert!(!holds(Some("*"), "\"a\""));
        assert!(!holds(Some("\"b\""), "\"a\""));
        assert!(!holds(None, "\"a\""));
    }

    #[test]
    fn a_key_rides_in_the_subprotocols() {
        let key = format!("pvct_{}", "b".repeat(48));
        let header = format!("{SUBPROTOCOL}, {key}");
        assert_eq!(key_in_protocols(Some(&header)).unwrap().as_str(), key);
        assert!(offers_subprotocol(Some(&header)));
        assert!(key_in_protocols(Some(SUBPROTOCOL)).is_none());
        assert!(!offers_subprotocol(Some("chat")));
    }
}
