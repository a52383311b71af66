//! Every SQL statement of the worker, one submodule per aggregate; this
//! module holds what they share. D1 is the source of truth; each state
//! change is one `batch` (one transaction) that includes its audit row, so a
//! change and its audit entry land together or not at all.
//!
//! JSON columns are decoded here, into the core's types, as rows are read:
//! callers never parse stored JSON themselves.

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use worker::wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, Result};

use pvct_core::audit::AuditEntry;
use pvct_core::secrets::{context, is_sealed, Keyring};

mod approvals;
mod audit;
mod dead_letters;
mod deployments;
mod environments;
mod evaluators;
mod experiments;
mod keys;
mod langfuse;
mod members;
mod prices;
mod prompts;
mod release;
mod settings;
mod telemetry;
mod testing;
mod versions;
mod webhooks;
mod workspaces;

// The types callers name; the others are only returned.
pub use audit::AuditFilter;
pub use deployments::LiveRow;
pub use environments::EnvironmentRow;
pub use experiments::VariantVersionRow;
pub use keys::NewKey;
pub use langfuse::NamedPrompt;
pub use prompts::PromptRow;
pub use release::StateQuery;
pub use telemetry::Claim;
pub use testing::{grade_of, NewResult, NewRun, RunRow, SuiteRow};
pub use versions::{NewVersion, VersionRow};
pub use webhooks::{channels_of, WebhookRow};

/// Something SQL can bind.
pub enum Arg<'a> {
    Text(&'a str),
    Int(i64),
    Null,
}

impl From<&Arg<'_>> for JsValue {
    fn from(arg: &Arg<'_>) -> JsValue {
        match arg {
            Arg::Text(s) => JsValue::from_str(s),
            Arg::Int(n) => JsValue::from_f64(*n as f64),
            Arg::Null => JsValue::NULL,
        }
    }
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(s: &'a str) -> Self {
        Arg::Text(s)
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(s: &'a String) -> Self {
        Arg::Text(s)
    }
}

impl From<u32> for Arg<'_> {
    fn from(n: u32) -> Self {
        Arg::Int(i64::from(n))
    }
}

impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(s: Option<&'a str>) -> Self {
        s.map_or(Arg::Null, Arg::Text)
    }
}

/// Stands for "no upper bound" in keyset pagination; exact as a JS number.
const MAX_SAFE_INTEGER: i64 = 9_007_199_254_740_991;

/// The keyset bound of a page: below `before`, or no bound.
fn before_bound(before: Option<u32>) -> Arg<'static> {
    Arg::Int(before.map_or(MAX_SAFE_INTEGER, i64::from))
}

/// A JSON column, decoded into `T` as the row is read.
fn json_column<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> std::result::Result<T, D::Error> {
    serde_json::from_str(&String::deserialize(d)?).map_err(D::Error::custom)
}

/// A JSON column whose unreadable values stand for `T::default()`.
fn json_column_or_default<'de, D: Deserializer<'de>, T: DeserializeOwned + Default>(
    d: D,
) -> std::result::Result<T, D::Error> {
    Ok(serde_json::from_str(&String::deserialize(d)?).unwrap_or_default())
}

/// A nullable JSON column.
fn json_column_opt<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> std::result::Result<Option<T>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|text| serde_json::from_str(&text).map_err(D::Error::custom))
        .transpose()
}

/// JSON text made by SQL (`json_object`), decoded.
fn decode<T: DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| worker::Error::RustError(e.to_string()))
}

/// A value as JSON text, to store in a JSON column.
fn encode<T: serde::Serialize + ?Sized>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| worker::Error::RustError(e.to_string()))
}

pub struct Store {
    db: D1Database,
    /// Seals and opens secret columns; None when no key is configured.
    keys: Option<Keyring>,
}

impl Store {
    pub fn new(db: D1Database, keys: Option<Keyring>) -> Self {
        Store { db, keys }
    }

    /// `plain` sealed for storage in `field` of the workspace.
    fn seal(&self, workspace_id: &str, field: &str, plain: &str) -> Result<String> {
        let keys = self.keys.as_ref().ok_or_else(|| {
            worker::Error::RustError("PVCT_ENCRYPTION_KEY is not set: secrets cannot be stored".into())
        })?;
        Ok(keys.seal(&context(workspace_id, field), plain, crate::ids::random_bytes::<12>()))
    }

    /// A stored secret opened (a value from before encryption as it is).
    fn open(&self, workspace_id: &str, field: &str, stored: &str) -> Result<String> {
        let ctx = context(workspace_id, field);
        let opened = match &self.keys {
            Some(keys) => keys.open(&ctx, stored),
            None if !is_sealed(stored) => Ok(pvct_core::secrets::Opened {
                plain: stored.to_owned(),
                reseal: true,
            }),
            None => {
                return Err(worker::Error::RustError(
                    "PVCT_ENCRYPTION_KEY is not set: a sealed secret cannot be read".into(),
                ))
            }
        };
        opened
            .map(|o| o.plain)
            .map_err(|e| worker::Error::RustError(e.message().to_owned()))
    }

    fn stmt(&self, sql: &str, args: &[Arg<'_>]) -> Result<D1PreparedStatement> {
        let values: Vec<JsValue> = args.iter().map(JsValue::from).collect();
        self.db.prepare(sql).bind(&values)
    }

    async fn first<T: for<'de> Deserialize<'de>>(&self, sql: &str, args: &[Arg<'_>]) -> Result<Option<T>> {
        self.stmt(sql, args)?.first::<T>(None).await
    }

    async fn all<T: for<'de> Deserialize<'de>>(&self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<T>> {
        self.stmt(sql, args)?.all().await?.results::<T>()
    }

    /// One statement outside a batch.
    async fn run(&self, sql: &str, args: &[Arg<'_>]) -> Result<()> {
        self.stmt(sql, args)?.run().await.map(|_| ())
    }

    async fn batch(&self, statements: Vec<D1PreparedStatement>) -> Result<()> {
        self.db.batch(statements).await.map(|_| ())
    }

    /// A batch, answering the rows it wrote (D1's `meta.rows_written`,
    /// indexes included): what telemetry ingest is measured by.
    async fn batch_rows_written(&self, statements: Vec<D1PreparedStatement>) -> Result<u64> {
        let results = self.db.batch(statements).await?;
        Ok(results
            .iter()
            .filter_map(|r| r.meta().ok().flatten()?.rows_written)
            .map(|n| n as u64)
            .sum())
    }

    /// The change `statement` and its audit row, in one transaction.
    async fn audited(&self, statement: D1PreparedStatement, audit: &AuditEntry) -> Result<()> {
        self.batch(vec![statement, self.audit_stmt(audit)?]).await
    }

    /// The audit row of `e`, with a new id.
    fn audit_stmt(&self, e: &AuditEntry) -> Result<D1PreparedStatement> {
        let (id, details) = (crate::ids::new_id(), e.details.to_string());
        self.stmt(
            "INSERT INTO audit_log (id, workspace_id, actor, person_email, person_name, action, prompt_slug, target, details, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            &[
                (&id).into(),
                (&e.workspace_id).into(),
                (&e.actor).into(),
                e.person.as_ref().map(|p| p.email.as_str()).into(),
                e.person.as_ref().map(|p| p.name.as_str()).into(),
                e.action.as_str().into(),
                e.prompt_slug.as_deref().into(),
                (&e.target).into(),
                (&details).into(),
                (&e.at).into(),
            ],
        )
    }
}
