//! Members: people (by email) and identity-provider groups with a role.

use serde::Deserialize;
use worker::Result;

use pvct_core::audit::AuditEntry;
use pvct_core::member::Member;
use pvct_core::role::Role;

use super::{encode, Store};

/// A member row as stored (`group_name`, `subscribed` as 0/1).
#[derive(Deserialize)]
struct MemberRow {
    id: String,
    email: Option<String>,
    group_name: Option<String>,
    display_name: String,
    role: String,
    subscribed: u8,
    created_by: String,
    created_at: String,
    updated_at: String,
}

impl MemberRow {
    fn decode(self) -> Result<Member> {
        Ok(Member {
            id: self.id,
            email: self.email,
            group: self.group_name,
            display_name: self.display_name,
            role: Role::parse(&self.role).map_err(|e| worker::Error::RustError(e.message().to_owned()))?,
            subscribed: self.subscribed != 0,
            created_by: self.created_by,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

const COLUMNS: &str = "id, email, group_name, display_name, role, subscribed, created_by, created_at, updated_at";

impl Store {
    /// Every member of the workspace, people first, then groups.
    pub async fn members(&self, workspace_id: &str) -> Result<Vec<Member>> {
        let rows: Vec<MemberRow> = self
            .all(
                &format!(
                    "SELECT {COLUMNS} FROM members WHERE workspace_id = ? \
                     ORDER BY email IS NULL, email, group_name"
                ),
                &[workspace_id.into()],
            )
            .await?;
        rows.into_iter().map(MemberRow::decode).collect()
    }

    /// The workspaces where `email`, or one of `groups`, is a member.
    pub async fn workspaces_of(&self, email: &str, groups: &[String]) -> Result<Vec<String>> {
        #[derive(Deserialize)]
        struct Row {
            workspace_id: String,
        }
        let rows: Vec<Row> = self
            .all(
                "SELECT DISTINCT workspace_id FROM members WHERE email = ?1 \
                 OR group_name IN (SELECT value FROM json_each(?2)) ORDER BY workspace_id",
                &[email.into(), (&encode(groups)?).into()],
            )
            .await?;
        Ok(rows.into_iter().map(|r| r.workspace_id).collect())
    }

    /// Adds a member (the route has checked it is not one already; the
    /// unique indexes refuse a concurrent twin).
    pub async fn add_member(&self, workspace_id: &str, m: &Member, audit: &AuditEntry) -> Result<()> {
        self.audited(
            self.stmt(
                "INSERT INTO members (id, workspace_id, email, group_name, display_name, role, subscribed, created_by, \
                 created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                &[
                    (&m.id).into(),
                    workspace_id.into(),
                    m.email.as_deref().into(),
                    m.group.as_deref().into(),
                    (&m.display_name).into(),
                    m.role.as_str().into(),
                    u32::from(m.subscribed).into(),
                    (&m.created_by).into(),
                    (&m.created_at).into(),
                    (&m.updated_at).into(),
                ],
            )?,
            audit,
        )
        .await
    }

    /// Writes `m` over the stored member (its role, name and subscription).
    pub async fn update_member(&self, workspace_id: &str, m: &Member, audit: &AuditEntry) -> Result<()> {
        self.audited(
            self.stmt(
                "UPDATE members SET role = ?, display_name = ?, subscribed = ?, updated_at = ? \
                 WHERE workspace_id = ? AND id = ?",
                &[
                    m.role.as_str().into(),
                    (&m.display_name).into(),
                    u32::from(m.subscribed).into(),
                    (&m.updated_at).into(),
                    workspace_id.into(),
                    (&m.id).into(),
                ],
            )?,
            audit,
        )
        .await
    }

    /// Removes a member and revokes the API keys they created (keys act
    /// for their creator; a person who left keeps no access through them).
    /// Answers the hashes of the keys revoked, for the caller to forget.
    pub async fn remove_member(
        &self,
        workspace_id: &str,
        m: &Member,
        at: &str,
        audit: &AuditEntry,
    ) -> Result<Vec<String>> {
        #[derive(Deserialize)]
        struct Row {
            key_hash: String,
        }
        let keys: Vec<Row> = match &m.email {
            Some(email) => {
                self.all(
                    "SELECT key_hash FROM api_keys WHERE workspace_id = ? AND created_by_person = ? AND revoked_at IS NULL",
                    &[workspace_id.into(), email.into()],
                )
                .await?
            }
            None => Vec::new(),
        };
        let mut statements = vec![self.stmt(
            "DELETE FROM members WHERE workspace_id = ? AND id = ?",
            &[workspace_id.into(), (&m.id).into()],
        )?];
        if let Some(email) = &m.email {
            statements.push(self.stmt(
                "UPDATE api_keys SET revoked_at = ? WHERE workspace_id = ? AND created_by_person = ? AND revoked_at IS NULL",
                &[at.into(), workspace_id.into(), email.into()],
            )?);
        }
        statements.push(self.audit_stmt(audit)?);
        self.batch(statements).await?;
        Ok(keys.into_iter().map(|k| k.key_hash).collect())
    }
}
