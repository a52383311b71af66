//! A/B experiments: start or change a split of an environment's traffic
//! between versions, end it (changes of the release service, release.rs),
//! and read the history.

use pvct_core::api::Items;
use pvct_core::names::{EnvironmentName, Slug};
use pvct_core::release::Change;
use pvct_core::routing::ExperimentSpec;
use worker::Request;

use super::find_prompt;
use crate::http::{body, json, ApiResult, OrInternal};
use crate::release;
use crate::Ctx;

pub async fn put(ctx: &Ctx, slug: &Slug, environment: &EnvironmentName, req: &mut Request) -> ApiResult {
    let spec = ExperimentSpec::parse(&body(req).await?)?;
    release::change(ctx, slug, environment, Change::SetExperiment(spec)).await
}

pub async fn end(ctx: &Ctx, slug: &Slug, environment: &EnvironmentName) -> ApiResult {
    release::change(ctx, slug, environment, Change::EndExperiment).await
}

pub async fn list(ctx: &Ctx, slug: &Slug) -> ApiResult {
    let prompt = find_prompt(ctx, slug).await?;
    let items = ctx
        .store
        .list_experiments(&prompt.id)
        .await
        .or_internal("experiments")?;
    json(200, &Items::new(items))
}
