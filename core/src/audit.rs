//! The audit trail: every state change names one action and writes one
//! [`AuditEntry`], built by [`AuditEntry::new`] in the same D1 batch as the
//! change it records.

use serde::Serialize;
use serde_json::Value;

use crate::member::Person;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AuditAction {
    WorkspaceCreate,
    KeyCreate,
    KeyRevoke,
    PromptCreate,
    VersionCreate,
    DeploymentPromote,
    DeploymentRollback,
    EnvironmentPut,
    ExperimentStart,
    ExperimentUpdate,
    ExperimentEnd,
    ApprovalRequest,
    ApprovalApprove,
    ApprovalReject,
    ApprovalSupersede,
    PricePut,
    EvaluatorsPut,
    TestsPut,
    TestRunStart,
    SettingsPut,
    WebhookCreate,
    WebhookDelete,
    DeadLetterReplay,
    MemberAdd,
    MemberUpdate,
    MemberRemove,
    WebhookRedeliver,
}

impl AuditAction {
    pub const ALL: [AuditAction; 27] = [
        AuditAction::WorkspaceCreate,
        AuditAction::KeyCreate,
        AuditAction::KeyRevoke,
        AuditAction::PromptCreate,
        AuditAction::VersionCreate,
        AuditAction::DeploymentPromote,
        AuditAction::DeploymentRollback,
        AuditAction::EnvironmentPut,
        AuditAction::ExperimentStart,
        AuditAction::ExperimentUpdate,
        AuditAction::ExperimentEnd,
        AuditAction::ApprovalRequest,
        AuditAction::ApprovalApprove,
        AuditAction::ApprovalReject,
        AuditAction::ApprovalSupersede,
        AuditAction::PricePut,
        AuditAction::EvaluatorsPut,
        AuditAction::TestsPut,
        AuditAction::TestRunStart,
        AuditAction::SettingsPut,
        AuditAction::WebhookCreate,
        AuditAction::WebhookDelete,
        AuditAction::DeadLetterReplay,
        AuditAction::MemberAdd,
        AuditAction::MemberUpdate,
        AuditAction::MemberRemove,
        AuditAction::WebhookRedeliver,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            AuditAction::WorkspaceCreate => "workspace.create",
            AuditAction::KeyCreate => "key.create",
            AuditAction::KeyRevoke => "key.revoke",
            AuditAction::PromptCreate => "prompt.create",
            AuditAction::VersionCreate => "version.create",
            AuditAction::DeploymentPromote => "deployment.promote",
            AuditAction::DeploymentRollback => "deployment.rollback",
            AuditAction::EnvironmentPut => "environment.put",
            AuditAction::ExperimentStart => "experiment.start",
            AuditAction::ExperimentUpdate => "experiment.update",
            AuditAction::ExperimentEnd => "experiment.end",
            AuditAction::ApprovalRequest => "approval.request",
            AuditAction::ApprovalApprove => "approval.approve",
            AuditAction::ApprovalReject => "approval.reject",
            AuditAction::ApprovalSupersede => "approval.supersede",
            AuditAction::PricePut => "price.put",
            AuditAction::EvaluatorsPut => "evaluators.put",
            AuditAction::TestsPut => "tests.put",
            AuditAction::TestRunStart => "test_run.start",
            AuditAction::SettingsPut => "settings.put",
            AuditAction::WebhookCreate => "webhook.create",
            AuditAction::WebhookDelete => "webhook.delete",
            AuditAction::DeadLetterReplay => "dead_letter.replay",
            AuditAction::MemberAdd => "member.add",
            AuditAction::MemberUpdate => "member.update",
            AuditAction::MemberRemove => "member.remove",
            AuditAction::WebhookRedeliver => "webhook.redeliver",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == value)
    }
}

/// One row of the append-only audit trail, as written (the store gives it
/// an id). One constructor for every change, so rows are shaped alike.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub workspace_id: String,
    pub actor: String,
    /// The person behind the change: the one signed in, or the one who
    /// created the API key used. `None` for keys no person created.
    pub person: Option<Person>,
    pub action: AuditAction,
    /// The prompt the change is about, for filtering the trail by prompt.
    pub prompt_slug: Option<String>,
    /// A short human description of what changed (`slug@3 -> production`).
    pub target: String,
    pub details: Value,
    pub at: String,
}

impl AuditEntry {
    pub fn new(workspace_id: &str, actor: &str, at: &str, action: AuditAction, target: impl Into<String>) -> Self {
        AuditEntry {
            workspace_id: workspace_id.to_owned(),
            actor: actor.to_owned(),
            person: None,
            action,
            prompt_slug: None,
            target: target.into(),
            details: Value::Object(Default::default()),
            at: at.to_owned(),
        }
    }

    /// The entry is about this prompt (the trail can be filtered by it).
    pub fn prompt(mut self, slug: &str) -> Self {
        self.prompt_slug = Some(slug.to_owned());
        self
    }

    /// The person behind the change, when one is known.
    pub fn by(mut self, person: Option<&Person>) -> Self {
        self.person = person.cloned();
        self
    }

    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for a in AuditAction::ALL {
            assert_eq!(AuditAction::parse(a.as_str()), Some(a));
        }
        assert_eq!(AuditAction::parse("nope"), None);
    }
}
