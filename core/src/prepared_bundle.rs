//! A bundle (every prompt deployed in one environment, as `GET /v1/bundle`
//! serves it) made ready for an SDK: each version's templates are parsed
//! once, the first time a caller is served that version, so that routing a
//! caller and rendering for them is a hash and a concatenation, with no
//! network and no parsing; a cold start compiles only what it serves (an
//! experiment's other variants wait until someone is routed to them). The
//! npm and Python SDKs hold one per environment.

use std::cell::OnceCell;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::content::{ChatEntry, Message, MessageRole, PromptContent, PromptKind};
use crate::error::{Error, ErrorKind, Result};
use crate::render::{parse_history, Rendered, VersionVariables};
use crate::resolved::{Choice, ResolvedPrompt};
use crate::routing::bucket_ranges;
use crate::template::{bind_variables, value_text, Template, TemplatePlan};

/// One servable version (the deployed one or an experiment variant).
#[derive(Debug, Clone)]
struct Servable {
    variables: VersionVariables,
    info: VersionInfo,
}

/// What a caller learns about the version that serves them, besides the
/// rendered text: stable per (prompt, variant), so SDKs can cache it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionInfo {
    pub slug: String,
    pub kind: String,
    pub environment: String,
    pub version: u32,
    pub version_id: String,
    pub variant: Option<usize>,
    pub experiment_id: Option<String>,
    pub model_params: Value,
    /// The first system message's template (chat prompts).
    pub system: Option<String>,
    /// The last user message's template (chat), or the text template.
    pub user_template: Option<String>,
    /// Variables the caller must pass.
    pub required_variables: Vec<String>,
    /// The version compiled for rendering in the host language.
    pub plan: RenderPlan,
    /// The running experiment's routing, the same for every variant.
    pub routing: Option<RoutingPlan>,
}

/// How to render a version without calling into the core: its templates as
/// literals and slots, and the binding rules of its variables. SDKs that
/// execute plans must give what [`PreparedBundle::render`] gives; the
/// shared rendering cases (tests/vectors/rendering.json) hold them to it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RenderPlan {
    /// Variables the templates use, sorted; slots index this list.
    pub names: Vec<String>,
    /// Used and not declared optional: missing ones fail.
    pub required: Vec<String>,
    /// Declared optional variables with their default as text.
    pub defaults: BTreeMap<String, String>,
    /// Every declared name (declared but unused names are not unknown).
    pub declared: Vec<String>,
    pub text: Option<TemplatePlan>,
    pub messages: Option<Vec<MessagePlan>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum MessagePlan {
    Message { role: MessageRole, template: TemplatePlan },
    Placeholder { placeholder: String },
}

impl RenderPlan {
    /// Executes the plan with bound values: the reference for SDKs that
    /// execute plans themselves.
    pub fn render(&self, values: &BTreeMap<String, String>, history: &BTreeMap<String, Vec<Message>>) -> Rendered {
        let value = |slot: usize| {
            self.names
                .get(slot)
                .and_then(|n| values.get(n))
                .map_or("", String::as_str)
        };
        let fill = |t: &TemplatePlan| {
            let mut out = t.literals[0].clone();
            for (slot, literal) in t.slots.iter().zip(&t.literals[1..]) {
                out.push_str(value(*slot));
                out.push_str(literal);
            }
            out
        };
        match (&self.text, &self.messages) {
            (Some(t), _) => Rendered::Text { text: fill(t) },
            (None, messages) => Rendered::Chat {
                messages: messages
                    .iter()
                    .flatten()
                    .flat_map(|m| match m {
                        MessagePlan::Message { role, template } => vec![Message {
                            role: *role,
                            content: fill(template),
                        }],
                        MessagePlan::Placeholder { placeholder } => {
                            history.get(placeholder).cloned().unwrap_or_default()
                        }
                    })
                    .collect(),
            },
        }
    }
}

/// An experiment's routing: GrowthBook v2 bucketing of `salt + user key`,
/// then the variant whose `[start, end)` range holds the bucket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoutingPlan {
    pub salt: String,
    pub ranges: Vec<(f64, f64)>,
}

#[derive(Debug, Clone)]
struct PreparedPrompt {
    doc: ResolvedPrompt,
    /// Compiled on first use; a version whose templates do not compile
    /// keeps its error, answered to every caller it would serve.
    deployed: OnceCell<Result<Servable>>,
    variants: Vec<OnceCell<Result<Servable>>>,
}

impl PreparedPrompt {
    /// The deployed version (None) or experiment variant `i`, compiled.
    fn servable(&self, slug: &str, variant: Option<usize>) -> Result<&Servable> {
        let doc = &self.doc;
        let compiled = match variant {
            None => self
                .deployed
                .get_or_init(|| servable(doc, &doc.content, &doc.model_params, &doc.variables, None)),
            Some(i) => {
                let (cell, v) = self
                    .variants
                    .get(i)
                    .zip(doc.experiment.as_ref().and_then(|e| e.variants.get(i)))
                    .ok_or_else(|| Error::new(ErrorKind::NotFound, format!("'{slug}' has no variant {i}")))?;
                cell.get_or_init(|| {
                    servable(
                        doc,
                        &v.content,
                        &v.model_params,
                        &v.variables,
                        Some((i, v.version, &v.version_id)),
                    )
                })
            }
        };
        compiled.as_ref().map_err(Clone::clone)
    }
}

/// Every prompt of one environment, ready to route and render.
#[derive(Debug, Clone)]
pub struct PreparedBundle {
    environment: String,
    /// Sorted by slug (a plain list keeps the WASM smaller than a map would).
    prompts: Vec<(String, PreparedPrompt)>,
}

fn servable(
    doc: &ResolvedPrompt,
    content: &Value,
    params: &Value,
    variables: &VersionVariables,
    variant: Option<(usize, u32, &str)>,
) -> Result<Servable> {
    let kind = PromptKind::parse(&doc.kind)?;
    let content = PromptContent::from_stored(kind, content)?;
    let (system, user_template) = match &content {
        PromptContent::Text { text } => (None, Some(text.clone())),
        PromptContent::Chat { messages } => {
            let of = |role: MessageRole| {
                messages.iter().filter_map(move |e| match e {
                    ChatEntry::Message(m) if m.role == role => Some(m.content.clone()),
                    _ => None,
                })
            };
            (of(MessageRole::System).next(), of(MessageRole::User).next_back())
        }
    };
    let (version, version_id) = match variant {
        Some((_, n, id)) => (n, id.to_owned()),
        None => (doc.version, doc.version_id.clone()),
    };
    let names: Vec<String> = variables.uses.iter().cloned().collect();
    let plan = RenderPlan {
        required: variables.required_list(),
        defaults: variables
            .declares
            .iter()
            .filter(|d| !d.required)
            .map(|d| (d.name.clone(), d.default.as_ref().map(value_text).unwrap_or_default()))
            .collect(),
        declared: variables.declares.iter().map(|d| d.name.clone()).collect(),
        text: match &content {
            PromptContent::Text { text } => Some(Template::parse(text)?.plan(&names)),
            PromptContent::Chat { .. } => None,
        },
        messages: match &content {
            PromptContent::Text { .. } => None,
            PromptContent::Chat { messages } => Some(
                messages
                    .iter()
                    .map(|e| {
                        Ok(match e {
                            ChatEntry::Message(m) => MessagePlan::Message {
                                role: m.role,
                                template: Template::parse(&m.content)?.plan(&names),
                            },
                            ChatEntry::Placeholder(p) => MessagePlan::Placeholder {
                                placeholder: p.name.clone(),
                            },
                        })
                    })
                    .collect::<Result<_>>()?,
            ),
        },
        names,
    };
    let routing = doc.experiment.as_ref().map(|e| RoutingPlan {
        salt: e.salt.clone(),
        ranges: bucket_ranges(&e.variants.iter().map(|v| v.weight).collect::<Vec<_>>()),
    });
    Ok(Servable {
        variables: variables.clone(),
        info: VersionInfo {
            slug: doc.slug.clone(),
            kind: doc.kind.clone(),
            environment: doc.environment.clone(),
            version,
            version_id,
            variant: variant.map(|(i, _, _)| i),
            // Set for every caller while an experiment runs, as the worker does,
            // including those it leaves on the deployed version.
            experiment_id: doc.experiment.as_ref().map(|e| e.id.clone()),
            model_params: params.clone(),
            system,
            user_template,
            required_variables: variables.required_list(),
            plan,
            routing,
        },
    })
}

impl PreparedBundle {
    /// Parses a bundle body; its versions are compiled when first served.
    pub fn parse(json: &str) -> Result<Self> {
        let bad =
            |e: &dyn std::fmt::Display| Error::new(ErrorKind::MalformedJson, format!("not a PromptVault bundle: {e}"));
        // Through a Value: the SDK parses variables and history as Values
        // anyway, so this adds no second JSON parser to the WASM.
        let value: Value = serde_json::from_str(json).map_err(|e| bad(&e))?;
        let environment = value["environment"]
            .as_str()
            .ok_or_else(|| bad(&"no environment"))?
            .to_owned();
        let docs = value["prompts"].as_object().ok_or_else(|| bad(&"no prompts"))?;
        let mut prompts = Vec::with_capacity(docs.len());
        for (slug, doc) in docs {
            let doc = ResolvedPrompt::deserialize(doc).map_err(|e| bad(&e))?;
            // The kind is checked now: it says how to read every version.
            PromptKind::parse(&doc.kind)?;
            let variants = doc
                .experiment
                .iter()
                .flat_map(|e| e.variants.iter())
                .map(|_| OnceCell::new())
                .collect();
            let deployed = OnceCell::new();
            prompts.push((
                slug.clone(),
                PreparedPrompt {
                    doc,
                    deployed,
                    variants,
                },
            ));
        }
        // serde_json's map iterates in key order: the list is sorted for binary search.
        Ok(PreparedBundle { environment, prompts })
    }

    pub fn environment(&self) -> &str {
        &self.environment
    }

    pub fn slugs(&self) -> impl Iterator<Item = &str> {
        self.prompts.iter().map(|(slug, _)| slug.as_str())
    }

    fn prompt(&self, slug: &str) -> Result<&PreparedPrompt> {
        let found = self.prompts.binary_search_by(|(s, _)| s.as_str().cmp(slug)).ok();
        found.map(|i| &self.prompts[i].1).ok_or_else(|| {
            Error::new(
                ErrorKind::NotDeployed,
                format!("no version of '{slug}' is deployed in {}", self.environment),
            )
        })
    }

    /// Routes a caller exactly as the worker's resolve does.
    pub fn route(&self, slug: &str, user_key: Option<&str>, random: impl FnOnce() -> u32) -> Result<Choice> {
        Ok(self.prompt(slug)?.doc.choose(user_key, random))
    }

    fn servable(&self, slug: &str, variant: Option<usize>) -> Result<&Servable> {
        self.prompt(slug)?.servable(slug, variant)
    }

    /// The version a choice serves.
    pub fn info(&self, slug: &str, variant: Option<usize>) -> Result<&VersionInfo> {
        Ok(&self.servable(slug, variant)?.info)
    }

    /// Renders the version a choice serves, as the worker's render does.
    /// `history` is JSON null, a list of messages, or an object of lists.
    pub fn render(
        &self,
        slug: &str,
        variant: Option<usize>,
        variables: &Map<String, Value>,
        history: &Value,
        strict: bool,
    ) -> Result<Rendered> {
        let s = self.servable(slug, variant)?;
        let history = parse_history(history)?;
        let values = bind_variables(&s.variables.uses, &s.variables.declares, variables, strict)?;
        Ok(s.info.plan.render(&values, &history))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolved::AssignmentKind;
    use serde_json::json;

    fn bundle() -> String {
        let vars = |uses: &[&str]| json!({ "uses": uses, "declares": [] });
        json!({
            "environment": "production",
            "prompts": {
                "greet": {
                    "slug": "greet", "name": "Greet", "kind": "text", "environment": "production",
                    "version": 1, "version_id": "v1", "content": { "text": "Hello {{name}}" },
                    "model_params": { "model": "m" }, "variables": vars(&["name"]), "content_hash": "h1",
                    "deployment_id": "d", "deployed_at": "2026-01-01T00:00:00.000Z",
                    "experiment": { "id": "x", "name": "x", "salt": "s", "variants": [
                        { "version": 2, "version_id": "v2", "weight": 50, "content": { "text": "Hi {{name}}!" },
                          "model_params": {}, "variables": vars(&["name"]), "content_hash": "h2" },
                        { "version": 3, "version_id": "v3", "weight": 50, "content": { "text": "Yo {{name}}" },
                          "model_params": {}, "variables": vars(&["name"]), "content_hash": "h3" }
                    ] }
                },
                "chat": {
                    "slug": "chat", "name": "Chat", "kind": "chat", "environment": "production",
                    "version": 4, "version_id": "v4", "content": { "messages": [
                        { "role": "system", "content": "Be {{tone}}." },
                        { "role": "placeholder", "name": "history" },
                        { "role": "user", "content": "{{q}}" }
                    ] },
                    "model_params": {}, "variables": vars(&["q", "tone"]), "content_hash": "h4",
                    "deployment_id": "d", "deployed_at": "2026-01-01T00:00:00.000Z"
                }
            }
        })
        .to_string()
    }

    #[test]
    fn routes_like_the_worker_and_renders_each_variant() {
        let b = PreparedBundle::parse(&bundle()).unwrap();
        let doc = &b.prompt("greet").unwrap().doc;
        for user in ["u1", "u2", "u3", "u4", "u5", "u6"] {
            let choice = b.route("greet", Some(user), || 0).unwrap();
            let worker = doc.resolve_for(Some(user), || 0);
            assert_eq!(choice.variant, worker.variant);
            let info = b.info("greet", choice.variant).unwrap();
            assert_eq!(info.version, worker.version);
            let vars = json!({ "name": "Ada" });
            let text = match b
                .render("greet", choice.variant, vars.as_object().unwrap(), &Value::Null, true)
                .unwrap()
            {
                Rendered::Text { text } => text,
                Rendered::Chat { .. } => unreachable!(),
            };
            assert!(text.contains("Ada"));
            assert_eq!(info.experiment_id.as_deref(), Some("x"));
        }
    }

    #[test]
    fn chat_prompts_expose_their_templates_and_fill_history() {
        let b = PreparedBundle::parse(&bundle()).unwrap();
        let info = b.info("chat", None).unwrap();
        assert_eq!(info.system.as_deref(), Some("Be {{tone}}."));
        assert_eq!(info.user_template.as_deref(), Some("{{q}}"));
        assert_eq!(info.required_variables, ["q", "tone"]);
        assert_eq!(
            b.route("chat", Some("u"), || 0).unwrap().assignment,
            AssignmentKind::Deployed
        );
        let vars = json!({ "tone": "brief", "q": "why?" });
        let history = json!([{ "role": "user", "content": "hi" }]);
        let Rendered::Chat { messages } = b
            .render("chat", None, vars.as_object().unwrap(), &history, true)
            .unwrap()
        else {
            panic!("chat renders messages")
        };
        assert_eq!(messages.len(), 3);
        assert_eq!(messages[0].content, "Be brief.");
        let err = b.render("chat", None, &Map::new(), &Value::Null, true).unwrap_err();
        assert_eq!(err.kind().code(), "missing_variables");
    }

    #[test]
    fn unknown_prompts_and_bad_bundles_are_errors_with_codes() {
        let b = PreparedBundle::parse(&bundle()).unwrap();
        assert_eq!(b.route("nope", None, || 0).unwrap_err().kind().code(), "not_deployed");
        assert_eq!(b.info("greet", Some(9)).unwrap_err().kind().code(), "not_found");
        assert_eq!(PreparedBundle::parse("{").unwrap_err().kind().code(), "malformed_json");
        assert_eq!(b.slugs().collect::<Vec<_>>(), ["chat", "greet"]);
    }

    #[test]
    fn versions_compile_when_first_served_and_keep_their_errors() {
        let mut doc: Value = serde_json::from_str(&bundle()).unwrap();
        // Break one variant's template: the bundle still loads, the other
        // versions still serve, and the broken one answers its error.
        let variants = doc["prompts"]["greet"]["experiment"]["variants"]
            .as_array_mut()
            .unwrap();
        let broken = variants.len() - 1;
        variants[broken]["content"]["text"] = json!("Hi {{unclosed");
        let b = PreparedBundle::parse(&doc.to_string()).unwrap();
        assert!(b.info("greet", None).is_ok());
        assert!(b.info("greet", Some(0)).is_ok());
        for _ in 0..2 {
            assert_eq!(b.info("greet", Some(broken)).unwrap_err().code(), "template_syntax");
        }
        // A kind no version can be read as is refused at once.
        let mut odd: Value = serde_json::from_str(&bundle()).unwrap();
        odd["prompts"]["greet"]["kind"] = json!("poem");
        assert!(PreparedBundle::parse(&odd.to_string()).is_err());
    }
}
