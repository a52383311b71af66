//! Workspace settings: raw-execution retention and the LLM judge endpoint.
//! The judge's API key is write-only: responses say whether one is set.

use pvct_core::api::SettingsView;
use pvct_core::audit::AuditAction;
use pvct_core::settings::{Settings, SettingsUpdate};
use serde_json::json;
use worker::Request;

use crate::http::{body, json, ApiResult, OrInternal};
use crate::ids::now;
use crate::Ctx;

async fn current(ctx: &Ctx) -> Result<Settings, pvct_core::Error> {
    Ok(ctx
        .store
        .settings(&ctx.who.workspace_id)
        .await
        .or_internal("settings")?
        .unwrap_or_default())
}

pub async fn get(ctx: &Ctx) -> ApiResult {
    json(200, &SettingsView::of(&current(ctx).await?))
}

pub async fn put(ctx: &Ctx, req: &mut Request) -> ApiResult {
    let update = SettingsUpdate::parse(&body(req).await?)?;
    let row = update.apply(current(ctx).await?, &now());
    // Never the key itself.
    let details = json!({ "retention_days": row.retention_days,
                          "judge_url": row.judge_url.as_deref().map(pvct_core::secrets::redact_url),
                          "judge_model": row.judge_model, "judge_api_key_set": row.judge_api_key.is_some(),
                          "provider_url": row.provider_url.as_deref().map(pvct_core::secrets::redact_url),
                          "provider_model": row.provider_model,
                          "provider_api_key_set": row.provider_api_key.is_some() });
    let audit = ctx.audit(AuditAction::SettingsPut, &ctx.who.workspace_id, &row.updated_at);
    ctx.store
        .put_settings(&ctx.who.workspace_id, &row, &audit.details(details))
        .await
        .or_internal("put settings")?;
    json(200, &SettingsView::of(&row))
}
