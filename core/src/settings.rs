//! Workspace settings: how long raw executions are kept, the LLM judge
//! the `judge` evaluators call, and the provider test suites run prompts on.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::names::{bounded_text, http_url};
use crate::notification::NotificationsUpdate;
use crate::role::Role;

/// Raw executions are kept this many days unless the workspace says otherwise.
pub const DEFAULT_RETENTION_DAYS: u32 = 30;
/// The longest retention a workspace may choose.
pub const MAX_RETENTION_DAYS: u32 = 3650;

/// A workspace's settings as stored (one row per workspace; a workspace
/// without a row has the defaults).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Settings {
    pub retention_days: u32,
    pub judge_url: Option<String>,
    pub judge_model: Option<String>,
    /// Write-only: never part of an answer or an audit entry.
    pub judge_api_key: Option<String>,
    /// The OpenAI-compatible endpoint server-side test runs call.
    #[serde(default)]
    pub provider_url: Option<String>,
    #[serde(default)]
    pub provider_model: Option<String>,
    /// Write-only, like the judge's.
    #[serde(default)]
    pub provider_api_key: Option<String>,
    /// The role of people signed in through Access who are not members;
    /// `None` refuses them (403 `not_a_member`).
    #[serde(default)]
    pub default_role: Option<Role>,
    pub updated_at: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            retention_days: DEFAULT_RETENTION_DAYS,
            judge_url: None,
            judge_model: None,
            judge_api_key: None,
            provider_url: None,
            provider_model: None,
            provider_api_key: None,
            default_role: None,
            updated_at: String::new(),
        }
    }
}

/// The judge endpoint as configured: an OpenAI-compatible chat-completions URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JudgeInput {
    pub url: String,
    pub model: String,
    /// Write-only: stored, sent as the bearer token, never returned.
    #[serde(default)]
    pub api_key: Option<String>,
}

/// `PUT /v1/settings`: fields left out keep their value; `"judge": null`
/// removes the judge.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsUpdate {
    #[serde(default)]
    pub retention_days: Option<u32>,
    #[serde(default, deserialize_with = "present")]
    pub judge: Option<Option<JudgeInput>>,
    /// The same shape as the judge: `{url, model, api_key}`; null removes it.
    #[serde(default, deserialize_with = "present")]
    pub provider: Option<Option<JudgeInput>>,
    /// `null` refuses non-members again.
    #[serde(default, deserialize_with = "present")]
    pub default_role: Option<Option<Role>>,
    /// The Slack and email channels (stored as channel rows, not here).
    #[serde(default)]
    pub notifications: Option<NotificationsUpdate>,
}

/// Tells a field set to `null` (Some(None)) from one left out (None).
pub(crate) fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> std::result::Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

impl SettingsUpdate {
    pub fn parse(body: &[u8]) -> Result<Self> {
        let mut update: SettingsUpdate = crate::request::parse_json(body)?;
        if let Some(days) = update.retention_days {
            if !(1..=MAX_RETENTION_DAYS).contains(&days) {
                return Err(Error::invalid_field(
                    "retention_days",
                    format!("retention_days must be between 1 and {MAX_RETENTION_DAYS}"),
                ));
            }
        }
        if let Some(n) = &mut update.notifications {
            n.validate()?;
        }
        for (name, endpoint) in [("judge", &mut update.judge), ("provider", &mut update.provider)] {
            if let Some(Some(e)) = endpoint {
                e.url = http_url(&format!("{name}.url"), &e.url, " of a chat-completions endpoint")?;
                e.model = bounded_text(&format!("{name}.model"), &e.model, 200, true)?;
                if let Some(key) = &e.api_key {
                    if key.is_empty() || key.len() > 4096 || !key.bytes().all(|b| b.is_ascii_graphic()) {
                        return Err(Error::invalid_field(
                            &format!("{name}.api_key"),
                            format!("{name}.api_key must be 1 to 4,096 printable ASCII characters"),
                        ));
                    }
                }
            }
        }
        Ok(update)
    }

    /// `current` with this update applied at `at`. A judge given without a
    /// key keeps the stored key when the URL is unchanged, so a model change
    /// does not need the secret again; a new URL never inherits the old key.
    pub fn apply(self, current: Settings, at: &str) -> Settings {
        let mut next = current;
        if let Some(days) = self.retention_days {
            next.retention_days = days;
        }
        if let Some(role) = self.default_role {
            next.default_role = role;
        }
        apply_endpoint(
            self.judge,
            (&mut next.judge_url, &mut next.judge_model, &mut next.judge_api_key),
        );
        apply_endpoint(
            self.provider,
            (
                &mut next.provider_url,
                &mut next.provider_model,
                &mut next.provider_api_key,
            ),
        );
        next.updated_at = at.to_owned();
        next
    }
}

/// Applies one endpoint's update to its stored (url, model, key).
fn apply_endpoint(
    update: Option<Option<JudgeInput>>,
    (url, model, key): (&mut Option<String>, &mut Option<String>, &mut Option<String>),
) {
    match update {
        None => {}
        Some(None) => (*url, *model, *key) = (None, None, None),
        Some(Some(e)) => {
            let same_endpoint = url.as_deref() == Some(e.url.as_str());
            *key = e.api_key.or(if same_endpoint { key.take() } else { None });
            *url = Some(e.url);
            *model = Some(e.model);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_provider_is_set_and_kept_like_the_judge() {
        let set =
            parse(r#"{"provider": {"url": "https://p/v1/chat/completions", "model": "gpt-x", "api_key": "sk-p"}}"#)
                .unwrap()
                .apply(Settings::default(), "t1");
        assert_eq!(
            (
                set.provider_model.as_deref(),
                set.provider_api_key.as_deref(),
                set.judge_url.as_deref()
            ),
            (Some("gpt-x"), Some("sk-p"), None)
        );
        let model = parse(r#"{"provider": {"url": "https://p/v1/chat/completions", "model": "gpt-y"}}"#)
            .unwrap()
            .apply(set, "t2");
        assert_eq!(model.provider_api_key.as_deref(), Some("sk-p"));
        assert!(parse(r#"{"provider": {"url": "ftp://p", "model": "m"}}"#)
            .unwrap_err()
            .message()
            .contains("provider.url"));
        let cleared = parse(r#"{"provider": null}"#).unwrap().apply(model, "t3");
        assert_eq!((cleared.provider_url, cleared.provider_api_key), (None, None));
    }

    fn parse(s: &str) -> Result<SettingsUpdate> {
        SettingsUpdate::parse(s.as_bytes())
    }

    #[test]
    fn left_out_null_and_set_are_told_apart() {
        assert_eq!(parse("{}").unwrap().judge, None);
        assert_eq!(parse(r#"{"judge": null}"#).unwrap().judge, Some(None));
        let set =
            parse(r#"{"judge": {"url": "http://127.0.0.1:9/v1/chat/completions", "model": "m", "api_key": "sk-1"}}"#)
                .unwrap();
        assert_eq!(set.judge.unwrap().unwrap().api_key.as_deref(), Some("sk-1"));
        assert_eq!(parse(r#"{"retention_days": 7}"#).unwrap().retention_days, Some(7));
        let reader = parse(r#"{"default_role": "reader"}"#)
            .unwrap()
            .apply(Settings::default(), "t");
        assert_eq!(reader.default_role, Some(Role::Reader));
        let none = parse(r#"{"default_role": null}"#).unwrap().apply(reader.clone(), "t");
        assert_eq!(none.default_role, None);
        assert_eq!(parse("{}").unwrap().apply(reader, "t").default_role, Some(Role::Reader));
        assert!(parse(r#"{"default_role": "owner"}"#).is_err());
        assert!(parse(r#"{"notifications": {"slack": {"url": "nope"}}}"#).is_err());
    }

    #[test]
    fn updates_keep_the_key_only_for_the_same_endpoint() {
        let set = parse(r#"{"judge": {"url": "https://a/v1", "model": "m1", "api_key": "sk-1"}}"#).unwrap();
        let first = set.apply(Settings::default(), "t1");
        assert_eq!(first.judge_api_key.as_deref(), Some("sk-1"));
        let model = parse(r#"{"judge": {"url": "https://a/v1", "model": "m2"}, "retention_days": 9}"#).unwrap();
        let second = model.apply(first.clone(), "t2");
        assert_eq!(
            (second.judge_model.as_deref(), second.judge_api_key.as_deref()),
            (Some("m2"), Some("sk-1"))
        );
        assert_eq!((second.retention_days, second.updated_at.as_str()), (9, "t2"));
        let moved = parse(r#"{"judge": {"url": "https://b/v1", "model": "m2"}}"#)
            .unwrap()
            .apply(second, "t3");
        assert_eq!(moved.judge_api_key, None, "a new URL never inherits the old key");
        let cleared = parse(r#"{"judge": null}"#).unwrap().apply(first, "t4");
        assert_eq!(
            (cleared.judge_url, cleared.judge_api_key, cleared.retention_days),
            (None, None, DEFAULT_RETENTION_DAYS)
        );
    }

    #[test]
    fn bad_values_name_their_field() {
        for (body, field) in [
            (r#"{"retention_days": 0}"#, "retention_days"),
            (r#"{"retention_days": 99999}"#, "retention_days"),
            (r#"{"judge": {"url": "ftp://x", "model": "m"}}"#, "judge.url"),
            (r#"{"judge": {"url": "https://user:pw@x/", "model": "m"}}"#, "judge.url"),
            (r#"{"judge": {"url": "https:// x", "model": "m"}}"#, "judge.url"),
            (r#"{"judge": {"url": "https://x", "model": " "}}"#, "judge.model"),
            (
                r#"{"judge": {"url": "https://x", "model": "m", "api_key": "a b"}}"#,
                "judge.api_key",
            ),
        ] {
            let err = parse(body).unwrap_err();
            assert_eq!(err.kind().code(), "invalid_field", "{body}");
            assert!(err.message().contains(field), "{body}: {}", err.message());
        }
        assert!(parse(r#"{"other": 1}"#).is_err());
    }
}
