//! The edge hot path: `GET /v1/resolve/{slug}` and `GET /v1/bundle`.
//!
//! One KV read serves the document as stored, with its ETag. A miss
//! rebuilds from D1 and writes back; `x-pvct-source` says which served it.

use pvct_core::names::{EnvironmentName, Slug};
use pvct_core::resolved::{if_none_match, ResolvedPrompt};
use pvct_core::{Error, ErrorKind};
use serde_json::json as j;
use worker::{Request, Response};

use crate::http::{header, raw_json, ApiResult, OrInternal, Query};
use crate::kv::Cached;
use crate::publish::{rebuild_bundle, rebuild_resolved};
use crate::Ctx;

fn environment_param(q: &Query) -> Result<EnvironmentName, Error> {
    let raw = q
        .get("environment")
        .or_else(|| q.get("env"))
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidQuery,
                "the query parameter 'environment' is required",
            )
            .with_details(j!({ "parameter": "environment" }))
        })?;
    EnvironmentName::parse(raw).map_err(|e| {
        Error::new(ErrorKind::InvalidQuery, e.message().to_owned())
            .with_details(j!({ "parameter": "environment" }))
    })
}

/// 200 with the document, or 304 when the client already has this ETag.
fn serve(req: &Request, doc: Cached, source: &str) -> ApiResult {
    let mut response = if if_none_match(header(req, "if-none-match").as_deref(), &doc.etag) {
        Response::empty().or_internal("304")?.with_status(304)
    } else {
        raw_json(200, doc.body)?
    };
    let headers = response.headers_mut();
    headers.set("etag", &doc.etag).or_internal("etag")?;
    headers.set("x-pvct-source", source).or_internal("source")?;
    headers
        .set("cache-control", "private, no-cache")
        .or_internal("cache-control")?;
    Ok(response)
}

pub async fn resolve(ctx: &Ctx, slug: &Slug, req: &Request) -> ApiResult {
    let q = Query::of(&ctx.url);
    let env = environment_param(&q)?;
    let user_key = q.get("user_key").or_else(|| q.get("user"));
    let ws = &ctx.who.workspace_id;
    let (doc, source) = match ctx
        .kv
        .resolved(ws, env.as_str(), slug.as_str())
        .await
        .or_internal("kv resolved")?
    {
        Some(doc) => (doc, "kv"),
        None => match rebuild_resolved(&ctx.store, &ctx.kv, ws, env.as_str(), slug.as_str()).await?
        {
            Some(doc) => (doc, "d1"),
            None => return Err(why_not_deployed(ctx, slug, &env).await?),
        },
    };
    // Route this caller: the core picks the variant from the user key (or
    // at random without one); the answer's ETag names the variant.
    let document: ResolvedPrompt =
        serde_json::from_str(&doc.body).or_internal("stored resolved")?;
    let resolution = document.resolve_for(user_key, random_u32);
    let etag = resolution.etag(&doc.etag);
    let body = serde_json::to_string(&resolution).or_internal("resolution json")?;
    serve(req, Cached { body, etag }, source)
}

fn random_u32() -> u32 {
    let mut buf = [0u8; 4];
    getrandom::fill(&mut buf).expect("crypto.getRandomValues is available");
    u32::from_le_bytes(buf)
}

/// Tells apart a missing prompt, a missing environment and a prompt with
/// nothing deployed (only on the miss path, never on the hot path).
async fn why_not_deployed(ctx: &Ctx, slug: &Slug, env: &EnvironmentName) -> Result<Error, Error> {
    let ws = &ctx.who.workspace_id;
    if ctx
        .store
        .prompt(ws, slug.as_str())
        .await
        .or_internal("prompt")?
        .is_none()
    {
        return Ok(Error::not_found("prompt"));
    }
    if ctx
        .store
        .environment(ws, env.as_str())
        .await
        .or_internal("environment")?
        .is_none()
    {
        return Ok(
            Error::not_found("environment").with_details(j!({ "environment": env.as_str() }))
        );
    }
    Ok(Error::new(
        ErrorKind::NotDeployed,
        format!("no version of '{slug}' is deployed in {env}; promote one first"),
    )
    .with_details(j!({ "environment": env.as_str() })))
}

pub async fn bundle(ctx: &Ctx, req: &Request) -> ApiResult {
    let env = environment_param(&Query::of(&ctx.url))?;
    let ws = &ctx.who.workspace_id;
    if let Some(doc) = ctx
        .kv
        .bundle(ws, env.as_str())
        .await
        .or_internal("kv bundle")?
    {
        return serve(req, doc, "kv");
    }
    let row = ctx
        .store
        .environment(ws, env.as_str())
        .await
        .or_internal("environment")?
        .ok_or_else(|| {
            Error::not_found("environment").with_details(j!({ "environment": env.as_str() }))
        })?;
    let doc = rebuild_bundle(&ctx.store, &ctx.kv, ws, &row.id, &row.name).await?;
    serve(req, doc, "d1")
}
