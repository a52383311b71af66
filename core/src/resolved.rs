//! The resolved documents the edge serves from KV.
//!
//! A [`ResolvedPrompt`] is everything a caller needs to use the version live
//! in one environment; a [`Bundle`] holds every prompt of an environment for
//! SDKs. Both carry an ETag derived from their canonical JSON, so the same
//! document always has the same tag wherever it is computed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::canonical;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolvedPrompt {
    pub slug: String,
    pub name: String,
    pub kind: String,
    pub environment: String,
    pub version: u32,
    pub version_id: String,
    pub content: Value,
    pub model_params: Value,
    pub content_hash: String,
    pub deployment_id: String,
    pub deployed_at: String,
}

impl ResolvedPrompt {
    /// A strong ETag: the quoted hash of the document.
    pub fn etag(&self) -> String {
        etag_of(&serde_json::to_value(self).expect("resolved prompt serializes"))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bundle {
    pub environment: String,
    /// Keyed by slug, so the JSON is ordered and stable.
    pub prompts: BTreeMap<String, ResolvedPrompt>,
}

impl Bundle {
    pub fn etag(&self) -> String {
        etag_of(&serde_json::to_value(self).expect("bundle serializes"))
    }
}

fn etag_of(value: &Value) -> String {
    format!("\"{}\"", &canonical::hash_value(value)[..32])
}

/// Whether an `If-None-Match` header value matches `etag` (a list of tags,
/// weak tags compared weakly, or `*`).
pub fn if_none_match(header: Option<&str>, etag: &str) -> bool {
    let Some(header) = header else { return false };
    header.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(version: u32) -> ResolvedPrompt {
        ResolvedPrompt {
            slug: "s".into(),
            name: "S".into(),
            kind: "text".into(),
            environment: "production".into(),
            version,
            version_id: "v".into(),
            content: json!({"text": "hi"}),
            model_params: json!({}),
            content_hash: "h".into(),
            deployment_id: "d".into(),
            deployed_at: "2026-01-01T00:00:00.000Z".into(),
        }
    }

    #[test]
    fn etag_is_stable_and_tracks_content() {
        assert_eq!(doc(1).etag(), doc(1).etag());
        assert_ne!(doc(1).etag(), doc(2).etag());
        assert!(doc(1).etag().starts_with('"'));
    }

    #[test]
    fn if_none_match_handles_lists_weak_tags_and_star() {
        let tag = doc(1).etag();
        assert!(if_none_match(Some(&tag), &tag));
        assert!(if_none_match(Some(&format!("\"x\", W/{tag}")), &tag));
        assert!(if_none_match(Some("*"), &tag));
        assert!(!if_none_match(Some("\"other\""), &tag));
        assert!(!if_none_match(None, &tag));
    }
}
