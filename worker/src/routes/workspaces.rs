//! `POST /v1/workspaces`: the bootstrap key creates a workspace and gets its
//! first admin key back.

use pvct_core::api::{AdminKeyView, WorkspaceCreatedView, WorkspaceView};
use pvct_core::apikey::ApiKey;
use pvct_core::audit::{AuditAction, AuditEntry};
use pvct_core::environment::DEFAULT_ENVIRONMENTS;
use pvct_core::names::bounded_text;
use pvct_core::request::{parse_json, CreateWorkspace};
use pvct_core::role::Role;
use pvct_core::{Error, ErrorKind};
use worker::Request;

use crate::http::{body, json, ApiResult, OrInternal};
use crate::ids::{new_api_key, new_id, now};
use crate::kv::EdgeKv;
use crate::store::{NewKey, Store};

pub async fn create(store: &Store, _kv: &EdgeKv, req: &mut Request, bootstrap: &ApiKey) -> ApiResult {
    let input: CreateWorkspace = parse_json(&body(req).await?)?;
    let display_name = bounded_text("display_name", input.display_name.as_deref().unwrap_or(""), 200, false)?;
    if store
        .workspace_by_name(input.name.as_str())
        .await
        .or_internal("find workspace")?
        .is_some()
    {
        return Err(Error::new(
            ErrorKind::AlreadyExists,
            format!("workspace '{}' already exists", input.name),
        )
        .with_details(serde_json::json!({ "field": "name" })));
    }
    let at = now();
    let ws = WorkspaceView {
        id: new_id(),
        name: input.name.to_string(),
        display_name,
        created_at: at.clone(),
    };
    let environments: Vec<(String, String)> = DEFAULT_ENVIRONMENTS
        .iter()
        .map(|name| (new_id(), (*name).to_owned()))
        .collect();
    let key = new_api_key();
    let key_id = new_id();
    let actor = format!("bootstrap ({})", bootstrap.display_prefix());
    let result = store
        .create_workspace(
            &ws,
            &environments,
            &NewKey {
                id: &key_id,
                workspace_id: &ws.id,
                name: "admin",
                role: Role::Admin.as_str(),
                key_hash: &key.hash(),
                key_prefix: key.display_prefix(),
                created_by: Some(&actor),
                created_by_person: None,
                at: &at,
            },
            &AuditEntry::new(&ws.id, &actor, &at, AuditAction::WorkspaceCreate, &ws.name)
                .details(serde_json::json!({ "environments": DEFAULT_ENVIRONMENTS })),
        )
        .await;
    if result.is_err()
        && store
            .workspace_by_name(&ws.name)
            .await
            .or_internal("find workspace")?
            .is_some()
    {
        // A concurrent request created it first.
        return Err(Error::new(
            ErrorKind::AlreadyExists,
            format!("workspace '{}' already exists", ws.name),
        ));
    }
    result.or_internal("create workspace")?;
    let api_key = AdminKeyView {
        public_key: pvct_core::langfuse::public_key(&key_id),
        id: key_id,
        name: "admin".to_owned(),
        role: Role::Admin,
        key: key.as_str().to_owned(),
        key_prefix: key.display_prefix().to_owned(),
        created_at: at,
    };
    json(
        201,
        &WorkspaceCreatedView {
            workspace: ws,
            environments: environments.into_iter().map(|(_, name)| name).collect(),
            api_key,
        },
    )
}
