//! Promotion gates: what a version must have shown, in the environment whose
//! measurements count, before it may enter an environment. Every failing
//! gate is reported with its measured value and threshold.

use serde::Serialize;

use crate::environment::GatePolicy;
use crate::error::{Error, ErrorKind};

/// What the rollups say about one version in one environment, and how
/// it did on its prompt's current test suite.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Measurements {
    pub samples: u64,
    pub mean_score: Option<f64>,
    pub error_rate: Option<f64>,
    pub p95_ms: Option<f64>,
    pub test_run: Option<TestRunFact>,
}

/// The best finished run of the prompt's current suite revision against
/// the version (none: never run, or only against older revisions).
#[derive(Debug, Clone, PartialEq)]
pub struct TestRunFact {
    pub pass_rate: f64,
    /// The suite's own `pass_threshold`.
    pub suite_threshold: f64,
}

impl Measurements {
    /// From a version's rollup sums and its latency p95.
    pub fn of(calls: u64, errors: u64, score_sum: f64, score_count: u64, p95_ms: Option<f64>) -> Self {
        Measurements {
            samples: calls,
            mean_score: (score_count > 0).then(|| score_sum / score_count as f64),
            error_rate: (calls > 0).then(|| errors as f64 / calls as f64),
            p95_ms,
            test_run: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateFailure {
    pub gate: &'static str,
    /// None when there is nothing to measure (no calls, no scores).
    pub measured: Option<f64>,
    pub threshold: f64,
    pub message: String,
}

impl GatePolicy {
    /// Whether any measured gate is set (approval is not a measured gate).
    pub fn has_gates(&self) -> bool {
        self.min_samples.is_some()
            || self.min_score.is_some()
            || self.max_error_rate.is_some()
            || self.max_p95_ms.is_some()
            || self.needs_test_run()
    }

    /// Whether promotion needs a passing test run.
    pub fn needs_test_run(&self) -> bool {
        self.requires_test_run || self.min_test_pass_rate.is_some()
    }

    /// Every gate `m` fails.
    pub fn evaluate(&self, m: &Measurements) -> Vec<GateFailure> {
        let mut out = Vec::new();
        let mut check =
            |gate: &'static str, measured: Option<f64>, threshold: f64, pass: fn(f64, f64) -> bool, what: &str| {
                if !measured.is_some_and(|v| pass(v, threshold)) {
                    let message = match measured {
                        Some(v) => format!("{gate}: measured {v} {what} {threshold}"),
                        None => format!("{gate}: nothing measured yet; needs {what} {threshold}"),
                    };
                    out.push(GateFailure {
                        gate,
                        measured,
                        threshold,
                        message,
                    });
                }
            };
        if let Some(t) = self.min_samples {
            check(
                "min_samples",
                Some(m.samples as f64),
                t as f64,
                |v, t| v >= t,
                "< required",
            );
        }
        if let Some(t) = self.min_score {
            check("min_score", m.mean_score, t, |v, t| v >= t, "< required");
        }
        if let Some(t) = self.max_error_rate {
            check("max_error_rate", m.error_rate, t, |v, t| v <= t, "> allowed");
        }
        if let Some(t) = self.max_p95_ms {
            check("max_p95_ms", m.p95_ms, t, |v, t| v <= t, "> allowed");
        }
        if self.needs_test_run() {
            let threshold = self
                .min_test_pass_rate
                .or(m.test_run.as_ref().map(|r| r.suite_threshold))
                .unwrap_or(1.0);
            let measured = m.test_run.as_ref().map(|r| r.pass_rate);
            if !measured.is_some_and(|v| v >= threshold) {
                out.push(GateFailure {
                    gate: "test_run",
                    measured,
                    threshold,
                    message: match measured {
                        Some(v) => format!("test_run: pass rate {v} < required {threshold}"),
                        None => "test_run: missing; run the prompt's current test suite against this version".into(),
                    },
                });
            }
        }
        out
    }
}

/// The 422 listing every failing gate.
pub fn refusal(environment: &str, measured_in: &str, failures: &[GateFailure]) -> Error {
    Error::new(
        ErrorKind::GatesFailed,
        format!(
            "{} gate(s) of {environment} refused this version (measured in {measured_in}): {}",
            failures.len(),
            failures
                .iter()
                .map(|f| f.message.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        ),
    )
    .with_details(serde_json::json!({ "environment": environment, "measured_in": measured_in, "failures": failures }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> GatePolicy {
        GatePolicy {
            min_samples: Some(100),
            min_score: Some(0.8),
            max_error_rate: Some(0.05),
            max_p95_ms: Some(2000.0),
            ..GatePolicy::default()
        }
    }

    #[test]
    fn a_version_meeting_every_gate_passes() {
        let m = Measurements {
            samples: 150,
            mean_score: Some(0.9),
            error_rate: Some(0.01),
            p95_ms: Some(900.0),
            test_run: None,
        };
        assert!(policy().evaluate(&m).is_empty());
    }

    #[test]
    fn every_failing_gate_is_listed_with_measured_value_and_threshold() {
        let m = Measurements {
            samples: 40,
            mean_score: Some(0.5),
            error_rate: Some(0.2),
            p95_ms: Some(3000.0),
            test_run: None,
        };
        let failures = policy().evaluate(&m);
        let gates: Vec<&str> = failures.iter().map(|f| f.gate).collect();
        assert_eq!(gates, ["min_samples", "min_score", "max_error_rate", "max_p95_ms"]);
        assert_eq!(failures[0].measured, Some(40.0));
        assert_eq!(failures[0].threshold, 100.0);
        let e = refusal("production", "staging", &failures);
        assert_eq!(e.status(), 422);
        assert_eq!(e.code(), "gates_failed");
        assert_eq!(e.details()["failures"].as_array().unwrap().len(), 4);
    }

    #[test]
    fn nothing_measured_fails_measured_gates() {
        let failures = policy().evaluate(&Measurements::default());
        assert_eq!(failures.len(), 4);
        assert_eq!(failures[1].measured, None);
    }

    #[test]
    fn the_test_run_gate_needs_a_run_of_the_current_suite_at_its_threshold() {
        let policy = GatePolicy {
            requires_test_run: true,
            ..GatePolicy::default()
        };
        assert!(policy.has_gates());
        let missing = policy.evaluate(&Measurements::default());
        assert_eq!((missing[0].gate, missing[0].measured), ("test_run", None));
        let run = |pass_rate| Measurements {
            test_run: Some(TestRunFact {
                pass_rate,
                suite_threshold: 0.9,
            }),
            ..Measurements::default()
        };
        assert!(policy.evaluate(&run(0.95)).is_empty());
        let low = policy.evaluate(&run(0.8));
        assert_eq!((low[0].measured, low[0].threshold), (Some(0.8), 0.9));
        // The environment may ask for more than the suite does.
        let strict = GatePolicy {
            min_test_pass_rate: Some(1.0),
            ..GatePolicy::default()
        };
        assert_eq!(strict.evaluate(&run(0.95))[0].threshold, 1.0);
    }

    #[test]
    fn empty_policy_has_no_gates() {
        assert!(!GatePolicy::default().has_gates());
        assert!(GatePolicy::default().evaluate(&Measurements::default()).is_empty());
    }
}
