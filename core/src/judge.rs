//! LLM-as-judge: the request sent to the workspace's OpenAI-compatible
//! chat-completions endpoint and the reading of its reply. The worker only
//! moves the bytes.

use serde_json::{json, Value};

use crate::error::{Error, ErrorKind, Result};

/// Outputs longer than this are cut before they are sent to the judge.
pub const MAX_JUDGED_CHARS: usize = 16_000;

const INSTRUCTIONS: &str = "You grade the output of an AI assistant against the criteria below. \
Reply with only a JSON object {\"score\": S} where S is a number from 0 (fails the criteria) \
to 1 (fully meets them).\n\nCriteria:\n";

/// The chat-completions body: deterministic (temperature 0) and short.
pub fn request_body(model: &str, criteria: &str, output: &str, reference: Option<&str>) -> Value {
    let output: String = output.chars().take(MAX_JUDGED_CHARS).collect();
    let mut user = format!("Output to grade:\n<output>\n{output}\n</output>");
    if let Some(r) = reference {
        let r: String = r.chars().take(MAX_JUDGED_CHARS).collect();
        user.push_str(&format!("\n\nReference answer:\n<reference>\n{r}\n</reference>"));
    }
    json!({
        "model": model,
        "temperature": 0,
        "max_tokens": 20,
        "messages": [
            { "role": "system", "content": format!("{INSTRUCTIONS}{criteria}") },
            { "role": "user", "content": user }
        ]
    })
}

/// Whether a judge call that answered `status` (not 2xx) may succeed if
/// asked again later: rate limits and server errors, not other refusals.
pub fn worth_retrying(status: u16) -> bool {
    status == 429 || status >= 500
}

fn unreadable(why: &str) -> Error {
    Error::new(ErrorKind::Internal, format!("judge reply unreadable: {why}"))
}

/// The score in a chat-completions reply: `{"score": S}` as asked, or else
/// the first number in the text; it must lie in [0, 1].
pub fn parse_reply(body: &[u8]) -> Result<f64> {
    let reply: Value = serde_json::from_slice(body).map_err(|_| unreadable("not JSON"))?;
    let content = reply
        .pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .ok_or_else(|| unreadable("no choices[0].message.content"))?;
    let score = serde_json::from_str::<Value>(content.trim())
        .ok()
        .and_then(|v| v.get("score").and_then(Value::as_f64))
        .or_else(|| first_number(content))
        .ok_or_else(|| unreadable("no score in the reply"))?;
    if (0.0..=1.0).contains(&score) {
        Ok(score)
    } else {
        Err(unreadable("score outside [0, 1]"))
    }
}

fn first_number(text: &str) -> Option<f64> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let rest = &text[start..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    rest[..end].trim_end_matches('.').parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(content: &str) -> Vec<u8> {
        json!({ "choices": [{ "message": { "role": "assistant", "content": content } }] })
            .to_string()
            .into_bytes()
    }

    #[test]
    fn reads_the_asked_form_and_plain_numbers() {
        assert_eq!(parse_reply(&reply("{\"score\": 0.75}")).unwrap(), 0.75);
        assert_eq!(parse_reply(&reply("Score: 1")).unwrap(), 1.0);
        assert_eq!(parse_reply(&reply("0.5.")).unwrap(), 0.5);
    }

    #[test]
    fn only_rate_limits_and_server_errors_are_worth_retrying() {
        assert!(worth_retrying(429) && worth_retrying(503));
        assert!(!worth_retrying(400) && !worth_retrying(401) && !worth_retrying(404));
    }

    #[test]
    fn refuses_what_is_not_a_score() {
        for bad in [reply("great"), reply("7"), b"{}".to_vec(), b"<html>".to_vec()] {
            assert_eq!(parse_reply(&bad).unwrap_err().kind(), ErrorKind::Internal);
        }
    }

    #[test]
    fn the_request_carries_model_criteria_output_and_reference() {
        let body = request_body("gpt-x", "Be polite.", "hello", Some("hi"));
        assert_eq!(body["model"], "gpt-x");
        assert_eq!(body["temperature"], 0);
        assert!(body["messages"][0]["content"].as_str().unwrap().ends_with("Be polite."));
        let user = body["messages"][1]["content"].as_str().unwrap();
        assert!(user.contains("hello") && user.contains("<reference>\nhi"));
        let long = "é".repeat(MAX_JUDGED_CHARS + 10);
        let cut = request_body("m", "c", &long, None);
        assert!(cut["messages"][1]["content"].as_str().unwrap().chars().count() < MAX_JUDGED_CHARS + 100);
    }
}
