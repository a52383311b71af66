//! Per-workspace caps on what admins create, so one workspace cannot grow
//! the work every change fans out to (webhooks per event, environments per
//! publish, keys per lookup) without bound.

use crate::error::{Error, ErrorKind, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quota {
    /// Live webhooks: each event fans out to every one.
    Webhooks,
    /// Environments: each has its own bundle and release sequence.
    Environments,
    /// API keys not revoked.
    ActiveKeys,
}

impl Quota {
    pub const fn limit(self) -> u32 {
        match self {
            Quota::Webhooks => 20,
            Quota::Environments => 20,
            Quota::ActiveKeys => 200,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Quota::Webhooks => "webhooks",
            Quota::Environments => "environments",
            Quota::ActiveKeys => "active_keys",
        }
    }

    /// May one more be created when `existing` are there? 409
    /// `quota_exceeded` naming the quota and its limit when not.
    pub fn admit(self, existing: u32) -> Result<()> {
        if existing < self.limit() {
            return Ok(());
        }
        let (name, limit) = (self.as_str(), self.limit());
        Err(Error::new(
            ErrorKind::QuotaExceeded,
            format!(
                "this workspace has {existing} {}; the limit is {limit}: remove one first",
                name.replace('_', " ")
            ),
        )
        .with_details(serde_json::json!({ "quota": name, "limit": limit })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_more_up_to_the_limit() {
        for q in [Quota::Webhooks, Quota::Environments, Quota::ActiveKeys] {
            assert!(q.admit(0).is_ok());
            assert!(q.admit(q.limit() - 1).is_ok());
            let e = q.admit(q.limit()).unwrap_err();
            assert_eq!((e.status(), e.code()), (409, "quota_exceeded"));
            assert_eq!(e.details()["limit"], q.limit());
            assert_eq!(e.details()["quota"], q.as_str());
        }
    }
}
