//! Versions: commit (optimistic concurrency on the parent), history, one
//! version, and the word diff between two.

use pvct_core::audit::AuditAction;
use pvct_core::commit::{plan_commit, stale_parent, CommitPlan, Head};
use pvct_core::content::{ModelParams, PromptContent, PromptKind};
use pvct_core::diff::diff_versions;
use pvct_core::names::Slug;
use pvct_core::page::{finish_page, PageRequest};
use pvct_core::request::Commit;
use pvct_core::{Error, ErrorKind};
use serde_json::{json as j, Value};
use worker::Request;

use super::{find_prompt, parse_stored};
use crate::http::{body, json, ApiResult, OrInternal, Query};
use crate::ids::{new_id, now};
use crate::store::{AuditEntry, NewVersion, PromptRow, VersionRow};
use crate::Ctx;

pub fn version_json(v: &VersionRow, prompt: &PromptRow) -> Result<Value, Error> {
    Ok(j!({
        "id": v.id, "prompt": prompt.slug, "number": v.number, "parent_version": v.parent_number,
        "content": parse_stored(&v.content)?, "model_params": parse_stored(&v.model_params)?,
        "content_hash": v.content_hash, "author": v.author, "message": v.commit_msg, "created_at": v.created_at,
    }))
}

fn kind_of(prompt: &PromptRow) -> Result<PromptKind, Error> {
    PromptKind::parse(&prompt.kind).or_internal("stored kind")
}

fn head_of(v: &VersionRow) -> Head {
    Head {
        number: v.number,
        content_hash: v.content_hash.clone(),
    }
}

pub async fn create(ctx: &Ctx, slug: &Slug, req: &mut Request) -> ApiResult {
    let bytes = body(req).await?;
    let prompt = find_prompt(ctx, slug).await?;
    let commit = Commit::parse(&bytes, kind_of(&prompt)?)?;
    let head = ctx.store.head(&prompt.id).await.or_internal("head")?;
    let number = match plan_commit(
        head.as_ref().map(head_of).as_ref(),
        commit.parent_version,
        commit.rebase,
        &commit.content_hash,
    ) {
        Ok(CommitPlan::Unchanged) => {
            let head = head.ok_or_else(Error::internal)?;
            return json(200, &j!({ "created": false, "version": version_json(&head, &prompt)? }));
        }
        Ok(CommitPlan::Create { number }) => number,
        Err(err) => return Err(with_head(err, head.as_ref(), &prompt)?),
    };
    let at = now();
    let id = new_id();
    let content = commit.content.to_value().to_string();
    let params = commit.model_params.to_value().to_string();
    let audit_id = new_id();
    let inserted = ctx
        .store
        .insert_version(
            &NewVersion {
                id: &id,
                prompt_id: &prompt.id,
                number,
                parent_id: head.as_ref().map(|h| h.id.as_str()),
                content: &content,
                model_params: &params,
                content_hash: &commit.content_hash,
                author: &ctx.who.actor,
                message: &commit.message,
                at: &at,
            },
            &AuditEntry {
                id: &audit_id,
                workspace_id: &ctx.who.workspace_id,
                actor: &ctx.who.actor,
                action: AuditAction::VersionCreate,
                prompt_slug: Some(&prompt.slug),
                target: &format!("{}@{number}", prompt.slug),
                details: j!({ "number": number, "content_hash": commit.content_hash, "message": commit.message }),
                at: &at,
            },
        )
        .await;
    if let Err(cause) = inserted {
        // The number was taken by a concurrent commit: answer as if we had
        // seen it, with the head that won.
        let now_head = ctx.store.head(&prompt.id).await.or_internal("head")?;
        if now_head.as_ref().map(|h| h.number) != head.as_ref().map(|h| h.number) {
            let err = stale_parent(commit.parent_version, now_head.as_ref().map(|h| h.number));
            return Err(with_head(err, now_head.as_ref(), &prompt)?);
        }
        return Err(crate::http::internal("insert version", cause));
    }
    let row = VersionRow {
        id,
        number,
        parent_number: head.as_ref().map(|h| h.number),
        content,
        model_params: params,
        content_hash: commit.content_hash,
        author: ctx.who.actor.clone(),
        commit_msg: commit.message,
        created_at: at,
    };
    json(201, &j!({ "created": true, "version": version_json(&row, &prompt)? }))
}

/// Adds the current head to a 409 so the client can rebase without a
/// second request.
fn with_head(err: Error, head: Option<&VersionRow>, prompt: &PromptRow) -> Result<Error, Error> {
    if err.kind() != ErrorKind::StaleParent {
        return Ok(err);
    }
    let mut details = err.details().clone();
    details["head"] = match head {
        Some(h) => version_json(h, prompt)?,
        None => Value::Null,
    };
    Ok(err.with_details(details))
}

pub async fn list(ctx: &Ctx, slug: &Slug) -> ApiResult {
    let prompt = find_prompt(ctx, slug).await?;
    let q = Query::of(&ctx.url);
    let page = PageRequest::parse(q.get("limit"), q.get("cursor"))?;
    let before = page.after_number()?;
    let rows = ctx
        .store
        .list_versions(&prompt.id, before, page.fetch_size())
        .await
        .or_internal("versions")?;
    let (rows, next) = finish_page(rows, &page, |v| v.number.to_string());
    let items = rows
        .iter()
        .map(|v| version_json(v, &prompt))
        .collect::<Result<Vec<_>, _>>()?;
    json(200, &j!({ "items": items, "next_cursor": next }))
}

pub async fn get(ctx: &Ctx, slug: &Slug, number: u32) -> ApiResult {
    let prompt = find_prompt(ctx, slug).await?;
    let v = ctx
        .store
        .version(&prompt.id, number)
        .await
        .or_internal("version")?
        .ok_or_else(|| Error::not_found("version"))?;
    json(200, &version_json(&v, &prompt)?)
}

pub async fn diff(ctx: &Ctx, slug: &Slug) -> ApiResult {
    let q = Query::of(&ctx.url);
    let number = |name: &str| -> Result<u32, Error> {
        q.parse(name, |s| s.parse::<u32>().ok().filter(|n| *n > 0))?
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidQuery,
                    format!("the query parameter '{name}' (a version number) is required"),
                )
                .with_details(j!({ "parameter": name }))
            })
    };
    let (from, to) = (number("from")?, number("to")?);
    let prompt = find_prompt(ctx, slug).await?;
    let kind = kind_of(&prompt)?;
    let load = |n: u32| {
        let prompt = &prompt;
        async move {
            let v = ctx
                .store
                .version(&prompt.id, n)
                .await
                .or_internal("version")?
                .ok_or_else(|| {
                    Error::new(ErrorKind::NotFound, format!("version {n} not found")).with_details(j!({ "version": n }))
                })?;
            let content = PromptContent::from_value(kind, &parse_stored(&v.content)?).or_internal("stored content")?;
            let params = ModelParams::from_value(&parse_stored(&v.model_params)?).or_internal("stored params")?;
            Ok::<_, Error>((content, params))
        }
    };
    let (old, new) = (load(from).await?, load(to).await?);
    let d = diff_versions((&old.0, &old.1), (&new.0, &new.1));
    json(
        200,
        &j!({ "prompt": prompt.slug, "from": from, "to": to, "words_added": d.words_added,
                    "words_removed": d.words_removed, "fields": d.fields }),
    )
}
