//! Deciding what a commit does, given the current head.
//!
//! The store makes the decision binding: the version number is
//! `head + 1` under a UNIQUE(prompt, number) constraint, so two commits
//! planned on the same head cannot both land.

use crate::error::{Error, ErrorKind, Result};

/// The head of a prompt's history as the store sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub number: u32,
    pub content_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitPlan {
    /// Same content and parameters as the head: nothing is written.
    Unchanged,
    /// Write a new version with this number.
    Create { number: u32 },
}

/// Plans a commit of content hashing to `new_hash`, made on `parent`
/// (None for the first version). With `rebase` the commit goes on top of
/// whatever the head is now.
pub fn plan_commit(head: Option<&Head>, parent: Option<u32>, rebase: bool, new_hash: &str) -> Result<CommitPlan> {
    if let Some(head) = head {
        if head.content_hash == new_hash {
            return Ok(CommitPlan::Unchanged);
        }
    }
    let head_number = head.map(|h| h.number);
    if rebase || parent == head_number {
        let number = head_number.unwrap_or(0) + 1;
        return Ok(CommitPlan::Create { number });
    }
    Err(stale_parent(parent, head_number))
}

/// The 409 for a commit whose parent is not the head.
pub fn stale_parent(parent: Option<u32>, head: Option<u32>) -> Error {
    let message = match (parent, head) {
        (_, None) => "this prompt has no versions yet; commit with parent_version null".to_owned(),
        (None, Some(h)) => {
            format!("the head is version {h}; commit with parent_version {h} or rebase")
        }
        (Some(p), Some(h)) => {
            format!("parent_version {p} is not the head (version {h}); rebase onto {h}")
        }
    };
    Error::new(ErrorKind::StaleParent, message)
        .with_details(serde_json::json!({ "parent_version": parent, "head_version": head }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(n: u32, h: &str) -> Head {
        Head {
            number: n,
            content_hash: h.into(),
        }
    }

    #[test]
    fn first_commit_is_version_one() {
        assert_eq!(
            plan_commit(None, None, false, "h").unwrap(),
            CommitPlan::Create { number: 1 }
        );
    }

    #[test]
    fn commit_on_head_creates_the_next_number() {
        assert_eq!(
            plan_commit(Some(&head(3, "a")), Some(3), false, "b").unwrap(),
            CommitPlan::Create { number: 4 }
        );
    }

    #[test]
    fn identical_content_is_unchanged_even_with_a_stale_parent() {
        assert_eq!(
            plan_commit(Some(&head(3, "a")), Some(1), false, "a").unwrap(),
            CommitPlan::Unchanged
        );
    }

    #[test]
    fn stale_or_future_parent_is_409_with_the_head() {
        for parent in [Some(2), Some(9), None] {
            let err = plan_commit(Some(&head(3, "a")), parent, false, "b").unwrap_err();
            assert_eq!(err.status(), 409);
            assert_eq!(err.details()["head_version"], 3);
        }
        assert!(plan_commit(None, Some(1), false, "b").is_err());
    }

    #[test]
    fn rebase_goes_on_top_of_the_head() {
        assert_eq!(
            plan_commit(Some(&head(7, "a")), Some(2), true, "b").unwrap(),
            CommitPlan::Create { number: 8 }
        );
    }
}
