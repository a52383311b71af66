//! Prompt templates: `{{ name }}` variables, `\{{` for literal braces and
//! `{{> snippet}}` / `{{> snippet@7}}` includes. No HTML escaping: prompts
//! are not HTML.
//!
//! A template is parsed once into segments; rendering is a concatenation
//! over them, never a re-scan. Includes are pinned and expanded at commit
//! time ([`Template::expand`]), so what a version renders never changes.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind, Result};

/// Includes nest at most this deep.
pub const MAX_INCLUDE_DEPTH: u32 = 8;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Text(String),
    Var(String),
    Include { slug: String, version: Option<u32> },
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    segments: Vec<Segment>,
}

fn syntax_error(message: impl Into<String>, line: usize, column: usize) -> Error {
    Error::new(ErrorKind::TemplateSyntax, message).with_details(serde_json::json!({ "line": line, "column": column }))
}

fn is_var_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl Template {
    /// Parses `source`. Errors carry the 1-based line and column (in
    /// characters) of the offending `{{`.
    pub fn parse(source: &str) -> Result<Template> {
        let mut segments = Vec::new();
        let mut text = String::new();
        let (mut line, mut column) = (1usize, 1usize);
        let mut rest = source;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix("\\{{") {
                text.push_str("{{");
                column += 3;
                rest = after;
                continue;
            }
            if let Some(after) = rest.strip_prefix("{{") {
                let close = after
                    .find("}}")
                    .ok_or_else(|| syntax_error("'{{' is not closed with '}}'", line, column))?;
                let inner = &after[..close];
                if inner.contains("{{") || inner.contains('\n') {
                    return Err(syntax_error(
                        "'{{' is not closed with '}}' on the same line",
                        line,
                        column,
                    ));
                }
                let tag = inner.trim();
                let segment = if let Some(include) = tag.strip_prefix('>') {
                    let include = include.trim();
                    let (slug, version) = match include.split_once('@') {
                        Some((slug, n)) => {
                            let n = n.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
                                syntax_error(
                                    format!("'{include}': the version after '@' must be a number from 1"),
                                    line,
                                    column,
                                )
                            })?;
                            (slug, Some(n))
                        }
                        None => (include, None),
                    };
                    if !is_slug(slug) {
                        return Err(syntax_error(
                            format!("'{{{{> {include}}}}}': a snippet slug is 1-64 characters of a-z, 0-9 and '-'"),
                            line,
                            column,
                        ));
                    }
                    Segment::Include {
                        slug: slug.to_owned(),
                        version,
                    }
                } else if tag.is_empty() {
                    return Err(syntax_error("empty '{{ }}': name a variable", line, column));
                } else if is_var_name(tag) {
                    Segment::Var(tag.to_owned())
                } else {
                    return Err(syntax_error(
                        format!("'{tag}' is not a variable name ([A-Za-z_][A-Za-z0-9_.-]*); write \\{{{{ for literal braces"),
                        line,
                        column,
                    ));
                };
                if !text.is_empty() {
                    segments.push(Segment::Text(std::mem::take(&mut text)));
                }
                segments.push(segment);
                column += 2 + inner.chars().count() + 2;
                rest = &after[close + 2..];
                continue;
            }
            let c = rest.chars().next().expect("rest is not empty");
            text.push(c);
            if c == '\n' {
                line += 1;
                column = 1;
            } else {
                column += 1;
            }
            rest = &rest[c.len_utf8()..];
        }
        if !text.is_empty() {
            segments.push(Segment::Text(text));
        }
        Ok(Template { segments })
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The variables used, sorted and without duplicates.
    pub fn variables(&self) -> BTreeSet<String> {
        self.segments
            .iter()
            .filter_map(|s| match s {
                Segment::Var(name) => Some(name.clone()),
                _ => None,
            })
            .collect()
    }

    /// The includes, in order of appearance.
    pub fn includes(&self) -> Vec<(String, Option<u32>)> {
        self.segments
            .iter()
            .filter_map(|s| match s {
                Segment::Include { slug, version } => Some((slug.clone(), *version)),
                _ => None,
            })
            .collect()
    }

    /// The template's source with every include replaced by the expanded
    /// source `snippet(slug)` returns (the pinned version's text). The
    /// result is held to the content limit as it grows, so many includes
    /// of a large snippet are refused at once, not after expanding them all.
    pub fn expand(&self, snippet: &dyn Fn(&str) -> Option<String>) -> Result<String> {
        let mut out = String::new();
        for segment in &self.segments {
            if out.len() > crate::content::MAX_CONTENT_BYTES {
                return Err(expanded_too_large(out.len()));
            }
            match segment {
                Segment::Text(t) => out.push_str(&t.replace("{{", "\\{{")),
                Segment::Var(name) => {
                    out.push_str("{{");
                    out.push_str(name);
                    out.push_str("}}");
                }
                Segment::Include { slug, .. } => {
                    let text = snippet(slug).ok_or_else(|| {
                        Error::new(
                            ErrorKind::UnknownInclude,
                            format!("no pinned version for snippet '{slug}'"),
                        )
                        .with_details(serde_json::json!({ "snippet": slug }))
                    })?;
                    out.push_str(&text);
                }
            }
        }
        if out.len() > crate::content::MAX_CONTENT_BYTES {
            return Err(expanded_too_large(out.len()));
        }
        Ok(out)
    }

    /// Renders with `values`. Includes must have been expanded first.
    /// The template compiled for SDKs that render in the host language:
    /// `literals[0] + value(slots[0]) + literals[1] + ...`, where each slot
    /// is an index into `names`. Literals carry braces already unescaped.
    pub fn plan(&self, names: &[String]) -> TemplatePlan {
        let mut plan = TemplatePlan {
            literals: vec![String::new()],
            slots: Vec::new(),
        };
        for segment in &self.segments {
            match segment {
                Segment::Text(t) => plan.literals.last_mut().expect("never empty").push_str(t),
                Segment::Var(name) => {
                    plan.slots
                        .push(names.iter().position(|n| n == name).unwrap_or(usize::MAX));
                    plan.literals.push(String::new());
                }
                // Bundles carry expanded content; an include cannot remain.
                Segment::Include { .. } => {}
            }
        }
        plan
    }

    pub fn render(&self, values: &BTreeMap<String, String>) -> Result<String> {
        let mut out = String::new();
        for segment in &self.segments {
            match segment {
                Segment::Text(t) => out.push_str(t),
                Segment::Var(name) => out.push_str(values.get(name).map(String::as_str).unwrap_or("")),
                Segment::Include { slug, .. } => {
                    return Err(Error::new(
                        ErrorKind::UnknownInclude,
                        format!("snippet '{slug}' was not expanded"),
                    ))
                }
            }
        }
        Ok(out)
    }
}

/// A template compiled to literals and variable slots (see [`Template::plan`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TemplatePlan {
    pub literals: Vec<String>,
    pub slots: Vec<usize>,
}

/// A declared variable of a version: required, or optional with a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableDecl {
    pub name: String,
    #[serde(default = "yes")]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

fn yes() -> bool {
    true
}

impl VariableDecl {
    pub fn validate_all(decls: &[VariableDecl]) -> Result<()> {
        for (i, d) in decls.iter().enumerate() {
            if !is_var_name(&d.name) {
                return Err(Error::invalid_field(
                    "variables",
                    format!("variables[{i}].name '{}' is not a variable name", d.name),
                ));
            }
            if decls[..i].iter().any(|o| o.name == d.name) {
                return Err(Error::invalid_field(
                    "variables",
                    format!("variable '{}' is declared twice", d.name),
                ));
            }
            if d.required && d.default.is_some() {
                return Err(Error::invalid_field(
                    "variables",
                    format!("'{}' has a default, so it cannot be required", d.name),
                ));
            }
        }
        Ok(())
    }
}

/// The text a JSON value renders as: strings as they are, null as nothing,
/// anything else as compact JSON.
pub fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Checks `given` against the variables a version `uses` and `declares`,
/// and returns the values to render with (defaults filled in).
///
/// Missing required variables always fail, naming every one; unknown ones
/// fail too when `strict`.
pub fn bind_variables(
    uses: &BTreeSet<String>,
    declares: &[VariableDecl],
    given: &Map<String, Value>,
    strict: bool,
) -> Result<BTreeMap<String, String>> {
    let mut values = BTreeMap::new();
    let mut missing = Vec::new();
    for name in uses {
        let decl = declares.iter().find(|d| &d.name == name);
        match (given.get(name), decl) {
            (Some(v), _) => {
                values.insert(name.clone(), value_text(v));
            }
            (None, Some(d)) if !d.required => {
                values.insert(name.clone(), d.default.as_ref().map(value_text).unwrap_or_default());
            }
            (None, _) => missing.push(name.clone()),
        }
    }
    let unknown: Vec<String> = given
        .keys()
        .filter(|k| !uses.contains(*k) && !declares.iter().any(|d| &d.name == *k))
        .cloned()
        .collect();
    if !missing.is_empty() {
        let mut message = format!("missing variables: {}", missing.join(", "));
        if strict && !unknown.is_empty() {
            message.push_str(&format!("; unknown variables: {}", unknown.join(", ")));
        }
        return Err(Error::new(ErrorKind::MissingVariables, message).with_details(
            serde_json::json!({ "missing": missing, "unknown": if strict { unknown } else { Vec::new() } }),
        ));
    }
    if strict && !unknown.is_empty() {
        return Err(Error::new(
            ErrorKind::UnknownVariables,
            format!(
                "unknown variables: {} (render with strict: false to ignore them)",
                unknown.join(", ")
            ),
        )
        .with_details(serde_json::json!({ "missing": [], "unknown": unknown })));
    }
    Ok(values)
}

/// What a version's includes add up to, for the cycle and depth rules.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct IncludeGraph {
    /// slug → pinned version, for the includes of this version itself.
    pub pins: BTreeMap<String, u32>,
    /// Every snippet reached, directly or through other snippets.
    pub closure: BTreeSet<String>,
    /// 0 without includes; 1 + the deepest included snippet's depth.
    pub depth: u32,
}

impl IncludeGraph {
    /// Combines the graphs of the pinned snippet versions `included`
    /// (slug, version, that version's graph) for a version of `own_slug`.
    /// Refuses include cycles (by slug) and depth over [`MAX_INCLUDE_DEPTH`].
    pub fn combine(own_slug: &str, included: &[(String, u32, IncludeGraph)]) -> Result<IncludeGraph> {
        let mut graph = IncludeGraph::default();
        for (slug, version, sub) in included {
            graph.pins.insert(slug.clone(), *version);
            graph.closure.insert(slug.clone());
            graph.closure.extend(sub.closure.iter().cloned());
            graph.depth = graph.depth.max(sub.depth + 1);
        }
        if graph.closure.contains(own_slug) {
            return Err(
                Error::new(ErrorKind::IncludeCycle, format!("'{own_slug}' would include itself"))
                    .with_details(serde_json::json!({ "snippet": own_slug })),
            );
        }
        if graph.depth > MAX_INCLUDE_DEPTH {
            return Err(Error::new(
                ErrorKind::IncludeTooDeep,
                format!("includes nest {} deep; the limit is {MAX_INCLUDE_DEPTH}", graph.depth),
            )
            .with_details(serde_json::json!({ "depth": graph.depth, "limit": MAX_INCLUDE_DEPTH })));
        }
        Ok(graph)
    }
}

/// Expanded includes that outgrow the content limit.
pub fn expanded_too_large(size: usize) -> Error {
    let limit = crate::content::MAX_CONTENT_BYTES;
    Error::new(
        ErrorKind::PayloadTooLarge,
        format!("with its includes expanded the content is over {size} bytes; the limit is {limit}"),
    )
    .with_details(serde_json::json!({ "field": "content", "limit_bytes": limit }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render_with(src: &str, vars: Value) -> Result<String> {
        let t = Template::parse(src)?;
        let values = bind_variables(&t.variables(), &[], vars.as_object().unwrap(), true)?;
        t.render(&values)
    }

    #[test]
    fn variables_with_whitespace_and_no_escaping() {
        assert_eq!(
            render_with("Hi {{name}}, {{  name }}! <b>", json!({"name": "<Ann & co>"})).unwrap(),
            "Hi <Ann & co>, <Ann & co>! <b>"
        );
        assert_eq!(render_with("{{a.b-c_d}}", json!({"a.b-c_d": 7})).unwrap(), "7");
        assert_eq!(
            render_with("{{x}}|{{y}}", json!({"x": null, "y": {"k": [1]}})).unwrap(),
            "|{\"k\":[1]}"
        );
    }

    #[test]
    fn escapes_and_lone_braces_are_literal() {
        assert_eq!(
            render_with(r"\{{not}} { } }} {x", json!({})).unwrap(),
            "{{not}} { } }} {x"
        );
        assert!(Template::parse(r"\{{").unwrap().variables().is_empty());
    }

    #[test]
    fn errors_point_at_line_and_column() {
        let e = Template::parse("line one\nü {{ bad name }}").unwrap_err();
        assert_eq!(e.code(), "template_syntax");
        assert_eq!(e.details()["line"], 2);
        assert_eq!(e.details()["column"], 3);
        for bad in [
            "{{",
            "{{ }}",
            "{{1x}}",
            "{{> Bad}}",
            "{{> a@0}}",
            "{{> a@x}}",
            "a {{ b\n}}",
            "{{ {{x}} }}",
        ] {
            assert_eq!(Template::parse(bad).unwrap_err().status(), 400, "{bad:?}");
        }
    }

    #[test]
    fn includes_parse_with_optional_versions() {
        let t = Template::parse("{{> tone}} and {{>  legal@7 }}").unwrap();
        assert_eq!(
            t.includes(),
            vec![("tone".to_owned(), None), ("legal".to_owned(), Some(7))]
        );
        let expanded = t
            .expand(&|slug| {
                Some(if slug == "tone" {
                    "Be {{style}}.".into()
                } else {
                    "\\{{c}} 2026".into()
                })
            })
            .unwrap();
        assert_eq!(expanded, "Be {{style}}. and \\{{c}} 2026");
        assert_eq!(
            render_with(&expanded, json!({"style": "kind"})).unwrap(),
            "Be kind. and {{c}} 2026"
        );
        assert_eq!(t.expand(&|_| None).unwrap_err().code(), "unknown_include");
    }

    #[test]
    fn expansion_stops_at_the_content_limit() {
        let source = "{{> big}}".repeat(3000);
        let t = Template::parse(&source).unwrap();
        let big = "y".repeat(200 * 1024);
        let calls = std::cell::Cell::new(0);
        let err = t
            .expand(&|_| {
                calls.set(calls.get() + 1);
                Some(big.clone())
            })
            .unwrap_err();
        assert_eq!(err.code(), "payload_too_large");
        assert_eq!(err.status(), 413);
        assert!(calls.get() <= 2, "stopped after {} expansions", calls.get());
        let small = Template::parse("{{> s}} and {{> s}}").unwrap();
        assert_eq!(small.expand(&|_| Some("x".into())).unwrap(), "x and x");
    }

    #[test]
    fn expand_round_trips_literal_braces() {
        let t = Template::parse(r"a \{{b}} {{c}}").unwrap();
        let again = Template::parse(&t.expand(&|_| None).unwrap()).unwrap();
        assert_eq!(again, t);
    }

    #[test]
    fn strict_names_every_missing_and_unknown_variable() {
        let t = Template::parse("{{a}} {{b}} {{c}}").unwrap();
        let given = json!({"b": 1, "z": 2, "y": 3});
        let e = bind_variables(&t.variables(), &[], given.as_object().unwrap(), true).unwrap_err();
        assert_eq!(e.code(), "missing_variables");
        assert_eq!(e.details()["missing"], json!(["a", "c"]));
        assert_eq!(e.details()["unknown"], json!(["y", "z"]));
        let only_unknown = json!({"a": 1, "b": 1, "c": 1, "z": 0});
        let e = bind_variables(&t.variables(), &[], only_unknown.as_object().unwrap(), true).unwrap_err();
        assert_eq!(e.code(), "unknown_variables");
        assert!(bind_variables(&t.variables(), &[], only_unknown.as_object().unwrap(), false).is_ok());
    }

    #[test]
    fn declarations_give_defaults_and_make_names_known() {
        let t = Template::parse("{{tone}}/{{lang}}").unwrap();
        let decls: Vec<VariableDecl> = serde_json::from_value(json!([
            {"name": "tone", "required": false, "default": "calm"},
            {"name": "lang", "required": false},
            {"name": "unused", "required": false, "description": "reserved"}
        ]))
        .unwrap();
        VariableDecl::validate_all(&decls).unwrap();
        let v = bind_variables(&t.variables(), &decls, json!({"unused": 1}).as_object().unwrap(), true).unwrap();
        assert_eq!(t.render(&v).unwrap(), "calm/");
        let bad: Vec<VariableDecl> = serde_json::from_value(json!([{"name": "x", "default": 1}])).unwrap();
        assert!(VariableDecl::validate_all(&bad).is_err());
    }

    #[test]
    fn include_cycles_and_depth_are_refused() {
        let leaf = IncludeGraph::default();
        let a = IncludeGraph::combine("a", &[("b".into(), 1, leaf.clone())]).unwrap();
        assert_eq!(a.depth, 1);
        assert_eq!(a.pins["b"], 1);
        let e = IncludeGraph::combine("b", &[("a".into(), 2, a.clone())]).unwrap_err();
        assert_eq!(e.code(), "include_cycle");
        assert!(IncludeGraph::combine("a", &[("a".into(), 1, leaf.clone())]).is_err());
        let mut g = leaf;
        for i in 0..MAX_INCLUDE_DEPTH {
            g = IncludeGraph::combine(&format!("s{}", i + 1), &[(format!("s{i}"), 1, g)]).unwrap();
        }
        assert_eq!(g.depth, MAX_INCLUDE_DEPTH);
        assert_eq!(
            IncludeGraph::combine("top", &[("s8".into(), 1, g)]).unwrap_err().code(),
            "include_too_deep"
        );
    }

    #[test]
    fn parsing_never_panics_and_parsed_templates_always_render() {
        let alphabet: Vec<char> = "{}\\>@ aZ_.-1\nü🙂{{}}".chars().collect();
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..50_000 {
            let len = (state % 24) as usize;
            let mut s = String::new();
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                s.push(alphabet[(state % alphabet.len() as u64) as usize]);
            }
            if let Ok(t) = Template::parse(&s) {
                let values = t.variables().into_iter().map(|v| (v, "x".to_owned())).collect();
                if t.includes().is_empty() {
                    t.render(&values).unwrap();
                }
                let again = Template::parse(&t.expand(&|_| Some(String::new())).unwrap());
                assert!(again.is_ok(), "{s:?}");
            }
        }
    }
}
