//! Telemetry rollups: what one queue message of executions, feedback or
//! evaluator scores adds to the hourly figures of each version, and the key
//! that makes each message count once.
//!
//! The consumer aggregates a message here (workspace × version ×
//! environment × hour) and D1 takes one upsert per group, so D1's writes
//! grow with the number of versions being served, not with traffic. Raw
//! records go to the raw log (see [`crate::raw_log`]), never to D1.
//!
//! Counting once: each message has a [`MessageKey`] derived from what it
//! carries (never from the queue's message id, so a client retrying the
//! same batch and a replayed dead letter are recognised too). D1 records
//! the key in a ledger in the same transaction as the upserts, and the
//! upserts only apply when this run's claim on the key is the one stored.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::canonical::sha256_hex;
use crate::histogram::Histogram;
use crate::telemetry::{ExecutionRow, RollupSums};

/// Days a ledger row is kept, whatever the raw log's retention: long
/// enough for every retry (the Queue's, a client's, a dead-letter replay of
/// a message that was never counted), short enough that the ledger stays a
/// small part of the database at 100 million executions a day (README,
/// "Telemetry capacity").
pub const LEDGER_DAYS: u32 = 7;

/// What a message's key is derived from: its kind, its workspace's records
/// (in order), nothing else.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MessageKey(String);

impl MessageKey {
    /// The key of a message of `kind` carrying the records named by `parts`
    /// (execution ids; or execution id and evaluator). 128 bits of SHA-256.
    pub fn of<'a>(kind: &str, parts: impl IntoIterator<Item = &'a str>) -> Self {
        let mut text = String::from(kind);
        for p in parts {
            // NUL cannot occur in ids, so the encoding is unambiguous.
            text.push('\0');
            text.push_str(p);
        }
        MessageKey(sha256_hex(text.as_bytes())[..32].to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One rollup row's share of a message: the group it adds to and what it
/// adds. Serialized as D1 reads it (`json_each` over an array of these).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RollupDelta {
    pub version_id: String,
    pub environment: String,
    pub hour: String,
    pub sums: RollupSums,
    /// Latency counts by bucket, `{"12": 3}`: merged into the stored
    /// histogram key by key.
    pub latency: BTreeMap<usize, u64>,
}

/// One evaluator's share of a message in one group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvaluatorDelta {
    pub version_id: String,
    pub environment: String,
    pub hour: String,
    pub evaluator: String,
    pub score_sum: f64,
    pub score_sq_sum: f64,
    pub score_count: u64,
}

type Group = (String, String, String);

fn group(version_id: &str, environment: &str, hour: &str) -> Group {
    (version_id.to_owned(), environment.to_owned(), hour.to_owned())
}

fn deltas(groups: BTreeMap<Group, (RollupSums, Histogram)>) -> Vec<RollupDelta> {
    groups
        .into_iter()
        .map(|((version_id, environment, hour), (sums, latency))| RollupDelta {
            version_id,
            environment,
            hour,
            sums,
            latency: latency.counts,
        })
        .collect()
}

/// What a message of executions adds, per (version, environment, hour).
pub fn of_executions(rows: &[ExecutionRow]) -> Vec<RollupDelta> {
    let mut groups: BTreeMap<Group, (RollupSums, Histogram)> = BTreeMap::new();
    for r in rows {
        let (sums, latency) = groups.entry(group(&r.version_id, &r.environment, &r.hour)).or_default();
        sums.calls += 1;
        sums.errors += u64::from(r.is_error);
        sums.cost_sum += r.cost_usd.unwrap_or(0.0);
        sums.tokens_in += u64::from(r.tokens_in);
        sums.tokens_out += u64::from(r.tokens_out);
        if let Some(s) = r.score {
            sums.score_sum += s;
            sums.score_sq_sum += s * s;
            sums.score_count += 1;
        }
        latency.add_bucket(r.latency_bucket, 1);
    }
    deltas(groups)
}

/// Feedback on one execution, as the consumer counts it: attributed to the
/// version and environment the client names, in the hour it arrived.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedbackRow {
    pub execution_id: String,
    pub value: i8,
    pub comment: Option<String>,
    pub version_id: String,
    pub environment: String,
    pub at: String,
}

/// What one feedback adds.
pub fn of_feedback(f: &FeedbackRow, hour: &str) -> Vec<RollupDelta> {
    let mut sums = RollupSums::default();
    if f.value > 0 {
        sums.feedback_up = 1;
    } else {
        sums.feedback_down = 1;
    }
    deltas(BTreeMap::from([(
        group(&f.version_id, &f.environment, hour),
        (sums, Histogram::default()),
    )]))
}

/// One evaluator's score of one execution, with the execution's group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreRow {
    pub execution_id: String,
    pub evaluator: String,
    pub score: f64,
    pub version_id: String,
    pub environment: String,
    pub hour: String,
}

impl ScoreRow {
    /// The key of a judge's score: judge calls cost money, so each is
    /// recorded as it comes and a retried job skips the recorded ones.
    pub fn judge_key(execution_id: &str, evaluator: &str) -> MessageKey {
        MessageKey::of("judge", [execution_id, evaluator])
    }
}

/// What a set of scores adds: to every score's version rollup (the mean
/// over all evaluators) and to each evaluator's own rollup.
pub fn of_scores(scores: &[ScoreRow]) -> (Vec<RollupDelta>, Vec<EvaluatorDelta>) {
    let mut groups: BTreeMap<Group, (RollupSums, Histogram)> = BTreeMap::new();
    let mut per_evaluator: BTreeMap<(Group, String), (f64, f64, u64)> = BTreeMap::new();
    for s in scores {
        let g = group(&s.version_id, &s.environment, &s.hour);
        let sums = &mut groups.entry(g.clone()).or_default().0;
        sums.score_sum += s.score;
        sums.score_sq_sum += s.score * s.score;
        sums.score_count += 1;
        let e = per_evaluator.entry((g, s.evaluator.clone())).or_default();
        e.0 += s.score;
        e.1 += s.score * s.score;
        e.2 += 1;
    }
    let evaluators = per_evaluator
        .into_iter()
        .map(
            |(((version_id, environment, hour), evaluator), (score_sum, score_sq_sum, score_count))| EvaluatorDelta {
                version_id,
                environment,
                hour,
                evaluator,
                score_sum,
                score_sq_sum,
                score_count,
            },
        )
        .collect();
    (deltas(groups), evaluators)
}

/// A stored latency column (`{"12": 3}`) as a histogram; an unreadable one
/// counts as empty rather than failing a metrics query.
pub fn latency_of(stored: &str) -> Histogram {
    let counts: BTreeMap<usize, u64> = serde_json::from_str(stored).unwrap_or_default();
    let mut h = Histogram::default();
    for (b, c) in counts {
        h.add_bucket(b, c);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::histogram::bucket_of;

    fn row(id: &str, version: &str, hour: &str, latency_ms: f64, error: bool, score: Option<f64>) -> ExecutionRow {
        ExecutionRow {
            id: id.into(),
            prompt_id: "p".into(),
            version_id: version.into(),
            environment: "production".into(),
            variant: None,
            latency_ms,
            latency_bucket: bucket_of(latency_ms),
            tokens_in: 10,
            tokens_out: 5,
            cost_usd: Some(0.25),
            score,
            is_error: u8::from(error),
            error: error.then(|| "boom".into()),
            model: None,
            output: None,
            reference: None,
            hour: hour.into(),
            day: hour[..10].into(),
            created_at: format!("{hour}:00:00.000Z"),
        }
    }

    #[test]
    fn a_message_becomes_one_delta_per_version_environment_and_hour() {
        let h1 = "2026-12-04T10";
        let h2 = "2026-12-04T11";
        let rows = [
            row("a", "v1", h1, 100.0, false, Some(0.5)),
            row("b", "v1", h1, 100.0, true, None),
            row("c", "v1", h2, 250.0, false, Some(1.0)),
            row("d", "v2", h1, 3.0, false, None),
        ];
        let d = of_executions(&rows);
        assert_eq!(d.len(), 3);
        let v1h1 = d.iter().find(|d| d.version_id == "v1" && d.hour == h1).unwrap();
        assert_eq!((v1h1.sums.calls, v1h1.sums.errors), (2, 1));
        assert_eq!((v1h1.sums.tokens_in, v1h1.sums.tokens_out), (20, 10));
        assert!((v1h1.sums.cost_sum - 0.5).abs() < 1e-12);
        assert_eq!((v1h1.sums.score_count, v1h1.sums.score_sum), (1, 0.5));
        assert_eq!(v1h1.latency, BTreeMap::from([(bucket_of(100.0), 2)]));
        // The sums over all deltas are the sums over all rows.
        assert_eq!(d.iter().map(|d| d.sums.calls).sum::<u64>(), 4);
        assert_eq!(d.iter().flat_map(|d| d.latency.values()).sum::<u64>(), 4);
    }

    #[test]
    fn deltas_serialize_as_d1_reads_them() {
        let d = of_executions(&[row("a", "v1", "2026-12-04T10", 100.0, false, None)]);
        let v = serde_json::to_value(&d[0]).unwrap();
        assert_eq!(v["sums"]["calls"], 1);
        assert_eq!(v["version_id"], "v1");
        assert_eq!(v["latency"][bucket_of(100.0).to_string()], 1);
    }

    #[test]
    fn keys_depend_on_kind_and_records_only() {
        let a = MessageKey::of("executions", ["e1", "e2"]);
        assert_eq!(a, MessageKey::of("executions", ["e1", "e2"]));
        assert_ne!(a, MessageKey::of("executions", ["e2", "e1"]));
        assert_ne!(a, MessageKey::of("feedback", ["e1", "e2"]));
        // No concatenation collisions.
        assert_ne!(MessageKey::of("x", ["ab", "c"]), MessageKey::of("x", ["a", "bc"]));
        assert_eq!(a.as_str().len(), 32);
    }

    #[test]
    fn feedback_counts_up_or_down_in_its_hour() {
        let f = FeedbackRow {
            execution_id: "e1".into(),
            value: -1,
            comment: None,
            version_id: "v1".into(),
            environment: "production".into(),
            at: "2026-12-04T10:30:00.000Z".into(),
        };
        let d = of_feedback(&f, "2026-12-04T10");
        assert_eq!(d.len(), 1);
        assert_eq!(
            (d[0].sums.feedback_up, d[0].sums.feedback_down, d[0].sums.calls),
            (0, 1, 0)
        );
    }

    #[test]
    fn scores_add_to_the_version_and_to_each_evaluator() {
        let s = |e: &str, ev: &str, score: f64| ScoreRow {
            execution_id: e.into(),
            evaluator: ev.into(),
            score,
            version_id: "v1".into(),
            environment: "production".into(),
            hour: "2026-12-04T10".into(),
        };
        let (versions, evaluators) = of_scores(&[s("e1", "json", 1.0), s("e1", "len", 0.0), s("e2", "json", 0.5)]);
        assert_eq!(versions.len(), 1);
        assert_eq!((versions[0].sums.score_count, versions[0].sums.score_sum), (3, 1.5));
        assert_eq!(evaluators.len(), 2);
        let json = evaluators.iter().find(|e| e.evaluator == "json").unwrap();
        assert_eq!((json.score_count, json.score_sum, json.score_sq_sum), (2, 1.5, 1.25));
        assert_ne!(ScoreRow::judge_key("e1", "a"), ScoreRow::judge_key("e1", "b"));
    }

    #[test]
    fn stored_latency_reads_back_and_garbage_reads_empty() {
        let h = latency_of(r#"{"3":2,"40":1}"#);
        assert_eq!(h.total(), 3);
        assert_eq!(latency_of("not json").total(), 0);
    }
}
