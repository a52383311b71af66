//! Workspace settings: raw-execution retention and the LLM judge endpoint.
//! The judge's API key is write-only: responses say whether one is set.

use pvct_core::audit::AuditAction;
use pvct_core::settings::{SettingsUpdate, DEFAULT_RETENTION_DAYS};
use serde_json::json;
use worker::Request;

use crate::http::{body, json, ApiResult, OrInternal};
use crate::ids::{new_id, now};
use crate::store::{AuditEntry, SettingsRow};
use crate::Ctx;

fn view(s: &SettingsRow) -> serde_json::Value {
    json!({
        "retention_days": s.retention_days,
        "judge": s.judge_url.as_ref().map(|url| json!({
            "url": url,
            "model": s.judge_model,
            "api_key_set": s.judge_api_key.is_some(),
        })),
        "updated_at": s.updated_at,
    })
}

async fn current(ctx: &Ctx) -> Result<SettingsRow, pvct_core::Error> {
    Ok(ctx
        .store
        .settings(&ctx.who.workspace_id)
        .await
        .or_internal("settings")?
        .unwrap_or(SettingsRow {
            retention_days: DEFAULT_RETENTION_DAYS,
            judge_url: None,
            judge_model: None,
            judge_api_key: None,
            updated_at: String::new(),
        }))
}

pub async fn get(ctx: &Ctx) -> ApiResult {
    json(200, &view(&current(ctx).await?))
}

pub async fn put(ctx: &Ctx, req: &mut Request) -> ApiResult {
    let update = SettingsUpdate::parse(&body(req).await?)?;
    let mut row = current(ctx).await?;
    if let Some(days) = update.retention_days {
        row.retention_days = days;
    }
    match update.judge {
        None => {}
        Some(None) => (row.judge_url, row.judge_model, row.judge_api_key) = (None, None, None),
        Some(Some(judge)) => {
            // A judge set without a key keeps the key already stored, so a
            // model change does not need the secret again.
            let same_endpoint = row.judge_url.as_deref() == Some(judge.url.as_str());
            row.judge_api_key = judge.api_key.or(if same_endpoint { row.judge_api_key } else { None });
            row.judge_url = Some(judge.url);
            row.judge_model = Some(judge.model);
        }
    }
    row.updated_at = now();
    let audit_id = new_id();
    ctx.store
        .put_settings(
            &ctx.who.workspace_id,
            &row,
            &AuditEntry {
                id: &audit_id,
                workspace_id: &ctx.who.workspace_id,
                actor: &ctx.who.actor,
                action: AuditAction::SettingsPut,
                prompt_slug: None,
                target: &ctx.who.workspace_id,
                // Never the key itself.
                details: json!({ "retention_days": row.retention_days, "judge_url": row.judge_url,
                                 "judge_model": row.judge_model, "judge_api_key_set": row.judge_api_key.is_some() }),
                at: &row.updated_at,
            },
        )
        .await
        .or_internal("put settings")?;
    json(200, &view(&row))
}
