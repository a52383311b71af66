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
use crate::render::VersionVariables;
use crate::routing;

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
    /// The variables the version uses and declares, so renderers anywhere
    /// apply the same strictness and defaults.
    #[serde(default)]
    pub variables: VersionVariables,
    pub content_hash: String,
    pub deployment_id: String,
    pub deployed_at: String,
    /// The A/B split running in this environment, with every variant's
    /// content, so routing needs no further read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment: Option<ExperimentDoc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentDoc {
    pub id: String,
    pub name: String,
    pub salt: String,
    pub variants: Vec<VariantDoc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantDoc {
    pub version: u32,
    pub version_id: String,
    /// Percent, up to two decimals.
    pub weight: f64,
    pub content: Value,
    pub model_params: Value,
    /// The variables the version uses and declares, so renderers anywhere
    /// apply the same strictness and defaults.
    #[serde(default)]
    pub variables: VersionVariables,
    pub content_hash: String,
}

/// How a resolution chose its version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssignmentKind {
    /// No experiment: the deployed version.
    Deployed,
    /// Bucketed by the user key: the same user always gets the same variant.
    Hashed,
    /// No user key: a random variant.
    Random,
}

/// What one caller gets: the version for them, and how it was chosen.
/// A routing decision: the experiment variant (None: the deployed version,
/// including the part of traffic an experiment leaves out) and how it was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    pub variant: Option<usize>,
    pub assignment: AssignmentKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resolution {
    pub slug: String,
    pub name: String,
    pub kind: String,
    pub environment: String,
    pub version: u32,
    pub version_id: String,
    pub content: Value,
    pub model_params: Value,
    /// The variables the version uses and declares, so renderers anywhere
    /// apply the same strictness and defaults.
    #[serde(default)]
    pub variables: VersionVariables,
    pub content_hash: String,
    pub deployment_id: String,
    pub deployed_at: String,
    pub experiment_id: Option<String>,
    pub variant: Option<usize>,
    pub assignment: AssignmentKind,
}

impl ResolvedPrompt {
    /// Routes one caller: with an experiment, `user_key` picks the variant
    /// deterministically (GrowthBook v2 bucketing with the experiment's
    /// salt); without a key, `random` (32 random bits) does. A bucket that
    /// falls in no range (weights of 0) keeps the deployed version.
    pub fn resolve_for(&self, user_key: Option<&str>, random: impl FnOnce() -> u32) -> Resolution {
        let mut out = Resolution {
            slug: self.slug.clone(),
            name: self.name.clone(),
            kind: self.kind.clone(),
            environment: self.environment.clone(),
            version: self.version,
            version_id: self.version_id.clone(),
            content: self.content.clone(),
            model_params: self.model_params.clone(),
            variables: self.variables.clone(),
            content_hash: self.content_hash.clone(),
            deployment_id: self.deployment_id.clone(),
            deployed_at: self.deployed_at.clone(),
            experiment_id: None,
            variant: None,
            assignment: AssignmentKind::Deployed,
        };
        let choice = self.choose(user_key, random);
        out.assignment = choice.assignment;
        let Some(exp) = &self.experiment else {
            return out;
        };
        out.experiment_id = Some(exp.id.clone());
        if let Some(i) = choice.variant {
            let v = &exp.variants[i];
            out.variant = Some(i);
            out.version = v.version;
            out.version_id = v.version_id.clone();
            out.content = v.content.clone();
            out.model_params = v.model_params.clone();
            out.variables = v.variables.clone();
            out.content_hash = v.content_hash.clone();
        }
        out
    }

    /// A strong ETag: the quoted hash of the document.
    pub fn etag(&self) -> String {
        etag_of(&serde_json::to_value(self).expect("resolved prompt serializes"))
    }

    /// Which variant of the running experiment (if any) serves this caller:
    /// hashed from the user key, or at random without one. The worker and
    /// the SDKs route through this one function.
    pub fn choose(&self, user_key: Option<&str>, random: impl FnOnce() -> u32) -> Choice {
        let Some(exp) = &self.experiment else {
            return Choice {
                variant: None,
                assignment: AssignmentKind::Deployed,
            };
        };
        let (n, assignment) = match user_key.filter(|k| !k.is_empty()) {
            Some(key) => (routing::bucket(&exp.salt, key), AssignmentKind::Hashed),
            None => (routing::random_bucket(random()), AssignmentKind::Random),
        };
        let weights: Vec<f64> = exp.variants.iter().map(|v| v.weight).collect();
        Choice {
            variant: routing::choose_variant(n, &routing::bucket_ranges(&weights)),
            assignment,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bundle {
    pub environment: String,
    /// Keyed by slug, so the JSON is ordered and stable.
    pub prompts: BTreeMap<String, ResolvedPrompt>,
}

/// An environment's bundle is stored in this many shards (KV values), each
/// the documents of the prompts whose slug hashes to it: a change
/// republishes one shard, not the whole environment, so its cost does not
/// grow with the number of prompts.
pub const BUNDLE_SHARDS: u32 = 64;

/// The shard a prompt's document lives in.
pub fn shard_of(slug: &str) -> u32 {
    crate::routing::fnv1a32(slug) % BUNDLE_SHARDS
}

/// A shard's ETag: a hash of its JSON text (the text is serialized from
/// sorted maps, so equal shards have equal text).
pub fn shard_etag(body: &str) -> String {
    format!("\"{}\"", &canonical::sha256_hex(body.as_bytes())[..32])
}

/// The bundle of `environment` made of its shards in order (each a JSON
/// object of slug → document, and its ETag): its JSON text, the same shape
/// as [`Bundle`]'s, and its ETag, derived from the shards' ETags.
pub fn join_shards<'a>(environment: &str, shards: impl IntoIterator<Item = (&'a str, &'a str)>) -> (String, String) {
    let mut body = format!(
        "{{\"environment\":{},\"prompts\":{{",
        serde_json::to_string(environment).unwrap_or_default()
    );
    let mut tags = String::from(environment);
    let mut first = true;
    for (shard, etag) in shards {
        tags.push('|');
        tags.push_str(etag);
        let inner = shard.trim();
        let inner = inner
            .strip_prefix('{')
            .and_then(|s| s.strip_suffix('}'))
            .unwrap_or("")
            .trim();
        if inner.is_empty() {
            continue;
        }
        if !first {
            body.push(',');
        }
        body.push_str(inner);
        first = false;
    }
    body.push_str("}}");
    (body, shard_etag(&tags))
}

/// The shards (by index) older than a release of one of their prompts:
/// `shard_seqs` are the stored shards' sequences, `changed` each prompt
/// released since the oldest of them with its last release.
pub fn stale_shards(shard_seqs: &[u64], changed: &[(String, u64)]) -> Vec<u32> {
    let mut stale: Vec<u32> = changed
        .iter()
        .map(|(slug, seq)| (shard_of(slug), *seq))
        .filter(|(k, seq)| shard_seqs.get(*k as usize).is_some_and(|have| have < seq))
        .map(|(k, _)| k)
        .collect();
    stale.sort_unstable();
    stale.dedup();
    stale
}

/// The most prompts one filtered bundle (`?prompts=`) may name.
pub const MAX_FILTERED_PROMPTS: usize = 100;

/// `?prompts=a,b,c`: the prompts an app asks for (sorted, each once), or
/// `None` for the whole environment.
pub fn prompt_filter(raw: Option<&str>) -> crate::error::Result<Option<Vec<crate::names::Slug>>> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let bad = |message: String| {
        crate::error::Error::new(crate::error::ErrorKind::InvalidQuery, message)
            .with_details(serde_json::json!({ "parameter": "prompts" }))
    };
    let mut slugs = raw
        .split(',')
        .map(|s| crate::names::Slug::parse(s.trim()).map_err(|e| bad(format!("prompts: {}", e.message()))))
        .collect::<crate::error::Result<Vec<_>>>()?;
    slugs.sort();
    slugs.dedup();
    if slugs.len() > MAX_FILTERED_PROMPTS {
        return Err(bad(format!("prompts may name at most {MAX_FILTERED_PROMPTS} prompts")));
    }
    Ok(Some(slugs))
}

impl Bundle {
    pub fn etag(&self) -> String {
        etag_of(&serde_json::to_value(self).expect("bundle serializes"))
    }
}

fn etag_of(value: &Value) -> String {
    format!("\"{}\"", &canonical::hash_value(value)[..32])
}

impl Resolution {
    /// The ETag of this answer: the document's tag, narrowed by the variant
    /// so two users in different variants never share a cached response.
    pub fn etag(&self, document_etag: &str) -> String {
        match self.variant {
            None if self.assignment == AssignmentKind::Deployed => document_etag.to_owned(),
            variant => {
                let inner = document_etag.trim_matches('"');
                let v = variant.map_or("none".to_owned(), |v| v.to_string());
                format!("\"{inner}-v{v}\"")
            }
        }
    }
}

/// Whether an `If-None-Match` header value matches `etag` (a list of tags,
/// weak tags compared weakly, or `*`).
pub fn if_none_match(header: Option<&str>, etag: &str) -> bool {
    let Some(header) = header else { return false };
    header
        .split(',')
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag)
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
            variables: VersionVariables::default(),
            content_hash: "h".into(),
            deployment_id: "d".into(),
            deployed_at: "2026-01-01T00:00:00.000Z".into(),
            experiment: None,
        }
    }

    fn variant(version: u32, weight: f64) -> VariantDoc {
        VariantDoc {
            version,
            version_id: format!("id{version}"),
            weight,
            content: json!({ "text": format!("v{version}") }),
            model_params: json!({}),
            variables: VersionVariables::default(),
            content_hash: format!("h{version}"),
        }
    }

    fn with_experiment(weights: &[(u32, f64)]) -> ResolvedPrompt {
        let mut d = doc(1);
        d.experiment = Some(ExperimentDoc {
            id: "exp".into(),
            name: "test".into(),
            salt: "salt".into(),
            variants: weights.iter().map(|(v, w)| variant(*v, *w)).collect(),
        });
        d
    }

    #[test]
    fn without_experiment_the_deployed_version_is_served() {
        let r = doc(3).resolve_for(Some("u"), || unreachable!());
        assert_eq!(r.version, 3);
        assert_eq!(r.assignment, AssignmentKind::Deployed);
        assert_eq!(r.experiment_id, None);
    }

    #[test]
    fn a_user_key_always_gets_the_same_variant() {
        let d = with_experiment(&[(2, 50.0), (3, 50.0)]);
        let first = d.resolve_for(Some("user-7"), || unreachable!());
        assert_eq!(first.assignment, AssignmentKind::Hashed);
        assert_eq!(first.experiment_id.as_deref(), Some("exp"));
        for _ in 0..1000 {
            assert_eq!(d.resolve_for(Some("user-7"), || unreachable!()).version, first.version);
        }
        let n = routing::bucket("salt", "user-7");
        assert_eq!(first.variant, Some(usize::from(n >= 0.5)));
        assert_eq!(first.content["text"], format!("v{}", first.version));
    }

    #[test]
    fn no_user_key_is_random_and_says_so() {
        let d = with_experiment(&[(2, 50.0), (3, 50.0)]);
        let low = d.resolve_for(None, || 10);
        let high = d.resolve_for(Some(""), || 9_999);
        assert_eq!(low.assignment, AssignmentKind::Random);
        assert_eq!((low.version, high.version), (2, 3));
    }

    #[test]
    fn etag_is_stable_and_tracks_content() {
        assert_eq!(doc(1).etag(), doc(1).etag());
        assert_ne!(doc(1).etag(), doc(2).etag());
        assert!(doc(1).etag().starts_with('"'));
    }

    #[test]
    fn shards_join_into_a_bundle() {
        let a = serde_json::to_string(&BTreeMap::from([("a".to_string(), doc(1))])).unwrap();
        let b = serde_json::to_string(&BTreeMap::from([("b".to_string(), doc(2))])).unwrap();
        let empty = "{}".to_string();
        let (ea, eb, ee) = (shard_etag(&a), shard_etag(&b), shard_etag(&empty));
        let (body, etag) = join_shards(
            "prod",
            [
                (a.as_str(), ea.as_str()),
                (empty.as_str(), ee.as_str()),
                (b.as_str(), eb.as_str()),
            ],
        );
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["environment"], "prod");
        assert_eq!(v["prompts"].as_object().unwrap().len(), 2);
        assert_eq!(v["prompts"]["b"]["version"], 2);
        let (_, same) = join_shards(
            "prod",
            [
                (a.as_str(), ea.as_str()),
                (empty.as_str(), ee.as_str()),
                (b.as_str(), eb.as_str()),
            ],
        );
        assert_eq!(etag, same);
        let (_, other) = join_shards("prod", [(a.as_str(), ea.as_str()), (empty.as_str(), ee.as_str())]);
        assert_ne!(etag, other);
        let (none, _) = join_shards("dev", [(empty.as_str(), ee.as_str())]);
        assert_eq!(none, r#"{"environment":"dev","prompts":{}}"#);
        assert!(shard_of("any") < BUNDLE_SHARDS);
    }

    #[test]
    fn only_shards_behind_a_release_of_their_prompts_are_stale() {
        let mut seqs = vec![5; BUNDLE_SHARDS as usize];
        let k = shard_of("a") as usize;
        seqs[k] = 3;
        let changed = vec![("a".to_string(), 4), ("a".to_string(), 4)];
        assert_eq!(stale_shards(&seqs, &changed), vec![k as u32]);
        seqs[k] = 4;
        assert!(
            stale_shards(&seqs, &changed).is_empty(),
            "a shard written at the release is current"
        );
    }

    #[test]
    fn a_prompt_filter_is_sorted_deduplicated_and_bounded() {
        let f = prompt_filter(Some("b, a,b")).unwrap().unwrap();
        assert_eq!(f.iter().map(|s| s.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(prompt_filter(Some("")).unwrap(), None);
        assert_eq!(prompt_filter(Some("Bad Slug")).unwrap_err().code(), "invalid_query");
        let many: Vec<String> = (0..=MAX_FILTERED_PROMPTS).map(|i| format!("p{i}")).collect();
        assert!(prompt_filter(Some(&many.join(","))).is_err());
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
