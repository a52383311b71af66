//! One module per resource of the API.

pub mod audit;
pub mod deployments;
pub mod environments;
pub mod keys;
pub mod meta;
pub mod prompts;
pub mod resolve;
pub mod versions;
pub mod workspaces;

use pvct_core::names::Slug;
use pvct_core::Error;

use crate::http::OrInternal;
use crate::store::PromptRow;
use crate::Ctx;

/// The caller's prompt by slug; another workspace's prompt is a 404 too.
pub async fn find_prompt(ctx: &Ctx, slug: &Slug) -> Result<PromptRow, Error> {
    ctx.store
        .prompt(&ctx.who.workspace_id, slug.as_str())
        .await
        .or_internal("load prompt")?
        .ok_or_else(|| Error::not_found("prompt"))
}

/// A JSON column read back from D1.
pub fn parse_stored(text: &str) -> Result<serde_json::Value, Error> {
    serde_json::from_str(text).or_internal("stored json")
}
