//! Response views: every JSON answer of the API is one of these types, so
//! its shape is defined once, here, and handlers only fill it in.
//!
//! This file holds the views of the release pipeline: deployments,
//! experiments and approvals, used by the list routes and by the planner's
//! answers alike, so a field never differs between "what a promote said" and
//! "what the history lists". The others are in submodules by resource,
//! re-exported here; lists answer [`Page`] or [`Items`].

use serde::{Deserialize, Serialize};

use crate::deployment::DeploymentAction;
use crate::routing::VariantSpec;

mod access;
mod config;
mod list;
mod registry;
mod telemetry;
mod testing;

pub use access::{
    AccessView, AdminKeyView, ApiKeyCreatedView, ApiKeyView, AuditEntryView, AuthConfigView, EdgeStatus, HealthView,
    KeyRevokedView, MeView, MemberRemovedView, WorkspaceCreatedView, WorkspaceView,
};
pub use config::{
    DeadLetterView, EmailView, EnvironmentView, EvaluatorsView, JudgeView, NotificationsView, RedeliveryView,
    SettingsView, SlackView, WebhookCreatedView, WebhookDeletedView, WebhookView, JUDGE_MISSING,
};
pub use list::{Items, Page};
pub use registry::{
    CommitView, DependentView, DependentsView, DiffView, LiveDeploymentView, PromptDetailView, PromptView,
    RenderRouting, RenderView, VersionSummaryView, VersionView,
};
pub use telemetry::{
    CompareView, ComparedVersionView, ExecutionsAcceptedView, FeedbackAcceptedView, LogObjectView, MetricsView,
    PriceOverrideView, PricesView, PromotionStatsView, TelemetryLogView, VersionMetricsView, WeekPromotionsView,
};
pub use testing::{TestResultView, TestRunCompareView, TestRunHead, TestRunView, TestSuiteView};

/// One row of an environment's deployment history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentView {
    pub id: String,
    pub environment: String,
    pub version: u32,
    pub version_id: String,
    pub action: DeploymentAction,
    pub reason: String,
    pub actor: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExperimentStatus {
    Running,
    Ended,
}

/// An A/B split, running or ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentView {
    pub id: String,
    pub prompt: String,
    pub environment: String,
    pub name: String,
    pub salt: String,
    pub variants: Vec<VariantSpec>,
    pub status: ExperimentStatus,
    pub started_by: String,
    pub started_at: String,
    pub updated_at: String,
    pub ended_by: Option<String>,
    pub ended_at: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    Pending,
    Approved,
    Rejected,
    /// A newer request, or a change to what the environment serves, made
    /// this request moot before anyone decided it.
    Superseded,
}

impl ApprovalStatus {
    pub const ALL: [ApprovalStatus; 4] = [
        ApprovalStatus::Pending,
        ApprovalStatus::Approved,
        ApprovalStatus::Rejected,
        ApprovalStatus::Superseded,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Pending => "pending",
            ApprovalStatus::Approved => "approved",
            ApprovalStatus::Rejected => "rejected",
            ApprovalStatus::Superseded => "superseded",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }
}

/// What an approval request asks for: a promotion, or a traffic split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RequestedChange {
    Promote {
        version: u32,
        #[serde(default)]
        end_experiment: bool,
        #[serde(default)]
        accept_variable_changes: bool,
    },
    Experiment {
        variants: Vec<VariantSpec>,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        salt: Option<String>,
        #[serde(default)]
        accept_variable_changes: bool,
    },
}

impl RequestedChange {
    /// Every version the change would put in front of users.
    pub fn versions(&self) -> Vec<u32> {
        match self {
            RequestedChange::Promote { version, .. } => vec![*version],
            RequestedChange::Experiment { variants, .. } => variants.iter().map(|v| v.version).collect(),
        }
    }
}

/// One approval request of the queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalView {
    pub id: String,
    pub prompt: String,
    pub environment: String,
    /// `promote` or `experiment`, with what it asks for.
    #[serde(flatten)]
    pub change: RequestedChange,
    pub reason: String,
    pub status: ApprovalStatus,
    pub requested_by: String,
    #[serde(skip_serializing)]
    pub requested_by_key: String,
    /// The email of the person who asked, when one is known (four eyes
    /// compares it).
    #[serde(default)]
    pub requested_by_person: Option<String>,
    /// The prompt's release sequence in the environment when it was asked:
    /// deciding it after that moved is refused as stale.
    pub base_seq: u64,
    pub decided_by: Option<String>,
    pub decision_note: Option<String>,
    pub created_at: String,
    pub decided_at: Option<String>,
    /// For each version the change asks for: its latest run of the prompt's
    /// current test suite, so an approver sees how it did (read when the
    /// approval is listed or fetched; empty in the answer that files it).
    #[serde(default, skip_deserializing)]
    pub test_runs: Vec<ApprovalTestRunView>,
}

/// A version's latest test run, as an approval shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApprovalTestRunView {
    pub version: u32,
    pub run_id: String,
    pub status: &'static str,
    pub pass_rate: Option<f64>,
}

/// A run as stored, before it is summarized for an approval.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StoredRunCounts {
    pub version: u32,
    pub id: String,
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
    pub pass_threshold: f64,
    pub started_at: String,
}

impl ApprovalTestRunView {
    /// The latest run per version, by version.
    pub fn latest(mut runs: Vec<StoredRunCounts>) -> Vec<Self> {
        runs.sort_by(|a, b| (a.version, &b.started_at).cmp(&(b.version, &a.started_at)));
        runs.dedup_by_key(|r| r.version);
        runs.into_iter()
            .map(|r| {
                let summary = crate::test_suite::RunSummary::from_counts(r.total, r.passed, r.failed, r.pass_threshold);
                ApprovalTestRunView {
                    version: r.version,
                    run_id: r.id,
                    status: summary.status,
                    pass_rate: summary.pass_rate,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_approval_shows_the_latest_run_of_each_version() {
        let run = |version, id: &str, passed, at: &str| StoredRunCounts {
            version,
            id: id.into(),
            total: 4,
            passed,
            failed: 4 - passed,
            pass_threshold: 1.0,
            started_at: at.into(),
        };
        let shown = ApprovalTestRunView::latest(vec![
            run(2, "old", 4, "t1"),
            run(2, "new", 3, "t2"),
            run(3, "only", 4, "t1"),
        ]);
        let brief: Vec<_> = shown.iter().map(|r| (r.version, r.run_id.as_str(), r.status)).collect();
        assert_eq!(brief, [(2, "new", "failed"), (3, "only", "passed")]);
        assert_eq!(shown[0].pass_rate, Some(0.75));
    }

    #[test]
    fn approval_view_flattens_the_change_and_hides_the_key() {
        let a = ApprovalView {
            id: "a1".into(),
            prompt: "bot".into(),
            environment: "production".into(),
            change: RequestedChange::Promote {
                version: 3,
                end_experiment: false,
                accept_variable_changes: false,
            },
            reason: "".into(),
            status: ApprovalStatus::Pending,
            requested_by: "ci (pvct_ab)".into(),
            requested_by_key: "k1".into(),
            requested_by_person: None,
            base_seq: 4,
            decided_by: None,
            decision_note: None,
            created_at: "t".into(),
            decided_at: None,
            test_runs: Vec::new(),
        };
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(v["kind"], "promote");
        assert_eq!(v["version"], 3);
        assert_eq!(v["status"], "pending");
        assert!(v.get("requested_by_key").is_none());
        let x: RequestedChange = serde_json::from_value(
            json!({"kind": "experiment", "variants": [{"version": 1, "weight": 50}, {"version": 2, "weight": 50}]}),
        )
        .unwrap();
        assert_eq!(x.versions(), vec![1, 2]);
    }

    #[test]
    fn statuses_round_trip() {
        for s in ApprovalStatus::ALL {
            assert_eq!(ApprovalStatus::parse(s.as_str()), Some(s));
        }
    }
}
