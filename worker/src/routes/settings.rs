//! Workspace settings: raw-execution retention, the LLM judge and test
//! provider endpoints, the default role of signed-in non-members, and the
//! notification channels (Slack, email). Keys are write-only: responses
//! say whether one is set; a Slack URL is shown redacted.

use pvct_core::api::SettingsView;
use pvct_core::audit::AuditAction;
use pvct_core::notification::{Channel, Channels};
use pvct_core::secrets::redact_url;
use pvct_core::settings::{Settings, SettingsUpdate};
use serde_json::json;
use worker::Request;

use crate::http::{body, json, ApiResult, OrInternal};
use crate::ids::now;
use crate::store::channels_of;
use crate::Ctx;

async fn current(ctx: &Ctx) -> Result<(Settings, Channels), pvct_core::Error> {
    let ws = &ctx.who.workspace_id;
    let settings = ctx
        .store
        .settings(ws)
        .await
        .or_internal("settings")?
        .unwrap_or_default();
    let rows = ctx.store.webhooks_for(ws).await.or_internal("channels")?;
    Ok((settings, channels_of(&rows)))
}

pub async fn get(ctx: &Ctx) -> ApiResult {
    let (settings, channels) = current(ctx).await?;
    json(200, &SettingsView::of(&settings, &channels))
}

pub async fn put(ctx: &Ctx, req: &mut Request) -> ApiResult {
    let mut update = SettingsUpdate::parse(&body(req).await?)?;
    let notifications = update.notifications.take().unwrap_or_default();
    let (settings, channels) = current(ctx).await?;
    let email = notifications.email_change(channels.email.as_ref())?;
    let slack = notifications.slack_change();
    let row = update.apply(settings, &now());
    let ws = &ctx.who.workspace_id;
    let mut more = Vec::new();
    for (channel, change, replaced) in [
        (
            Channel::Slack,
            slack,
            channels.slack.as_ref().map(|(id, _)| id.as_str()),
        ),
        (Channel::Email, email, channels.email.as_ref().map(|e| e.id.as_str())),
    ] {
        if let Some(change) = change {
            more.extend(
                ctx.store
                    .channel_stmts(ws, channel, &change, replaced, &ctx.who.actor, &row.updated_at)
                    .or_internal("channel statements")?,
            );
        }
    }
    // Never a key or a webhook URL's secret path.
    let details = json!({ "retention_days": row.retention_days,
                          "judge_url": row.judge_url.as_deref().map(redact_url),
                          "judge_model": row.judge_model, "judge_api_key_set": row.judge_api_key.is_some(),
                          "provider_url": row.provider_url.as_deref().map(redact_url),
                          "provider_model": row.provider_model,
                          "provider_api_key_set": row.provider_api_key.is_some(),
                          "default_role": row.default_role,
                          "notifications_changed": !more.is_empty() });
    let audit = ctx
        .audit(AuditAction::SettingsPut, ws, &row.updated_at)
        .details(details);
    ctx.store
        .put_settings(ws, &row, &audit, more)
        .await
        .or_internal("put settings")?;
    crate::auth::forget_people();
    let (_, channels) = current(ctx).await?;
    json(200, &SettingsView::of(&row, &channels))
}
