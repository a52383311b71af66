//! Rendering a version: variables bound (strictly by default), chat
//! placeholders filled with the caller's messages.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::content::{ChatEntry, Message, PromptContent};
use crate::error::{Error, Result};
use crate::names::EnvironmentName;
use crate::template::{bind_variables, Template, VariableDecl};

/// What a version knows about its variables: the ones its (expanded)
/// templates use and the ones its author declared.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct VersionVariables {
    pub uses: BTreeSet<String>,
    #[serde(default)]
    pub declares: Vec<VariableDecl>,
}

impl VersionVariables {
    pub fn of(expanded: &PromptContent, declares: Vec<VariableDecl>) -> Result<Self> {
        let mut uses = BTreeSet::new();
        for t in expanded.parse_templates()? {
            uses.extend(t.variables());
        }
        Ok(VersionVariables { uses, declares })
    }

    /// The variables a caller must pass: used, and not declared optional.
    pub fn required(&self) -> BTreeSet<String> {
        self.required_list().into_iter().collect()
    }

    /// [`Self::required`] in sorted order, as a list.
    pub fn required_list(&self) -> Vec<String> {
        // `uses` is a sorted set, so the list is sorted too.
        self.uses
            .iter()
            .filter(|u| !self.declares.iter().any(|d| &d.name == *u && !d.required))
            .cloned()
            .collect()
    }

    /// Refuses replacing `live` with `self` when the required variables
    /// differ: code already calling the environment would break.
    pub fn check_replaces(&self, live: &VersionVariables, from: u32, to: u32) -> Result<()> {
        let (old, new) = (live.required(), self.required());
        if old == new {
            return Ok(());
        }
        let added: Vec<&String> = new.difference(&old).collect();
        let removed: Vec<&String> = old.difference(&new).collect();
        Err(Error::new(
            crate::error::ErrorKind::VariablesChanged,
            format!(
                "version {to} requires different variables than live version {from} (added: {added:?}, removed: {removed:?}); \
                 promote with accept_variable_changes: true once callers are ready"
            ),
        )
        .with_details(serde_json::json!({ "added": added, "removed": removed, "live_version": from, "version": to })))
    }

    /// One line per variable, for the diff.
    pub fn to_diff_text(&self) -> String {
        let mut lines: Vec<String> = self.uses.iter().cloned().collect();
        for d in &self.declares {
            let kind = if d.required {
                "required".to_owned()
            } else {
                format!(
                    "optional default={}",
                    d.default.as_ref().map_or("none".into(), |v| v.to_string())
                )
            };
            lines.push(format!("declare {} {kind}", d.name));
        }
        lines.join("\n")
    }
}

/// The rendered prompt.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Rendered {
    Text { text: String },
    Chat { messages: Vec<Message> },
}

/// Caller-supplied messages for placeholders: a list fills the placeholder
/// named `history`; an object fills placeholders by name.
pub fn parse_history(value: &Value) -> Result<BTreeMap<String, Vec<Message>>> {
    let parse_list = |v: &Value, name: &str| -> Result<Vec<Message>> {
        serde_json::from_value(v.clone()).map_err(|e| Error::invalid_field("history", format!("history.{name}: {e}")))
    };
    match value {
        Value::Null => Ok(BTreeMap::new()),
        Value::Array(_) => Ok(BTreeMap::from([("history".to_owned(), parse_list(value, "history")?)])),
        Value::Object(map) => map.iter().map(|(k, v)| Ok((k.clone(), parse_list(v, k)?))).collect(),
        _ => Err(Error::invalid_field(
            "history",
            "history is a list of {role, content} messages, or an object of such lists",
        )),
    }
}

/// Content with every template parsed once, ready to render many times
/// (the SDK keeps these per version; rendering is then concatenation).
#[derive(Debug, Clone)]
pub enum Prepared {
    Text(Template),
    Chat(Vec<PreparedEntry>),
}

#[derive(Debug, Clone)]
pub enum PreparedEntry {
    Message(crate::content::MessageRole, Template),
    Placeholder(String),
}

impl Prepared {
    /// Parses the templates of `expanded` content (includes already expanded).
    pub fn new(expanded: &PromptContent) -> Result<Prepared> {
        Ok(match expanded {
            PromptContent::Text { text } => Prepared::Text(Template::parse(text)?),
            PromptContent::Chat { messages } => Prepared::Chat(
                messages
                    .iter()
                    .map(|entry| {
                        Ok(match entry {
                            ChatEntry::Message(m) => PreparedEntry::Message(m.role, Template::parse(&m.content)?),
                            ChatEntry::Placeholder(p) => PreparedEntry::Placeholder(p.name.clone()),
                        })
                    })
                    .collect::<Result<_>>()?,
            ),
        })
    }

    /// Renders with `given` variables. Placeholders without supplied
    /// messages render as nothing.
    pub fn render(
        &self,
        variables: &VersionVariables,
        given: &Map<String, Value>,
        history: &BTreeMap<String, Vec<Message>>,
        strict: bool,
    ) -> Result<Rendered> {
        let values = bind_variables(&variables.uses, &variables.declares, given, strict)?;
        Ok(match self {
            Prepared::Text(t) => Rendered::Text {
                text: t.render(&values)?,
            },
            Prepared::Chat(entries) => {
                let mut out = Vec::new();
                for entry in entries {
                    match entry {
                        PreparedEntry::Message(role, t) => out.push(Message {
                            role: *role,
                            content: t.render(&values)?,
                        }),
                        PreparedEntry::Placeholder(name) => out.extend(history.get(name).cloned().unwrap_or_default()),
                    }
                }
                Rendered::Chat { messages: out }
            }
        })
    }
}

/// Parses and renders in one go (the server renders a version once per
/// request; callers that render repeatedly keep a [`Prepared`]).
pub fn render(
    expanded: &PromptContent,
    variables: &VersionVariables,
    given: &Map<String, Value>,
    history: &BTreeMap<String, Vec<Message>>,
    strict: bool,
) -> Result<Rendered> {
    Prepared::new(expanded)?.render(variables, given, history, strict)
}

/// `POST /v1/prompts/{slug}/render`: which version, and with what.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenderRequest {
    #[serde(default)]
    pub environment: Option<EnvironmentName>,
    #[serde(default)]
    pub version: Option<u32>,
    #[serde(default)]
    pub user_key: Option<String>,
    #[serde(default)]
    pub variables: Map<String, Value>,
    #[serde(default)]
    pub history: Value,
    #[serde(default = "strict_default")]
    pub strict: bool,
}

fn strict_default() -> bool {
    true
}

impl RenderRequest {
    pub fn parse(body: &[u8]) -> Result<Self> {
        let req: RenderRequest = crate::request::parse_json(body)?;
        if req.environment.is_some() == req.version.is_some() {
            return Err(Error::invalid_field(
                "environment",
                "give exactly one of environment or version",
            ));
        }
        if req.version == Some(0) {
            return Err(Error::invalid_field("version", "version numbers start at 1"));
        }
        Ok(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::PromptKind;
    use serde_json::json;

    fn chat() -> PromptContent {
        PromptContent::from_value(
            PromptKind::Chat,
            &json!({"messages": [
                {"role": "system", "content": "You help {{customer}}."},
                {"role": "placeholder", "name": "history"},
                {"role": "user", "content": "{{question}}"}
            ]}),
        )
        .unwrap()
    }

    #[test]
    fn chat_renders_with_history_in_the_placeholder() {
        let content = chat();
        let vars = VersionVariables::of(&content, vec![]).unwrap();
        assert_eq!(vars.uses.iter().cloned().collect::<Vec<_>>(), ["customer", "question"]);
        let history = parse_history(&json!([
            {"role": "user", "content": "hi {{not a var}}"},
            {"role": "assistant", "content": "hello"}
        ]))
        .unwrap();
        let given = json!({"customer": "Acme", "question": "Refund?"});
        let out = render(&content, &vars, given.as_object().unwrap(), &history, true).unwrap();
        let Rendered::Chat { messages } = out else {
            panic!("chat")
        };
        let texts: Vec<&str> = messages.iter().map(|m| m.content.as_str()).collect();
        assert_eq!(texts, ["You help Acme.", "hi {{not a var}}", "hello", "Refund?"]);
        let none = render(&content, &vars, given.as_object().unwrap(), &BTreeMap::new(), true).unwrap();
        let Rendered::Chat { messages } = none else {
            panic!("chat")
        };
        assert_eq!(messages.len(), 2);
    }

    #[test]
    fn replacing_a_version_with_other_required_variables_is_refused() {
        let v = |uses: &[&str], optional: &[&str]| VersionVariables {
            uses: uses.iter().map(|s| s.to_string()).collect(),
            declares: optional
                .iter()
                .map(|n| VariableDecl {
                    name: n.to_string(),
                    required: false,
                    default: None,
                    description: None,
                })
                .collect(),
        };
        assert!(v(&["a", "b"], &[]).check_replaces(&v(&["b", "a"], &[]), 1, 2).is_ok());
        assert!(
            v(&["a", "b"], &["b"]).check_replaces(&v(&["a"], &[]), 1, 2).is_ok(),
            "optional ones do not count"
        );
        let e = v(&["a", "c"], &[])
            .check_replaces(&v(&["a", "b"], &[]), 1, 2)
            .unwrap_err();
        assert_eq!(e.status(), 409);
        assert_eq!(e.code(), "variables_changed");
        assert_eq!(e.details()["added"], json!(["c"]));
        assert_eq!(e.details()["removed"], json!(["b"]));
    }

    #[test]
    fn strictness_and_errors() {
        let content = chat();
        let vars = VersionVariables::of(&content, vec![]).unwrap();
        let e = render(
            &content,
            &vars,
            json!({"customer": "A"}).as_object().unwrap(),
            &BTreeMap::new(),
            true,
        )
        .unwrap_err();
        assert_eq!(e.details()["missing"], json!(["question"]));
        assert!(parse_history(&json!([{"role": "robot", "content": "x"}])).is_err());
        assert!(parse_history(&json!("text")).is_err());
        assert!(RenderRequest::parse(br#"{"variables":{}}"#).is_err());
        assert!(RenderRequest::parse(br#"{"environment":"production","version":2}"#).is_err());
        assert!(RenderRequest::parse(br#"{"version":2}"#).unwrap().strict);
    }
}
