//! Telling people: approval requests reach the approvers, and decisions,
//! refused gates and rollbacks reach the requester and the subscribers,
//! through the workspace's Slack-compatible incoming webhook and/or email
//! sent through Resend's API.
//!
//! Notifications ride the webhook pipeline: each channel is a webhook row
//! of its own kind ([`Channel`]), each message a delivery recorded in the
//! same D1 batch as the change (the outbox), queued, retried with backoff
//! and logged. This module decides who hears of what and writes the
//! messages; [`request`] says how one delivery is sent on its channel.

use serde::Serialize;
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::member::Member;
use crate::names::http_url;
use crate::release::{Event, GATES_REFUSED};
use crate::role::Role;
use crate::webhook::{signature, Outgoing};

/// Where Resend takes emails unless the workspace names a compatible relay.
pub const RESEND_API_URL: &str = "https://api.resend.com";
/// Resend takes at most this many recipients per email.
const MAX_RECIPIENTS: usize = 50;

/// What kind of receiver a webhook row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// A workspace webhook: signed JSON events (webhook.rs).
    Webhook,
    /// A Slack-compatible incoming webhook: `{"text": …}`.
    Slack,
    /// Email through Resend's API: the row's secret is the API key.
    Email,
}

impl Channel {
    pub const fn as_str(self) -> &'static str {
        match self {
            Channel::Webhook => "webhook",
            Channel::Slack => "slack",
            Channel::Email => "email",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Channel::Webhook, Channel::Slack, Channel::Email]
            .into_iter()
            .find(|c| c.as_str() == value)
    }
}

/// The workspace's notification channels as stored (the Resend key is
/// write-only: it is sealed like webhook secrets and never shown).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Channels {
    /// (row id, URL)
    pub slack: Option<(String, String)>,
    pub email: Option<EmailChannel>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EmailChannel {
    pub id: String,
    pub from: String,
    /// The API's base URL (Resend's, or a compatible relay's).
    pub api_url: String,
}

/// `PUT /v1/settings` `notifications.email`.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailInput {
    pub from: String,
    #[serde(default)]
    pub api_key: Option<String>,
    #[serde(default)]
    pub api_url: Option<String>,
}

/// `PUT /v1/settings` `notifications.slack`.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackInput {
    pub url: String,
}

/// `PUT /v1/settings` `notifications`: each channel left out keeps its
/// value, `null` removes it.
#[derive(Debug, Clone, PartialEq, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationsUpdate {
    #[serde(default, deserialize_with = "present")]
    pub slack: Option<Option<SlackInput>>,
    #[serde(default, deserialize_with = "present")]
    pub email: Option<Option<EmailInput>>,
}

use crate::settings::present;

impl NotificationsUpdate {
    /// Validates the update in place.
    pub fn validate(&mut self) -> Result<()> {
        if let Some(Some(s)) = &mut self.slack {
            s.url = http_url("notifications.slack.url", &s.url, " of an incoming webhook")?;
        }
        if let Some(Some(e)) = &mut self.email {
            e.from = sender(&e.from)?;
            if let Some(url) = &e.api_url {
                e.api_url = Some(
                    http_url("notifications.email.api_url", url, " of a Resend-compatible API")?
                        .trim_end_matches('/')
                        .to_owned(),
                );
            }
            if let Some(key) = &e.api_key {
                if key.is_empty() || key.len() > 4096 || !key.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(Error::invalid_field(
                        "notifications.email.api_key",
                        "notifications.email.api_key must be 1 to 4,096 printable ASCII characters",
                    ));
                }
            }
        }
        Ok(())
    }

    /// What to write for the email channel, given the stored one: a new
    /// channel needs a key; one without a key keeps the stored key only
    /// when the API URL is unchanged (a new URL never inherits a key).
    pub fn email_change(&self, stored: Option<&EmailChannel>) -> Result<Option<ChannelChange>> {
        let Some(change) = &self.email else { return Ok(None) };
        let Some(e) = change else {
            return Ok(Some(ChannelChange::Remove));
        };
        let api_url = e.api_url.clone().unwrap_or_else(|| RESEND_API_URL.to_owned());
        match (&e.api_key, stored) {
            (Some(key), _) => Ok(Some(ChannelChange::Replace {
                url: api_url,
                secret: Some(key.clone()),
                sender: e.from.clone(),
            })),
            (None, Some(s)) if s.api_url == api_url => Ok(Some(ChannelChange::Replace {
                url: api_url,
                secret: None,
                sender: e.from.clone(),
            })),
            (None, _) => Err(Error::invalid_field(
                "notifications.email.api_key",
                "notifications.email.api_key is required to set up email (or to change its api_url)",
            )),
        }
    }

    pub fn slack_change(&self) -> Option<ChannelChange> {
        match &self.slack {
            None => None,
            Some(None) => Some(ChannelChange::Remove),
            Some(Some(s)) => Some(ChannelChange::Replace {
                url: s.url.clone(),
                secret: Some(String::new()),
                sender: String::new(),
            }),
        }
    }
}

/// What a settings update does to one channel's row.
#[derive(Debug, Clone, PartialEq)]
pub enum ChannelChange {
    Remove,
    /// A new row replaces the channel's row; `secret: None` keeps the
    /// stored one.
    Replace {
        url: String,
        secret: Option<String>,
        sender: String,
    },
}

/// `Name <addr@example.com>` or `addr@example.com`.
fn sender(value: &str) -> Result<String> {
    let v = value.trim();
    let addr = match (v.rfind('<'), v.ends_with('>')) {
        (Some(i), true) => &v[i + 1..v.len() - 1],
        _ => v,
    };
    crate::member::email("notifications.email.from", addr)?;
    if v.len() > 320 || v.chars().any(char::is_control) {
        return Err(Error::invalid_field(
            "notifications.email.from",
            "notifications.email.from must be an email address, optionally with a name",
        ));
    }
    Ok(v.to_owned())
}

/// One message to send about one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub event: &'static str,
    pub subject: String,
    pub text: String,
    /// The console page it is about.
    pub link: String,
    /// Emails of the people to tell.
    pub recipients: Vec<String>,
}

fn text(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// `v3`, or `v1 50% / v2 50%` for a split.
fn what(change: &Value) -> String {
    if let Some(variants) = change.get("variants").and_then(Value::as_array) {
        return variants
            .iter()
            .map(|v| format!("v{} {}%", text(v, "version"), text(v, "weight")))
            .collect::<Vec<_>>()
            .join(" / ");
    }
    format!("v{}", text(change, "version"))
}

fn emails(members: &[Member], keep: impl Fn(&Member) -> bool) -> Vec<String> {
    let mut all: Vec<String> = members
        .iter()
        .filter(|m| keep(m))
        .filter_map(|m| m.email.clone())
        .collect();
    all.sort();
    all.dedup();
    all
}

/// The notice of `event`, or `None` for events people are not told of.
/// `console` is the console's origin (links point into it); the actor who
/// made the change is never told of it.
pub fn notice(event: &Event, members: &[Member], console: &str) -> Option<Notice> {
    let d = &event.data;
    let prompt = text(d, "prompt");
    let env = text(d, "environment");
    let actor_email = d.get("person").and_then(|p| p.get("email")).and_then(Value::as_str);
    let requester = d.get("requested_by_person").and_then(Value::as_str);
    let prompt_page = format!(
        "{console}/prompts/{}",
        percent_encoding::utf8_percent_encode(&prompt, percent_encoding::NON_ALPHANUMERIC)
    );
    let subscribers_and = |extra: Option<&str>| {
        let mut to = emails(members, |m| m.subscribed);
        to.extend(extra.map(str::to_owned));
        to.sort();
        to.dedup();
        to
    };
    let (subject, body, link, mut recipients) = match event.name {
        "approval.requested" => {
            let who = text(d, "requested_by");
            let reason = text(d, "reason");
            (
                format!("Approval needed: {prompt} {} → {env}", what(d)),
                format!(
                    "{who} asks to put {prompt} {} into {env}{}.",
                    what(d),
                    if reason.is_empty() {
                        String::new()
                    } else {
                        format!(": \u{201c}{reason}\u{201d}")
                    }
                ),
                format!("{console}/approvals"),
                emails(members, |m| m.role >= Role::Approver),
            )
        }
        "approval.decided" => {
            let status = text(d, "status");
            let kind = d.get("kind").cloned().unwrap_or_default();
            let note = text(d, "note");
            (
                format!("{}: {prompt} {} → {env}", capitalised(&status), what(&kind)),
                format!(
                    "{} {status} the request of {} to put {prompt} {} into {env}{}.",
                    text(d, "decided_by"),
                    text(d, "requested_by"),
                    what(&kind),
                    if note.is_empty() {
                        String::new()
                    } else {
                        format!(": \u{201c}{note}\u{201d}")
                    }
                ),
                format!("{console}/approvals"),
                subscribers_and(requester),
            )
        }
        "deployment.rolled_back" => {
            let reason = text(d, "reason");
            let by = d
                .get("actor")
                .map(|_| text(d, "actor"))
                .filter(|a| !a.is_empty())
                .or_else(|| {
                    d.get("person")
                        .and_then(|p| p.get("name"))
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .unwrap_or_else(|| "someone".to_owned());
            (
                format!("Rolled back: {prompt} in {env} now serves v{}", text(d, "version")),
                format!(
                    "{by} rolled {prompt} back in {env} to v{}{}.",
                    text(d, "version"),
                    if reason.is_empty() {
                        String::new()
                    } else {
                        format!(": \u{201c}{reason}\u{201d}")
                    }
                ),
                format!("{prompt_page}/deploy"),
                subscribers_and(None),
            )
        }
        GATES_REFUSED => {
            let versions: Vec<String> = d
                .get("versions")
                .and_then(Value::as_array)
                .map(|all| all.iter().map(|v| format!("v{v}")).collect())
                .unwrap_or_default();
            (
                format!("Gates refused: {prompt} {} → {env}", versions.join(", ")),
                format!(
                    "The gates of {env} refused {prompt} {}: {}",
                    versions.join(", "),
                    text(d, "message")
                ),
                format!("{prompt_page}/metrics"),
                subscribers_and(requester),
            )
        }
        _ => return None,
    };
    recipients.retain(|r| Some(r.as_str()) != actor_email);
    Some(Notice {
        event: event.name,
        subject,
        text: format!("{body}\n{link}"),
        link,
        recipients,
    })
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// The deliveries of `notice` on the workspace's channels: one Slack
/// message to the channel, one email per 50 recipients. Nobody to tell
/// means no email; Slack is told of every notice.
pub fn outbox(notice: &Notice, channels: &Channels, new_id: &mut dyn FnMut() -> String) -> Vec<Outgoing> {
    let mut out = Vec::new();
    if let Some((row, _)) = &channels.slack {
        out.push(Outgoing {
            id: new_id(),
            webhook_id: row.clone(),
            event: notice.event.to_owned(),
            payload: json!({ "text": format!("*{}*\n{}", notice.subject, notice.text) }).to_string(),
        });
    }
    if let Some(email) = &channels.email {
        for to in notice.recipients.chunks(MAX_RECIPIENTS) {
            out.push(Outgoing {
                id: new_id(),
                webhook_id: email.id.clone(),
                event: notice.event.to_owned(),
                payload: json!({ "from": email.from, "to": to, "subject": notice.subject, "text": notice.text })
                    .to_string(),
            });
        }
    }
    out
}

/// The HTTP request that sends one delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundRequest {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
}

/// How a delivery with `payload` goes out on a row of `channel` whose URL
/// and (opened) secret are given, at `now_seconds`.
pub fn request(
    channel: Channel,
    url: &str,
    secret: &str,
    event: &str,
    delivery_id: &str,
    payload: &str,
    now_seconds: u64,
) -> OutboundRequest {
    match channel {
        Channel::Webhook => OutboundRequest {
            url: url.to_owned(),
            headers: vec![
                ("user-agent", "pvct-webhooks/0.1".to_owned()),
                ("x-pvct-event", event.to_owned()),
                ("x-pvct-delivery", delivery_id.to_owned()),
                ("x-pvct-signature", signature(secret, now_seconds, payload)),
            ],
        },
        Channel::Slack => OutboundRequest {
            url: url.to_owned(),
            headers: vec![("user-agent", "pvct-notifications/0.1".to_owned())],
        },
        Channel::Email => OutboundRequest {
            url: format!("{}/emails", url.trim_end_matches('/')),
            headers: vec![
                ("user-agent", "pvct-notifications/0.1".to_owned()),
                ("authorization", format!("Bearer {secret}")),
                // Resend's own retry safety: the same delivery is sent once.
                ("idempotency-key", delivery_id.to_owned()),
            ],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(email: &str, role: Role, subscribed: bool) -> Member {
        Member {
            id: email.into(),
            email: Some(email.into()),
            group: None,
            display_name: email.into(),
            role,
            subscribed,
            created_by: "a".into(),
            created_at: "t".into(),
            updated_at: "t".into(),
        }
    }

    fn team() -> Vec<Member> {
        vec![
            member("ada@x.io", Role::Approver, false),
            member("bob@x.io", Role::Admin, false),
            member("cy@x.io", Role::Editor, true),
            member("dee@x.io", Role::Reader, false),
        ]
    }

    fn event(name: &'static str, data: Value) -> Event {
        Event { name, data }
    }

    #[test]
    fn a_request_reaches_every_approver_but_the_requester() {
        let e = event(
            "approval.requested",
            json!({ "prompt": "bot", "environment": "production", "kind": "promote", "version": 3, "reason": "better tone",
                    "requested_by": "Ada <ada@x.io>", "requested_by_person": "ada@x.io", "person": { "email": "ada@x.io", "name": "Ada" } }),
        );
        let n = notice(&e, &team(), "https://pv.example").unwrap();
        assert_eq!(n.recipients, ["bob@x.io"]);
        assert_eq!(n.subject, "Approval needed: bot v3 → production");
        assert!(n
            .text
            .contains("Ada <ada@x.io> asks to put bot v3 into production: \u{201c}better tone\u{201d}"));
        assert!(n.text.ends_with("https://pv.example/approvals"));
    }

    #[test]
    fn a_decision_reaches_the_requester_and_subscribers_not_the_decider() {
        let e = event(
            "approval.decided",
            json!({ "prompt": "bot", "environment": "production", "kind": { "kind": "promote", "version": 3 }, "status": "rejected",
                    "decided_by": "Bob", "requested_by": "Ada", "requested_by_person": "ada@x.io", "note": "",
                    "person": { "email": "bob@x.io", "name": "Bob" } }),
        );
        let n = notice(&e, &team(), "https://pv.example").unwrap();
        assert_eq!(n.recipients, ["ada@x.io", "cy@x.io"]);
        assert_eq!(n.subject, "Rejected: bot v3 → production");
        assert!(n
            .text
            .starts_with("Bob rejected the request of Ada to put bot v3 into production."));
    }

    #[test]
    fn rollbacks_and_refused_gates_reach_subscribers_and_link_to_the_prompt() {
        let rb = event(
            "deployment.rolled_back",
            json!({ "prompt": "bot", "environment": "production", "version": 2, "reason": "bad answers", "actor": "Bob",
                    "person": { "email": "bob@x.io", "name": "Bob" } }),
        );
        let n = notice(&rb, &team(), "https://pv.example").unwrap();
        assert_eq!(n.recipients, ["cy@x.io"]);
        assert_eq!(n.link, "https://pv.example/prompts/bot/deploy");
        let gates = event(
            GATES_REFUSED,
            json!({ "prompt": "bot", "environment": "production", "versions": [3], "message": "too few calls",
                    "requested_by_person": "ada@x.io", "person": { "email": "bob@x.io" } }),
        );
        let n = notice(&gates, &team(), "https://pv.example").unwrap();
        assert_eq!(n.recipients, ["ada@x.io", "cy@x.io"]);
        assert!(n
            .text
            .starts_with("The gates of production refused bot v3: too few calls"));
        assert!(notice(&event("version.created", json!({})), &team(), "x").is_none());
    }

    #[test]
    fn slack_gets_every_notice_email_only_with_recipients() {
        let channels = Channels {
            slack: Some(("s".into(), "https://hooks.slack.com/services/x".into())),
            email: Some(EmailChannel {
                id: "e".into(),
                from: "PV <pv@x.io>".into(),
                api_url: RESEND_API_URL.into(),
            }),
        };
        let mut n = 0;
        let mut ids = || {
            n += 1;
            format!("d{n}")
        };
        let mut notice = Notice {
            event: "approval.requested",
            subject: "S".into(),
            text: "T".into(),
            link: "L".into(),
            recipients: (0..51).map(|i| format!("p{i}@x.io")).collect(),
        };
        let out = outbox(&notice, &channels, &mut ids);
        assert_eq!(out.len(), 3, "slack + two emails of 50 and 1");
        let first: Value = serde_json::from_str(&out[1].payload).unwrap();
        assert_eq!(first["to"].as_array().unwrap().len(), 50);
        assert_eq!(first["from"], "PV <pv@x.io>");
        notice.recipients.clear();
        assert_eq!(outbox(&notice, &channels, &mut ids).len(), 1);
    }

    #[test]
    fn each_channel_is_sent_its_own_way() {
        let r = request(Channel::Email, "https://api.resend.com/", "re_1", "e", "d1", "{}", 1);
        assert_eq!(r.url, "https://api.resend.com/emails");
        assert!(r.headers.contains(&("authorization", "Bearer re_1".into())));
        let w = request(Channel::Webhook, "https://h.io", "sec", "e", "d1", "{}", 1);
        assert!(w
            .headers
            .iter()
            .any(|(h, v)| *h == "x-pvct-signature" && v.starts_with("t=1,v1=")));
        let s = request(Channel::Slack, "https://hooks.slack.com/x", "", "e", "d1", "{}", 1);
        assert!(s.headers.iter().all(|(h, _)| *h != "authorization"));
    }

    #[test]
    fn settings_updates_validate_and_keep_keys_only_for_the_same_api() {
        let mut u: NotificationsUpdate =
            serde_json::from_value(json!({ "email": { "from": "PV <pv@x.io>" }, "slack": null })).unwrap();
        u.validate().unwrap();
        assert_eq!(u.slack_change(), Some(ChannelChange::Remove));
        assert!(u.email_change(None).is_err(), "a new email channel needs a key");
        let stored = EmailChannel {
            id: "e".into(),
            from: "old@x.io".into(),
            api_url: RESEND_API_URL.into(),
        };
        assert!(matches!(
            u.email_change(Some(&stored)).unwrap(),
            Some(ChannelChange::Replace { secret: None, .. })
        ));
        let mut bad: NotificationsUpdate =
            serde_json::from_value(json!({ "email": { "from": "nope", "api_key": "k" } })).unwrap();
        assert_eq!(bad.validate().unwrap_err().status(), 400);
        let mut bad: NotificationsUpdate = serde_json::from_value(json!({ "slack": { "url": "ftp://x" } })).unwrap();
        assert!(bad.validate().is_err());
    }
}
