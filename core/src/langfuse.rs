//! Langfuse compatibility: the prompt API that Langfuse's official clients
//! call (`/api/public/v2/prompts`), mapped onto the registry.
//!
//! * A Langfuse prompt name is any string (folders with `/`, spaces,
//!   capitals); it is stored beside a slug ([`slug_for`]) so the native API
//!   reaches the same prompt.
//! * Labels are environments, plus `latest` for the head. Setting a label
//!   is a promotion through the release planner, never a write of its own.
//! * Composed prompts (`@@@langfusePrompt:name=…|version=…@@@`) become
//!   pinned includes at commit time ([`rewrite_references`]).
//!
//! Everything here is pure: route matching, credentials, request bodies,
//! the response views and the error shape the clients parse.

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::canonical::sha256_hex;
use crate::content::PromptKind;
use crate::error::{Error, ErrorKind, Result};
use crate::names::{EnvironmentName, Slug};

/// The label every client may ask for and no one may set: the head.
pub const LATEST: &str = "latest";
/// Public keys are the key's id behind this prefix.
pub const PUBLIC_KEY_PREFIX: &str = "pk-pvct-";
pub const MAX_NAME_CHARS: usize = 200;
/// List pages: Langfuse's default size, and our cap.
pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 100;

// ---- routes ------------------------------------------------------------------

/// A route of the compatibility API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompatRoute {
    ListPrompts,
    CreatePrompt,
    GetPrompt(PromptName),
    DeletePrompt(PromptName),
    UpdateLabels(PromptName, u32),
    /// Tracing the clients send; accepted and acknowledged.
    Ingestion,
    OtelTraces,
    Scores,
    /// Python's `auth_check()`.
    Projects,
}

impl CompatRoute {
    /// Whether the route changes anything (needs the editor role).
    pub fn writes(&self) -> bool {
        matches!(
            self,
            CompatRoute::CreatePrompt | CompatRoute::UpdateLabels(..) | CompatRoute::DeletePrompt(_)
        )
    }
}

/// Whether `path` belongs to the compatibility API.
pub fn is_compat_path(path: &str) -> bool {
    path == "/api/public" || path.starts_with("/api/public/")
}

/// Matches a compatibility route. Names arrive percent-encoded in one
/// segment (`folder%2Fname`) or raw over several (`folder/name`): both are
/// decoded and joined. PATCH `…/{name}/versions/{n}` is the label route.
pub fn match_route(method: &str, path: &str) -> Result<CompatRoute> {
    let rest = path.strip_prefix("/api/public/").unwrap_or("");
    let segments: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    let not_allowed = |allowed: &[&str]| {
        Error::new(
            ErrorKind::MethodNotAllowed,
            format!("{method} is not allowed on {path}"),
        )
        .with_details(json!({ "allowed": allowed }))
    };
    match (method, segments.as_slice()) {
        ("GET", ["v2", "prompts"]) => Ok(CompatRoute::ListPrompts),
        ("POST", ["v2", "prompts"]) => Ok(CompatRoute::CreatePrompt),
        (_, ["v2", "prompts"]) => Err(not_allowed(&["GET", "POST"])),
        ("PATCH", ["v2", "prompts", name @ .., "versions", n]) if !name.is_empty() => {
            let version = n
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| Error::invalid_field("version", "version numbers start at 1"))?;
            Ok(CompatRoute::UpdateLabels(PromptName::from_segments(name)?, version))
        }
        // Raw segments `…/versions/N` are the label route's resource (clients
        // send names as one encoded segment, so `a%2Fversions%2F3` is a name).
        (_, ["v2", "prompts", _, .., "versions", n]) if n.parse::<u32>().is_ok() => Err(not_allowed(&["PATCH"])),
        ("GET", ["v2", "prompts", name @ ..]) if !name.is_empty() => {
            Ok(CompatRoute::GetPrompt(PromptName::from_segments(name)?))
        }
        ("DELETE", ["v2", "prompts", name @ ..]) if !name.is_empty() => {
            Ok(CompatRoute::DeletePrompt(PromptName::from_segments(name)?))
        }
        (_, ["v2", "prompts", _, ..]) => Err(not_allowed(&["GET", "DELETE"])),
        ("POST", ["ingestion"]) => Ok(CompatRoute::Ingestion),
        ("POST", ["otel", "v1", "traces"]) => Ok(CompatRoute::OtelTraces),
        ("POST", ["scores"]) => Ok(CompatRoute::Scores),
        ("GET", ["projects"]) => Ok(CompatRoute::Projects),
        (_, ["projects"]) => Err(not_allowed(&["GET"])),
        (_, ["ingestion"] | ["otel", "v1", "traces"] | ["scores"]) => Err(not_allowed(&["POST"])),
        _ => Err(Error::new(
            ErrorKind::RouteNotFound,
            format!("no route {path}; the Langfuse-compatible API serves /api/public/v2/prompts"),
        )),
    }
}

// ---- names -------------------------------------------------------------------

/// A Langfuse prompt name: 1 to 200 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct PromptName(String);

impl PromptName {
    pub fn parse(value: &str) -> Result<Self> {
        let chars = value.chars().count();
        if chars == 0 || chars > MAX_NAME_CHARS {
            return Err(Error::invalid_field(
                "name",
                format!("a prompt name is 1 to {MAX_NAME_CHARS} characters"),
            ));
        }
        if value.chars().any(char::is_control) {
            return Err(Error::invalid_field("name", "a prompt name has no control characters"));
        }
        if value.starts_with('/') || value.ends_with('/') || value.contains("//") {
            return Err(Error::invalid_field(
                "name",
                "a prompt name's folders are not empty: no leading, trailing or double '/'",
            ));
        }
        Ok(PromptName(value.to_owned()))
    }

    fn from_segments(segments: &[&str]) -> Result<Self> {
        let decoded = segments
            .iter()
            .map(|s| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8()
                    .map(|c| c.into_owned())
                    .map_err(|_| Error::invalid_field("name", "the prompt name is not UTF-8"))
            })
            .collect::<Result<Vec<_>>>()?;
        PromptName::parse(&decoded.join("/"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for PromptName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PromptName::parse(&s).map_err(|e| serde::de::Error::custom(e.message()))
    }
}

/// The slug a name is stored under. A name that is a slug already is its
/// own slug, so a native prompt answers to its slug; any other name gets
/// a readable slug plus 8 hex digits of its hash, so two names that
/// slugify alike stay apart.
pub fn slug_for(name: &PromptName) -> Slug {
    if let Ok(slug) = Slug::parse(name.as_str()) {
        return slug;
    }
    let mut readable = String::new();
    for c in name.as_str().chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            readable.push(c);
        } else if !readable.ends_with('-') {
            readable.push('-');
        }
    }
    let readable: String = readable.trim_matches('-').chars().take(40).collect();
    let hash = &sha256_hex(name.as_str().as_bytes())[..8];
    let slug = if readable.trim_matches('-').is_empty() {
        format!("prompt-{hash}")
    } else {
        format!("{}-{hash}", readable.trim_end_matches('-'))
    };
    Slug::parse(&slug).expect("built from slug characters")
}

// ---- credentials ---------------------------------------------------------------

/// What a client presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// Langfuse's pair: the public key names the secret key's id.
    Pair { public_key: String, secret_key: String },
    /// A native key alone (`Bearer pvct_…`).
    Secret(String),
    /// A public key alone: Langfuse answers 403.
    PublicOnly,
}

pub fn credentials(authorization: Option<&str>) -> Result<Credentials> {
    let unauthenticated = |m: &str| Error::new(ErrorKind::Unauthenticated, m.to_owned());
    let header = authorization
        .ok_or_else(|| unauthenticated("send Authorization: Basic base64(publicKey:secretKey)"))?
        .trim();
    let (scheme, value) = header.split_once(' ').unwrap_or((header, ""));
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(value.trim())
                .map_err(|_| unauthenticated("the Basic credentials are not base64"))?;
            let text = String::from_utf8(bytes).map_err(|_| unauthenticated("the Basic credentials are not UTF-8"))?;
            let (public_key, secret_key) = text
                .split_once(':')
                .ok_or_else(|| unauthenticated("Basic credentials are publicKey:secretKey"))?;
            Ok(Credentials::Pair {
                public_key: public_key.to_owned(),
                secret_key: secret_key.to_owned(),
            })
        }
        "bearer" if value.trim().starts_with("pk-") => Ok(Credentials::PublicOnly),
        "bearer" => Ok(Credentials::Secret(value.trim().to_owned())),
        _ => Err(unauthenticated("send Authorization: Basic base64(publicKey:secretKey)")),
    }
}

/// The public key shown for a key id.
pub fn public_key(key_id: &str) -> String {
    format!("{PUBLIC_KEY_PREFIX}{key_id}")
}

/// Whether a presented public key is the one of `key_id`.
pub fn public_key_matches(presented: &str, key_id: &str) -> bool {
    presented.strip_prefix(PUBLIC_KEY_PREFIX) == Some(key_id)
}

// ---- labels ------------------------------------------------------------------

/// The environments a list of labels sets (`latest` is the head and is
/// never set); unknown environments are refused, naming the known ones.
pub fn label_environments(labels: &[String], known: &[String]) -> Result<Vec<EnvironmentName>> {
    let mut out: Vec<EnvironmentName> = Vec::new();
    for label in labels.iter().filter(|l| l.as_str() != LATEST) {
        if !known.iter().any(|k| k == label) {
            return Err(Error::invalid_field(
                "labels",
                format!(
                    "label '{label}' is not an environment of this workspace ({}); labels are environments, \
                     create one with PUT /v1/environments/{{name}}",
                    known.join(", ")
                ),
            ));
        }
        let env = EnvironmentName::parse(label)?;
        if !out.contains(&env) {
            out.push(env);
        }
    }
    Ok(out)
}

/// A version's labels: the environments that serve it, and `latest` on the head.
pub fn labels_of(version: u32, head: u32, live: &[(String, u32)]) -> Vec<String> {
    let mut labels: Vec<String> = live
        .iter()
        .filter(|(_, v)| *v == version)
        .map(|(env, _)| env.clone())
        .collect();
    if version == head {
        labels.push(LATEST.to_owned());
    }
    labels
}

/// Which version a GET asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    Version(u32),
    Label(String),
}

impl Selector {
    /// `version` or `label`; neither is the production label; both is refused.
    pub fn of(version: Option<&str>, label: Option<&str>) -> Result<Self> {
        match (version.filter(|v| !v.is_empty()), label.filter(|l| !l.is_empty())) {
            (Some(_), Some(_)) => Err(Error::new(
                ErrorKind::InvalidQuery,
                "ask for a version or a label, not both",
            )),
            (Some(v), None) => v
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .map(Selector::Version)
                .ok_or_else(|| Error::new(ErrorKind::InvalidQuery, "version must be a number from 1")),
            (None, Some(l)) => Ok(Selector::Label(l.to_owned())),
            (None, None) => Ok(Selector::Label("production".to_owned())),
        }
    }

    /// The version it points at, given the head and what is live where.
    pub fn version(&self, head: u32, live: &[(String, u32)]) -> Option<u32> {
        match self {
            Selector::Version(v) => (*v <= head).then_some(*v),
            Selector::Label(l) if l == LATEST => Some(head),
            Selector::Label(l) => live.iter().find(|(env, _)| env == l).map(|(_, v)| *v),
        }
    }

    pub fn not_found(&self, name: &PromptName) -> Error {
        let which = match self {
            Selector::Version(v) => format!("version {v}"),
            Selector::Label(l) => format!("label '{l}'"),
        };
        Error::new(
            ErrorKind::NotFound,
            format!("Prompt not found: '{}' with {which}", name.as_str()),
        )
    }
}

// ---- bodies ------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCreate {
    name: PromptName,
    prompt: Value,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    config: Option<Value>,
    #[serde(default)]
    labels: Option<Vec<String>>,
    #[serde(default)]
    tags: Option<Vec<String>>,
    #[serde(default)]
    commit_message: Option<String>,
    /// The legacy JS client's shortcut for the production label.
    #[serde(default)]
    is_active: Option<bool>,
}

/// A validated `POST /api/public/v2/prompts`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreatePrompt {
    pub name: PromptName,
    pub kind: PromptKind,
    /// Our content shape: `{"text"}` or `{"messages"}`, references still in
    /// Langfuse's form.
    pub content: Value,
    pub model_params: Value,
    pub labels: Vec<String>,
    /// None: keep the prompt's tags (Python sends null).
    pub tags: Option<Vec<String>>,
    pub message: String,
}

impl CreatePrompt {
    pub fn parse(body: &[u8]) -> Result<Self> {
        let raw: RawCreate = crate::request::parse_json(body)?;
        let kind = match (raw.kind.as_deref(), &raw.prompt) {
            (None | Some("text"), Value::String(_)) => PromptKind::Text,
            (None | Some("chat"), Value::Array(_)) => PromptKind::Chat,
            (Some(t), _) if t != "text" && t != "chat" => {
                return Err(Error::invalid_field("type", "type is text or chat"));
            }
            _ => {
                return Err(Error::invalid_field(
                    "prompt",
                    "a text prompt is a string, a chat prompt an array of messages",
                ));
            }
        };
        let content = match &raw.prompt {
            Value::String(text) => json!({ "text": text }),
            Value::Array(items) => {
                json!({ "messages": items.iter().enumerate().map(|(i, m)| message_in(i, m)).collect::<Result<Vec<_>>>()? })
            }
            _ => unreachable!("kind checked above"),
        };
        let model_params = match raw.config {
            None | Some(Value::Null) => json!({}),
            Some(Value::Object(o)) => Value::Object(o),
            Some(_) => return Err(Error::invalid_field("config", "config is an object")),
        };
        let mut labels = raw.labels.unwrap_or_default();
        if raw.is_active == Some(true) && !labels.iter().any(|l| l == "production") {
            labels.push("production".to_owned());
        }
        if let Some(tags) = &raw.tags {
            if tags.len() > 50 || tags.iter().any(|t| t.is_empty() || t.chars().count() > 100) {
                return Err(Error::invalid_field("tags", "at most 50 tags of 1 to 100 characters"));
            }
        }
        Ok(CreatePrompt {
            name: raw.name,
            kind,
            content,
            model_params,
            labels,
            tags: raw.tags,
            message: raw.commit_message.unwrap_or_default(),
        })
    }
}

/// One chat entry from Langfuse's form to ours.
fn message_in(i: usize, m: &Value) -> Result<Value> {
    let field = format!("prompt[{i}]");
    let kind = m.get("type").and_then(Value::as_str);
    match kind {
        Some("placeholder") => {
            let name = m
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| Error::invalid_field(&field, "a placeholder has a name"))?;
            Ok(json!({ "role": "placeholder", "name": name }))
        }
        None | Some("chatmessage") => {
            let role = m.get("role").and_then(Value::as_str);
            let content = m.get("content").and_then(Value::as_str);
            match (role, content) {
                (Some(role), Some(content)) => Ok(json!({ "role": role, "content": content })),
                _ => Err(Error::invalid_field(
                    &field,
                    "a chat message has a role and a string content",
                )),
            }
        }
        Some(other) => Err(Error::invalid_field(
            &field,
            format!("message type '{other}' is not chatmessage or placeholder"),
        )),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawUpdate {
    new_labels: Vec<String>,
}

/// `PATCH …/versions/{n}`: the labels to set (other keys, which the legacy
/// client sends, are ignored).
pub fn parse_new_labels(body: &[u8]) -> Result<Vec<String>> {
    let value: Value = crate::request::parse_json(body)?;
    let raw: RawUpdate = serde_json::from_value(value)
        .map_err(|_| Error::invalid_field("newLabels", "send {\"newLabels\": [\"production\", ...]}"))?;
    Ok(raw.new_labels)
}

// ---- composed prompts ----------------------------------------------------------

const REFERENCE_OPEN: &str = "@@@langfusePrompt:";
const REFERENCE_CLOSE: &str = "@@@";

/// A `@@@langfusePrompt:name=N|version=V@@@` or `|label=L@@@` reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub name: PromptName,
    pub selector: Selector,
}

fn parse_reference(inner: &str) -> Result<Reference> {
    let bad = || {
        Error::invalid_field(
            "prompt",
            format!("a prompt reference is @@@langfusePrompt:name=NAME|version=N@@@ or |label=LABEL@@@; got '{inner}'"),
        )
    };
    let (name, pin) = inner.split_once('|').ok_or_else(bad)?;
    let name = PromptName::parse(name.strip_prefix("name=").ok_or_else(bad)?)?;
    let selector = if let Some(v) = pin.strip_prefix("version=") {
        Selector::Version(v.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(bad)?)
    } else if let Some(l) = pin.strip_prefix("label=") {
        if l.is_empty() {
            return Err(bad());
        }
        Selector::Label(l.to_owned())
    } else {
        return Err(bad());
    };
    Ok(Reference { name, selector })
}

/// Replaces every reference in `text` with what `pin` makes of it (our
/// include, `{{> slug@N}}`).
pub fn rewrite_references(text: &str, pin: &mut dyn FnMut(&Reference) -> Result<String>) -> Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(REFERENCE_OPEN) {
        let after = &rest[start + REFERENCE_OPEN.len()..];
        let end = after.find(REFERENCE_CLOSE).ok_or_else(|| {
            Error::invalid_field(
                "prompt",
                "a prompt reference @@@langfusePrompt:… is not closed with @@@",
            )
        })?;
        out.push_str(&rest[..start]);
        out.push_str(&pin(&parse_reference(&after[..end])?)?);
        rest = &after[end + REFERENCE_CLOSE.len()..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Every template string of a content value, for rewriting in place.
pub fn rewrite_content(content: &mut Value, pin: &mut dyn FnMut(&Reference) -> Result<String>) -> Result<()> {
    if let Some(text) = content.get("text").and_then(Value::as_str) {
        content["text"] = Value::String(rewrite_references(text, pin)?);
    }
    if let Some(messages) = content.get_mut("messages").and_then(Value::as_array_mut) {
        for m in messages {
            if let Some(text) = m.get("content").and_then(Value::as_str) {
                let rewritten = rewrite_references(text, pin)?;
                m["content"] = Value::String(rewritten);
            }
        }
    }
    Ok(())
}

/// Our includes (`{{> slug@N}}`) back in Langfuse's form, for `resolve=false`.
pub fn unresolve(text: &str, name_of: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{>") {
        let after = &rest[start + 3..];
        let Some(end) = after.find("}}") else { break };
        let inner = after[..end].trim();
        match inner
            .split_once('@')
            .and_then(|(slug, v)| Some((slug, v.parse::<u32>().ok()?)))
        {
            Some((slug, v)) => {
                out.push_str(&rest[..start]);
                let name = name_of(slug).unwrap_or_else(|| slug.to_owned());
                out.push_str(&format!("{REFERENCE_OPEN}name={name}|version={v}{REFERENCE_CLOSE}"));
            }
            None => out.push_str(&rest[..start + 3 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// Every reference of a content value (for resolving them before a
/// rewrite, which cannot wait on the store).
pub fn references_in(content: &Value) -> Result<Vec<Reference>> {
    let mut found = Vec::new();
    rewrite_content(&mut content.clone(), &mut |r| {
        found.push(r.clone());
        Ok(String::new())
    })?;
    Ok(found)
}

/// A content value with its includes shown as Langfuse references.
pub fn unresolve_content(content: &Value, name_of: &dyn Fn(&str) -> Option<String>) -> Value {
    let mut out = content.clone();
    if let Some(text) = content.get("text").and_then(Value::as_str) {
        out["text"] = Value::String(unresolve(text, name_of));
    }
    if let Some(messages) = out.get_mut("messages").and_then(Value::as_array_mut) {
        for m in messages {
            if let Some(text) = m.get("content").and_then(Value::as_str) {
                let shown = unresolve(text, name_of);
                m["content"] = Value::String(shown);
            }
        }
    }
    out
}

// ---- tracing -------------------------------------------------------------

/// A generation the legacy JS client traced against a prompt version: what
/// it says about latency, tokens and errors, as an execution of that version.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    /// The execution id: the generation's own, so a re-sent batch counts once.
    pub id: String,
    pub prompt_name: PromptName,
    pub prompt_version: u32,
    pub environment: String,
    pub latency_ms: f64,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub model: Option<String>,
    pub error: Option<String>,
}

/// The generations of an ingestion batch (`generation-create` and
/// `-update` events merged by id) that name a prompt version and have both
/// a start and an end time; the others cannot be measured and are skipped.
/// Langfuse's `default` environment is production.
pub fn generations(batch: &Value) -> Vec<Generation> {
    let mut merged: Vec<(String, Map<String, Value>)> = Vec::new();
    let events = batch
        .get("batch")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for event in &events {
        let kind = event.get("type").and_then(Value::as_str).unwrap_or("");
        if kind != "generation-create" && kind != "generation-update" {
            continue;
        }
        let Some(body) = event.get("body").and_then(Value::as_object) else {
            continue;
        };
        let Some(id) = body.get("id").and_then(Value::as_str) else {
            continue;
        };
        match merged.iter_mut().find(|(known, _)| known == id) {
            Some((_, fields)) => fields.extend(
                body.iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| (k.clone(), v.clone())),
            ),
            None => merged.push((id.to_owned(), body.clone())),
        }
    }
    merged
        .into_iter()
        .filter_map(|(id, g)| {
            let text = |k: &str| g.get(k).and_then(Value::as_str);
            let prompt_name = PromptName::parse(text("promptName")?).ok()?;
            let prompt_version = u32::try_from(g.get("promptVersion")?.as_u64()?).ok()?;
            let start = crate::time::parse_iso_millis(text("startTime")?)?;
            let end = crate::time::parse_iso_millis(text("endTime")?)?;
            let usage = g.get("usage").or_else(|| g.get("usageDetails"));
            let count = |keys: &[&str]| {
                keys.iter()
                    .find_map(|k| usage.and_then(|u| u.get(*k)).and_then(Value::as_u64))
                    .unwrap_or(0)
            };
            let environment = match text("environment") {
                None | Some("default") | Some("") => "production".to_owned(),
                Some(e) => e.to_owned(),
            };
            let error = (text("level") == Some("ERROR"))
                .then(|| text("statusMessage").unwrap_or("error").chars().take(500).collect());
            Some(Generation {
                id: format!(
                    "lf-{}",
                    id.chars()
                        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                        .take(60)
                        .collect::<String>()
                ),
                prompt_name,
                prompt_version,
                environment,
                latency_ms: (end - start).max(0) as f64,
                tokens_in: count(&["input", "promptTokens"]),
                tokens_out: count(&["output", "completionTokens"]),
                model: text("model").map(str::to_owned),
                error,
            })
        })
        .collect()
}

// ---- views -------------------------------------------------------------------

/// A version as the clients parse it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PromptView {
    pub id: String,
    pub name: String,
    pub version: u32,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub prompt: Value,
    pub config: Value,
    pub labels: Vec<String>,
    pub tags: Vec<String>,
    pub commit_message: Option<String>,
    pub resolution_graph: Option<Value>,
    pub created_at: String,
    pub updated_at: String,
    pub created_by: String,
    pub project_id: String,
    pub is_active: Option<bool>,
    /// Labels that wait for an approver (202 answers only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pending_approvals: Vec<PendingLabel>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingLabel {
    pub environment: String,
    pub approval_id: String,
}

/// Our content in Langfuse's form: a string, or messages with
/// placeholders as `{"type":"placeholder","name"}`.
pub fn prompt_of(content: &Value) -> Value {
    if let Some(text) = content.get("text") {
        return text.clone();
    }
    let messages = content
        .get("messages")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    Value::Array(
        messages
            .iter()
            .map(|m| {
                if m.get("role").and_then(Value::as_str) == Some("placeholder") {
                    json!({ "type": "placeholder", "name": m.get("name").cloned().unwrap_or(Value::Null) })
                } else {
                    json!({ "type": "chatmessage", "role": m.get("role").cloned().unwrap_or(Value::Null),
                            "content": m.get("content").cloned().unwrap_or(Value::Null) })
                }
            })
            .collect(),
    )
}

/// `resolutionGraph` from a version's pins (`{slug: version}`), or None.
pub fn resolution_graph(own: &PromptName, own_version: u32, pins: &[(String, u32)]) -> Option<Value> {
    if pins.is_empty() {
        return None;
    }
    Some(json!({
        "root": { "name": own.as_str(), "version": own_version },
        "dependencies": pins.iter().map(|(name, v)| json!({ "name": name, "version": v })).collect::<Vec<_>>(),
    }))
}

/// One row of the list.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PromptMeta {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub versions: Vec<u32>,
    pub labels: Vec<String>,
    pub tags: Vec<String>,
    pub last_updated_at: String,
    pub last_config: Value,
}

/// The list's filters and page.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListQuery {
    pub name: Option<String>,
    pub label: Option<String>,
    pub tag: Option<String>,
    pub page: u32,
    pub limit: u32,
    pub from_updated_at: Option<String>,
    pub to_updated_at: Option<String>,
}

impl ListQuery {
    pub fn parse(get: &dyn Fn(&str) -> Option<String>) -> Result<Self> {
        let number = |key: &str, default: u32, max: u32| -> Result<u32> {
            match get(key) {
                None => Ok(default),
                Some(v) => v.parse::<u32>().ok().filter(|n| *n >= 1 && *n <= max).ok_or_else(|| {
                    Error::new(
                        ErrorKind::InvalidQuery,
                        format!("{key} must be a number from 1 to {max}"),
                    )
                }),
            }
        };
        let nonempty = |key: &str| get(key).filter(|v| !v.is_empty());
        Ok(ListQuery {
            name: nonempty("name"),
            label: nonempty("label"),
            tag: nonempty("tag"),
            page: number("page", 1, 1_000_000)?,
            limit: number("limit", DEFAULT_LIMIT, MAX_LIMIT)?,
            from_updated_at: nonempty("fromUpdatedAt"),
            to_updated_at: nonempty("toUpdatedAt"),
        })
    }

    /// Filters (by name, label, tag, last update) and pages `items`, sorted
    /// by name: the body clients parse, `data` + `meta`.
    pub fn page_of(&self, mut items: Vec<PromptMeta>) -> Value {
        items.retain(|m| {
            self.name.as_ref().is_none_or(|n| &m.name == n)
                && self.label.as_ref().is_none_or(|l| m.labels.contains(l))
                && self.tag.as_ref().is_none_or(|t| m.tags.contains(t))
                && self
                    .from_updated_at
                    .as_ref()
                    .is_none_or(|f| m.last_updated_at.as_str() >= f.as_str())
                && self
                    .to_updated_at
                    .as_ref()
                    .is_none_or(|t| m.last_updated_at.as_str() < t.as_str())
        });
        items.sort_by(|a, b| a.name.cmp(&b.name));
        let total = items.len() as u32;
        let start = ((self.page - 1) as usize).saturating_mul(self.limit as usize);
        let data: Vec<PromptMeta> = items.into_iter().skip(start).take(self.limit as usize).collect();
        json!({
            "data": data,
            "meta": { "page": self.page, "limit": self.limit, "totalItems": total, "totalPages": total.div_ceil(self.limit) },
        })
    }
}

// ---- errors ------------------------------------------------------------------

/// An error as Langfuse answers it: `{"message", "error"}`; the message
/// carries what our `details` would (each failing gate, the variables).
pub fn error_body(e: &Error) -> (u16, Value) {
    let status = e.status();
    let name = match status {
        400 => "InvalidRequestError",
        401 => "UnauthorizedError",
        403 => "AccessDeniedError",
        404 => "LangfuseNotFoundError",
        405 => "MethodNotAllowedError",
        409 => "ConflictError",
        413 => "PayloadTooLargeError",
        415 => "UnsupportedMediaTypeError",
        422 => "GatesFailedError",
        429 => "RateLimitError",
        _ => "InternalServerError",
    };
    let mut body = Map::new();
    body.insert("message".into(), json!(e.message()));
    body.insert("error".into(), json!(name));
    body.insert("code".into(), json!(e.code()));
    if e.details().as_object().is_some_and(|d| !d.is_empty()) {
        body.insert("details".into(), e.details().clone());
    }
    (status, Value::Object(body))
}

#[cfg(test)]
#[path = "langfuse_tests.rs"]
mod tests;
