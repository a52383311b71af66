//! Webhooks and their delivery log.

use serde::Deserialize;
use serde_json::Value;
use worker::{D1PreparedStatement, Result};

use pvct_core::audit::AuditEntry;
use pvct_core::notification::{Channel, ChannelChange, Channels, EmailChannel};
use pvct_core::webhook::Outgoing;

use super::{decode, encode, json_column_or_default, Arg, Store};

/// The secret field's name in the sealed value's associated data.
const WEBHOOK_SECRET: &str = "webhook_secret";

#[derive(Debug, Clone, Deserialize)]
pub struct WebhookRow {
    pub id: String,
    pub url: String,
    pub secret: String,
    /// Event names, or `["*"]` for all.
    #[serde(deserialize_with = "json_column_or_default")]
    pub events: Vec<String>,
    pub created_by: String,
    pub created_at: String,
    /// `webhook`, or a notification channel (`slack`, `email`).
    #[serde(default = "webhook_channel")]
    pub channel: String,
    /// The From address of the email channel.
    #[serde(default)]
    pub sender: Option<String>,
}

fn webhook_channel() -> String {
    Channel::Webhook.as_str().to_owned()
}

impl WebhookRow {
    pub fn is_webhook(&self) -> bool {
        self.channel == Channel::Webhook.as_str()
    }
}

/// The workspace's notification channels among its live rows.
pub fn channels_of(rows: &[WebhookRow]) -> Channels {
    let mut channels = Channels::default();
    for r in rows {
        match Channel::parse(&r.channel) {
            Some(Channel::Slack) => channels.slack = Some((r.id.clone(), r.url.clone())),
            Some(Channel::Email) => {
                channels.email = Some(EmailChannel {
                    id: r.id.clone(),
                    from: r.sender.clone().unwrap_or_default(),
                    api_url: r.url.clone(),
                })
            }
            Some(Channel::Webhook) | None => {}
        }
    }
    channels
}

/// A delivery the sweeper queues.
#[derive(Debug, Clone, Deserialize)]
pub struct DueDelivery {
    pub workspace_id: String,
    pub id: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DeliveryRow {
    pub id: String,
    pub event: String,
    pub payload: String,
    pub status: String,
    pub attempts: u32,
    pub url: String,
    pub secret: String,
    pub deleted: u8,
    pub channel: String,
}

impl Store {
    /// Live webhooks and notification channels of a workspace (their
    /// secrets as stored: sealed).
    pub async fn webhooks_for(&self, workspace_id: &str) -> Result<Vec<WebhookRow>> {
        self.all(
            "SELECT id, url, secret, events, created_by, created_at, channel, sender FROM webhooks \
             WHERE workspace_id = ? AND deleted_at IS NULL ORDER BY created_at",
            &[workspace_id.into()],
        )
        .await
    }

    /// Records a webhook, its signing secret sealed.
    pub async fn create_webhook(&self, workspace_id: &str, w: &WebhookRow, audit: &AuditEntry) -> Result<()> {
        let events = encode(&w.events)?;
        let secret = self.seal(workspace_id, WEBHOOK_SECRET, &w.secret)?;
        self.audited(
            self.stmt(
                "INSERT INTO webhooks (id, workspace_id, url, secret, events, created_by, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
                &[
                    (&w.id).into(),
                    workspace_id.into(),
                    (&w.url).into(),
                    (&secret).into(),
                    (&events).into(),
                    (&w.created_by).into(),
                    (&w.created_at).into(),
                ],
            )?,
            audit,
        )
        .await
    }

    /// Soft-deletes a webhook (its delivery log stays); false if there is none.
    pub async fn delete_webhook(&self, workspace_id: &str, id: &str, at: &str, audit: &AuditEntry) -> Result<bool> {
        let exists: Option<Value> = self
            .first(
                "SELECT id FROM webhooks WHERE workspace_id = ? AND id = ? AND deleted_at IS NULL AND channel = 'webhook'",
                &[workspace_id.into(), id.into()],
            )
            .await?;
        if exists.is_none() {
            return Ok(false);
        }
        self.audited(
            self.stmt(
                "UPDATE webhooks SET deleted_at = ? WHERE workspace_id = ? AND id = ? AND deleted_at IS NULL AND channel = 'webhook'",
                &[at.into(), workspace_id.into(), id.into()],
            )?,
            audit,
        )
        .await?;
        Ok(true)
    }

    /// Whether the workspace has this webhook (deleted ones keep their log).
    pub async fn webhook_exists(&self, workspace_id: &str, id: &str) -> Result<bool> {
        let row: Option<Value> = self
            .first(
                "SELECT id FROM webhooks WHERE workspace_id = ? AND id = ? AND channel = 'webhook'",
                &[workspace_id.into(), id.into()],
            )
            .await?;
        Ok(row.is_some())
    }

    /// The statement recording `rows` as pending deliveries, due for the
    /// sweeper at `due_at`: part of the batch of the change that causes them.
    pub fn outbox_stmt(
        &self,
        workspace_id: &str,
        rows: &[Outgoing],
        at: &str,
        due_at: &str,
    ) -> Result<D1PreparedStatement> {
        let rows = encode(rows)?;
        self.stmt(
            "INSERT INTO webhook_deliveries (id, webhook_id, workspace_id, event, payload, status, created_at, updated_at, due_at) \
             SELECT json_extract(value, '$.id'), json_extract(value, '$.webhook_id'), ?1, json_extract(value, '$.event'), \
             json_extract(value, '$.payload'), 'pending', ?3, ?3, ?4 FROM json_each(?2)",
            &[workspace_id.into(), (&rows).into(), at.into(), due_at.into()],
        )
    }

    /// Claims up to `limit` pending deliveries due by `now`, pushing their
    /// due time to `until` so the next sweep does not take them again.
    pub async fn claim_due_deliveries(&self, now: &str, until: &str, limit: u32) -> Result<Vec<DueDelivery>> {
        self.all(
            "UPDATE webhook_deliveries SET due_at = ?2 WHERE id IN \
             (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND due_at <= ?1 ORDER BY due_at LIMIT ?3) \
             RETURNING workspace_id, id",
            &[now.into(), until.into(), limit.into()],
        )
        .await
    }

    /// Makes deliveries due at once (their job could not be queued).
    pub async fn deliveries_due_now(&self, ids: &[&str], now: &str) -> Result<()> {
        self.run(
            "UPDATE webhook_deliveries SET due_at = ?2 WHERE status = 'pending' AND id IN (SELECT value FROM json_each(?1))",
            &[(&encode(ids)?).into(), now.into()],
        )
        .await
    }

    /// A delivery with what sending it needs, the signing secret opened.
    pub async fn delivery(&self, workspace_id: &str, id: &str) -> Result<Option<DeliveryRow>> {
        let row: Option<DeliveryRow> = self
            .first(
                "SELECT d.id, d.event, d.payload, d.status, d.attempts, w.url, w.secret, w.deleted_at IS NOT NULL AS deleted, w.channel \
                 FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
                 WHERE d.workspace_id = ? AND d.id = ?",
                &[workspace_id.into(), id.into()],
            )
            .await?;
        row.map(|mut d| {
            d.secret = self.open(workspace_id, WEBHOOK_SECRET, &d.secret)?;
            Ok(d)
        })
        .transpose()
    }

    /// `due_at`: when the sweeper may take it up again if no job does.
    #[allow(clippy::too_many_arguments)]
    pub async fn update_delivery(
        &self,
        id: &str,
        status: &str,
        attempts: u32,
        response_status: Option<u16>,
        last_error: Option<&str>,
        at: &str,
        due_at: &str,
    ) -> Result<()> {
        self.run(
            "UPDATE webhook_deliveries SET status = ?, attempts = ?, response_status = ?, last_error = ?, updated_at = ?, \
             due_at = ? WHERE id = ?",
            &[
                status.into(),
                attempts.into(),
                response_status.map_or(Arg::Null, |s| Arg::Int(i64::from(s))),
                last_error.into(),
                at.into(),
                due_at.into(),
                id.into(),
            ],
        )
        .await
    }

    pub async fn list_deliveries(&self, workspace_id: &str, webhook_id: &str) -> Result<Vec<Value>> {
        #[derive(Deserialize)]
        struct Row {
            delivery: String,
        }
        let rows: Vec<Row> = self
            .all(
                "SELECT json_object('id', id, 'event', event, 'status', status, 'attempts', attempts, \
                 'response_status', response_status, 'last_error', last_error, 'payload', json(payload), \
                 'created_at', created_at, 'updated_at', updated_at) AS delivery \
                 FROM webhook_deliveries WHERE workspace_id = ? AND webhook_id = ? ORDER BY created_at DESC, id LIMIT 200",
                &[workspace_id.into(), webhook_id.into()],
            )
            .await?;
        rows.iter().map(|r| decode(&r.delivery)).collect()
    }

    /// The statements that apply a settings update to one notification
    /// channel: the new row goes in (its secret sealed, or copied from the
    /// row it replaces when none is given), the old row is retired. Its
    /// deliveries' log stays.
    pub fn channel_stmts(
        &self,
        workspace_id: &str,
        channel: Channel,
        change: &ChannelChange,
        replaced: Option<&str>,
        created_by: &str,
        at: &str,
    ) -> Result<Vec<D1PreparedStatement>> {
        let new_id = crate::ids::new_id();
        let mut out = Vec::new();
        if let ChannelChange::Replace { url, secret, sender } = change {
            let sealed = secret
                .as_deref()
                .map(|s| self.seal(workspace_id, WEBHOOK_SECRET, s))
                .transpose()?;
            out.push(self.stmt(
                "INSERT INTO webhooks (id, workspace_id, url, secret, events, created_by, created_at, channel, sender) \
                 SELECT ?1, ?2, ?3, COALESCE(?4, (SELECT secret FROM webhooks WHERE id = ?9 AND workspace_id = ?2), ''), \
                 '[\"*\"]', ?5, ?6, ?7, ?8",
                &[
                    (&new_id).into(),
                    workspace_id.into(),
                    url.into(),
                    sealed.as_deref().into(),
                    created_by.into(),
                    at.into(),
                    channel.as_str().into(),
                    Some(sender.as_str()).filter(|s| !s.is_empty()).into(),
                    replaced.into(),
                ],
            )?);
        }
        out.push(self.stmt(
            "UPDATE webhooks SET deleted_at = ?1 WHERE workspace_id = ?2 AND channel = ?3 AND deleted_at IS NULL AND id != ?4",
            &[at.into(), workspace_id.into(), channel.as_str().into(), (&new_id).into()],
        )?);
        Ok(out)
    }

    /// Records a new attempt series of a delivery of the workspace's
    /// webhook (the same payload); false when there is no such delivery.
    #[allow(clippy::too_many_arguments)]
    pub async fn redeliver(
        &self,
        workspace_id: &str,
        webhook_id: &str,
        delivery_id: &str,
        new_id: &str,
        at: &str,
        due_at: &str,
        audit: &AuditEntry,
    ) -> Result<bool> {
        let exists: Option<Value> = self
            .first(
                "SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
                 WHERE d.workspace_id = ? AND d.webhook_id = ? AND d.id = ? AND w.channel = 'webhook' AND w.deleted_at IS NULL",
                &[workspace_id.into(), webhook_id.into(), delivery_id.into()],
            )
            .await?;
        if exists.is_none() {
            return Ok(false);
        }
        self.audited(
            self.stmt(
                "INSERT INTO webhook_deliveries (id, webhook_id, workspace_id, event, payload, status, created_at, updated_at, due_at) \
                 SELECT ?1, webhook_id, workspace_id, event, payload, 'pending', ?2, ?2, ?3 FROM webhook_deliveries \
                 WHERE workspace_id = ?4 AND id = ?5",
                &[new_id.into(), at.into(), due_at.into(), workspace_id.into(), delivery_id.into()],
            )?,
            audit,
        )
        .await?;
        Ok(true)
    }

    /// The notification deliveries of the workspace, newest first.
    pub async fn list_notifications(&self, workspace_id: &str) -> Result<Vec<Value>> {
        #[derive(Deserialize)]
        struct Row {
            delivery: String,
        }
        let rows: Vec<Row> = self
            .all(
                "SELECT json_object('id', d.id, 'channel', w.channel, 'event', d.event, \
                 'recipients', json(COALESCE(json_extract(d.payload, '$.to'), '[]')), 'status', d.status, \
                 'attempts', d.attempts, 'response_status', d.response_status, 'last_error', d.last_error, \
                 'created_at', d.created_at, 'updated_at', d.updated_at) AS delivery \
                 FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
                 WHERE d.workspace_id = ? AND w.channel != 'webhook' ORDER BY d.created_at DESC, d.id LIMIT 200",
                &[workspace_id.into()],
            )
            .await?;
        rows.iter().map(|r| decode(&r.delivery)).collect()
    }
}
