//! The raw telemetry log in R2 (`TELEMETRY_LOG`): writes one object per
//! queue message, lists and reads a workspace's objects, and deletes those
//! past its retention. Names and layout are the core's (`raw_log`).

use pvct_core::raw_log::{day_prefix, expired, workspace_prefix, LogObjectId};
use worker::{Bucket, Env, HttpMetadata, Result};

pub const BINDING: &str = "TELEMETRY_LOG";

/// R2 lists at most 1,000 keys per call; retention deletes a page at a time.
const PAGE: u32 = 1000;

pub struct RawLog(Bucket);

/// One listed object.
pub struct Listed {
    pub id: LogObjectId,
    pub bytes: u64,
}

impl RawLog {
    pub fn new(env: &Env) -> Result<Self> {
        env.bucket(BINDING).map(RawLog)
    }

    /// Writes the object `id` of `workspace_id`; writing it again (a retried
    /// message) replaces it with the same records.
    pub async fn put(&self, workspace_id: &str, id: &LogObjectId, ndjson: String) -> Result<()> {
        self.0
            .put(id.object_key(workspace_id), ndjson.into_bytes())
            .http_metadata(HttpMetadata {
                content_type: Some("application/x-ndjson".into()),
                ..Default::default()
            })
            .execute()
            .await
            .map(|_| ())
    }

    /// A page of one day's objects, in key (so time) order, and the cursor
    /// of the next page.
    pub async fn list(
        &self,
        workspace_id: &str,
        day: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<(Vec<Listed>, Option<String>)> {
        let mut request = self.0.list().prefix(day_prefix(workspace_id, day)).limit(limit);
        if let Some(c) = cursor {
            request = request.cursor(c);
        }
        let page = request.execute().await?;
        let items = page
            .objects()
            .iter()
            .filter_map(|o| {
                Some(Listed {
                    id: LogObjectId::of_object_key(workspace_id, &o.key())?,
                    bytes: o.size(),
                })
            })
            .collect();
        Ok((items, page.truncated().then(|| page.cursor()).flatten()))
    }

    /// The object's NDJSON text, if it exists.
    pub async fn get(&self, workspace_id: &str, id: &LogObjectId) -> Result<Option<String>> {
        match self.0.get(id.object_key(workspace_id)).execute().await? {
            Some(object) => match object.body() {
                Some(body) => body.text().await.map(Some),
                None => Ok(None),
            },
            None => Ok(None),
        }
    }

    /// Deletes the oldest page of the workspace's objects from days before
    /// `first_kept_day`; answers whether a whole page went (there may be more).
    pub async fn prune(&self, workspace_id: &str, first_kept_day: &str) -> Result<bool> {
        let page = self
            .0
            .list()
            .prefix(workspace_prefix(workspace_id))
            .limit(PAGE)
            .execute()
            .await?;
        let keys: Vec<String> = page.objects().iter().map(|o| o.key()).collect();
        let doomed = expired(workspace_id, &keys, first_kept_day);
        if !doomed.is_empty() {
            self.0.delete_multiple(doomed.clone()).await?;
        }
        Ok(page.truncated() && doomed.len() == keys.len())
    }
}
