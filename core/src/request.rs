//! Request bodies: parsed strictly (unknown fields are refused) and validated
//! into values the store can write without further checks.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use std::collections::BTreeMap;

use crate::content::{ModelParams, PromptContent, PromptKind};
use crate::environment::GatePolicy;
use crate::error::{Error, ErrorKind, Result};
use crate::names::{bounded_text, EnvironmentName, Slug, WorkspaceName};
use crate::render::VersionVariables;
use crate::role::Role;
use crate::template::{IncludeGraph, Template, VariableDecl};

/// Request bodies larger than this are refused with 413 before parsing.
pub const MAX_BODY_BYTES: usize = 512 * 1024;

/// Parses a JSON body: syntax errors are `malformed_json`, shape errors
/// (unknown fields, wrong types, bad values) are `invalid_field`.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T> {
    parse_json_within(body, MAX_BODY_BYTES)
}

/// [`parse_json`] for a route that takes larger bodies (test-run outputs).
pub fn parse_json_within<T: DeserializeOwned>(body: &[u8], limit: usize) -> Result<T> {
    if body.len() > limit {
        return Err(too_large(body.len(), limit));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::new(ErrorKind::MalformedJson, "the request needs a JSON body"));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        use serde_json::error::Category;
        let kind = match e.classify() {
            Category::Data => ErrorKind::InvalidField,
            Category::Syntax | Category::Eof | Category::Io => ErrorKind::MalformedJson,
        };
        Error::new(kind, format!("request body: {e}"))
    })?;
    // serde would also build a struct from an array of its fields in order;
    // the API takes objects only.
    expect_object("body", &value)?;
    serde_json::from_value(value).map_err(|e| Error::new(ErrorKind::InvalidField, format!("request body: {e}")))
}

/// `value` must be a JSON object (or null where the field is optional).
pub fn expect_object(field: &str, value: &Value) -> Result<()> {
    if value.is_object() {
        Ok(())
    } else {
        Err(Error::invalid_field(field, format!("{field} must be a JSON object")))
    }
}

/// Every item of `value` (an array) must be an object.
pub fn expect_objects(field: &str, value: &Value) -> Result<()> {
    match value.as_array() {
        Some(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| expect_object(&format!("{field}[{i}]"), v)),
        None => Ok(()),
    }
}

pub fn too_large(size: usize, limit: usize) -> Error {
    Error::new(
        ErrorKind::PayloadTooLarge,
        format!("the request body is {size} bytes; the limit is {limit}"),
    )
    .with_details(serde_json::json!({ "limit_bytes": limit }))
}

/// Whether a `Content-Type` header value is JSON.
pub fn is_json_content_type(value: Option<&str>) -> bool {
    value.is_some_and(|v| {
        let mime = v.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateWorkspace {
    pub name: WorkspaceName,
    #[serde(default)]
    pub display_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCreatePrompt {
    slug: Slug,
    name: String,
    kind: String,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Debug, Clone)]
pub struct CreatePrompt {
    pub slug: Slug,
    pub name: String,
    pub kind: PromptKind,
    pub description: String,
}

impl CreatePrompt {
    pub fn parse(body: &[u8]) -> Result<Self> {
        let raw: RawCreatePrompt = parse_json(body)?;
        Ok(CreatePrompt {
            slug: raw.slug,
            name: bounded_text("name", &raw.name, 200, true)?,
            kind: PromptKind::parse(&raw.kind)?,
            description: bounded_text("description", raw.description.as_deref().unwrap_or(""), 2000, false)?,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCommit {
    content: Value,
    #[serde(default)]
    model_params: Value,
    #[serde(default)]
    parent_version: Option<u32>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    rebase: bool,
    #[serde(default)]
    variables: Vec<Value>,
}

/// A validated commit: content whose templates parse, parameters, and the
/// declared variables. Includes are pinned and the hash computed by
/// [`Commit::finish`] once the store has looked the snippets up.
#[derive(Debug, Clone)]
pub struct Commit {
    pub content: PromptContent,
    pub model_params: ModelParams,
    pub parent_version: Option<u32>,
    pub message: String,
    pub rebase: bool,
    pub declares: Vec<VariableDecl>,
    pub templates: Vec<Template>,
}

/// A commit with its includes pinned and expanded.
#[derive(Debug, Clone)]
pub struct FinishedCommit {
    pub expanded: PromptContent,
    pub variables: VersionVariables,
    pub includes: IncludeGraph,
    pub content_hash: String,
}

impl Commit {
    pub fn parse(body: &[u8], kind: PromptKind) -> Result<Self> {
        let raw: RawCommit = parse_json(body)?;
        let content = PromptContent::from_value(kind, &raw.content)?;
        let templates = content.parse_templates()?;
        let model_params = ModelParams::from_value(&raw.model_params)?;
        let declares = raw
            .variables
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                expect_object(&format!("variables[{i}]"), &v)?;
                serde_json::from_value(v).map_err(|e| Error::invalid_field("variables", format!("variables[{i}]: {e}")))
            })
            .collect::<Result<Vec<VariableDecl>>>()?;
        VariableDecl::validate_all(&declares)?;
        Ok(Commit {
            content,
            model_params,
            parent_version: raw.parent_version,
            message: bounded_text("message", raw.message.as_deref().unwrap_or(""), 2000, false)?,
            rebase: raw.rebase,
            declares,
            templates,
        })
    }

    /// Every include of the commit: slug → explicit version (if any).
    /// The same snippet pinned to two different versions is refused.
    pub fn includes(&self) -> Result<BTreeMap<String, Option<u32>>> {
        let mut out: BTreeMap<String, Option<u32>> = BTreeMap::new();
        for (slug, version) in self.templates.iter().flat_map(Template::includes) {
            match out.get(&slug) {
                Some(existing) if *existing != version => {
                    return Err(Error::invalid_field(
                        "content",
                        format!("snippet '{slug}' is included with two different versions"),
                    ))
                }
                _ => {
                    out.insert(slug, version);
                }
            }
        }
        Ok(out)
    }

    /// Expands the includes with the pinned snippets (slug → version, its
    /// expanded text and its include graph), checks cycles and depth, and
    /// computes the version's hash over everything that decides how it
    /// renders.
    pub fn finish(self, own_slug: &str, snippets: &[(String, u32, String, IncludeGraph)]) -> Result<FinishedCommit> {
        let graph_input: Vec<(String, u32, IncludeGraph)> =
            snippets.iter().map(|(s, v, _, g)| (s.clone(), *v, g.clone())).collect();
        let includes = IncludeGraph::combine(own_slug, &graph_input)?;
        let lookup = |slug: &str| snippets.iter().find(|s| s.0 == slug).map(|s| s.2.clone());
        let mut templates = self.templates.iter();
        let expanded = self
            .content
            .map_templates(|_| templates.next().ok_or_else(Error::internal)?.expand(&lookup))?;
        let variables = VersionVariables::of(&expanded, self.declares)?;
        let content_hash = crate::canonical::hash_value(&serde_json::json!({
            "content": self.content.to_value(),
            "model_params": self.model_params.to_value(),
            "expanded": expanded.to_value(),
            "declares": variables.declares,
        }));
        Ok(FinishedCommit {
            expanded,
            variables,
            includes,
            content_hash,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPromote {
    version: u32,
    environment: EnvironmentName,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    accept_variable_changes: bool,
    #[serde(default)]
    end_experiment: bool,
}

#[derive(Debug, Clone)]
pub struct Promote {
    pub version: u32,
    pub environment: EnvironmentName,
    pub reason: String,
    pub accept_variable_changes: bool,
    /// End a running experiment in the same change (else 409).
    pub end_experiment: bool,
}

impl Promote {
    /// The release change this request asks for.
    pub fn change(self) -> crate::release::Change {
        crate::release::Change::Promote {
            version: self.version,
            reason: self.reason,
            accept_variable_changes: self.accept_variable_changes,
            end_experiment: self.end_experiment,
        }
    }

    pub fn parse(body: &[u8]) -> Result<Self> {
        let raw: RawPromote = parse_json(body)?;
        if raw.version == 0 {
            return Err(Error::invalid_field("version", "version numbers start at 1"));
        }
        Ok(Promote {
            version: raw.version,
            environment: raw.environment,
            reason: bounded_text("reason", raw.reason.as_deref().unwrap_or(""), 2000, false)?,
            accept_variable_changes: raw.accept_variable_changes,
            end_experiment: raw.end_experiment,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRollback {
    environment: EnvironmentName,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Rollback {
    pub environment: EnvironmentName,
    pub reason: String,
}

impl Rollback {
    pub fn parse(body: &[u8]) -> Result<Self> {
        let raw: RawRollback = parse_json(body)?;
        Ok(Rollback {
            environment: raw.environment,
            reason: bounded_text("reason", raw.reason.as_deref().unwrap_or(""), 2000, false)?,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCreateKey {
    name: String,
    role: String,
}

#[derive(Debug, Clone)]
pub struct CreateKey {
    pub name: String,
    pub role: Role,
}

impl CreateKey {
    pub fn parse(body: &[u8]) -> Result<Self> {
        let raw: RawCreateKey = parse_json(body)?;
        Ok(CreateKey {
            name: bounded_text("name", &raw.name, 200, true)?,
            role: Role::parse(&raw.role)?,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPutEnvironment {
    #[serde(default)]
    position: Option<u32>,
    #[serde(default)]
    policy: Value,
}

#[derive(Debug, Clone)]
pub struct PutEnvironment {
    pub position: Option<u32>,
    pub policy: GatePolicy,
}

impl PutEnvironment {
    pub fn parse(body: &[u8]) -> Result<Self> {
        let raw: RawPutEnvironment = parse_json(body)?;
        let policy: GatePolicy = if raw.policy.is_null() {
            GatePolicy::default()
        } else {
            expect_object("policy", &raw.policy)?;
            serde_json::from_value(raw.policy).map_err(|e| Error::invalid_field("policy", format!("policy: {e}")))?
        };
        policy.validate()?;
        if raw.position.is_some_and(|p| p > 1000) {
            return Err(Error::invalid_field("position", "position must be at most 1000"));
        }
        Ok(PutEnvironment {
            position: raw.position,
            policy,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_are_malformed_and_shape_errors_invalid() {
        assert_eq!(CreatePrompt::parse(b"{").unwrap_err().code(), "malformed_json");
        assert_eq!(CreatePrompt::parse(b"").unwrap_err().code(), "malformed_json");
        let unknown = br#"{"slug":"a","name":"A","kind":"text","color":"red"}"#;
        assert_eq!(CreatePrompt::parse(unknown).unwrap_err().code(), "invalid_field");
        let bad_slug = br#"{"slug":"A B","name":"A","kind":"text"}"#;
        assert_eq!(CreatePrompt::parse(bad_slug).unwrap_err().status(), 400);
        let bad_kind = br#"{"slug":"a","name":"A","kind":"poem"}"#;
        assert_eq!(CreatePrompt::parse(bad_kind).unwrap_err().details()["field"], "kind");
    }

    #[test]
    fn deep_json_is_refused_not_overflowed() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(parse_json::<Value>(deep.as_bytes()).unwrap_err().status(), 400);
    }

    #[test]
    fn commit_parses_and_hashes() {
        let c = Commit::parse(
            br#"{"content":{"text":"Hi"},"model_params":{"temperature":0.5},"parent_version":null,"message":"first"}"#,
            PromptKind::Text,
        )
        .unwrap();
        assert_eq!(c.parent_version, None);
        assert_eq!(c.finish("p", &[]).unwrap().content_hash.len(), 64);
        assert!(Commit::parse(br#"{"content":{"text":"Hi"},"parent":1}"#, PromptKind::Text).is_err());
    }

    #[test]
    fn oversized_body_is_413() {
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        assert_eq!(parse_json::<Value>(&big).unwrap_err().status(), 413);
    }

    #[test]
    fn positional_arrays_are_not_objects() {
        assert_eq!(
            CreatePrompt::parse(br#"["a","A","text"]"#).unwrap_err().code(),
            "invalid_field"
        );
        assert!(PutEnvironment::parse(br#"{"policy":[null,null]}"#).is_err());
        assert!(PutEnvironment::parse(br#"{"policy":null}"#).is_ok());
    }

    #[test]
    fn json_content_types() {
        assert!(is_json_content_type(Some("application/json; charset=utf-8")));
        assert!(is_json_content_type(Some("application/merge-patch+json")));
        assert!(!is_json_content_type(Some("text/plain")));
        assert!(!is_json_content_type(None));
    }

    #[test]
    fn promote_and_key_requests_validate() {
        assert!(Promote::parse(br#"{"version":0,"environment":"production"}"#).is_err());
        assert!(Promote::parse(br#"{"version":2,"environment":"Prod"}"#).is_err());
        assert_eq!(
            Promote::parse(br#"{"version":2,"environment":"production"}"#)
                .unwrap()
                .version,
            2
        );
        assert!(CreateKey::parse(br#"{"name":"ci","role":"root"}"#).is_err());
    }
}
