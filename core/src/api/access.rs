//! Response views of access: workspaces, API keys, the calling key, the
//! audit trail, and liveness.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::member::Person;
use crate::role::Role;

/// A workspace (also the stored workspace row).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkspaceView {
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub created_at: String,
}

/// `POST /v1/workspaces`: the workspace, the environments it starts with,
/// and its first admin key (the only time the key is shown).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkspaceCreatedView {
    pub workspace: WorkspaceView,
    pub environments: Vec<String>,
    pub api_key: AdminKeyView,
}

/// The first admin key of a new workspace, with the key itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdminKeyView {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub key: String,
    /// The key's public half for Langfuse clients (`pk-pvct-<id>`).
    pub public_key: String,
    pub key_prefix: String,
    pub created_at: String,
}

/// `GET /v1/me`: the caller — a person signed in through Access, or an API
/// key — who the audit trail names them as, their role and what that role
/// may do (the web console offers only those).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeView {
    /// `person` or `key`.
    pub kind: &'static str,
    /// The key's id; `null` for a person.
    pub key_id: Option<String>,
    pub workspace_id: String,
    pub actor: String,
    pub role: Role,
    pub permissions: Vec<&'static str>,
    /// The person signed in, or the one who created the key; `null` for
    /// keys no person created.
    pub person: Option<Person>,
}

impl MeView {
    pub fn new(
        key_id: Option<String>,
        workspace_id: impl Into<String>,
        actor: impl Into<String>,
        role: Role,
        person: Option<Person>,
    ) -> Self {
        MeView {
            kind: if key_id.is_some() { "key" } else { "person" },
            key_id,
            workspace_id: workspace_id.into(),
            actor: actor.into(),
            role,
            permissions: role.permissions(),
            person,
        }
    }
}

/// An API key as listed: never the key itself (also the stored row the
/// list reads).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyView {
    pub id: String,
    pub name: String,
    pub role: String,
    /// The key's public half for Langfuse clients (`pk-pvct-<id>`): with
    /// the key as secret, `Basic base64(public_key:key)`.
    pub public_key: String,
    pub key_prefix: String,
    pub created_by: Option<String>,
    /// The email of the person who created the key (it acts for them:
    /// four-eyes approval treats it as that person).
    #[serde(default)]
    pub created_by_person: Option<String>,
    pub created_at: String,
    /// `null` while the key works.
    pub revoked_at: Option<String>,
}

/// `POST /v1/keys`: the new key's fields and, this once, the key itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiKeyCreatedView {
    #[serde(flatten)]
    pub api_key: ApiKeyView,
    pub key: String,
}

/// Whether the edge (KV) already reflects a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeStatus {
    Current,
    /// The KV write failed; it is repaired or expires on its own.
    Pending,
}

/// `DELETE /v1/keys/{id}`: when the key was revoked, and whether the
/// edge's cached entry is gone yet (it expires within 60 s anyway).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyRevokedView {
    pub id: String,
    pub revoked_at: String,
    pub edge: EdgeStatus,
}

/// `DELETE /v1/members/{id}`: when, and how many of their keys were revoked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemberRemovedView {
    pub id: String,
    pub removed_at: String,
    pub keys_revoked: usize,
}

/// `GET /v1/auth/config`: how people sign in to this deployment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuthConfigView {
    /// `null` when the deployment is not behind Cloudflare Access.
    pub access: Option<AccessView>,
    /// Whether the console offers sign-in with an API key.
    pub key_sign_in: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccessView {
    pub team_domain: String,
    /// Where the console sends people to sign out of Access.
    pub logout_url: &'static str,
}

/// One entry of the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntryView {
    pub id: String,
    pub actor: String,
    /// The person behind the change; `null` for keys no person created.
    pub person: Option<Person>,
    pub action: String,
    /// The prompt's slug, `null` for workspace-wide changes.
    pub prompt: Option<String>,
    pub target: String,
    pub details: Value,
    pub created_at: String,
}

/// `GET /healthz`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthView {
    pub status: &'static str,
    /// The worker's version.
    pub version: String,
}

impl HealthView {
    pub fn ok(version: impl Into<String>) -> Self {
        HealthView {
            status: "ok",
            version: version.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_created_key_is_its_listed_fields_plus_the_key() {
        let view = ApiKeyCreatedView {
            api_key: ApiKeyView {
                id: "k1".into(),
                name: "ci".into(),
                role: "editor".into(),
                public_key: "pk-pvct-k1".into(),
                key_prefix: "pvct_ab".into(),
                created_by: Some("admin (pvct_cd)".into()),
                created_by_person: None,
                created_at: "t".into(),
                revoked_at: None,
            },
            key: "pvct_abc".into(),
        };
        assert_eq!(
            serde_json::to_value(&view).unwrap(),
            json!({ "id": "k1", "name": "ci", "role": "editor", "public_key": "pk-pvct-k1", "key_prefix": "pvct_ab",
                    "created_by": "admin (pvct_cd)", "created_by_person": null, "created_at": "t", "revoked_at": null, "key": "pvct_abc" })
        );
    }

    #[test]
    fn roles_and_edge_statuses_are_lowercase_words() {
        let me = serde_json::to_value(MeView::new(Some("k".into()), "w", "a", Role::Approver, None)).unwrap();
        assert_eq!(me["role"], "approver");
        assert_eq!(me["permissions"], json!(Role::Approver.permissions()));
        assert_eq!(serde_json::to_value(EdgeStatus::Pending).unwrap(), "pending");
    }
}
