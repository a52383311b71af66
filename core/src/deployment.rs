//! Deployment history and what a rollback goes back to.
//!
//! Deployments are append-only. A promotion pushes a version onto an
//! environment's stack; a rollback pops the current one, so rolling back
//! twice after promoting v1, v2, v3 lands on v1, and the history still shows
//! every step.

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentAction {
    Promote,
    Rollback,
}

impl DeploymentAction {
    pub const fn as_str(self) -> &'static str {
        match self {
            DeploymentAction::Promote => "promote",
            DeploymentAction::Rollback => "rollback",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "promote" => Some(DeploymentAction::Promote),
            "rollback" => Some(DeploymentAction::Rollback),
            _ => None,
        }
    }
}

/// One entry of an environment's history, oldest first when passed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeploymentStep {
    pub action: DeploymentAction,
    pub version: u32,
}

/// The versions still on the stack after replaying `history` (oldest first);
/// the last is the live one.
pub fn live_stack(history: &[DeploymentStep]) -> Vec<u32> {
    let mut stack = Vec::new();
    for step in history {
        match step.action {
            DeploymentAction::Promote => stack.push(step.version),
            DeploymentAction::Rollback => {
                stack.pop();
                // A rollback records the version it landed on; keep the stack
                // honest even if history was written by an older rule.
                if stack.last() != Some(&step.version) {
                    stack.push(step.version);
                }
            }
        }
    }
    stack
}

/// The version a rollback of this environment goes to.
pub fn rollback_target(history: &[DeploymentStep]) -> Result<u32> {
    let stack = live_stack(history);
    match stack.len() {
        0 => Err(Error::new(
            ErrorKind::NothingToRollBack,
            "nothing is deployed in this environment",
        )),
        1 => Err(Error::new(
            ErrorKind::NothingToRollBack,
            format!(
                "version {} is the first deployment here; there is nothing earlier to roll back to",
                stack[0]
            ),
        )),
        n => Ok(stack[n - 2]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DeploymentAction::*;

    fn step(action: DeploymentAction, version: u32) -> DeploymentStep {
        DeploymentStep { action, version }
    }

    #[test]
    fn rollback_goes_to_the_previous_promotion() {
        let h = [step(Promote, 1), step(Promote, 2), step(Promote, 3)];
        assert_eq!(rollback_target(&h).unwrap(), 2);
    }

    #[test]
    fn repeated_rollbacks_walk_back_through_history() {
        let h = [step(Promote, 1), step(Promote, 2), step(Promote, 3), step(Rollback, 2)];
        assert_eq!(rollback_target(&h).unwrap(), 1);
        let h2 = [step(Promote, 1), step(Promote, 2), step(Rollback, 1)];
        assert_eq!(rollback_target(&h2).unwrap_err().code(), "nothing_to_roll_back");
    }

    #[test]
    fn promotion_after_rollback_stacks_again() {
        let h = [step(Promote, 1), step(Promote, 2), step(Rollback, 1), step(Promote, 3)];
        assert_eq!(live_stack(&h), vec![1, 3]);
        assert_eq!(rollback_target(&h).unwrap(), 1);
    }

    #[test]
    fn empty_or_single_history_cannot_roll_back() {
        assert_eq!(rollback_target(&[]).unwrap_err().status(), 409);
        assert!(rollback_target(&[step(Promote, 4)]).is_err());
    }
}
