//! Jobs that stopped being retried, kept for admins to read and replay.

use pvct_core::audit::AuditEntry;
use pvct_core::jobs::{DeadLetter, DeadReason, JobQueue};
use serde::{Deserialize, Deserializer};
use worker::Result;

use super::Store;

/// How many dead letters one page lists.
pub const DEAD_LETTERS_PAGE: u32 = 100;

#[derive(Deserialize)]
struct DeadLetterRow {
    id: String,
    #[serde(deserialize_with = "queue_column")]
    queue: JobQueue,
    kind: String,
    #[serde(deserialize_with = "reason_column")]
    reason: DeadReason,
    attempts: u32,
    created_at: String,
    replayed_at: Option<String>,
}

fn queue_column<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<JobQueue, D::Error> {
    let s = String::deserialize(d)?;
    JobQueue::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown queue {s}")))
}

fn reason_column<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<DeadReason, D::Error> {
    let s = String::deserialize(d)?;
    DeadReason::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown reason {s}")))
}

impl From<DeadLetterRow> for DeadLetter {
    fn from(r: DeadLetterRow) -> Self {
        DeadLetter {
            id: r.id,
            queue: r.queue,
            kind: r.kind,
            reason: r.reason,
            attempts: r.attempts,
            created_at: r.created_at,
            replayed_at: r.replayed_at,
        }
    }
}

const COLUMNS: &str = "id, queue, kind, reason, attempts, created_at, replayed_at";

impl Store {
    /// Stores a message that will not be retried any more.
    #[allow(clippy::too_many_arguments)]
    pub async fn bury(
        &self,
        id: &str,
        workspace_id: &str,
        queue: JobQueue,
        kind: &str,
        reason: DeadReason,
        attempts: u32,
        body: &str,
        at: &str,
    ) -> Result<()> {
        self.run(
            "INSERT INTO dead_letters (id, workspace_id, queue, kind, reason, attempts, body, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            &[
                id.into(),
                workspace_id.into(),
                queue.as_str().into(),
                kind.into(),
                reason.as_str().into(),
                attempts.into(),
                body.into(),
                at.into(),
            ],
        )
        .await
    }

    /// The workspace's newest dead letters.
    /// Deletes up to `chunk` of the workspace's dead letters stored before
    /// `first_kept_day`, oldest first, through the (workspace_id,
    /// created_at) index. A full chunk means there may be more.
    pub async fn prune_dead_letters(&self, workspace_id: &str, first_kept_day: &str, chunk: u32) -> Result<u32> {
        let result = self
            .stmt(
                "DELETE FROM dead_letters WHERE id IN (SELECT id FROM dead_letters WHERE workspace_id = ?1 \
                 AND created_at < ?2 ORDER BY created_at LIMIT ?3)",
                &[workspace_id.into(), first_kept_day.into(), chunk.into()],
            )?
            .run()
            .await?;
        let deleted = result.meta().ok().flatten().and_then(|m| m.changes).unwrap_or(0);
        Ok(u32::try_from(deleted).unwrap_or(u32::MAX))
    }

    pub async fn dead_letters(&self, workspace_id: &str) -> Result<Vec<DeadLetter>> {
        let rows: Vec<DeadLetterRow> = self
            .all(
                &format!(
                    "SELECT {COLUMNS} FROM dead_letters WHERE workspace_id = ? \
                     ORDER BY created_at DESC, id LIMIT ?"
                ),
                &[workspace_id.into(), DEAD_LETTERS_PAGE.into()],
            )
            .await?;
        Ok(rows.into_iter().map(DeadLetter::from).collect())
    }

    /// One dead letter and the message body it keeps.
    pub async fn dead_letter(&self, workspace_id: &str, id: &str) -> Result<Option<(DeadLetter, String)>> {
        #[derive(Deserialize)]
        struct WithBody {
            #[serde(flatten)]
            row: DeadLetterRow,
            body: String,
        }
        let row: Option<WithBody> = self
            .first(
                &format!("SELECT {COLUMNS}, body FROM dead_letters WHERE workspace_id = ? AND id = ?"),
                &[workspace_id.into(), id.into()],
            )
            .await?;
        Ok(row.map(|r| (r.row.into(), r.body)))
    }

    /// Undoes [`Store::mark_replayed`] when the replay could not be sent.
    pub async fn unmark_replayed(&self, workspace_id: &str, id: &str) -> Result<()> {
        self.run(
            "UPDATE dead_letters SET replayed_at = NULL WHERE workspace_id = ? AND id = ?",
            &[workspace_id.into(), id.into()],
        )
        .await
    }

    /// Records who replayed a dead letter.
    pub async fn record_replay(&self, audit: &AuditEntry) -> Result<()> {
        self.batch(vec![self.audit_stmt(audit)?]).await
    }

    /// Marks a dead letter replayed; false when another replay got there first.
    pub async fn mark_replayed(&self, workspace_id: &str, id: &str, at: &str) -> Result<bool> {
        let changed = self
            .stmt(
                "UPDATE dead_letters SET replayed_at = ? WHERE workspace_id = ? AND id = ? AND replayed_at IS NULL",
                &[at.into(), workspace_id.into(), id.into()],
            )?
            .run()
            .await?
            .meta()?
            .and_then(|m| m.changes)
            .unwrap_or(0);
        Ok(changed > 0)
    }
}
