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

/// What an answer from the provider means for a test case.
#[derive(Debug, Clone, PartialEq)]
pub enum Answered {
    /// Rate limited or failing on its side: ask again later.
    Retry(String),
    /// A refusal that asking again will not change, or an unreadable reply.
    Failed(String),
    /// The case's output, with its cost when the model has a price.
    Output { text: String, cost_usd: Option<f64> },
}

/// Reads the provider's answer (`status`, `body`) to a call made with
/// `model`, priced from the seeded table and `overrides`.
pub fn read_answer(
    status: u16,
    body: &[u8],
    model: &str,
    overrides: &std::collections::BTreeMap<String, crate::pricing::ModelPrice>,
) -> Answered {
    if crate::judge::worth_retrying(status) {
        return Answered::Retry(format!("provider answered {status}"));
    }
    if !(200..300).contains(&status) {
        return Answered::Failed(format!("provider answered {status}"));
    }
    match parse_reply(body) {
        Ok(c) => Answered::Output {
            cost_usd: crate::pricing::cost_usd(model, c.tokens_in, c.tokens_out, overrides),
            text: c.output,
        },
        Err(e) => Answered::Failed(e.message().to_owned()),
    }
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
    fn answers_are_retried_failed_or_read() {
        let none = std::collections::BTreeMap::new();
        assert!(matches!(read_answer(429, b"", "m", &none), Answered::Retry(_)));
        assert!(matches!(read_answer(503, b"", "m", &none), Answered::Retry(_)));
        assert_eq!(
            read_answer(400, b"", "m", &none),
            Answered::Failed("provider answered 400".into())
        );
        assert!(matches!(read_answer(200, b"nope", "m", &none), Answered::Failed(_)));
        let ok = json!({ "choices": [{ "message": { "content": "hi" } }], "usage": { "prompt_tokens": 1000000, "completion_tokens": 0 } });
        match read_answer(200, ok.to_string().as_bytes(), "gpt-4o-mini", &none) {
            Answered::Output { text, cost_usd } => {
                assert_eq!(text, "hi");
                assert!(cost_usd.is_some_and(|c| (c - 0.15).abs() < 1e-9), "{cost_usd:?}");
            }
            other => panic!("{other:?}"),
        }
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
