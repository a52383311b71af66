//! Response views of a workspace's configuration: environments, settings,
//! webhooks and a prompt's evaluators.

use serde::Serialize;
use serde_json::Value;

use crate::environment::GatePolicy;
use crate::evaluator::{Check, Evaluator};
use crate::notification::Channels;
use crate::role::Role;
use crate::secrets::redact_url;
use crate::settings::Settings;

/// An environment and the gates of promotions into it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnvironmentView {
    pub name: String,
    /// Its place in promotion order.
    pub position: u32,
    pub policy: GatePolicy,
    pub created_at: String,
    pub updated_at: String,
}

/// The workspace settings as shown: the judge's API key is write-only, so
/// the view says only whether one is set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SettingsView {
    pub retention_days: u32,
    /// `null` when no judge is configured.
    pub judge: Option<JudgeView>,
    /// The endpoint server-side test runs call; `null` when none.
    pub provider: Option<JudgeView>,
    /// The role of signed-in people who are not members; `null` refuses them.
    pub default_role: Option<Role>,
    pub notifications: NotificationsView,
    pub updated_at: String,
}

/// The notification channels, without their secrets (a Slack webhook URL
/// is one: it is shown redacted).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotificationsView {
    pub slack: Option<SlackView>,
    pub email: Option<EmailView>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlackView {
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmailView {
    pub from: String,
    pub api_url: String,
    pub api_key_set: bool,
}

impl NotificationsView {
    pub fn of(c: &Channels) -> Self {
        NotificationsView {
            slack: c.slack.as_ref().map(|(_, url)| SlackView { url: slack_hint(url) }),
            email: c.email.as_ref().map(|e| EmailView {
                from: e.from.clone(),
                api_url: e.api_url.clone(),
                api_key_set: true,
            }),
        }
    }
}

/// A Slack webhook URL's path is its secret: only scheme, host and the
/// start of the path are shown.
fn slack_hint(url: &str) -> String {
    let redacted = redact_url(url);
    match redacted.match_indices('/').nth(3) {
        Some((i, _)) => format!("{}/…", &redacted[..i]),
        None => redacted,
    }
}

/// The judge endpoint, without its key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JudgeView {
    pub url: String,
    pub model: Option<String>,
    pub api_key_set: bool,
}

impl SettingsView {
    pub fn of(s: &Settings, channels: &Channels) -> Self {
        SettingsView {
            retention_days: s.retention_days,
            judge: s.judge_url.as_ref().map(|url| JudgeView {
                url: url.clone(),
                model: s.judge_model.clone(),
                api_key_set: s.judge_api_key.is_some(),
            }),
            provider: s.provider_url.as_ref().map(|url| JudgeView {
                url: url.clone(),
                model: s.provider_model.clone(),
                api_key_set: s.provider_api_key.is_some(),
            }),
            default_role: s.default_role,
            notifications: NotificationsView::of(channels),
            updated_at: s.updated_at.clone(),
        }
    }
}

/// A webhook subscription, without its signing secret.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WebhookView {
    pub id: String,
    pub url: String,
    /// Event names, or `["*"]` for all.
    pub events: Vec<String>,
    pub created_by: String,
    pub created_at: String,
}

/// `POST /v1/webhooks`: the webhook and, this once, its signing secret.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WebhookCreatedView {
    #[serde(flatten)]
    pub webhook: WebhookView,
    pub secret: String,
}

/// `POST /v1/webhooks/{id}/deliveries/{delivery}/redeliver`: the new delivery.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RedeliveryView {
    pub id: String,
    pub status: &'static str,
}

/// `DELETE /v1/webhooks/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WebhookDeletedView {
    pub id: String,
    pub deleted_at: String,
}

/// A prompt's evaluators, with a warning when a judge has no endpoint to ask.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvaluatorsView {
    /// The prompt's slug.
    pub prompt: String,
    /// Each as [`Evaluator::to_json`] shows it.
    pub evaluators: Vec<Value>,
    pub warnings: Vec<String>,
}

/// Why judge evaluators score nothing in a workspace without a judge.
pub const JUDGE_MISSING: &str =
    "judge evaluators are skipped until an admin sets the workspace judge (PUT /v1/settings)";

impl EvaluatorsView {
    pub fn new(prompt: impl Into<String>, evaluators: &[Evaluator], judge_configured: bool) -> Self {
        let judged = evaluators.iter().any(|e| matches!(e.check, Check::Judge { .. }));
        EvaluatorsView {
            prompt: prompt.into(),
            evaluators: evaluators.iter().map(Evaluator::to_json).collect(),
            warnings: (judged && !judge_configured)
                .then(|| JUDGE_MISSING.to_owned())
                .into_iter()
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluator::parse_evaluators;
    use serde_json::json;

    #[test]
    fn settings_show_whether_a_key_is_set_never_the_key() {
        let mut s = Settings::default();
        let v = serde_json::to_value(SettingsView::of(&s, &Channels::default())).unwrap();
        assert!(
            v.get("judge").is_some_and(Value::is_null),
            "no judge is null, not absent"
        );
        s.judge_url = Some("https://judge.example/v1/chat/completions".into());
        s.judge_api_key = Some("sk-secret".into());
        let channels = Channels {
            slack: Some(("s".into(), "https://hooks.slack.com/services/T0/B0/secretpart".into())),
            email: None,
        };
        let v = serde_json::to_value(SettingsView::of(&s, &channels)).unwrap();
        assert_eq!(v["notifications"]["slack"]["url"], "https://hooks.slack.com/services/…");
        assert!(!v.to_string().contains("secretpart"));
        assert_eq!(
            v["judge"],
            json!({ "url": "https://judge.example/v1/chat/completions", "model": null, "api_key_set": true })
        );
        assert!(!v.to_string().contains("sk-secret"));
    }

    #[test]
    fn a_judge_without_an_endpoint_is_warned_about() {
        let judged =
            parse_evaluators(br#"{"evaluators": [{"name": "tone", "type": "judge", "criteria": "polite"}]}"#).unwrap();
        assert_eq!(EvaluatorsView::new("bot", &judged, false).warnings, vec![JUDGE_MISSING]);
        assert!(EvaluatorsView::new("bot", &judged, true).warnings.is_empty());
        assert!(EvaluatorsView::new("bot", &[], false).warnings.is_empty());
    }
}

/// A job that stopped being retried: `GET /v1/dead-letters`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeadLetterView {
    pub id: String,
    /// The queue it came from: telemetry, evaluations, deliveries, publish.
    pub queue: &'static str,
    /// The job's kind (`executions`, `evaluate`, `deliver`, …) or `unknown`.
    pub kind: String,
    /// Why it stopped: `unreadable`, `failed`, `consumer_crashed`.
    pub error: &'static str,
    pub message: &'static str,
    pub attempts: u32,
    /// Seconds since it was dead-lettered.
    pub age_seconds: i64,
    pub created_at: String,
    pub replayed_at: Option<String>,
}

impl DeadLetterView {
    pub fn new(letter: crate::jobs::DeadLetter, age_seconds: i64) -> Self {
        DeadLetterView {
            id: letter.id,
            queue: letter.queue.as_str(),
            kind: letter.kind,
            error: letter.reason.as_str(),
            message: letter.reason.message(),
            attempts: letter.attempts,
            age_seconds,
            created_at: letter.created_at,
            replayed_at: letter.replayed_at,
        }
    }
}
