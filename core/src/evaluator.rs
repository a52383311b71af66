//! Evaluators: per-prompt checks that score execution outputs between 0
//! and 1. The worker runs them as queue jobs after an execution is stored;
//! their scores join the version's rollups (overall and per evaluator).
//!
//! Four are computed here, deterministically: `contains`, `regex`,
//! `json_valid` (optionally against a [`Schema`]) and `similarity` (token
//! F1 against a reference answer). The fifth, `judge`, asks the workspace's
//! OpenAI-compatible endpoint (see [`crate::judge`]); this module only says
//! that it is needed.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::json_schema::{Pattern, Schema};
use crate::names::{bounded_text, EvaluatorName};

/// At most this many evaluators per prompt.
pub const MAX_EVALUATORS: usize = 10;

/// What an evaluator checks.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// 1 when the output contains `value` (case-insensitively unless asked).
    Contains { value: String, case_sensitive: bool },
    /// 1 when the output matches the regular expression.
    Regex { pattern: Pattern },
    /// 1 when the output is JSON (a single fenced ```json block counts) and,
    /// with a schema, satisfies it.
    JsonValid { schema: Option<Schema> },
    /// Token F1 between the output and the reference: the execution's own
    /// `reference` if it sent one, else this configured one.
    Similarity { reference: Option<String> },
    /// A score from the workspace's LLM judge, graded against `criteria`.
    Judge { criteria: String },
}

/// A named check configured on a prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluator {
    pub name: EvaluatorName,
    pub check: Check,
}

/// What evaluating one output gives.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict<'a> {
    Score(f64),
    /// The judge must be asked with these criteria.
    AskJudge {
        criteria: &'a str,
    },
    /// Nothing to score against (a similarity check without any reference).
    NotApplicable,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum RawCheck {
    Contains {
        value: String,
        #[serde(default)]
        case_sensitive: bool,
    },
    Regex {
        pattern: String,
    },
    JsonValid {
        #[serde(default)]
        schema: Option<Value>,
    },
    Similarity {
        #[serde(default)]
        reference: Option<String>,
    },
    Judge {
        criteria: String,
    },
}

impl Evaluator {
    /// Parses one `{"name": ..., "type": ..., ...}` object.
    pub fn parse(value: &Value) -> Result<Self> {
        crate::request::expect_object("evaluator", value)?;
        let mut fields = value.as_object().cloned().unwrap_or_default();
        let name = match fields.remove("name") {
            Some(Value::String(n)) => EvaluatorName::parse(&n)?,
            _ => return Err(Error::invalid_field("name", "every evaluator needs a name")),
        };
        let check = Check::parse(Value::Object(fields), "evaluator", &format!("evaluator '{name}'"))?;
        Ok(Evaluator { name, check })
    }

    /// The evaluator as the API shows and stores it.
    pub fn to_json(&self) -> Value {
        let mut v = self.check.to_json();
        v["name"] = json!(self.name);
        v
    }

    /// Scores `output`; `reference` is the execution's own expected answer.
    pub fn evaluate<'a>(&'a self, output: &str, reference: Option<&'a str>) -> Verdict<'a> {
        self.check.evaluate(output, reference)
    }
}

impl Check {
    /// Parses `{"type": ..., ...}` (no other fields); errors name `field`
    /// and describe the check as `what`.
    pub fn parse(value: Value, field: &str, what: &str) -> Result<Self> {
        let raw: RawCheck =
            serde_json::from_value(value).map_err(|e| Error::invalid_field(field, format!("{what}: {e}")))?;
        Ok(match raw {
            RawCheck::Contains { value, case_sensitive } => Check::Contains {
                value: bounded_text("value", &value, 1000, true)?,
                case_sensitive,
            },
            RawCheck::Regex { pattern } => Check::Regex {
                pattern: Pattern::parse(&pattern).map_err(|m| Error::invalid_field("pattern", m))?,
            },
            RawCheck::JsonValid { schema } => Check::JsonValid {
                schema: schema.as_ref().map(Schema::parse).transpose()?,
            },
            RawCheck::Similarity { reference } => Check::Similarity {
                reference: reference
                    .map(|r| bounded_text("reference", &r, 20_000, true))
                    .transpose()?,
            },
            RawCheck::Judge { criteria } => Check::Judge {
                criteria: bounded_text("criteria", &criteria, 4000, true)?,
            },
        })
    }

    /// The check as the API shows and stores it.
    pub fn to_json(&self) -> Value {
        match self {
            Check::Contains { value, case_sensitive } => {
                json!({ "type": "contains", "value": value, "case_sensitive": case_sensitive })
            }
            Check::Regex { pattern } => json!({ "type": "regex", "pattern": pattern.as_str() }),
            Check::JsonValid { schema } => {
                json!({ "type": "json_valid", "schema": schema.as_ref().map(Schema::as_value) })
            }
            Check::Similarity { reference } => json!({ "type": "similarity", "reference": reference }),
            Check::Judge { criteria } => json!({ "type": "judge", "criteria": criteria }),
        }
    }

    /// Scores `output`; `reference` is the execution's own expected answer.
    pub fn evaluate<'a>(&'a self, output: &str, reference: Option<&'a str>) -> Verdict<'a> {
        let pass = |b: bool| Verdict::Score(if b { 1.0 } else { 0.0 });
        match self {
            Check::Contains { value, case_sensitive } => {
                if *case_sensitive {
                    pass(output.contains(value.as_str()))
                } else {
                    pass(output.to_lowercase().contains(&value.to_lowercase()))
                }
            }
            Check::Regex { pattern } => pass(pattern.is_match(output)),
            Check::JsonValid { schema } => match serde_json::from_str::<Value>(unfence(output)) {
                Ok(v) => pass(schema.as_ref().is_none_or(|s| s.is_valid(&v))),
                Err(_) => pass(false),
            },
            Check::Similarity { reference: configured } => match reference.or(configured.as_deref()) {
                Some(r) => Verdict::Score(token_f1(output, r)),
                None => Verdict::NotApplicable,
            },
            Check::Judge { criteria } => Verdict::AskJudge { criteria },
        }
    }
}

/// Parses `{"evaluators": [...]}`: at most [`MAX_EVALUATORS`], names unique.
pub fn parse_evaluators(body: &[u8]) -> Result<Vec<Evaluator>> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        evaluators: Vec<Value>,
    }
    let body: Body = crate::request::parse_json(body)?;
    if body.evaluators.len() > MAX_EVALUATORS {
        return Err(Error::invalid_field(
            "evaluators",
            format!("a prompt has at most {MAX_EVALUATORS} evaluators"),
        ));
    }
    let evaluators = body
        .evaluators
        .iter()
        .map(Evaluator::parse)
        .collect::<Result<Vec<_>>>()?;
    let mut seen = BTreeSet::new();
    if let Some(dup) = evaluators.iter().find(|e| !seen.insert(e.name.as_str())) {
        return Err(Error::invalid_field(
            "name",
            format!("two evaluators are named '{}'", dup.name),
        ));
    }
    Ok(evaluators)
}

/// Reads back the stored form (a JSON array written by [`Evaluator::to_json`]).
pub fn from_stored(json: &str) -> Result<Vec<Evaluator>> {
    let values: Vec<Value> = serde_json::from_str(json).map_err(|_| Error::internal())?;
    values.iter().map(Evaluator::parse).collect()
}

/// The JSON inside a single ```json fenced block, or the trimmed text.
fn unfence(output: &str) -> &str {
    let t = output.trim();
    t.strip_prefix("```")
        .and_then(|rest| rest.strip_suffix("```"))
        .map(|inner| inner.strip_prefix("json").unwrap_or(inner).trim())
        .unwrap_or(t)
}

fn tokens(text: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for word in text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        *counts.entry(word.to_lowercase()).or_insert(0) += 1;
    }
    counts
}

/// Token-level F1 (the SQuAD measure): harmonic mean of the precision and
/// recall of the output's words against the reference's, counted with
/// multiplicity, case-insensitive. 1 for identical word bags, 0 for none
/// shared; two empty texts are identical.
pub fn token_f1(output: &str, reference: &str) -> f64 {
    let (a, b) = (tokens(output), tokens(reference));
    let (na, nb): (usize, usize) = (a.values().sum(), b.values().sum());
    if na == 0 || nb == 0 {
        return if na == nb { 1.0 } else { 0.0 };
    }
    let common: usize = a.iter().map(|(w, n)| (*n).min(b.get(w).copied().unwrap_or(0))).sum();
    if common == 0 {
        return 0.0;
    }
    let (precision, recall) = (common as f64 / na as f64, common as f64 / nb as f64);
    2.0 * precision * recall / (precision + recall)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(v: Value) -> Evaluator {
        Evaluator::parse(&v).unwrap()
    }

    #[test]
    fn deterministic_checks_score_zero_or_one() {
        let c = one(json!({ "name": "polite", "type": "contains", "value": "Thank You" }));
        assert_eq!(c.evaluate("well, thank you!", None), Verdict::Score(1.0));
        assert_eq!(c.evaluate("no", None), Verdict::Score(0.0));
        let cs = one(json!({ "name": "cs", "type": "contains", "value": "Thank", "case_sensitive": true }));
        assert_eq!(cs.evaluate("thank you", None), Verdict::Score(0.0));
        let r = one(json!({ "name": "ticket", "type": "regex", "pattern": "TCK-\\d{4}" }));
        assert_eq!(r.evaluate("see TCK-1234", None), Verdict::Score(1.0));
        assert_eq!(r.evaluate("see TCK-12", None), Verdict::Score(0.0));
    }

    #[test]
    fn json_validity_with_and_without_schema_and_fences() {
        let plain = one(json!({ "name": "json", "type": "json_valid" }));
        assert_eq!(plain.evaluate(" {\"a\": 1} ", None), Verdict::Score(1.0));
        assert_eq!(plain.evaluate("```json\n{\"a\": 1}\n```", None), Verdict::Score(1.0));
        assert_eq!(plain.evaluate("{\"a\": ", None), Verdict::Score(0.0));
        let typed = one(json!({ "name": "shape", "type": "json_valid",
            "schema": { "type": "object", "required": ["a"] } }));
        assert_eq!(typed.evaluate("{\"a\": 1}", None), Verdict::Score(1.0));
        assert_eq!(typed.evaluate("{\"b\": 1}", None), Verdict::Score(0.0));
    }

    #[test]
    fn similarity_prefers_the_executions_reference() {
        let s = one(json!({ "name": "sim", "type": "similarity", "reference": "the cat sat" }));
        assert_eq!(s.evaluate("The cat sat.", None), Verdict::Score(1.0));
        assert_eq!(s.evaluate("the cat sat", Some("a dog ran")), Verdict::Score(0.0));
        let none = one(json!({ "name": "sim", "type": "similarity" }));
        assert_eq!(none.evaluate("anything", None), Verdict::NotApplicable);
        // 2 shared of 3 and of 4 words: p = 2/3, r = 1/2, F1 = 4/7.
        assert!((token_f1("the cat sat", "the cat ran away") - 4.0 / 7.0).abs() < 1e-12);
        assert_eq!(token_f1("", ""), 1.0);
        assert_eq!(token_f1("a", ""), 0.0);
    }

    #[test]
    fn judge_asks_with_its_criteria() {
        let j = one(json!({ "name": "helpful", "type": "judge", "criteria": "Is it helpful?" }));
        assert_eq!(
            j.evaluate("out", None),
            Verdict::AskJudge {
                criteria: "Is it helpful?"
            }
        );
    }

    #[test]
    fn configuration_is_validated_and_round_trips() {
        let body = json!({ "evaluators": [
            { "name": "a", "type": "contains", "value": "x" },
            { "name": "b", "type": "json_valid", "schema": { "type": "object" } },
            { "name": "c", "type": "judge", "criteria": "good?" }
        ] });
        let parsed = parse_evaluators(body.to_string().as_bytes()).unwrap();
        let stored = Value::Array(parsed.iter().map(Evaluator::to_json).collect()).to_string();
        assert_eq!(from_stored(&stored).unwrap(), parsed);
        let code = |v: Value| parse_evaluators(v.to_string().as_bytes()).unwrap_err().kind().code();
        assert_eq!(
            code(json!({ "evaluators": [{ "name": "a", "type": "regex", "pattern": "(" }] })),
            "invalid_field"
        );
        assert_eq!(
            code(json!({ "evaluators": [{ "name": "a", "type": "nope" }] })),
            "invalid_field"
        );
        assert_eq!(
            code(json!({ "evaluators": [{ "type": "contains", "value": "x" }] })),
            "invalid_field"
        );
        assert_eq!(
            code(json!({ "evaluators": [{ "name": "a", "type": "contains", "value": "x", "extra": 1 }] })),
            "invalid_field"
        );
        assert_eq!(
            code(
                json!({ "evaluators": [{ "name": "a", "type": "contains", "value": "x" },
                                               { "name": "a", "type": "contains", "value": "y" }] })
            ),
            "invalid_field"
        );
        let many: Vec<Value> = (0..11)
            .map(|i| json!({ "name": format!("e{i}"), "type": "contains", "value": "x" }))
            .collect();
        assert_eq!(code(json!({ "evaluators": many })), "invalid_field");
        assert_eq!(
            code(json!({ "evaluators": [{ "name": "a", "type": "judge", "criteria": " " }] })),
            "invalid_field"
        );
    }
}
