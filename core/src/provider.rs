//! The workspace's LLM provider for server-side test runs: the
//! chat-completions request for a rendered prompt with the version's model
//! parameters, and the reading of the reply. The worker only moves bytes.

use serde_json::{json, Map, Value};

use crate::error::{Error, ErrorKind, Result};
use crate::render::Rendered;

/// The chat-completions body: the rendered messages (a text prompt is one
/// user message), the version's model parameters, and the model — the
/// version's own `model` if it names one, else the workspace's default.
pub fn request_body(rendered: &Rendered, model_params: &Value, default_model: &str) -> Value {
    let messages = match rendered {
        Rendered::Text { text } => json!([{ "role": "user", "content": text }]),
        Rendered::Chat { messages } => json!(messages),
    };
    let mut body: Map<String, Value> = model_params.as_object().cloned().unwrap_or_default();
    if !body.get("model").is_some_and(Value::is_string) {
        body.insert("model".into(), json!(default_model));
    }
    body.insert("messages".into(), messages);
    // One answer, not a stream: what the assertions grade.
    body.insert("stream".into(), json!(false));
    body.remove("n");
    Value::Object(body)
}

/// What a call gave: the answer's text and the tokens it used.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub output: String,
    pub tokens_in: u32,
    pub tokens_out: u32,
}

/// The first choice's text and the usage of a chat-completions reply.
pub fn parse_reply(body: &[u8]) -> Result<Completion> {
    let bad = |why: &str| Error::new(ErrorKind::Internal, format!("provider reply unreadable: {why}"));
    let reply: Value = serde_json::from_slice(body).map_err(|_| bad("not JSON"))?;
    let output = reply
        .pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("no choices[0].message.content"))?
        .to_owned();
    let tokens = |name: &str| {
        reply
            .pointer(&format!("/usage/{name}"))
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0)
    };
    Ok(Completion {
        output,
        tokens_in: tokens("prompt_tokens"),
        tokens_out: tokens("completion_tokens"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::{Message, MessageRole};

    #[test]
    fn the_request_carries_the_rendered_prompt_and_the_versions_parameters() {
        let text = Rendered::Text { text: "hi".into() };
        let body = request_body(&text, &json!({ "temperature": 0.2, "n": 3 }), "house-model");
        assert_eq!(body["model"], "house-model");
        assert_eq!(body["temperature"], 0.2);
        assert_eq!(body["messages"], json!([{ "role": "user", "content": "hi" }]));
        assert_eq!(body["stream"], false);
        assert!(body.get("n").is_none());
        let chat = Rendered::Chat {
            messages: vec![Message {
                role: MessageRole::System,
                content: "be brief".into(),
            }],
        };
        let own = request_body(&chat, &json!({ "model": "gpt-4o" }), "house-model");
        assert_eq!(own["model"], "gpt-4o");
        assert_eq!(own["messages"][0]["role"], "system");
    }

    #[test]
    fn replies_give_text_and_usage() {
        let reply = json!({ "choices": [{ "message": { "content": "ok" } }], "usage": { "prompt_tokens": 12, "completion_tokens": 3 } });
        let c = parse_reply(reply.to_string().as_bytes()).unwrap();
        assert_eq!((c.output.as_str(), c.tokens_in, c.tokens_out), ("ok", 12, 3));
        assert!(parse_reply(b"{}").is_err());
        assert!(parse_reply(b"nope").is_err());
    }
}
