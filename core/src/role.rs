//! API key roles and what each may do.
//!
//! Roles are ordered: every role may do everything the roles below it may.
//! The worker asks [`Role::allows`] with the [`Permission`] a route needs, so
//! the whole permission matrix lives here and is tested here.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Reader,
    Editor,
    Approver,
    Admin,
}

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Read prompts, versions, deployments, resolve, bundle; send telemetry.
    Read,
    /// Create prompts, commit versions, promote and roll back.
    Write,
    /// Decide approvals.
    Approve,
    /// Manage keys, environments and policies; read the audit trail.
    Administer,
}

impl Permission {
    pub const ALL: [Permission; 4] = [
        Permission::Read,
        Permission::Write,
        Permission::Approve,
        Permission::Administer,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "read",
            Permission::Write => "write",
            Permission::Approve => "approve",
            Permission::Administer => "administer",
        }
    }

    pub const fn minimum_role(self) -> Role {
        match self {
            Permission::Read => Role::Reader,
            Permission::Write => Role::Editor,
            Permission::Approve => Role::Approver,
            Permission::Administer => Role::Admin,
        }
    }
}

impl Role {
    pub fn parse(value: &str) -> Result<Role> {
        match value {
            "reader" => Ok(Role::Reader),
            "editor" => Ok(Role::Editor),
            "approver" => Ok(Role::Approver),
            "admin" => Ok(Role::Admin),
            _ => Err(Error::invalid_field(
                "role",
                "role must be one of reader, editor, approver, admin",
            )),
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Editor => "editor",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }

    pub fn allows(self, permission: Permission) -> bool {
        self >= permission.minimum_role()
    }

    /// Every permission this role holds, by name: what `GET /v1/me` tells
    /// clients such as the web console, so they offer only what the key may do.
    pub fn permissions(self) -> Vec<&'static str> {
        Permission::ALL
            .into_iter()
            .filter(|p| self.allows(*p))
            .map(Permission::as_str)
            .collect()
    }

    /// `Ok(())` when allowed, otherwise the 403 naming the role needed.
    pub fn require(self, permission: Permission) -> Result<()> {
        if self.allows(permission) {
            Ok(())
        } else {
            let needed = permission.minimum_role();
            Err(Error::new(
                ErrorKind::Forbidden,
                format!(
                    "this needs the {} role or higher; the key has {}",
                    needed.as_str(),
                    self.as_str()
                ),
            )
            .with_details(serde_json::json!({ "required_role": needed.as_str(), "role": self.as_str() })))
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_cumulative() {
        assert!(Role::Admin.allows(Permission::Read));
        assert!(Role::Admin.allows(Permission::Administer));
        assert!(Role::Editor.allows(Permission::Write));
        assert!(!Role::Editor.allows(Permission::Approve));
        assert!(!Role::Reader.allows(Permission::Write));
        assert!(Role::Approver.allows(Permission::Approve));
        assert!(!Role::Approver.allows(Permission::Administer));
    }

    #[test]
    fn permissions_list_what_each_role_may_do() {
        assert_eq!(Role::Reader.permissions(), ["read"]);
        assert_eq!(Role::Editor.permissions(), ["read", "write"]);
        assert_eq!(Role::Approver.permissions(), ["read", "write", "approve"]);
        assert_eq!(Role::Admin.permissions(), ["read", "write", "approve", "administer"]);
    }

    #[test]
    fn refusal_names_the_role_needed() {
        let e = Role::Reader.require(Permission::Write).unwrap_err();
        assert_eq!(e.status(), 403);
        assert_eq!(e.details()["required_role"], "editor");
    }

    #[test]
    fn parse_round_trips() {
        for r in [Role::Reader, Role::Editor, Role::Approver, Role::Admin] {
            assert_eq!(Role::parse(r.as_str()).unwrap(), r);
        }
        assert!(Role::parse("owner").is_err());
    }
}
