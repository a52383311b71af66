//! One module per resource of the API.

pub mod approvals;
pub mod audit;
pub mod dead_letters;
pub mod deployments;
pub mod environments;
pub mod evaluators;
pub mod experiments;
pub mod keys;
pub mod langfuse;
pub mod live;
pub mod members;
pub mod meta;
pub mod prompts;
pub mod render;
pub mod resolve;
pub mod settings;
pub mod telemetry;
pub mod testing;
pub mod versions;
pub mod webhooks;
pub mod workspaces;

use pvct_core::names::{EnvironmentName, Slug};
use pvct_core::{Error, ErrorKind};
use serde_json::json;

use crate::http::OrInternal;
use crate::store::{EnvironmentRow, PromptRow, VersionRow};
use crate::Ctx;

/// The caller's prompt by slug; another workspace's prompt is a 404 too.
pub async fn find_prompt(ctx: &Ctx, slug: &Slug) -> Result<PromptRow, Error> {
    ctx.store
        .prompt(&ctx.who.workspace_id, slug.as_str())
        .await
        .or_internal("load prompt")?
        .ok_or_else(|| Error::not_found("prompt"))
}

pub async fn find_environment(ctx: &Ctx, name: &EnvironmentName) -> Result<EnvironmentRow, Error> {
    ctx.store
        .environment(&ctx.who.workspace_id, name.as_str())
        .await
        .or_internal("environment")?
        .ok_or_else(|| Error::not_found("environment").with_details(json!({ "environment": name.as_str() })))
}

pub async fn find_version(ctx: &Ctx, prompt: &PromptRow, number: u32) -> Result<VersionRow, Error> {
    ctx.store
        .version(&prompt.id, number)
        .await
        .or_internal("version")?
        .ok_or_else(|| {
            Error::new(ErrorKind::NotFound, format!("version {number} not found"))
                .with_details(json!({ "version": number }))
        })
}
