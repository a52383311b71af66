//! What a prompt version holds: its content (text or chat messages) and its
//! model parameters, validated on the way in.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::canonical;
use crate::error::{Error, ErrorKind, Result};

/// Content larger than this (as canonical JSON) is refused with 413.
pub const MAX_CONTENT_BYTES: usize = 256 * 1024;
/// A chat prompt holds at most this many messages.
pub const MAX_MESSAGES: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromptKind {
    /// `{"text": "<template>"}`
    Text,
    /// `{"messages": [{"role", "content"}, ...]}`
    Chat,
    /// A text fragment other prompts include.
    Snippet,
}

impl PromptKind {
    pub fn parse(value: &str) -> Result<Self> {
        match value {
            "text" => Ok(PromptKind::Text),
            "chat" => Ok(PromptKind::Chat),
            "snippet" => Ok(PromptKind::Snippet),
            _ => Err(Error::invalid_field("kind", "kind must be one of text, chat, snippet")),
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            PromptKind::Text => "text",
            PromptKind::Chat => "chat",
            PromptKind::Snippet => "snippet",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageRole {
    System,
    User,
    Assistant,
}

impl MessageRole {
    pub const fn as_str(self) -> &'static str {
        match self {
            MessageRole::System => "system",
            MessageRole::User => "user",
            MessageRole::Assistant => "assistant",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Message {
    pub role: MessageRole,
    pub content: String,
}

/// A slot in a chat prompt that rendering fills with messages the caller
/// passes, e.g. `{"role": "placeholder", "name": "history"}` for the
/// conversation so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Placeholder {
    pub role: PlaceholderRole,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlaceholderRole {
    Placeholder,
}

/// One entry of a chat prompt.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ChatEntry {
    Message(Message),
    Placeholder(Placeholder),
}

/// The body of a version. Serialized untagged, so the JSON is exactly
/// `{"text": ...}` or `{"messages": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum PromptContent {
    Text { text: String },
    Chat { messages: Vec<ChatEntry> },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContent {
    text: Option<String>,
    messages: Option<Vec<Value>>,
}

fn parse_entry(i: usize, value: Value) -> Result<ChatEntry> {
    let field = format!("content.messages[{i}]");
    if value.get("role").and_then(Value::as_str) == Some("placeholder") {
        let p: Placeholder =
            serde_json::from_value(value).map_err(|e| Error::invalid_field(&field, format!("{field}: {e}")))?;
        if !p
            .name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            || !p.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            || p.name.len() > 64
        {
            return Err(Error::invalid_field(
                &field,
                format!("{field}: a placeholder name is [A-Za-z_][A-Za-z0-9_]*"),
            ));
        }
        Ok(ChatEntry::Placeholder(p))
    } else {
        serde_json::from_value(value)
            .map(ChatEntry::Message)
            .map_err(|e| Error::invalid_field(&field, format!("{field}: {e}")))
    }
}

impl PromptContent {
    /// Parses and validates `value` as the content of a prompt of `kind`.
    pub fn from_value(kind: PromptKind, value: &Value) -> Result<Self> {
        let content = Self::from_stored(kind, value)?;
        content.validate()?;
        Ok(content)
    }

    /// Reads content the server already validated (stored versions, bundles)
    /// without the size and emptiness checks, which SDKs need not carry.
    pub fn from_stored(kind: PromptKind, value: &Value) -> Result<Self> {
        crate::request::expect_object("content", value)?;
        crate::request::expect_objects("content.messages", &value["messages"])?;
        let raw: RawContent = serde_json::from_value(value.clone())
            .map_err(|e| Error::invalid_field("content", format!("content: {e}")))?;
        let content = match (kind, raw.text, raw.messages) {
            (PromptKind::Text | PromptKind::Snippet, Some(text), None) => PromptContent::Text { text },
            (PromptKind::Chat, None, Some(messages)) => PromptContent::Chat {
                messages: messages
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| parse_entry(i, v))
                    .collect::<Result<_>>()?,
            },
            (PromptKind::Chat, _, _) => {
                return Err(Error::invalid_field(
                    "content",
                    "a chat prompt's content is {\"messages\": [{\"role\", \"content\"}, ...]}",
                ))
            }
            (_, _, _) => {
                return Err(Error::invalid_field(
                    "content",
                    format!("a {} prompt's content is {{\"text\": \"...\"}}", kind.as_str()),
                ))
            }
        };
        Ok(content)
    }

    fn validate(&self) -> Result<()> {
        match self {
            PromptContent::Text { text } => {
                if text.trim().is_empty() {
                    return Err(Error::invalid_field("content.text", "text must not be empty"));
                }
            }
            PromptContent::Chat { messages } => {
                if messages.is_empty() {
                    return Err(Error::invalid_field("content.messages", "messages must not be empty"));
                }
                if messages.len() > MAX_MESSAGES {
                    return Err(Error::invalid_field(
                        "content.messages",
                        format!("at most {MAX_MESSAGES} messages"),
                    ));
                }
            }
        }
        let size = canonical::to_canonical_json(&self.to_value()).len();
        if size > MAX_CONTENT_BYTES {
            return Err(Error::new(
                ErrorKind::PayloadTooLarge,
                format!("content is {size} bytes; the limit is {MAX_CONTENT_BYTES}"),
            )
            .with_details(serde_json::json!({ "field": "content", "limit_bytes": MAX_CONTENT_BYTES })));
        }
        Ok(())
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("content serializes")
    }

    /// The named, comparable parts of the content, in a stable order:
    /// `text`, or `messages[i]` with their roles (`placeholder` for a slot,
    /// whose text is its name). The diff works on these.
    pub fn fields(&self) -> Vec<(String, Option<&'static str>, &str)> {
        match self {
            PromptContent::Text { text } => vec![("text".to_owned(), None, text.as_str())],
            PromptContent::Chat { messages } => messages
                .iter()
                .enumerate()
                .map(|(i, entry)| match entry {
                    ChatEntry::Message(m) => (format!("messages[{i}]"), Some(m.role.as_str()), m.content.as_str()),
                    ChatEntry::Placeholder(p) => (format!("messages[{i}]"), Some("placeholder"), p.name.as_str()),
                })
                .collect(),
        }
    }

    /// Every template in the content with the field it sits in.
    pub fn templates(&self) -> Vec<(String, &str)> {
        match self {
            PromptContent::Text { text } => vec![("content.text".to_owned(), text.as_str())],
            PromptContent::Chat { messages } => messages
                .iter()
                .enumerate()
                .filter_map(|(i, entry)| match entry {
                    ChatEntry::Message(m) => Some((format!("content.messages[{i}].content"), m.content.as_str())),
                    ChatEntry::Placeholder(_) => None,
                })
                .collect(),
        }
    }

    /// Parses every template, naming the field of the first that fails.
    pub fn parse_templates(&self) -> Result<Vec<crate::template::Template>> {
        self.templates()
            .into_iter()
            .map(|(field, src)| {
                crate::template::Template::parse(src).map_err(|e| {
                    let mut details = e.details().clone();
                    details["field"] = Value::String(field.clone());
                    Error::new(e.kind(), format!("{field}: {}", e.message())).with_details(details)
                })
            })
            .collect()
    }

    /// The same content with each template replaced by `map(template)`.
    pub fn map_templates(&self, mut map: impl FnMut(&str) -> Result<String>) -> Result<PromptContent> {
        Ok(match self {
            PromptContent::Text { text } => PromptContent::Text { text: map(text)? },
            PromptContent::Chat { messages } => PromptContent::Chat {
                messages: messages
                    .iter()
                    .map(|entry| match entry {
                        ChatEntry::Message(m) => Ok(ChatEntry::Message(Message {
                            role: m.role,
                            content: map(&m.content)?,
                        })),
                        ChatEntry::Placeholder(p) => Ok(ChatEntry::Placeholder(p.clone())),
                    })
                    .collect::<Result<_>>()?,
            },
        })
    }
}

/// Model parameters: the well-known keys are checked, any others are kept as
/// they came (providers add parameters faster than we could list them).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ModelParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ModelParams {
    pub fn from_value(value: &Value) -> Result<Self> {
        if value.is_null() {
            return Ok(ModelParams::default());
        }
        if !value.is_object() {
            return Err(Error::invalid_field("model_params", "model_params must be an object"));
        }
        let params: ModelParams = serde_json::from_value(value.clone())
            .map_err(|e| Error::invalid_field("model_params", format!("model_params: {e}")))?;
        params.validate()?;
        Ok(params)
    }

    fn validate(&self) -> Result<()> {
        if let Some(model) = &self.model {
            if model.trim().is_empty() || model.len() > 200 {
                return Err(Error::invalid_field(
                    "model_params.model",
                    "model must be 1 to 200 characters",
                ));
            }
        }
        if let Some(t) = self.temperature {
            if !(0.0..=2.0).contains(&t) {
                return Err(Error::invalid_field(
                    "model_params.temperature",
                    "temperature must be between 0 and 2",
                ));
            }
        }
        if let Some(p) = self.top_p {
            if !(0.0..=1.0).contains(&p) {
                return Err(Error::invalid_field(
                    "model_params.top_p",
                    "top_p must be between 0 and 1",
                ));
            }
        }
        if self.max_tokens == Some(0) {
            return Err(Error::invalid_field(
                "model_params.max_tokens",
                "max_tokens must be at least 1",
            ));
        }
        Ok(())
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("model params serialize")
    }

    /// One `key: value` line per parameter, keys sorted: the form the word
    /// diff compares, so a change reads as `temperature: 0.2` → `0.7`.
    pub fn to_diff_text(&self) -> String {
        let value = self.to_value();
        let map = value.as_object().cloned().unwrap_or_default();
        let mut keys: Vec<&String> = map.keys().collect();
        keys.sort();
        keys.iter()
            .map(|k| format!("{k}: {}", canonical::to_canonical_json(&map[*k])))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The hash that identifies a version's substance: content plus parameters.
/// Two commits with the same hash are the same version.
pub fn content_hash(content: &PromptContent, params: &ModelParams) -> String {
    canonical::hash_value(&serde_json::json!({
        "content": content.to_value(),
        "model_params": params.to_value(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_and_chat_content_parse_by_kind() {
        let t = PromptContent::from_value(PromptKind::Text, &json!({"text": "Hi {{name}}"})).unwrap();
        assert_eq!(t.to_value(), json!({"text": "Hi {{name}}"}));
        let c = PromptContent::from_value(
            PromptKind::Chat,
            &json!({"messages": [{"role": "system", "content": "Be brief"}, {"role": "user", "content": "Q"}]}),
        )
        .unwrap();
        assert_eq!(c.fields().len(), 2);
        assert_eq!(c.fields()[0].1, Some("system"));
        let with_slot = PromptContent::from_value(
            PromptKind::Chat,
            &json!({"messages": [{"role": "system", "content": "S"}, {"role": "placeholder", "name": "history"}]}),
        )
        .unwrap();
        assert_eq!(
            with_slot.fields()[1],
            ("messages[1]".to_owned(), Some("placeholder"), "history")
        );
        assert_eq!(with_slot.templates().len(), 1);
        let bad_slot = json!({"messages": [{"role": "placeholder", "name": "a b"}]});
        assert_eq!(
            PromptContent::from_value(PromptKind::Chat, &bad_slot)
                .unwrap_err()
                .details()["field"],
            "content.messages[0]"
        );
    }

    #[test]
    fn content_must_match_kind_and_have_no_unknown_fields() {
        assert!(PromptContent::from_value(PromptKind::Chat, &json!({"text": "x"})).is_err());
        assert!(PromptContent::from_value(PromptKind::Text, &json!({"messages": []})).is_err());
        assert!(PromptContent::from_value(PromptKind::Text, &json!({"text": "x", "extra": 1})).is_err());
        assert!(PromptContent::from_value(PromptKind::Text, &json!({"text": "  "})).is_err());
        assert!(PromptContent::from_value(PromptKind::Chat, &json!({"messages": []})).is_err());
        assert!(PromptContent::from_value(PromptKind::Text, &json!(["x", null])).is_err());
        assert!(PromptContent::from_value(PromptKind::Chat, &json!({"messages": [["user", "x"]]})).is_err());
        let bad_role = json!({"messages": [{"role": "robot", "content": "x"}]});
        assert_eq!(
            PromptContent::from_value(PromptKind::Chat, &bad_role)
                .unwrap_err()
                .code(),
            "invalid_field"
        );
    }

    #[test]
    fn oversized_content_is_413() {
        let big = "x".repeat(MAX_CONTENT_BYTES + 1);
        let err = PromptContent::from_value(PromptKind::Text, &json!({ "text": big })).unwrap_err();
        assert_eq!(err.status(), 413);
    }

    #[test]
    fn model_params_check_known_keys_and_keep_others() {
        let p = ModelParams::from_value(&json!({"model": "gpt-4o", "temperature": 0.2, "seed": 7})).unwrap();
        assert_eq!(p.extra["seed"], 7);
        assert_eq!(p.to_diff_text(), "model: \"gpt-4o\"\nseed: 7\ntemperature: 0.2");
        for bad in [
            json!({"temperature": 3}),
            json!({"top_p": -0.1}),
            json!({"max_tokens": 0}),
            json!({"model": ""}),
            json!({"temperature": "hot"}),
            json!([1]),
        ] {
            assert!(ModelParams::from_value(&bad).is_err(), "{bad}");
        }
        assert_eq!(ModelParams::from_value(&Value::Null).unwrap(), ModelParams::default());
    }

    #[test]
    fn hash_ignores_key_order_but_not_values() {
        let c = PromptContent::Text { text: "a".into() };
        let p1 = ModelParams::from_value(&json!({"model": "m", "temperature": 0.1})).unwrap();
        let p2 = ModelParams::from_value(&json!({"temperature": 0.1, "model": "m"})).unwrap();
        let p3 = ModelParams::from_value(&json!({"temperature": 0.2, "model": "m"})).unwrap();
        assert_eq!(content_hash(&c, &p1), content_hash(&c, &p2));
        assert_ne!(content_hash(&c, &p1), content_hash(&c, &p3));
    }
}
