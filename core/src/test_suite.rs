//! Test suites per prompt: named cases (variables, chat history, an expected
//! answer) with assertions, run against a version; what a run's outputs
//! score; how two runs compare; what the promotion gate reads.
//!
//! Assertions reuse the evaluators' checks ([`Check`]) and add two of their
//! own: `not_contains` and `max_latency_ms`. A check passes when it scores
//! at least its threshold (1 for the yes/no checks; `similarity` and
//! `judge` take a `threshold`). A case passes when every assertion passes;
//! a run passes when its share of passing cases reaches the suite's
//! `pass_threshold` (default: every case).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::canonical::sha256_hex;
use crate::error::{Error, Result};
use crate::evaluator::{Check, Verdict};
use crate::names::bounded_text;

/// At most this many cases per suite.
pub const MAX_CASES: usize = 500;
/// At most this many assertions per case.
pub const MAX_ASSERTIONS: usize = 20;
/// A case output is kept up to this many characters.
pub const MAX_OUTPUT_CHARS: usize = 8192;
/// A client's outputs for a whole suite (500 cases of 8,192 characters,
/// up to 4 bytes each, with their JSON) fit in one request of this size.
pub const MAX_RUN_BODY_BYTES: usize = 20 * 1024 * 1024;

/// One assertion on a case's output.
#[derive(Debug, Clone, PartialEq)]
pub enum Assertion {
    /// An evaluator check, passing at `threshold` or more.
    Check { check: Check, threshold: f64 },
    /// Passes when the output does not contain `value`.
    NotContains { value: String, case_sensitive: bool },
    /// Passes when the call took at most this long.
    MaxLatencyMs { value: f64 },
}

impl Assertion {
    fn parse(value: &Value, case: &str) -> Result<Self> {
        crate::request::expect_object("assert", value)?;
        let mut fields = value.as_object().cloned().unwrap_or_default();
        let what = format!("case '{case}'");
        let kind = fields
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        match kind.as_str() {
            "not_contains" => {
                let inner = json!({
                    "type": "contains",
                    "value": fields.remove("value").unwrap_or(Value::Null),
                    "case_sensitive": fields.remove("case_sensitive").unwrap_or(json!(false)),
                });
                fields.remove("type");
                if let Some(extra) = fields.keys().next() {
                    return Err(Error::invalid_field(
                        "assert",
                        format!("{what}: unknown field '{extra}'"),
                    ));
                }
                match Check::parse(inner, "assert", &what)? {
                    Check::Contains { value, case_sensitive } => Ok(Assertion::NotContains { value, case_sensitive }),
                    _ => unreachable!("parsed as contains"),
                }
            }
            "max_latency_ms" => {
                let v = fields.get("value").and_then(Value::as_f64);
                match v {
                    Some(v) if v.is_finite() && v > 0.0 && fields.len() == 2 => {
                        Ok(Assertion::MaxLatencyMs { value: v })
                    }
                    _ => Err(Error::invalid_field(
                        "assert",
                        format!("{what}: max_latency_ms takes a positive number 'value'"),
                    )),
                }
            }
            _ => {
                let threshold = match fields.remove("threshold") {
                    None => None,
                    Some(t) => match t.as_f64() {
                        Some(t) if (0.0..=1.0).contains(&t) && matches!(kind.as_str(), "similarity" | "judge") => {
                            Some(t)
                        }
                        _ => {
                            return Err(Error::invalid_field(
                                "assert",
                                format!("{what}: 'threshold' is a number from 0 to 1, for similarity and judge"),
                            ))
                        }
                    },
                };
                let check = Check::parse(Value::Object(fields), "assert", &what)?;
                let default = match check {
                    Check::Similarity { .. } | Check::Judge { .. } => 0.5,
                    _ => 1.0,
                };
                Ok(Assertion::Check {
                    check,
                    threshold: threshold.unwrap_or(default),
                })
            }
        }
    }

    /// The assertion as the API shows and stores it.
    pub fn to_json(&self) -> Value {
        match self {
            Assertion::Check { check, threshold } => {
                let mut v = check.to_json();
                if matches!(check, Check::Similarity { .. } | Check::Judge { .. }) {
                    v["threshold"] = json!(threshold);
                }
                v
            }
            Assertion::NotContains { value, case_sensitive } => {
                json!({ "type": "not_contains", "value": value, "case_sensitive": case_sensitive })
            }
            Assertion::MaxLatencyMs { value } => json!({ "type": "max_latency_ms", "value": value }),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Assertion::Check { check, .. } => match check {
                Check::Contains { .. } => "contains",
                Check::Regex { .. } => "regex",
                Check::JsonValid { .. } => "json_valid",
                Check::Similarity { .. } => "similarity",
                Check::Judge { .. } => "judge",
            },
            Assertion::NotContains { .. } => "not_contains",
            Assertion::MaxLatencyMs { .. } => "max_latency_ms",
        }
    }
}

/// One case of a suite.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub name: String,
    pub variables: Map<String, Value>,
    /// Chat history for placeholders, as `POST /render` takes it.
    pub history: Option<Value>,
    /// The expected answer, for `similarity` and `judge`.
    pub reference: Option<String>,
    pub assertions: Vec<Assertion>,
}

impl Case {
    fn parse(value: &Value) -> Result<Self> {
        crate::request::expect_object("cases", value)?;
        let o = value.as_object().cloned().unwrap_or_default();
        for key in o.keys() {
            if !["name", "variables", "history", "reference", "assert"].contains(&key.as_str()) {
                return Err(Error::invalid_field("cases", format!("unknown case field '{key}'")));
            }
        }
        let name = match o.get("name") {
            Some(Value::String(n)) if is_case_name(n) => n.clone(),
            _ => {
                return Err(Error::invalid_field(
                    "name",
                    "a case name is 1 to 64 characters of a-z, 0-9, '-', '_', '.'",
                ))
            }
        };
        let variables = match o.get("variables") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => {
                return Err(Error::invalid_field(
                    "variables",
                    format!("case '{name}': variables is an object"),
                ))
            }
        };
        let history = match o.get("history") {
            None | Some(Value::Null) => None,
            Some(h @ (Value::Array(_) | Value::Object(_))) => Some(h.clone()),
            Some(_) => {
                return Err(Error::invalid_field(
                    "history",
                    format!("case '{name}': history is a list of messages, or an object of them by placeholder"),
                ))
            }
        };
        let reference = match o.get("reference") {
            None | Some(Value::Null) => None,
            Some(Value::String(r)) => Some(bounded_text("reference", r, 20_000, true)?),
            Some(_) => {
                return Err(Error::invalid_field(
                    "reference",
                    format!("case '{name}': reference is text"),
                ))
            }
        };
        let assertions = match o.get("assert") {
            Some(Value::Array(a)) if !a.is_empty() && a.len() <= MAX_ASSERTIONS => a
                .iter()
                .map(|v| Assertion::parse(v, &name))
                .collect::<Result<Vec<_>>>()?,
            _ => {
                return Err(Error::invalid_field(
                    "assert",
                    format!("case '{name}': assert is a list of 1 to {MAX_ASSERTIONS} assertions"),
                ))
            }
        };
        Ok(Case {
            name,
            variables,
            history,
            reference,
            assertions,
        })
    }

    fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "variables": self.variables,
            "history": self.history,
            "reference": self.reference,
            "assert": self.assertions.iter().map(Assertion::to_json).collect::<Vec<_>>(),
        })
    }

    /// Grades one output of this case.
    pub fn grade(&self, output: &str, latency_ms: Option<f64>) -> CaseGrade {
        let results = self
            .assertions
            .iter()
            .map(|a| {
                let (passed, score) = match a {
                    Assertion::Check { check, threshold } => {
                        match check.evaluate(output, self.reference.as_deref()) {
                            Verdict::Score(s) => (Some(s >= *threshold), Some(s)),
                            Verdict::AskJudge { .. } => (None, None),
                            // A similarity check with no reference cannot pass.
                            Verdict::NotApplicable => (Some(false), None),
                        }
                    }
                    Assertion::NotContains { value, case_sensitive } => {
                        let found = if *case_sensitive {
                            output.contains(value.as_str())
                        } else {
                            output.to_lowercase().contains(&value.to_lowercase())
                        };
                        (Some(!found), None)
                    }
                    Assertion::MaxLatencyMs { value } => (Some(latency_ms.is_some_and(|l| l <= *value)), latency_ms),
                };
                AssertionResult {
                    kind: a.kind().to_owned(),
                    passed,
                    score,
                }
            })
            .collect();
        CaseGrade { assertions: results }
    }

    /// The grade of a case with no output (the client sent none, the
    /// prompt did not render, the provider failed): every assertion fails.
    pub fn no_output(&self) -> CaseGrade {
        CaseGrade {
            assertions: self
                .assertions
                .iter()
                .map(|a| AssertionResult {
                    kind: a.kind().to_owned(),
                    passed: Some(false),
                    score: None,
                })
                .collect(),
        }
    }

    /// The prompt this case sends: `content` rendered strictly (as
    /// `render` does) with the case's variables and history; or why not.
    pub fn render(
        &self,
        content: &crate::content::PromptContent,
        variables: &crate::render::VersionVariables,
    ) -> std::result::Result<crate::render::Rendered, String> {
        let history = match &self.history {
            Some(h) => crate::render::parse_history(h).map_err(|e| format!("history: {}", e.message()))?,
            None => Default::default(),
        };
        crate::render::render(content, variables, &self.variables, &history, true)
            .map_err(|e| format!("render: {}", e.message()))
    }

    /// The judge criteria and threshold of each judge assertion, by index.
    pub fn judge_asks(&self) -> Vec<(usize, &str, f64)> {
        self.assertions
            .iter()
            .enumerate()
            .filter_map(|(i, a)| match a {
                Assertion::Check {
                    check: Check::Judge { criteria },
                    threshold,
                } => Some((i, criteria.as_str(), *threshold)),
                _ => None,
            })
            .collect()
    }
}

fn is_case_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.'))
}

/// A suite: its cases, the share of cases a run must pass, and whether a
/// run starts on every commit (with the workspace's provider).
#[derive(Debug, Clone, PartialEq)]
pub struct Suite {
    pub cases: Vec<Case>,
    pub pass_threshold: f64,
    pub auto_run: bool,
}

impl Suite {
    /// Parses `PUT /v1/prompts/{slug}/tests`.
    pub fn parse(body: &[u8]) -> Result<Self> {
        let v: Value = crate::request::parse_json(body)?;
        crate::request::expect_object("body", &v)?;
        Self::from_value(&v)
    }

    /// Reads a suite back from its stored form ([`Suite::to_json`]).
    pub fn from_stored(json: &str) -> Result<Self> {
        let v: Value = serde_json::from_str(json).map_err(|_| Error::internal())?;
        Self::from_value(&v)
    }

    fn from_value(v: &Value) -> Result<Self> {
        let o = v.as_object().cloned().unwrap_or_default();
        if let Some(extra) = o
            .keys()
            .find(|k| !["cases", "pass_threshold", "auto_run"].contains(&k.as_str()))
        {
            return Err(Error::invalid_field(extra, format!("unknown field '{extra}'")));
        }
        let cases = match o.get("cases") {
            Some(Value::Array(c)) if c.len() <= MAX_CASES => c.iter().map(Case::parse).collect::<Result<Vec<_>>>()?,
            _ => {
                return Err(Error::invalid_field(
                    "cases",
                    format!("cases is a list of at most {MAX_CASES} cases"),
                ))
            }
        };
        let mut seen = BTreeSet::new();
        if let Some(dup) = cases.iter().find(|c| !seen.insert(c.name.as_str())) {
            return Err(Error::invalid_field(
                "name",
                format!("two cases are named '{}'", dup.name),
            ));
        }
        let pass_threshold = match o.get("pass_threshold") {
            None | Some(Value::Null) => 1.0,
            Some(t) => match t.as_f64() {
                Some(t) if (0.0..=1.0).contains(&t) => t,
                _ => {
                    return Err(Error::invalid_field(
                        "pass_threshold",
                        "pass_threshold is a number from 0 to 1",
                    ))
                }
            },
        };
        let auto_run = match o.get("auto_run") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(Error::invalid_field("auto_run", "auto_run is true or false")),
        };
        Ok(Suite {
            cases,
            pass_threshold,
            auto_run,
        })
    }

    /// The stored and shown form.
    pub fn to_json(&self) -> Value {
        json!({
            "cases": self.cases.iter().map(Case::to_json).collect::<Vec<_>>(),
            "pass_threshold": self.pass_threshold,
            "auto_run": self.auto_run,
        })
    }

    /// The hash that tells whether a PUT changes anything.
    pub fn hash(&self) -> String {
        sha256_hex(self.to_json().to_string().as_bytes())
    }

    pub fn case(&self, name: &str) -> Option<&Case> {
        self.cases.iter().find(|c| c.name == name)
    }
}

/// How a run gets its outputs: the server calls the workspace's provider,
/// or the client (`pvct test --exec`) sends what its own LLM call gave.
#[derive(Debug, Clone, PartialEq)]
pub enum RunRequest {
    Provider,
    Client(Vec<ClientOutput>),
}

/// One case's output as a client sends it.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientOutput {
    pub case: String,
    #[serde(default)]
    pub output: Option<String>,
    /// Why there is no output (the client's call failed).
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub latency_ms: Option<f64>,
    #[serde(default)]
    pub cost_usd: Option<f64>,
}

impl RunRequest {
    /// Parses `POST …/versions/{n}/test-runs`: `{}` runs on the provider;
    /// `{"outputs": [...]}` grades a client's outputs. What the outputs
    /// name is checked against the suite by [`RunRequest::check`].
    pub fn parse(body: &[u8]) -> Result<Self> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Body {
            #[serde(default)]
            outputs: Option<Vec<ClientOutput>>,
        }
        let body: Body = crate::request::parse_json_within(body, MAX_RUN_BODY_BYTES)?;
        let Some(outputs) = body.outputs else {
            return Ok(RunRequest::Provider);
        };
        if let Some(o) = outputs.iter().find(|o| {
            o.latency_ms.is_some_and(|l| !(l.is_finite() && l >= 0.0))
                || o.cost_usd.is_some_and(|c| !(c.is_finite() && c >= 0.0))
        }) {
            return Err(Error::invalid_field(
                "outputs",
                format!("case '{}': latency_ms and cost_usd are non-negative numbers", o.case),
            ));
        }
        Ok(RunRequest::Client(outputs))
    }

    /// Each output names a case of `suite`, once.
    pub fn check(&self, suite: &Suite) -> Result<()> {
        let RunRequest::Client(outputs) = self else {
            return Ok(());
        };
        let mut seen = BTreeSet::new();
        for o in outputs {
            if suite.case(&o.case).is_none() {
                return Err(Error::invalid_field(
                    "outputs",
                    format!("no case '{}' in the suite", o.case),
                ));
            }
            if !seen.insert(o.case.as_str()) {
                return Err(Error::invalid_field(
                    "outputs",
                    format!("case '{}' has two outputs", o.case),
                ));
            }
        }
        Ok(())
    }
}

/// A case's result as a run records it.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseResult {
    pub case: String,
    pub output: String,
    pub error: Option<String>,
    pub latency_ms: Option<f64>,
    pub cost_usd: Option<f64>,
    pub grade: CaseGrade,
}

impl CaseResult {
    /// Graded `output` of `case`; without output (an `error` instead) every
    /// assertion fails.
    pub fn of(
        case: &Case,
        output: Option<&str>,
        error: Option<String>,
        latency_ms: Option<f64>,
        cost_usd: Option<f64>,
    ) -> Self {
        let (output, grade, error) = match output {
            Some(o) => (kept_output(o), case.grade(o, latency_ms), error),
            None => (
                String::new(),
                case.no_output(),
                Some(error.unwrap_or_else(|| "no output for this case".into())),
            ),
        };
        CaseResult {
            case: case.name.clone(),
            output,
            error: error.map(|e| e.chars().take(2000).collect()),
            latency_ms,
            cost_usd,
            grade,
        }
    }
}

/// A client's outputs graded against every case of the suite: a case
/// without an output fails.
pub fn grade_client_outputs(suite: &Suite, outputs: &[ClientOutput]) -> Vec<CaseResult> {
    suite
        .cases
        .iter()
        .map(|case| match outputs.iter().find(|o| o.case == case.name) {
            Some(o) => CaseResult::of(case, o.output.as_deref(), o.error.clone(), o.latency_ms, o.cost_usd),
            None => CaseResult::of(case, None, None, None, None),
        })
        .collect()
}

/// The revision a `PUT` of `suite` writes: none when it equals the
/// current revision (by hash), else the next one.
pub fn next_revision(current: Option<(u32, &str)>, suite: &Suite) -> Option<u32> {
    match current {
        Some((_, hash)) if hash == suite.hash() => None,
        Some((revision, _)) => Some(revision + 1),
        None => Some(1),
    }
}

/// The text kept of an output.
pub fn kept_output(output: &str) -> String {
    output.chars().take(MAX_OUTPUT_CHARS).collect()
}

/// Of the finished runs of the current suite revision against one version
/// (pass rates), what the gate reads: the best one.
pub fn best_run(pass_rates: &[f64], suite_threshold: f64) -> Option<crate::gates::TestRunFact> {
    pass_rates
        .iter()
        .copied()
        .fold(None, |best: Option<f64>, r| Some(best.map_or(r, |b| b.max(r))))
        .map(|pass_rate| crate::gates::TestRunFact {
            pass_rate,
            suite_threshold,
        })
}

/// One assertion's outcome: `passed` is None while a judge is still to be asked.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct AssertionResult {
    #[serde(rename = "type")]
    pub kind: String,
    pub passed: Option<bool>,
    pub score: Option<f64>,
}

/// The outcome of one case's output.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct CaseGrade {
    pub assertions: Vec<AssertionResult>,
}

impl CaseGrade {
    /// None while any judge answer is awaited; else whether all passed.
    pub fn passed(&self) -> Option<bool> {
        let mut all = true;
        for a in &self.assertions {
            match a.passed {
                None => return None,
                Some(p) => all &= p,
            }
        }
        Some(all)
    }

    /// Records the judge's score for assertion `index`.
    pub fn judged(&mut self, index: usize, score: f64, threshold: f64) {
        if let Some(a) = self.assertions.get_mut(index) {
            a.score = Some(score);
            a.passed = Some(score >= threshold);
        }
    }

    /// A judge that could not be asked (no judge configured) fails its assertion.
    pub fn unjudged(&mut self, index: usize) {
        if let Some(a) = self.assertions.get_mut(index) {
            a.passed = Some(false);
        }
    }
}

/// A run's state from its cases' outcomes (`None`: not graded yet).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    pub status: &'static str,
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
    pub pending: usize,
    /// Passed over total, once nothing is pending.
    pub pass_rate: Option<f64>,
}

impl RunSummary {
    pub fn of(outcomes: &[Option<bool>], total: usize, pass_threshold: f64) -> Self {
        let passed = outcomes.iter().filter(|o| **o == Some(true)).count();
        let failed = outcomes.iter().filter(|o| **o == Some(false)).count();
        Self::from_counts(total, passed, failed, pass_threshold)
    }

    /// From counts of passed and failed cases (the rest are pending).
    pub fn from_counts(total: usize, passed: usize, failed: usize, pass_threshold: f64) -> Self {
        let pending = total.saturating_sub(passed + failed);
        let pass_rate = (pending == 0).then(|| if total == 0 { 1.0 } else { passed as f64 / total as f64 });
        let status = match pass_rate {
            None => "running",
            Some(r) if r >= pass_threshold => "passed",
            Some(_) => "failed",
        };
        RunSummary {
            status,
            total,
            passed,
            failed,
            pending,
            pass_rate,
        }
    }
}

/// A case output as a run stores it, for comparing runs.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseOutcome {
    pub case: String,
    pub passed: Option<bool>,
    pub output: String,
}

/// How a case changed from run `a` to run `b`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseChange {
    pub case: String,
    pub change: &'static str,
    pub a: Option<bool>,
    pub b: Option<bool>,
    /// The word diff of the outputs, when they differ.
    pub diff: Option<Vec<crate::diff::DiffOp>>,
}

/// Every case of either run: `regressed` (passed in a, fails in b),
/// `improved`, `output_changed` (same outcome, other output), `unchanged`,
/// `added` (only in b) or `removed` (only in a). Regressions first.
pub fn compare_runs(a: &[CaseOutcome], b: &[CaseOutcome]) -> Vec<CaseChange> {
    let by_name = |runs: &[CaseOutcome]| -> BTreeMap<String, CaseOutcome> {
        runs.iter().map(|o| (o.case.clone(), o.clone())).collect()
    };
    let (a, b) = (by_name(a), by_name(b));
    let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let mut out: Vec<CaseChange> = names
        .into_iter()
        .map(|name| {
            let (ca, cb) = (a.get(name), b.get(name));
            let change = match (ca, cb) {
                (Some(_), None) => "removed",
                (None, Some(_)) => "added",
                (Some(x), Some(y)) => match (x.passed, y.passed) {
                    (Some(true), Some(false)) => "regressed",
                    (Some(false), Some(true)) => "improved",
                    _ if x.output != y.output => "output_changed",
                    _ => "unchanged",
                },
                (None, None) => "unchanged",
            };
            let diff = match (ca, cb) {
                (Some(x), Some(y)) if x.output != y.output => {
                    Some(crate::diff::diff_words("output", &x.output, &y.output).ops)
                }
                _ => None,
            };
            CaseChange {
                case: name.clone(),
                change,
                a: ca.and_then(|c| c.passed),
                b: cb.and_then(|c| c.passed),
                diff,
            }
        })
        .collect();
    let rank = |c: &str| match c {
        "regressed" => 0,
        "improved" => 1,
        "output_changed" => 2,
        "added" | "removed" => 3,
        _ => 4,
    };
    out.sort_by_key(|c| rank(c.change));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn suite(v: Value) -> Result<Suite> {
        Suite::parse(v.to_string().as_bytes())
    }

    fn every_kind() -> Value {
        json!({ "cases": [{
            "name": "refund-ask",
            "variables": { "question": "Can I get a refund?" },
            "reference": "yes within thirty days",
            "assert": [
                { "type": "contains", "value": "refund" },
                { "type": "not_contains", "value": "sorry" },
                { "type": "regex", "pattern": "\\d+ days" },
                { "type": "json_valid" },
                { "type": "similarity", "threshold": 0.3 },
                { "type": "judge", "criteria": "Is it helpful?", "threshold": 0.7 },
                { "type": "max_latency_ms", "value": 2000 }
            ]
        }], "pass_threshold": 0.9 })
    }

    #[test]
    fn a_suite_round_trips_through_its_stored_form() {
        let s = suite(every_kind()).unwrap();
        assert_eq!(s.cases[0].assertions.len(), 7);
        assert_eq!(s.pass_threshold, 0.9);
        let again = Suite::from_stored(&s.to_json().to_string()).unwrap();
        assert_eq!(again, s);
        assert_eq!(again.hash(), s.hash());
    }

    #[test]
    fn bad_suites_name_the_field() {
        let cases = |c: Value| json!({ "cases": [c] });
        let field = |v: Value| {
            suite(v).unwrap_err().details()["field"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(
            field(cases(
                json!({ "name": "Bad Name", "assert": [{"type": "contains", "value": "x"}] })
            )),
            "name"
        );
        assert_eq!(field(cases(json!({ "name": "a", "assert": [] }))), "assert");
        assert_eq!(
            field(cases(json!({ "name": "a", "assert": [{"type": "nope"}] }))),
            "assert"
        );
        assert_eq!(
            field(cases(
                json!({ "name": "a", "assert": [{"type": "contains", "value": "x", "threshold": 0.5}] })
            )),
            "assert"
        );
        assert_eq!(
            field(cases(
                json!({ "name": "a", "assert": [{"type": "max_latency_ms", "value": -1}] })
            )),
            "assert"
        );
        assert_eq!(
            field(cases(
                json!({ "name": "a", "variables": [], "assert": [{"type": "contains", "value": "x"}] })
            )),
            "variables"
        );
        let two = json!({ "cases": [
            { "name": "a", "assert": [{"type": "contains", "value": "x"}] },
            { "name": "a", "assert": [{"type": "contains", "value": "y"}] }
        ]});
        assert_eq!(field(two), "name");
        assert_eq!(field(json!({ "cases": [], "pass_threshold": 2 })), "pass_threshold");
        assert_eq!(field(json!({ "cases": [], "extra": 1 })), "extra");
        let many: Vec<Value> = (0..=MAX_CASES)
            .map(|i| json!({ "name": format!("c{i}"), "assert": [{"type": "contains", "value": "x"}] }))
            .collect();
        assert_eq!(field(json!({ "cases": many })), "cases");
    }

    #[test]
    fn grading_passes_each_assertion_at_its_threshold_and_waits_for_the_judge() {
        let s = suite(every_kind()).unwrap();
        let case = &s.cases[0];
        let good = r#"{"answer": "yes, a refund within thirty days: 30 days"}"#;
        let mut g = case.grade(good, Some(900.0));
        assert_eq!(g.passed(), None, "the judge is still to answer");
        let asks = case.judge_asks();
        assert_eq!(asks.len(), 1);
        assert_eq!((asks[0].0, asks[0].2), (5, 0.7));
        g.judged(5, 0.8, 0.7);
        assert_eq!(g.passed(), Some(true));
        let kinds: Vec<_> = g.assertions.iter().map(|a| (a.kind.as_str(), a.passed)).collect();
        assert!(kinds.iter().all(|(_, p)| *p == Some(true)), "{kinds:?}");

        let mut bad = case.grade("sorry, no", Some(2500.0));
        bad.judged(5, 0.2, 0.7);
        let failed: Vec<&str> = bad
            .assertions
            .iter()
            .filter(|a| a.passed == Some(false))
            .map(|a| a.kind.as_str())
            .collect();
        assert_eq!(
            failed,
            [
                "contains",
                "not_contains",
                "regex",
                "json_valid",
                "similarity",
                "judge",
                "max_latency_ms"
            ]
        );
        assert_eq!(bad.passed(), Some(false));
        // No latency reported: a latency bound cannot be shown to hold.
        let mut unknown = case.grade(good, None);
        unknown.unjudged(5);
        assert_eq!(unknown.assertions[6].passed, Some(false));
    }

    #[test]
    fn run_requests_are_provider_runs_or_outputs_for_known_cases() {
        let s = suite(every_kind()).unwrap();
        let parse = |b: &str| RunRequest::parse(b.as_bytes()).and_then(|r| r.check(&s).map(|()| r));
        assert_eq!(parse("{}").unwrap(), RunRequest::Provider);
        let client = parse(r#"{"outputs": [{"case": "refund-ask", "output": "x", "latency_ms": 5}]}"#).unwrap();
        assert!(matches!(client, RunRequest::Client(ref o) if o.len() == 1 && o[0].latency_ms == Some(5.0)));
        for bad in [
            "",
            r#"{"outputs": [{"case": "other", "output": "x"}]}"#,
            r#"{"outputs": [{"case": "refund-ask"}, {"case": "refund-ask"}]}"#,
            r#"{"outputs": [{"case": "refund-ask", "latency_ms": -1}]}"#,
            r#"{"mode": "x"}"#,
        ] {
            assert_eq!(parse(bad).unwrap_err().status(), 400, "{bad}");
        }
        assert!(s.cases[0].no_output().passed() == Some(false));
        assert_eq!(best_run(&[0.5, 0.9, 0.7], 0.8).unwrap().pass_rate, 0.9);
        assert_eq!(best_run(&[], 0.8), None);
    }

    #[test]
    fn client_outputs_are_graded_case_by_case_and_missing_ones_fail() {
        let s = suite(json!({ "cases": [
            { "name": "a", "assert": [{ "type": "contains", "value": "yes" }] },
            { "name": "b", "assert": [{ "type": "not_contains", "value": "no" }] },
            { "name": "c", "assert": [{ "type": "contains", "value": "x" }] }
        ]}))
        .unwrap();
        let out = |case: &str, output: Option<&str>, error: Option<&str>| ClientOutput {
            case: case.into(),
            output: output.map(Into::into),
            error: error.map(Into::into),
            latency_ms: None,
            cost_usd: None,
        };
        let results = grade_client_outputs(&s, &[out("a", Some("yes"), None), out("b", None, Some("timeout"))]);
        let passed: Vec<_> = results.iter().map(|r| (r.case.as_str(), r.grade.passed())).collect();
        // b sent no output: not_contains must not pass on nothing.
        assert_eq!(passed, [("a", Some(true)), ("b", Some(false)), ("c", Some(false))]);
        assert_eq!(results[1].error.as_deref(), Some("timeout"));
        assert_eq!(results[2].error.as_deref(), Some("no output for this case"));
        assert_eq!(next_revision(None, &s), Some(1));
        assert_eq!(next_revision(Some((3, &s.hash())), &s), None);
        assert_eq!(next_revision(Some((3, "other")), &s), Some(4));
    }

    #[test]
    fn a_run_passes_at_the_suite_threshold_once_nothing_is_pending() {
        let r = RunSummary::of(&[Some(true), Some(true), None], 3, 1.0);
        assert_eq!((r.status, r.pending, r.pass_rate), ("running", 1, None));
        let r = RunSummary::of(&[Some(true), Some(true), Some(false)], 3, 0.6);
        assert_eq!((r.status, r.passed, r.failed), ("passed", 2, 1));
        assert!((r.pass_rate.unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(RunSummary::of(&[Some(true), Some(false)], 2, 1.0).status, "failed");
        assert_eq!(RunSummary::of(&[], 0, 1.0).status, "passed");
    }

    #[test]
    fn comparing_runs_puts_regressions_first_with_the_output_diff() {
        let o = |case: &str, passed: bool, output: &str| CaseOutcome {
            case: case.into(),
            passed: Some(passed),
            output: output.into(),
        };
        let a = [
            o("a", true, "refund in 30 days"),
            o("b", false, "no"),
            o("c", true, "same"),
            o("gone", true, "x"),
        ];
        let b = [
            o("a", false, "refund in 60 days"),
            o("b", true, "yes"),
            o("c", true, "same"),
            o("new", true, "y"),
        ];
        let changes = compare_runs(&a, &b);
        let kinds: Vec<(&str, &str)> = changes.iter().map(|c| (c.case.as_str(), c.change)).collect();
        assert_eq!(
            kinds,
            [
                ("a", "regressed"),
                ("b", "improved"),
                ("gone", "removed"),
                ("new", "added"),
                ("c", "unchanged")
            ]
        );
        assert!(changes[0].diff.as_ref().is_some_and(|d| !d.is_empty()));
        assert!(changes[4].diff.is_none());
    }
}
