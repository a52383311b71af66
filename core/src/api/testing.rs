//! Response views of test suites and their runs.

use serde::Serialize;
use serde_json::Value;

use crate::test_suite::{CaseChange, RunSummary, Suite};

/// `GET`/`PUT /v1/prompts/{slug}/tests`: the current revision of a prompt's
/// suite (revision 0 and no cases before the first `PUT`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestSuiteView {
    pub prompt: String,
    pub revision: u32,
    pub cases: Value,
    pub pass_threshold: f64,
    pub auto_run: bool,
    pub author: Option<String>,
    pub created_at: Option<String>,
}

impl TestSuiteView {
    pub fn new(prompt: &str, revision: u32, suite: &Suite, author: Option<String>, created_at: Option<String>) -> Self {
        let stored = suite.to_json();
        TestSuiteView {
            prompt: prompt.to_owned(),
            revision,
            cases: stored["cases"].clone(),
            pass_threshold: suite.pass_threshold,
            auto_run: suite.auto_run,
            author,
            created_at,
        }
    }
}

/// One case's result in a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestResultView {
    pub case: String,
    /// `null` while a judge assertion waits for its answer.
    pub passed: Option<bool>,
    pub output: String,
    /// Why there is no output (the provider failed, or the client sent none).
    pub error: Option<String>,
    pub latency_ms: Option<f64>,
    pub cost_usd: Option<f64>,
    /// Each assertion: `type`, `passed`, `score`.
    pub assertions: Value,
}

/// A test run of one version against one suite revision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestRunView {
    pub id: String,
    pub prompt: String,
    pub version: u32,
    pub suite_revision: u32,
    /// `provider` (the server ran the prompt) or `client` (`pvct test --exec`).
    pub mode: String,
    /// `running`, `passed` or `failed`.
    pub status: &'static str,
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
    pub pending: usize,
    pub pass_rate: Option<f64>,
    pub pass_threshold: f64,
    pub started_by: String,
    pub started_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub results: Option<Vec<TestResultView>>,
}

/// What a run row says, before its results are counted.
#[derive(Debug, Clone, PartialEq)]
pub struct TestRunHead {
    pub id: String,
    pub prompt: String,
    pub version: u32,
    pub suite_revision: u32,
    pub mode: String,
    pub started_by: String,
    pub started_at: String,
}

impl TestRunView {
    pub fn new(
        head: TestRunHead,
        summary: RunSummary,
        pass_threshold: f64,
        results: Option<Vec<TestResultView>>,
    ) -> Self {
        TestRunView {
            id: head.id,
            prompt: head.prompt,
            version: head.version,
            suite_revision: head.suite_revision,
            mode: head.mode,
            status: summary.status,
            total: summary.total,
            passed: summary.passed,
            failed: summary.failed,
            pending: summary.pending,
            pass_rate: summary.pass_rate,
            pass_threshold,
            started_by: head.started_by,
            started_at: head.started_at,
            results,
        }
    }
}

/// `GET /v1/prompts/{slug}/test-runs/compare?a=…&b=…`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestRunCompareView {
    pub a: TestRunView,
    pub b: TestRunView,
    /// Every case of either run, regressions first.
    pub cases: Vec<CaseChange>,
}
