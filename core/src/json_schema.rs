//! A JSON Schema subset for the `json_valid` evaluator.
//!
//! Outputs of LLMs are checked against the shapes teams actually ask for:
//! types, required and known properties, enums, lengths and ranges, string
//! patterns, and nested objects and arrays. A schema using any other keyword
//! is refused when the evaluator is configured rather than silently
//! half-applied, so a passing score always means what the schema says.

use std::collections::BTreeMap;

use regex_lite::Regex;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Keywords this validator applies; annotations are accepted and ignored.
const APPLIED: &[&str] = &[
    "type",
    "enum",
    "const",
    "required",
    "properties",
    "additionalProperties",
    "items",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "pattern",
];
const ANNOTATIONS: &[&str] = &["$schema", "$id", "title", "description", "default", "examples"];
const MAX_DEPTH: usize = 32;

/// A schema checked for supported keywords, ready to validate values.
#[derive(Debug, Clone)]
pub struct Schema {
    value: Value,
    /// Every `pattern` in the schema, compiled once when it is saved.
    patterns: Patterns,
}

type Patterns = BTreeMap<String, Regex>;

impl PartialEq for Schema {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

/// A regular expression compiled once, compared by its source.
#[derive(Debug, Clone)]
pub struct Pattern {
    source: String,
    regex: Regex,
}

impl Pattern {
    pub fn parse(source: &str) -> std::result::Result<Self, String> {
        Ok(Pattern {
            source: source.to_owned(),
            regex: compile(source)?,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    pub fn is_match(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Schema {
    /// Accepts `value` if every keyword in it, at every depth, is supported
    /// and well-formed.
    pub fn parse(value: &Value) -> Result<Self> {
        let mut patterns = Patterns::new();
        check(value, "schema", 0, &mut patterns)?;
        Ok(Schema {
            value: value.clone(),
            patterns,
        })
    }

    pub fn as_value(&self) -> &Value {
        &self.value
    }

    /// Whether `instance` satisfies the schema.
    pub fn is_valid(&self, instance: &Value) -> bool {
        valid(&self.value, instance, &self.patterns)
    }
}

fn bad(path: &str, message: &str) -> Error {
    Error::invalid_field("schema", format!("{path}: {message}"))
}

fn check(schema: &Value, path: &str, depth: usize, patterns: &mut Patterns) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(bad(path, "nests too deeply"));
    }
    let Some(map) = schema.as_object() else {
        return match schema {
            Value::Bool(_) => Ok(()),
            _ => Err(bad(path, "a schema is an object or a boolean")),
        };
    };
    for (key, v) in map {
        if ANNOTATIONS.contains(&key.as_str()) {
            continue;
        }
        if !APPLIED.contains(&key.as_str()) {
            return Err(bad(path, &format!("the keyword '{key}' is not supported")));
        }
        let here = format!("{path}.{key}");
        match key.as_str() {
            "type" => {
                let names: Vec<&Value> = match v {
                    Value::Array(a) => a.iter().collect(),
                    one => vec![one],
                };
                if names.is_empty() || !names.iter().all(|n| n.as_str().is_some_and(is_type_name)) {
                    return Err(bad(&here, "must name JSON types"));
                }
            }
            "enum" if !v.is_array() => return Err(bad(&here, "must be an array")),
            "required" if !v.as_array().is_some_and(|a| a.iter().all(Value::is_string)) => {
                return Err(bad(&here, "must be an array of property names"))
            }
            "properties" => {
                let props = v.as_object().ok_or_else(|| bad(&here, "must be an object"))?;
                for (name, sub) in props {
                    check(sub, &format!("{here}.{name}"), depth + 1, patterns)?;
                }
            }
            "additionalProperties" | "items" => check(v, &here, depth + 1, patterns)?,
            "minItems" | "maxItems" | "minLength" | "maxLength" if v.as_u64().is_none() => {
                return Err(bad(&here, "must be a non-negative integer"))
            }
            "minimum" | "maximum" if !v.is_number() => return Err(bad(&here, "must be a number")),
            "pattern" => {
                let p = v.as_str().ok_or_else(|| bad(&here, "must be a string"))?;
                let regex = compile(p).map_err(|m| bad(&here, &m))?;
                patterns.insert(p.to_owned(), regex);
            }
            _ => {}
        }
    }
    Ok(())
}

/// Regexes are size-limited: a configured pattern cannot make evaluation
/// expensive (regex-lite matches in time linear in the input).
pub fn compile(pattern: &str) -> std::result::Result<Regex, String> {
    if pattern.len() > 1000 {
        return Err("patterns are at most 1,000 characters".into());
    }
    regex_lite::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| format!("not a valid regular expression: {e}"))
}

fn is_type_name(s: &str) -> bool {
    matches!(
        s,
        "null" | "boolean" | "object" | "array" | "number" | "integer" | "string"
    )
}

fn has_type(instance: &Value, name: &str) -> bool {
    match name {
        "null" => instance.is_null(),
        "boolean" => instance.is_boolean(),
        "object" => instance.is_object(),
        "array" => instance.is_array(),
        "number" => instance.is_number(),
        "integer" => instance.as_f64().is_some_and(|f| f.fract() == 0.0),
        "string" => instance.is_string(),
        _ => false,
    }
}

fn valid(schema: &Value, instance: &Value, patterns: &Patterns) -> bool {
    match schema {
        Value::Bool(b) => *b,
        Value::Object(map) => map.iter().all(|(k, v)| keyword_holds(map, k, v, instance, patterns)),
        _ => false,
    }
}

fn keyword_holds(schema: &Map<String, Value>, key: &str, v: &Value, instance: &Value, patterns: &Patterns) -> bool {
    let count = |n: &Value| n.as_u64().unwrap_or(0) as usize;
    let chars = instance.as_str().map(|s| s.chars().count());
    let items = instance.as_array();
    let number = instance.as_f64();
    match key {
        "type" => match v {
            Value::Array(names) => names.iter().any(|n| n.as_str().is_some_and(|n| has_type(instance, n))),
            one => one.as_str().is_some_and(|n| has_type(instance, n)),
        },
        "enum" => v.as_array().is_some_and(|a| a.iter().any(|e| json_eq(e, instance))),
        "const" => json_eq(v, instance),
        "required" => match instance.as_object() {
            Some(obj) => v
                .as_array()
                .is_some_and(|names| names.iter().all(|n| n.as_str().is_some_and(|n| obj.contains_key(n)))),
            None => true,
        },
        "properties" => match (instance.as_object(), v.as_object()) {
            (Some(obj), Some(props)) => props
                .iter()
                .all(|(name, sub)| obj.get(name).is_none_or(|value| valid(sub, value, patterns))),
            _ => true,
        },
        "additionalProperties" => match instance.as_object() {
            Some(obj) => {
                let declared = schema.get("properties").and_then(Value::as_object);
                obj.iter()
                    .filter(|(name, _)| !declared.is_some_and(|d| d.contains_key(*name)))
                    .all(|(_, value)| valid(v, value, patterns))
            }
            None => true,
        },
        "items" => items.is_none_or(|a| a.iter().all(|item| valid(v, item, patterns))),
        "minItems" => items.is_none_or(|a| a.len() >= count(v)),
        "maxItems" => items.is_none_or(|a| a.len() <= count(v)),
        "minLength" => chars.is_none_or(|n| n >= count(v)),
        "maxLength" => chars.is_none_or(|n| n <= count(v)),
        "minimum" => number.is_none_or(|n| v.as_f64().is_some_and(|m| n >= m)),
        "maximum" => number.is_none_or(|n| v.as_f64().is_some_and(|m| n <= m)),
        "pattern" => match (instance.as_str(), v.as_str()) {
            (Some(s), Some(p)) => patterns.get(p).is_some_and(|re| re.is_match(s)),
            _ => true,
        },
        _ => true,
    }
}

/// JSON equality where 1 and 1.0 are the same number, as the spec says.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema(v: Value) -> Schema {
        Schema::parse(&v).unwrap()
    }

    #[test]
    fn checks_types_required_and_nested_properties() {
        let s = schema(json!({
            "type": "object",
            "required": ["answer", "confidence"],
            "properties": {
                "answer": { "type": "string", "minLength": 1 },
                "confidence": { "type": "number", "minimum": 0, "maximum": 1 },
                "tags": { "type": "array", "items": { "enum": ["a", "b"] }, "maxItems": 2 }
            },
            "additionalProperties": false
        }));
        assert!(s.is_valid(&json!({ "answer": "yes", "confidence": 0.5 })));
        assert!(s.is_valid(&json!({ "answer": "yes", "confidence": 1, "tags": ["a", "b"] })));
        assert!(!s.is_valid(&json!({ "answer": "yes" })), "missing required");
        assert!(!s.is_valid(&json!({ "answer": "", "confidence": 0.5 })), "minLength");
        assert!(!s.is_valid(&json!({ "answer": "y", "confidence": 2 })), "maximum");
        assert!(
            !s.is_valid(&json!({ "answer": "y", "confidence": 0, "tags": ["c"] })),
            "enum"
        );
        assert!(
            !s.is_valid(&json!({ "answer": "y", "confidence": 0, "extra": 1 })),
            "additional"
        );
        assert!(!s.is_valid(&json!([1])), "type");
    }

    #[test]
    fn integers_patterns_and_consts() {
        let s = schema(json!({ "type": ["integer", "null"] }));
        assert!(s.is_valid(&json!(3)) && s.is_valid(&json!(3.0)) && s.is_valid(&json!(null)));
        assert!(!s.is_valid(&json!(3.5)));
        let p = schema(json!({ "type": "string", "pattern": "^[A-Z]{2}-\\d+$" }));
        assert!(p.is_valid(&json!("AB-12")) && !p.is_valid(&json!("ab-12")));
        assert!(schema(json!({ "const": { "a": 1 } })).is_valid(&json!({ "a": 1.0 })));
        assert!(schema(json!(true)).is_valid(&json!("anything")));
        assert!(!schema(json!(false)).is_valid(&json!(null)));
    }

    #[test]
    fn unsupported_or_malformed_schemas_are_refused_with_their_path() {
        let err = Schema::parse(&json!({ "properties": { "a": { "oneOf": [] } } })).unwrap_err();
        assert_eq!(err.kind().code(), "invalid_field");
        assert!(err.message().contains("schema.properties.a") && err.message().contains("oneOf"));
        assert!(Schema::parse(&json!({ "type": "text" })).is_err());
        assert!(Schema::parse(&json!({ "pattern": "(" })).is_err());
        assert!(Schema::parse(&json!({ "minLength": -1 })).is_err());
        assert!(Schema::parse(&json!(3)).is_err());
        let mut deep = json!({});
        for _ in 0..40 {
            deep = json!({ "items": deep });
        }
        assert!(Schema::parse(&deep).is_err());
    }
}
