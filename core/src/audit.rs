//! The audit trail's vocabulary: every state change names one action.

use serde::Serialize;

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
    PricePut,
    EvaluatorsPut,
    SettingsPut,
    WebhookCreate,
    WebhookDelete,
}

impl AuditAction {
    pub const ALL: [AuditAction; 19] = [
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
        AuditAction::PricePut,
        AuditAction::EvaluatorsPut,
        AuditAction::SettingsPut,
        AuditAction::WebhookCreate,
        AuditAction::WebhookDelete,
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
            AuditAction::PricePut => "price.put",
            AuditAction::EvaluatorsPut => "evaluators.put",
            AuditAction::SettingsPut => "settings.put",
            AuditAction::WebhookCreate => "webhook.create",
            AuditAction::WebhookDelete => "webhook.delete",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == value)
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
