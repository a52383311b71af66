//! Response views of telemetry: accepted batches, metrics, comparisons,
//! prices and promotion statistics.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::pricing::{seeded, ModelPrice, PRICE_TABLE_VERSION};
use crate::telemetry::{Comparison, EvaluatorScore, Rejected, VersionMetrics};

/// `POST /v1/executions` (202): how many records were queued, and which
/// were refused (by their position in the request).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExecutionsAcceptedView {
    pub accepted: usize,
    pub rejected: Vec<Rejected>,
}

/// `POST /v1/feedback` (202).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedbackAcceptedView {
    pub accepted: bool,
    pub execution_id: String,
}

/// One object of the raw telemetry log (`GET /v1/telemetry/log`): the
/// NDJSON records of one queue message, fetched by `id`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogObjectView {
    pub id: String,
    pub kind: &'static str,
    pub hour: String,
    pub bytes: u64,
}

/// `GET /v1/telemetry/log?day=…`: a page of one day's objects, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TelemetryLogView {
    pub day: String,
    pub items: Vec<LogObjectView>,
    pub next_cursor: Option<String>,
}

/// `GET /v1/prompts/{slug}/metrics`: per version, over an hour range of
/// one environment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricsView {
    pub prompt: String,
    pub environment: String,
    pub from: String,
    pub to: String,
    /// How far a latency quantile may be from the exact one, relatively.
    pub latency_relative_error_bound: f64,
    pub items: Vec<VersionMetricsView>,
}

/// The figures of one version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionMetricsView {
    pub version: u32,
    pub version_id: String,
    pub metrics: VersionMetrics,
    /// Evaluator name → its scores.
    pub evaluators: BTreeMap<String, EvaluatorScore>,
}

/// `GET /v1/prompts/{slug}/compare`: two versions and the tests between them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompareView {
    pub prompt: String,
    pub environment: String,
    pub from: String,
    pub to: String,
    pub a: ComparedVersionView,
    pub b: ComparedVersionView,
    pub comparison: Comparison,
}

/// One side of a comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComparedVersionView {
    pub version: u32,
    pub metrics: VersionMetrics,
}

/// `GET /v1/prices`: the built-in price table and the workspace's overrides.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PricesView {
    pub table_version: &'static str,
    /// Model → price, as built in.
    pub seeded: BTreeMap<String, ModelPrice>,
    pub overrides: Vec<PriceOverrideView>,
}

impl PricesView {
    pub fn new(overrides: Vec<PriceOverrideView>) -> Self {
        PricesView {
            table_version: PRICE_TABLE_VERSION,
            seeded: seeded(),
            overrides,
        }
    }
}

/// A workspace's price for one model (also the stored row; `PUT
/// /v1/prices/{model}` answers it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriceOverrideView {
    pub model: String,
    pub input_per_million: f64,
    pub output_per_million: f64,
    pub updated_at: String,
}

/// `GET /v1/stats/promotions`: promotions into an environment per week.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromotionStatsView {
    pub environment: String,
    pub weeks: Vec<WeekPromotionsView>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeekPromotionsView {
    /// The Monday the week starts, `YYYY-MM-DD`.
    pub week_start: String,
    pub promotions: u64,
}
