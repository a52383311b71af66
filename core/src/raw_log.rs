//! The raw telemetry log: every execution, feedback and evaluator score as
//! NDJSON objects in R2, one object per queue message, never in D1.
//!
//! R2 scales out where one D1 database cannot (a single writer, 10 GB), so
//! the raw records of 100 million executions a day fit; D1 holds only the
//! hourly rollups (see [`crate::rollup`]). An object's key is derived from
//! the message's content, so writing it again after a retry replaces it
//! with the same bytes.
//!
//! Layout: `{workspace}/{day}/{id}.ndjson` with `id` = `{hour}_{kind}_{key}`,
//! so one workspace's objects list in time order and retention deletes a
//! prefix of that listing.

use serde::Serialize;

use crate::error::{Error, ErrorKind, Result};
use crate::rollup::LEDGER_DAYS;
use crate::time::{is_date, iso8601_from_millis, parse_day};

/// What an object holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogKind {
    Executions,
    Feedback,
    Scores,
}

impl LogKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LogKind::Executions => "executions",
            LogKind::Feedback => "feedback",
            LogKind::Scores => "scores",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [LogKind::Executions, LogKind::Feedback, LogKind::Scores]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// One object of a workspace's raw log, named as the API names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogObjectId {
    hour: String,
    kind: LogKind,
    key: String,
}

impl LogObjectId {
    pub fn new(hour: &str, kind: LogKind, key: &str) -> Self {
        LogObjectId {
            hour: hour.to_owned(),
            kind,
            key: key.to_owned(),
        }
    }

    /// `2026-12-04T10_executions_<32 hex>`, as `GET /v1/telemetry/log/{id}` takes it.
    pub fn parse(id: &str) -> Result<Self> {
        let bad = || Error::new(ErrorKind::NotFound, "no such raw log object");
        let mut parts = id.splitn(3, '_');
        let (hour, kind, key) = (
            parts.next().ok_or_else(bad)?,
            parts.next().ok_or_else(bad)?,
            parts.next().ok_or_else(bad)?,
        );
        let hour_ok = hour.len() == 13
            && hour.is_ascii()
            && hour.as_bytes()[10] == b'T'
            && is_date(&hour[..10])
            && hour.as_bytes()[11..].iter().all(u8::is_ascii_digit)
            && hour[11..].parse::<u8>().is_ok_and(|h| h < 24);
        let key_ok = key.len() == 32 && key.bytes().all(|b| b.is_ascii_hexdigit());
        match LogKind::parse(kind) {
            Some(kind) if hour_ok && key_ok => Ok(LogObjectId::new(hour, kind, key)),
            _ => Err(bad()),
        }
    }

    pub fn hour(&self) -> &str {
        &self.hour
    }

    pub fn kind(&self) -> LogKind {
        self.kind
    }

    pub fn day(&self) -> &str {
        &self.hour[..10]
    }

    pub fn id(&self) -> String {
        format!("{}_{}_{}", self.hour, self.kind.as_str(), self.key)
    }

    /// The R2 key of this object in `workspace_id`'s log.
    pub fn object_key(&self, workspace_id: &str) -> String {
        format!("{}{}.ndjson", day_prefix(workspace_id, self.day()), self.id())
    }

    /// The id of an R2 key listed under `workspace_id`'s prefix.
    pub fn of_object_key(workspace_id: &str, object_key: &str) -> Option<Self> {
        let rest = object_key.strip_prefix(&workspace_prefix(workspace_id))?;
        let (_day, file) = rest.split_once('/')?;
        Self::parse(file.strip_suffix(".ndjson")?).ok()
    }
}

/// The date of `days` since the epoch.
fn date_of(days: i64) -> Option<String> {
    let millis = u64::try_from(days.checked_mul(86_400_000)?).ok()?;
    Some(iso8601_from_millis(millis)[..10].to_owned())
}

/// Every object of a workspace's log starts with this.
pub fn workspace_prefix(workspace_id: &str) -> String {
    format!("{workspace_id}/")
}

/// Every object of a workspace's log for one day starts with this.
pub fn day_prefix(workspace_id: &str, day: &str) -> String {
    format!("{workspace_id}/{day}/")
}

/// Records as NDJSON: one JSON object per line.
pub fn ndjson<T: Serialize>(records: &[T]) -> Result<String> {
    let mut out = String::new();
    for r in records {
        out.push_str(
            &serde_json::to_string(r).map_err(|_| Error::new(ErrorKind::Internal, "a record did not serialize"))?,
        );
        out.push('\n');
    }
    Ok(out)
}

/// The first day kept when `retention_days` are kept, counted back from
/// `today` (`YYYY-MM-DD`): everything of earlier days may go.
pub fn first_kept_day(today: &str, retention_days: u32) -> Option<String> {
    date_of(parse_day(today)? - i64::from(retention_days))
}

/// Days a dead letter is kept: a month to notice, fix and replay it.
pub const DEAD_LETTER_DAYS: u32 = 30;

/// What a workspace's retention job deletes before: raw log objects of
/// days before `raw_log`, ledger rows of days before `ledger`, dead letters
/// stored before `dead_letters`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cutoffs {
    pub raw_log: String,
    pub ledger: String,
    pub dead_letters: String,
}

/// The cutoffs on `today` for a workspace keeping `retention_days` of raw
/// log; the ledger is kept [`LEDGER_DAYS`] and dead letters
/// [`DEAD_LETTER_DAYS`] whatever the retention.
pub fn cutoffs(today: &str, retention_days: u32) -> Option<Cutoffs> {
    Some(Cutoffs {
        raw_log: first_kept_day(today, retention_days)?,
        ledger: first_kept_day(today, LEDGER_DAYS)?,
        dead_letters: first_kept_day(today, DEAD_LETTER_DAYS)?,
    })
}

/// Of one page of a workspace's object keys (listed in key order, so
/// oldest day first), the ones older than `first_kept_day`.
pub fn expired<'a>(workspace_id: &str, keys: &'a [String], first_kept_day: &str) -> Vec<&'a str> {
    let prefix = workspace_prefix(workspace_id);
    keys.iter()
        .filter(|k| {
            k.strip_prefix(&prefix)
                .and_then(|rest| rest.get(..10))
                .is_some_and(|day| day < first_kept_day)
        })
        .map(String::as_str)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn ids_round_trip_through_object_keys() {
        let id = LogObjectId::new("2026-12-04T10", LogKind::Feedback, KEY);
        assert_eq!(id.id(), format!("2026-12-04T10_feedback_{KEY}"));
        let key = id.object_key("ws1");
        assert_eq!(key, format!("ws1/2026-12-04/2026-12-04T10_feedback_{KEY}.ndjson"));
        assert_eq!(LogObjectId::of_object_key("ws1", &key), Some(id.clone()));
        assert_eq!(LogObjectId::of_object_key("ws2", &key), None);
        assert_eq!(LogObjectId::parse(&id.id()).unwrap(), id);
    }

    #[test]
    fn only_well_formed_ids_name_objects() {
        for bad in [
            "",
            "2026-12-04T10",
            "2026-12-04T10_feedback",
            "2026-12-04T24_feedback_0123456789abcdef0123456789abcdef",
            "2026-12-04T+1_feedback_0123456789abcdef0123456789abcdef",
            "2026-13-04T10_feedback_0123456789abcdef0123456789abcdef",
            "2026-12-04T10_other_0123456789abcdef0123456789abcdef",
            "2026-12-04T10_feedback_0123",
            "../../x_feedback_0123456789abcdef0123456789abcdef",
            "2026-12-04T10_feedback_0123456789abcdef0123456789abcdeg",
        ] {
            assert!(LogObjectId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn retention_counts_back_from_today() {
        assert_eq!(first_kept_day("2026-12-04", 30).as_deref(), Some("2026-11-04"));
        assert_eq!(first_kept_day("2026-03-01", 1).as_deref(), Some("2026-02-28"));
        assert_eq!(first_kept_day("nonsense", 1), None);
        let c = cutoffs("2026-12-04", 90).unwrap();
        assert_eq!((c.raw_log.as_str(), c.ledger.as_str()), ("2026-09-05", "2026-11-27"));
        assert_eq!(c.dead_letters, "2026-11-04");
        let keys: Vec<String> = [
            "ws1/2026-11-03/a",
            "ws1/2026-11-04/b",
            "ws1/2026-11-05/c",
            "ws10/2026-01-01/d",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(expired("ws1", &keys, "2026-11-04"), ["ws1/2026-11-03/a"]);
    }

    #[test]
    fn ndjson_is_one_line_per_record() {
        let text = ndjson(&[serde_json::json!({"a": 1}), serde_json::json!({"b": "x\ny"})]).unwrap();
        assert_eq!(text, "{\"a\":1}\n{\"b\":\"x\\ny\"}\n");
    }
}
