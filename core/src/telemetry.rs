//! Telemetry: execution records and feedback as clients send them,
//! validated one by one (a bad record is reported by index and the rest go
//! through), and the per-version figures computed from rollups.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, ErrorKind, Result};
use crate::histogram::Histogram;
use crate::names::EnvironmentName;

/// At most this many records in one `POST /v1/executions`.
pub const MAX_BATCH: usize = 1000;
/// Output text beyond this many characters is cut off.
pub const MAX_OUTPUT_CHARS: usize = 8192;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecord {
    id: String,
    prompt_version_id: String,
    environment: EnvironmentName,
    #[serde(default)]
    variant: Option<u32>,
    latency_ms: f64,
    #[serde(default)]
    tokens_in: u32,
    #[serde(default)]
    tokens_out: u32,
    #[serde(default)]
    cost_usd: Option<f64>,
    #[serde(default)]
    score: Option<f64>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    output: Option<String>,
    /// The expected answer, for `similarity` and `judge` evaluators; not stored.
    #[serde(default)]
    reference: Option<String>,
}

/// A validated execution record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionRecord {
    pub id: String,
    pub prompt_version_id: String,
    pub environment: String,
    pub variant: Option<u32>,
    pub latency_ms: f64,
    pub tokens_in: u32,
    pub tokens_out: u32,
    pub cost_usd: Option<f64>,
    pub score: Option<f64>,
    pub error: Option<String>,
    pub model: Option<String>,
    pub output: Option<String>,
    pub reference: Option<String>,
}

/// One execution as the API queues it: validated and enriched (its prompt,
/// latency bucket, price, hour). The raw log stores it without `reference`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionRow {
    pub id: String,
    pub prompt_id: String,
    pub version_id: String,
    pub environment: String,
    pub variant: Option<u32>,
    pub latency_ms: f64,
    pub latency_bucket: usize,
    pub tokens_in: u32,
    pub tokens_out: u32,
    pub cost_usd: Option<f64>,
    pub score: Option<f64>,
    pub is_error: u8,
    pub error: Option<String>,
    pub model: Option<String>,
    pub output: Option<String>,
    /// The expected answer for evaluators; passed on, never stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    pub hour: String,
    pub day: String,
    pub created_at: String,
}

impl ExecutionRow {
    /// The row as the raw log keeps it: the expected answer is handed to
    /// evaluators, never stored.
    pub fn logged(&self) -> ExecutionRow {
        ExecutionRow {
            reference: None,
            ..self.clone()
        }
    }
}

/// A record the batch refused, by position.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rejected {
    pub index: usize,
    pub code: &'static str,
    pub message: String,
}

fn is_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn record(value: Value) -> Result<ExecutionRecord> {
    crate::request::expect_object("record", &value)?;
    let raw: RawRecord = serde_json::from_value(value).map_err(|e| Error::invalid_field("record", e.to_string()))?;
    let bad = |field: &str, msg: &str| Err(Error::invalid_field(field, format!("{field} {msg}")));
    if !is_id(&raw.id) {
        return bad("id", "must be 1-64 characters of A-Z, a-z, 0-9, '-', '_'");
    }
    if !is_id(&raw.prompt_version_id) {
        return bad("prompt_version_id", "must be a version id");
    }
    if !(raw.latency_ms.is_finite() && (0.0..=3_600_000.0).contains(&raw.latency_ms)) {
        return bad("latency_ms", "must be between 0 and 3,600,000");
    }
    // Bounded so sums over millions of calls stay finite.
    if raw
        .cost_usd
        .is_some_and(|c| !(c.is_finite() && (0.0..=1_000_000.0).contains(&c)))
    {
        return bad("cost_usd", "must be between 0 and 1,000,000");
    }
    if raw.score.is_some_and(|s| !(0.0..=1.0).contains(&s)) {
        return bad("score", "must be between 0 and 1");
    }
    if raw.error.as_ref().is_some_and(|e| e.chars().count() > 2000) {
        return bad("error", "must be at most 2,000 characters");
    }
    if raw
        .model
        .as_ref()
        .is_some_and(|m| m.is_empty() || m.chars().count() > 200)
    {
        return bad("model", "must be 1 to 200 characters");
    }
    Ok(ExecutionRecord {
        id: raw.id,
        prompt_version_id: raw.prompt_version_id,
        environment: raw.environment.to_string(),
        variant: raw.variant,
        latency_ms: raw.latency_ms,
        tokens_in: raw.tokens_in,
        tokens_out: raw.tokens_out,
        cost_usd: raw.cost_usd,
        score: raw.score,
        error: raw.error,
        model: raw.model,
        output: raw.output.map(|o| o.chars().take(MAX_OUTPUT_CHARS).collect()),
        reference: raw.reference.map(|o| o.chars().take(MAX_OUTPUT_CHARS).collect()),
    })
}

/// A parsed batch: valid records with their positions, and the refused ones.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedBatch {
    pub records: Vec<(usize, ExecutionRecord)>,
    pub rejected: Vec<Rejected>,
}

/// Parses `{"executions": [...]}`: valid records with their positions, and
/// the rejected ones by position. Only a bad envelope fails the request.
pub fn parse_batch(body: &[u8]) -> Result<ParsedBatch> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Envelope {
        executions: Vec<Value>,
    }
    let env: Envelope = crate::request::parse_json(body)?;
    if env.executions.is_empty() || env.executions.len() > MAX_BATCH {
        return Err(Error::invalid_field(
            "executions",
            format!(
                "send 1 to {MAX_BATCH} records per request; got {}",
                env.executions.len()
            ),
        ));
    }
    let mut ok = Vec::new();
    let mut rejected = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (index, value) in env.executions.into_iter().enumerate() {
        match record(value) {
            Ok(r) if !seen.insert(r.id.clone()) => rejected.push(Rejected {
                index,
                code: "duplicate_id",
                message: format!("id {} repeats in this batch", r.id),
            }),
            Ok(r) => ok.push((index, r)),
            Err(e) => rejected.push(Rejected {
                index,
                code: e.code(),
                message: e.message().to_owned(),
            }),
        }
    }
    Ok(ParsedBatch { records: ok, rejected })
}

/// `POST /v1/feedback`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Feedback {
    pub execution_id: String,
    pub value: i8,
    #[serde(default)]
    pub comment: Option<String>,
    /// The version that produced the execution: feedback is counted on it
    /// without looking the execution up (raw executions are not in D1).
    pub prompt_version_id: String,
    pub environment: EnvironmentName,
}

impl Feedback {
    pub fn parse(body: &[u8]) -> Result<Self> {
        let f: Feedback = crate::request::parse_json(body)?;
        if !is_id(&f.execution_id) {
            return Err(Error::invalid_field(
                "execution_id",
                "execution_id must be an execution id",
            ));
        }
        if !is_id(&f.prompt_version_id) {
            return Err(Error::invalid_field(
                "prompt_version_id",
                "prompt_version_id must be a version id",
            ));
        }
        if f.value != 1 && f.value != -1 {
            return Err(Error::invalid_field(
                "value",
                "value is 1 (thumbs up) or -1 (thumbs down)",
            ));
        }
        if f.comment.as_ref().is_some_and(|c| c.chars().count() > 2000) {
            return Err(Error::invalid_field(
                "comment",
                "comment must be at most 2,000 characters",
            ));
        }
        Ok(f)
    }
}

/// Summed rollup columns of one version over a time range.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RollupSums {
    pub calls: u64,
    pub errors: u64,
    pub cost_sum: f64,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub score_sum: f64,
    pub score_sq_sum: f64,
    pub score_count: u64,
    pub feedback_up: u64,
    pub feedback_down: u64,
}

/// What `GET /v1/prompts/{slug}/metrics` reports per version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionMetrics {
    pub calls: u64,
    pub errors: u64,
    pub error_rate: Option<f64>,
    pub cost_total_usd: f64,
    pub cost_per_call_usd: Option<f64>,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub mean_score: Option<f64>,
    pub score_count: u64,
    pub feedback_up: u64,
    pub feedback_down: u64,
    pub feedback_rate: Option<f64>,
}

/// One evaluator's scores for a version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvaluatorScore {
    pub mean_score: Option<f64>,
    pub score_count: u64,
}

impl EvaluatorScore {
    pub fn from_sums(score_sum: f64, score_count: u64) -> Self {
        EvaluatorScore {
            mean_score: (score_count > 0).then(|| score_sum / score_count as f64),
            score_count,
        }
    }
}

pub fn summarize(sums: &RollupSums, latency: &Histogram) -> VersionMetrics {
    let per_call = |x: f64| (sums.calls > 0).then(|| x / sums.calls as f64);
    let feedback = sums.feedback_up + sums.feedback_down;
    VersionMetrics {
        calls: sums.calls,
        errors: sums.errors,
        error_rate: per_call(sums.errors as f64),
        cost_total_usd: sums.cost_sum,
        cost_per_call_usd: per_call(sums.cost_sum),
        tokens_in: sums.tokens_in,
        tokens_out: sums.tokens_out,
        p50_ms: latency.quantile(0.50),
        p95_ms: latency.quantile(0.95),
        p99_ms: latency.quantile(0.99),
        mean_score: (sums.score_count > 0).then(|| sums.score_sum / sums.score_count as f64),
        score_count: sums.score_count,
        feedback_up: sums.feedback_up,
        feedback_down: sums.feedback_down,
        // Share of rated calls that were thumbs up.
        feedback_rate: (feedback > 0).then(|| sums.feedback_up as f64 / feedback as f64),
    }
}

/// The hour bucket (`2026-11-24T12`) and day (`2026-11-24`) of an ISO time.
pub fn hour_and_day(iso: &str) -> Result<(String, String)> {
    // YYYY-MM-DDTHH, checked byte by byte (never slicing unchecked text).
    let shape = b"dddd-dd-ddTdd";
    let ok = iso.len() >= shape.len()
        && iso
            .bytes()
            .zip(shape)
            .all(|(b, s)| if *s == b'd' { b.is_ascii_digit() } else { b == *s });
    if !ok {
        return Err(Error::new(
            ErrorKind::InvalidQuery,
            "times are ISO-8601 UTC, e.g. 2026-11-24T12:00:00Z",
        ));
    }
    Ok((iso[..13].to_owned(), iso[..10].to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(records: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({ "executions": records })).unwrap()
    }

    #[test]
    fn bad_records_are_rejected_by_index_and_the_rest_pass() {
        let good = json!({"id": "e1", "prompt_version_id": "v1", "environment": "production", "latency_ms": 120.5,
                          "tokens_in": 10, "tokens_out": 20, "output": "x".repeat(9000)});
        let ParsedBatch { records: ok, rejected } = parse_batch(&body(json!([
            good,
            {"id": "e2", "prompt_version_id": "v1", "environment": "production", "latency_ms": -1},
            {"id": "e3", "prompt_version_id": "v1", "environment": "production", "latency_ms": 1, "score": 2},
            "not an object",
            {"id": "e1", "prompt_version_id": "v1", "environment": "production", "latency_ms": 1},
            {"id": "bad id!", "prompt_version_id": "v1", "environment": "production", "latency_ms": 1},
            {"id": "e7", "prompt_version_id": "v1", "environment": "production", "latency_ms": 1, "extra": true}
        ])))
        .unwrap();
        assert_eq!(ok.len(), 1);
        assert_eq!(ok[0].0, 0);
        assert_eq!(ok[0].1.output.as_ref().unwrap().chars().count(), MAX_OUTPUT_CHARS);
        let idx: Vec<usize> = rejected.iter().map(|r| r.index).collect();
        assert_eq!(idx, [1, 2, 3, 4, 5, 6]);
        assert_eq!(rejected[3].code, "duplicate_id");
    }

    #[test]
    fn envelope_limits() {
        assert!(parse_batch(&body(json!([]))).is_err());
        let many: Vec<Value> = (0..1001).map(|i| json!({"id": format!("e{i}")})).collect();
        assert!(parse_batch(&body(Value::Array(many))).is_err());
        assert!(parse_batch(br#"{"records": []}"#).is_err());
    }

    #[test]
    fn feedback_is_plus_or_minus_one() {
        let with = |rest: &str| format!(r#"{{"execution_id":"e1",{rest}}}"#);
        let ok = r#""prompt_version_id":"v1","environment":"production""#;
        assert!(Feedback::parse(with(&format!(r#""value":1,{ok}"#)).as_bytes()).is_ok());
        assert!(Feedback::parse(with(&format!(r#""value":0,{ok}"#)).as_bytes()).is_err());
        assert!(Feedback::parse(with(&format!(r#""value":5,{ok}"#)).as_bytes()).is_err());
        // Counted on the version the client names: without it there is nothing to count on.
        assert!(Feedback::parse(with(r#""value":1"#).as_bytes()).is_err());
        assert!(Feedback::parse(with(r#""value":1,"prompt_version_id":"v1""#).as_bytes()).is_err());
        assert!(
            Feedback::parse(with(r#""value":1,"prompt_version_id":"v 1","environment":"production""#).as_bytes())
                .is_err()
        );
    }

    #[test]
    fn metrics_from_rollups() {
        let sums = RollupSums {
            calls: 4,
            errors: 1,
            cost_sum: 0.02,
            score_sum: 1.5,
            score_count: 2,
            feedback_up: 3,
            feedback_down: 1,
            ..Default::default()
        };
        let mut h = Histogram::default();
        for ms in [10.0, 20.0, 30.0, 1000.0] {
            h.add(ms);
        }
        let m = summarize(&sums, &h);
        assert_eq!(m.error_rate, Some(0.25));
        assert_eq!(m.cost_per_call_usd, Some(0.005));
        assert_eq!(m.mean_score, Some(0.75));
        assert_eq!(m.feedback_rate, Some(0.75));
        let p50 = m.p50_ms.unwrap();
        assert!((p50 - 20.0).abs() / 20.0 < crate::histogram::RELATIVE_ERROR_BOUND);
        assert!(m.p99_ms.unwrap() > 900.0);
        let empty = summarize(&RollupSums::default(), &Histogram::default());
        assert_eq!((empty.error_rate, empty.p50_ms), (None, None));
    }

    #[test]
    fn hours_and_days() {
        assert_eq!(
            hour_and_day("2026-11-24T12:34:56.000Z").unwrap(),
            ("2026-11-24T12".into(), "2026-11-24".into())
        );
        assert!(hour_and_day("2026").is_err());
        // Found by schemathesis: multi-byte text must not be sliced.
        assert!(hour_and_day("\u{1a63b}É\u{85}\u{16}ª\u{94}£").is_err());
        assert!(hour_and_day("2026-11-24 12:00").is_err());
    }
}

/// One metric of a comparison: both values and the test between them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricComparison {
    pub metric: &'static str,
    pub a: Option<f64>,
    pub b: Option<f64>,
    pub test: &'static str,
    pub result: Option<crate::stats::TestResult>,
    /// Whether a higher value is better for this metric.
    pub higher_is_better: bool,
}

/// Two versions side by side with a significance test per metric and a
/// plain-language verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub metrics: Vec<MetricComparison>,
    pub verdict: String,
}

/// Compares version `a` with version `b` (labels for the verdict).
pub fn compare(labels: (&str, &str), a: (&RollupSums, &Histogram), b: (&RollupSums, &Histogram)) -> Comparison {
    use crate::stats::{moments, two_proportion_z_test, welch_t_test};
    let (sa, sb) = (a.0, b.0);
    let rate = |x: u64, n: u64| (n > 0).then(|| x as f64 / n as f64);
    let score = |s: &RollupSums| moments(s.score_count, s.score_sum, s.score_sq_sum);
    let mut metrics = vec![
        MetricComparison {
            metric: "error_rate",
            a: rate(sa.errors, sa.calls),
            b: rate(sb.errors, sb.calls),
            test: "two-proportion z-test",
            result: two_proportion_z_test(sa.errors, sa.calls, sb.errors, sb.calls),
            higher_is_better: false,
        },
        MetricComparison {
            metric: "feedback_rate",
            a: rate(sa.feedback_up, sa.feedback_up + sa.feedback_down),
            b: rate(sb.feedback_up, sb.feedback_up + sb.feedback_down),
            test: "two-proportion z-test",
            result: two_proportion_z_test(
                sa.feedback_up,
                sa.feedback_up + sa.feedback_down,
                sb.feedback_up,
                sb.feedback_up + sb.feedback_down,
            ),
            higher_is_better: true,
        },
    ];
    let (ma, mb) = (score(sa), score(sb));
    metrics.push(MetricComparison {
        metric: "mean_score",
        a: ma.map(|m| m.0),
        b: mb.map(|m| m.0),
        test: "Welch's t-test",
        result: ma
            .zip(mb)
            .and_then(|((m1, v1), (m2, v2))| welch_t_test(m1, v1, sa.score_count, m2, v2, sb.score_count)),
        higher_is_better: true,
    });
    let (la, lb) = (a.1.moments(), b.1.moments());
    metrics.push(MetricComparison {
        metric: "latency_mean_ms",
        a: la.map(|m| m.0),
        b: lb.map(|m| m.0),
        test: "Welch's t-test",
        result: la
            .zip(lb)
            .and_then(|((m1, v1, n1), (m2, v2, n2))| welch_t_test(m1, v1, n1, m2, v2, n2)),
        higher_is_better: false,
    });
    let findings: Vec<String> = metrics
        .iter()
        .filter_map(|m| {
            let (r, va, vb) = (m.result?, m.a?, m.b?);
            if !r.significant {
                return None;
            }
            let b_better = (vb > va) == m.higher_is_better;
            let who = if b_better { labels.1 } else { labels.0 };
            Some(format!(
                "{who} is better on {} ({va:.4} vs {vb:.4}, p = {:.4})",
                m.metric, r.p_value
            ))
        })
        .collect();
    let verdict = if findings.is_empty() {
        format!("no significant difference yet ({} vs {} calls)", sa.calls, sb.calls)
    } else {
        findings.join("; ")
    };
    Comparison { metrics, verdict }
}

#[cfg(test)]
mod compare_tests {
    use super::*;

    #[test]
    fn a_clear_error_rate_difference_is_called_and_noise_is_not() {
        let a = RollupSums {
            calls: 1000,
            errors: 80,
            ..Default::default()
        };
        let b = RollupSums {
            calls: 1000,
            errors: 30,
            ..Default::default()
        };
        let h = Histogram::default();
        let c = compare(("v1", "v2"), (&a, &h), (&b, &h));
        let err = &c.metrics[0];
        assert!(err.result.unwrap().significant);
        assert!(c.verdict.contains("v2 is better on error_rate"), "{}", c.verdict);
        let noise = compare(
            ("v1", "v2"),
            (&a, &h),
            (
                &RollupSums {
                    calls: 1000,
                    errors: 78,
                    ..Default::default()
                },
                &h,
            ),
        );
        assert!(
            noise.verdict.starts_with("no significant difference"),
            "{}",
            noise.verdict
        );
    }
}
