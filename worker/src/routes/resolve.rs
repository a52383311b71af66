//! The edge hot path: `GET /v1/resolve/{slug}` and `GET /v1/bundle`.
//!
//! Served from this isolate's cache, else one KV read; a KV miss rebuilds
//! from D1 and writes back. `x-pvct-source` says which one served
//! (`isolate`, `kv`, `d1`); `Cache-Control: no-cache` skips the isolate cache.

use std::rc::Rc;

use pvct_core::names::{EnvironmentName, Slug};
use pvct_core::resolved::{if_none_match, join_shards, stale_shards, ResolvedPrompt, BUNDLE_SHARDS};
use pvct_core::{Error, ErrorKind};
use serde_json::json as j;
use worker::{Request, Response};

use crate::http::{header, raw_json, ApiResult, OrInternal, Query};
use crate::isolate_cache::{self, Entry};
use crate::kv::{bundle_key, resolved_key, Cached};
use crate::publish::{rebuild_resolved, rebuild_shard, rebuild_shards, WriteBack};
use crate::Ctx;

fn environment_param(q: &Query) -> Result<EnvironmentName, Error> {
    let raw = q
        .get("environment")
        .or_else(|| q.get("env"))
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            Error::new(ErrorKind::InvalidQuery, "the query parameter 'environment' is required")
                .with_details(j!({ "parameter": "environment" }))
        })?;
    EnvironmentName::parse(raw).map_err(|e| {
        Error::new(ErrorKind::InvalidQuery, e.message().to_owned()).with_details(j!({ "parameter": "environment" }))
    })
}

fn skips_isolate_cache(req: &Request) -> bool {
    header(req, "cache-control").is_some_and(|v| v.to_ascii_lowercase().contains("no-cache"))
}

/// 200 with the body, or 304 when the client already has this ETag.
fn serve(req: &Request, body: impl FnOnce() -> Result<String, Error>, etag: &str, source: &str) -> ApiResult {
    let mut response = if if_none_match(header(req, "if-none-match").as_deref(), etag) {
        Response::empty().or_internal("304")?.with_status(304)
    } else {
        raw_json(200, body()?)?
    };
    let headers = response.headers_mut();
    headers.set("etag", etag).or_internal("etag")?;
    headers.set("x-pvct-source", source).or_internal("source")?;
    headers
        .set("cache-control", "private, no-cache")
        .or_internal("cache-control")?;
    Ok(response)
}

/// The resolved document of `slug` in `env`: this isolate's cache, else
/// one KV read, else rebuilt from D1. Also says which one served it.
pub async fn load_resolved(
    ctx: &Ctx,
    env: &EnvironmentName,
    slug: &Slug,
    skip_isolate: bool,
) -> Result<(Rc<ResolvedPrompt>, Rc<str>, &'static str), Error> {
    let ws = &ctx.who.workspace_id;
    let key = resolved_key(ws, env.as_str(), slug.as_str());
    if !skip_isolate {
        if let Some(Entry::Resolved(doc, etag)) = isolate_cache::get(&key) {
            return Ok((doc, etag, "isolate"));
        }
    }
    if let Some(stored) = ctx
        .kv
        .resolved(ws, env.as_str(), slug.as_str())
        .await
        .or_internal("kv resolved")?
    {
        let doc: Rc<ResolvedPrompt> = Rc::new(serde_json::from_str(&stored.body).or_internal("stored resolved")?);
        let etag: Rc<str> = Rc::from(stored.etag);
        isolate_cache::put(&key, Entry::Resolved(doc.clone(), etag.clone()));
        return Ok((doc, etag, "kv"));
    }
    match rebuild_resolved(
        &ctx.store,
        &ctx.kv,
        ws,
        env.as_str(),
        slug.as_str(),
        WriteBack::BestEffort,
    )
    .await?
    {
        Some((doc, etag)) => Ok((doc, etag, "d1")),
        None => Err(why_not_deployed(ctx, slug, env).await?),
    }
}

pub async fn resolve(ctx: &Ctx, slug: &Slug, req: &Request) -> ApiResult {
    let q = Query::of(&ctx.url);
    let env = environment_param(&q)?;
    let user_key = q.get("user_key").or_else(|| q.get("user"));
    let (doc, etag, source) = load_resolved(ctx, &env, slug, skips_isolate_cache(req)).await?;
    // Route this caller: the core picks the variant from the user key (or
    // at random without one); the answer's ETag names the variant.
    let resolution = doc.resolve_for(user_key, random_u32);
    let etag = resolution.etag(&etag);
    serve(
        req,
        || serde_json::to_string(&resolution).or_internal("resolution json"),
        &etag,
        source,
    )
}

pub fn random_u32() -> u32 {
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
        return Ok(Error::not_found("environment").with_details(j!({ "environment": env.as_str() })));
    }
    Ok(Error::new(
        ErrorKind::NotDeployed,
        format!("no version of '{slug}' is deployed in {env}; promote one first"),
    )
    .with_details(j!({ "environment": env.as_str() })))
}

pub async fn bundle(ctx: &Ctx, req: &Request) -> ApiResult {
    let q = Query::of(&ctx.url);
    let env = environment_param(&q)?;
    let wait = pvct_core::live::wait_seconds(q.get("wait"))?;
    let min_seq = pvct_core::live::min_seq(q.get("min_seq"))?;
    if let Some(slugs) = pvct_core::resolved::prompt_filter(q.get("prompts"))? {
        return filtered_bundle(ctx, req, &env, &slugs, wait, min_seq.unwrap_or(0)).await;
    }
    if wait.is_some() || min_seq.is_some() {
        return live_bundle(ctx, req, &env, wait, min_seq.unwrap_or(0)).await;
    }
    let ws = &ctx.who.workspace_id;
    let key = bundle_key(ws, env.as_str());
    let cached = if skips_isolate_cache(req) {
        None
    } else {
        isolate_cache::get(&key)
    };
    if let Some(Entry::Bundle(body, etag)) = cached {
        return serve(req, || Ok(body.to_string()), &etag, "isolate");
    }
    let (doc, source) = bundle_at_least(ctx, &env, 0).await?;
    isolate_cache::put(
        &key,
        Entry::Bundle(Rc::from(doc.body.as_str()), Rc::from(doc.etag.as_str())),
    );
    serve(req, || Ok(doc.body), &doc.etag, source)
}

async fn environment_row(ctx: &Ctx, env: &EnvironmentName) -> Result<crate::store::EnvironmentRow, Error> {
    ctx.store
        .environment(&ctx.who.workspace_id, env.as_str())
        .await
        .or_internal("environment")?
        .ok_or_else(|| Error::not_found("environment").with_details(j!({ "environment": env.as_str() })))
}

/// The environment's whole bundle at release sequence `min_seq` or later:
/// its shards read from KV in parallel and joined. Shards missing from KV
/// are rebuilt from D1 (all of them, from one read); with `min_seq`, a
/// shard older than a release of one of its prompts up to then is rebuilt
/// from D1 (KV may lag a change by up to a minute).
async fn bundle_at_least(ctx: &Ctx, env: &EnvironmentName, min_seq: u64) -> Result<(Cached, &'static str), Error> {
    let ws = &ctx.who.workspace_id;
    let read = ctx
        .kv
        .shards(ws, env.as_str(), BUNDLE_SHARDS)
        .await
        .or_internal("kv shards")?;
    let mut source = "kv";
    let mut shards: Vec<Cached> = if read.iter().all(Option::is_some) {
        read.into_iter().flatten().collect()
    } else {
        let row = environment_row(ctx, env).await?;
        source = "d1";
        rebuild_shards(&ctx.store, &ctx.kv, ws, &row.id, &row.name, WriteBack::BestEffort).await?
    };
    let oldest = shards.iter().map(|d| d.seq).min().unwrap_or(0);
    if min_seq > oldest {
        let row = environment_row(ctx, env).await?;
        let changed = ctx
            .store
            .releases_after(&row.id, oldest)
            .await
            .or_internal("releases after")?;
        let seqs: Vec<u64> = shards.iter().map(|d| d.seq).collect();
        for k in stale_shards(&seqs, &changed) {
            shards[k as usize] =
                rebuild_shard(&ctx.store, &ctx.kv, ws, &row.id, &row.name, k, WriteBack::BestEffort).await?;
            source = "d1";
        }
    }
    let (body, etag) = join_shards(env.as_str(), shards.iter().map(|d| (d.body.as_str(), d.etag.as_str())));
    let seq = shards.iter().map(|d| d.seq).max().unwrap_or(0);
    Ok((Cached { body, etag, seq }, source))
}

/// `?min_seq=N` (what a live subscriber asks after hearing of change N)
/// and `?wait=S` (a long poll: with `If-None-Match` naming the current
/// bundle, held until the environment changes or S seconds pass).
async fn live_bundle(ctx: &Ctx, req: &Request, env: &EnvironmentName, wait: Option<u32>, min_seq: u64) -> ApiResult {
    let (doc, source) = bundle_at_least(ctx, env, min_seq).await?;
    let holds = pvct_core::live::holds(header(req, "if-none-match").as_deref(), &doc.etag);
    if let (Some(seconds), true) = (wait, holds) {
        let seq = crate::live::wait(&ctx.env, &ctx.who.workspace_id, env.as_str(), doc.seq, seconds).await;
        if seq > doc.seq {
            let (doc, source) = bundle_at_least(ctx, env, seq).await?;
            return serve_seq(req, doc, source);
        }
    }
    serve_seq(req, doc, source)
}

/// `?prompts=a,b`: a bundle of only the prompts an app asks for, assembled
/// from their published documents (one KV read each, in parallel), so an
/// app that uses 10 prompts of 5,000 downloads and compiles 10. Prompts not
/// deployed in the environment are left out. With `min_seq`, a document
/// older than its prompt's last release is rebuilt from D1; `wait` holds
/// the request like the whole bundle's long poll.
async fn filtered_bundle(
    ctx: &Ctx,
    req: &Request,
    env: &EnvironmentName,
    slugs: &[Slug],
    wait: Option<u32>,
    min_seq: u64,
) -> ApiResult {
    let (mut bundle, mut seq) = assemble(ctx, env, slugs, min_seq, wait.is_some()).await?;
    if let Some(seconds) = wait {
        if pvct_core::live::holds(header(req, "if-none-match").as_deref(), &bundle.etag()) {
            let now = crate::live::wait(&ctx.env, &ctx.who.workspace_id, env.as_str(), seq, seconds).await;
            if now > seq {
                (bundle, seq) = assemble(ctx, env, slugs, now, true).await?;
            }
        }
    }
    let etag = bundle.etag();
    let mut response = serve(
        req,
        || serde_json::to_string(&bundle).or_internal("bundle json"),
        &etag,
        "kv",
    )?;
    response
        .headers_mut()
        .set("x-pvct-seq", &seq.to_string())
        .or_internal("seq header")?;
    Ok(response)
}

/// The filtered bundle and the environment's release sequence it is at.
async fn assemble(
    ctx: &Ctx,
    env: &EnvironmentName,
    slugs: &[Slug],
    min_seq: u64,
    exact_seq: bool,
) -> Result<(pvct_core::resolved::Bundle, u64), Error> {
    let ws = &ctx.who.workspace_id;
    let reads = slugs
        .iter()
        .map(|slug| ctx.kv.resolved(ws, env.as_str(), slug.as_str()));
    let stored: Vec<Option<Cached>> = futures_util::future::join_all(reads)
        .await
        .into_iter()
        .collect::<worker::Result<_>>()
        .or_internal("kv resolved")?;
    let mut prompts = std::collections::BTreeMap::new();
    // The hit path: every document in KV and no sequence asked for. D1 is
    // read only on a miss, after a change (`min_seq`), or for a long poll,
    // which waits after the environment's exact sequence (`exact_seq`).
    if min_seq == 0 && !exact_seq && stored.iter().all(Option::is_some) {
        let mut seq = 0;
        for doc in stored.into_iter().flatten() {
            seq = seq.max(doc.seq);
            let parsed: ResolvedPrompt = serde_json::from_str(&doc.body).or_internal("stored resolved")?;
            prompts.insert(parsed.slug.clone(), parsed);
        }
        let bundle = pvct_core::resolved::Bundle {
            environment: env.as_str().to_owned(),
            prompts,
        };
        return Ok((bundle, seq));
    }
    let row = environment_row(ctx, env).await?;
    let names: Vec<&str> = slugs.iter().map(Slug::as_str).collect();
    // Which documents must be newer than KV may hold: only asked after a change.
    let required = if min_seq > 0 {
        ctx.store
            .prompt_release_seqs(&row.id, &names)
            .await
            .or_internal("prompt seqs")?
    } else {
        Default::default()
    };
    let loads = slugs.iter().zip(stored).map(|(slug, stored)| {
        let need = required.get(slug.as_str()).copied().unwrap_or(0);
        async move {
            match stored {
                Some(doc) if doc.seq >= need => {
                    let parsed: ResolvedPrompt = serde_json::from_str(&doc.body).or_internal("stored resolved")?;
                    Ok::<_, Error>(Some(parsed))
                }
                _ => Ok(rebuild_resolved(
                    &ctx.store,
                    &ctx.kv,
                    ws,
                    env.as_str(),
                    slug.as_str(),
                    WriteBack::BestEffort,
                )
                .await?
                .map(|(doc, _)| (*doc).clone())),
            }
        }
    });
    for doc in futures_util::future::join_all(loads).await {
        if let Some(doc) = doc? {
            prompts.insert(doc.slug.clone(), doc);
        }
    }
    let seq = ctx.store.release_seq(&row.id).await.or_internal("release seq")?;
    Ok((
        pvct_core::resolved::Bundle {
            environment: env.as_str().to_owned(),
            prompts,
        },
        seq,
    ))
}

fn serve_seq(req: &Request, doc: Cached, source: &str) -> ApiResult {
    let seq = doc.seq.to_string();
    let mut response = serve(req, || Ok(doc.body), &doc.etag, source)?;
    response
        .headers_mut()
        .set("x-pvct-seq", &seq)
        .or_internal("seq header")?;
    Ok(response)
}
