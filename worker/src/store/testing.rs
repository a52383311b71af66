//! Test suites (append-only revisions), test runs and their case results.

use serde::Deserialize;
use worker::Result;

use pvct_core::audit::AuditEntry;
use pvct_core::test_suite::{RunSummary, Suite};

use super::{decode, Arg, Store};

/// One stored suite revision.
pub struct SuiteRow {
    pub revision: u32,
    pub suite: Suite,
    pub suite_hash: String,
    pub author: String,
    pub created_at: String,
}

#[derive(Deserialize)]
struct RawSuiteRow {
    revision: u32,
    suite: String,
    suite_hash: String,
    author: String,
    created_at: String,
}

impl RawSuiteRow {
    fn decode(self) -> Result<SuiteRow> {
        Ok(SuiteRow {
            revision: self.revision,
            suite: Suite::from_stored(&self.suite).map_err(|e| worker::Error::RustError(e.message().to_owned()))?,
            suite_hash: self.suite_hash,
            author: self.author,
            created_at: self.created_at,
        })
    }
}

/// A run with its counts (results with passed = 1 / 0) and its suite's threshold.
#[derive(Debug, Clone, Deserialize)]
pub struct RunRow {
    pub id: String,
    pub version_id: String,
    pub version_number: u32,
    pub suite_revision: u32,
    pub mode: String,
    pub total: u32,
    pub started_by: String,
    pub started_at: String,
    pub passed: u32,
    pub failed: u32,
    pub pass_threshold: f64,
}

impl RunRow {
    /// The run's state from its counts.
    pub fn summary(&self) -> RunSummary {
        RunSummary::from_counts(
            self.total as usize,
            self.passed as usize,
            self.failed as usize,
            self.pass_threshold,
        )
    }
}

/// One case result as stored.
#[derive(Debug, Clone, Deserialize)]
pub struct ResultRow {
    pub case_name: String,
    pub passed: Option<u8>,
    pub output: String,
    pub error: Option<String>,
    pub latency_ms: Option<f64>,
    pub cost_usd: Option<f64>,
    pub grade: String,
}

/// A result to write: the grade as its JSON.
pub struct NewResult<'a> {
    pub case_name: &'a str,
    pub passed: Option<bool>,
    pub output: &'a str,
    pub error: Option<&'a str>,
    pub latency_ms: Option<f64>,
    pub cost_usd: Option<f64>,
    pub grade: String,
}

/// A new run.
pub struct NewRun<'a> {
    pub id: &'a str,
    pub workspace_id: &'a str,
    pub prompt_id: &'a str,
    pub version_id: &'a str,
    pub version_number: u32,
    pub suite_revision: u32,
    pub mode: &'a str,
    pub total: u32,
    pub started_by: &'a str,
    pub started_at: &'a str,
}

const RUN_COLUMNS: &str = "r.id, r.version_id, r.version_number, r.suite_revision, r.mode, r.total, r.started_by, \
     r.started_at, (SELECT COUNT(*) FROM test_results t WHERE t.run_id = r.id AND t.passed = 1) AS passed, \
     (SELECT COUNT(*) FROM test_results t WHERE t.run_id = r.id AND t.passed = 0) AS failed, \
     (SELECT COALESCE(json_extract(s.suite, '$.pass_threshold'), 1.0) FROM test_suites s \
      WHERE s.prompt_id = r.prompt_id AND s.revision = r.suite_revision) AS pass_threshold";

impl Store {
    /// The prompt's current suite revision, if it has one.
    pub async fn test_suite(&self, prompt_id: &str) -> Result<Option<SuiteRow>> {
        let row: Option<RawSuiteRow> = self
            .first(
                "SELECT revision, suite, suite_hash, author, created_at FROM test_suites WHERE prompt_id = ? \
                 ORDER BY revision DESC LIMIT 1",
                &[prompt_id.into()],
            )
            .await?;
        row.map(RawSuiteRow::decode).transpose()
    }

    /// One revision of the prompt's suite.
    pub async fn test_suite_at(&self, prompt_id: &str, revision: u32) -> Result<Option<SuiteRow>> {
        let row: Option<RawSuiteRow> = self
            .first(
                "SELECT revision, suite, suite_hash, author, created_at FROM test_suites WHERE prompt_id = ? \
                 AND revision = ?",
                &[prompt_id.into(), revision.into()],
            )
            .await?;
        row.map(RawSuiteRow::decode).transpose()
    }

    /// Appends revision `revision` of the prompt's suite with its audit row;
    /// fails (writing nothing) if another writer took that revision.
    #[allow(clippy::too_many_arguments)]
    pub async fn put_test_suite(
        &self,
        workspace_id: &str,
        prompt_id: &str,
        revision: u32,
        suite: &Suite,
        author: &str,
        at: &str,
        audit: &AuditEntry,
    ) -> Result<()> {
        let json = suite.to_json().to_string();
        let hash = suite.hash();
        self.audited(
            self.stmt(
                "INSERT INTO test_suites (prompt_id, revision, workspace_id, suite, suite_hash, author, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
                &[
                    prompt_id.into(),
                    revision.into(),
                    workspace_id.into(),
                    (&json).into(),
                    (&hash).into(),
                    author.into(),
                    at.into(),
                ],
            )?,
            audit,
        )
        .await
    }

    /// Writes a run, its first results (a client's graded outputs) and its
    /// audit row in one batch.
    pub async fn insert_test_run(&self, run: &NewRun<'_>, results: &[NewResult<'_>], audit: &AuditEntry) -> Result<()> {
        let mut batch = vec![self.stmt(
            "INSERT INTO test_runs (id, workspace_id, prompt_id, version_id, version_number, suite_revision, mode, \
             total, started_by, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            &[
                run.id.into(),
                run.workspace_id.into(),
                run.prompt_id.into(),
                run.version_id.into(),
                run.version_number.into(),
                run.suite_revision.into(),
                run.mode.into(),
                run.total.into(),
                run.started_by.into(),
                run.started_at.into(),
            ],
        )?];
        batch.extend(self.results_stmts(run.id, results, run.started_at)?);
        batch.push(self.audit_stmt(audit)?);
        self.batch(batch).await
    }

    /// Inserts results once: a case already recorded for the run is kept.
    /// One statement per ~1 MB of results: D1 takes a bound value of up to
    /// 2 MB, and a suite's outputs can be ten times that.
    fn results_stmts(
        &self,
        run_id: &str,
        results: &[NewResult<'_>],
        at: &str,
    ) -> Result<Vec<worker::D1PreparedStatement>> {
        const CHUNK_BYTES: usize = 1024 * 1024;
        let mut chunks: Vec<Vec<serde_json::Value>> = vec![Vec::new()];
        let mut size = 0usize;
        for r in results {
            let row = serde_json::json!({
                "case": r.case_name, "passed": r.passed.map(u8::from), "output": r.output, "error": r.error,
                "latency_ms": r.latency_ms, "cost_usd": r.cost_usd, "grade": r.grade,
            });
            let len = row.to_string().len();
            if size + len > CHUNK_BYTES && chunks.last().is_some_and(|c| !c.is_empty()) {
                chunks.push(Vec::new());
                size = 0;
            }
            size += len;
            if let Some(c) = chunks.last_mut() {
                c.push(row);
            }
        }
        chunks
            .into_iter()
            .filter(|c| !c.is_empty())
            .map(|rows| {
                let rows = super::encode(&rows)?;
                self.stmt(
                    "INSERT OR IGNORE INTO test_results (run_id, case_name, passed, output, error, latency_ms, cost_usd, \
                     grade, created_at) SELECT ?1, json_extract(value, '$.case'), json_extract(value, '$.passed'), \
                     json_extract(value, '$.output'), json_extract(value, '$.error'), json_extract(value, '$.latency_ms'), \
                     json_extract(value, '$.cost_usd'), json_extract(value, '$.grade'), ?3 FROM json_each(?2)",
                    &[run_id.into(), (&rows).into(), at.into()],
                )
            })
            .collect()
    }

    /// Records results of a run (the provider's jobs), each case once.
    pub async fn record_test_results(&self, run_id: &str, results: &[NewResult<'_>], at: &str) -> Result<()> {
        let statements = self.results_stmts(run_id, results, at)?;
        if statements.is_empty() {
            return Ok(());
        }
        self.batch(statements).await
    }

    /// A judged case's new grade and outcome, if its grade is still `old`:
    /// of two judge jobs on one case, the later never undoes the earlier.
    pub async fn update_test_result(
        &self,
        run_id: &str,
        case_name: &str,
        old: &str,
        passed: Option<bool>,
        grade: &str,
    ) -> Result<()> {
        let passed = passed.map_or(Arg::Null, |p| Arg::Int(i64::from(p)));
        self.run(
            "UPDATE test_results SET passed = ?, grade = ? WHERE run_id = ? AND case_name = ? AND grade = ?",
            &[passed, grade.into(), run_id.into(), case_name.into(), old.into()],
        )
        .await
    }

    /// Each recorded case of a run and whether it passed (None: a judge
    /// answer is awaited), without the outputs.
    pub async fn test_result_states(&self, run_id: &str) -> Result<Vec<(String, Option<bool>)>> {
        #[derive(Deserialize)]
        struct Row {
            case_name: String,
            passed: Option<u8>,
        }
        let rows: Vec<Row> = self
            .all(
                "SELECT case_name, passed FROM test_results WHERE run_id = ?",
                &[run_id.into()],
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.case_name, r.passed.map(|p| p == 1)))
            .collect())
    }

    /// The prompt's runs, newest first (of one version when given), at most 100.
    pub async fn test_runs(&self, prompt_id: &str, version: Option<u32>) -> Result<Vec<RunRow>> {
        let version = version.map_or(Arg::Null, Arg::from);
        self.all(
            &format!(
                "SELECT {RUN_COLUMNS} FROM test_runs r WHERE r.prompt_id = ?1 \
                 AND (?2 IS NULL OR r.version_number = ?2) ORDER BY r.started_at DESC, r.id DESC LIMIT 100"
            ),
            &[prompt_id.into(), version],
        )
        .await
    }

    /// One run of the prompt.
    pub async fn test_run(&self, prompt_id: &str, id: &str) -> Result<Option<RunRow>> {
        self.first(
            &format!("SELECT {RUN_COLUMNS} FROM test_runs r WHERE r.prompt_id = ? AND r.id = ?"),
            &[prompt_id.into(), id.into()],
        )
        .await
    }

    /// A run by id alone, with its prompt (the queue's jobs).
    pub async fn test_run_by_id(&self, workspace_id: &str, id: &str) -> Result<Option<(String, RunRow)>> {
        #[derive(Deserialize)]
        struct Row {
            prompt_id: String,
            #[serde(flatten)]
            run: RunRow,
        }
        let row: Option<Row> = self
            .first(
                &format!("SELECT r.prompt_id, {RUN_COLUMNS} FROM test_runs r WHERE r.workspace_id = ? AND r.id = ?"),
                &[workspace_id.into(), id.into()],
            )
            .await?;
        Ok(row.map(|r| (r.prompt_id, r.run)))
    }

    /// A run's results in case order.
    pub async fn test_results(&self, run_id: &str) -> Result<Vec<ResultRow>> {
        self.all(
            "SELECT case_name, passed, output, error, latency_ms, cost_usd, grade FROM test_results WHERE run_id = ? \
             ORDER BY case_name",
            &[run_id.into()],
        )
        .await
    }

    /// Pass rates of the finished runs of the prompt's current suite
    /// revision, by version id, and that revision's threshold: what the
    /// test_run gate reads.
    pub async fn test_run_pass_rates(&self, prompt_id: &str) -> Result<(Vec<(String, f64)>, Option<f64>)> {
        let Some(current) = self.test_suite(prompt_id).await? else {
            return Ok((Vec::new(), None));
        };
        let rows: Vec<RunRow> = self
            .all(
                &format!("SELECT {RUN_COLUMNS} FROM test_runs r WHERE r.prompt_id = ? AND r.suite_revision = ?"),
                &[prompt_id.into(), current.revision.into()],
            )
            .await?;
        let rates = rows
            .into_iter()
            .filter_map(|r| Some((r.summary().pass_rate?, r.version_id)))
            .map(|(rate, id)| (id, rate))
            .collect();
        Ok((rates, Some(current.suite.pass_threshold)))
    }
}

/// A stored grade back as its assertions.
pub fn grade_of(row: &ResultRow) -> Result<pvct_core::test_suite::CaseGrade> {
    decode(&row.grade)
}
