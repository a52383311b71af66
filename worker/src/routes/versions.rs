//! Versions: commit (optimistic concurrency on the parent), history, one
//! version, and the word diff between two.

use crate::webhook_delivery;
use pvct_core::api::{CommitView, DiffView, Page, VersionSummaryView, VersionView};
use pvct_core::audit::AuditAction;
use pvct_core::commit::{plan_commit, stale_parent, CommitPlan, Head};
use pvct_core::content::{ModelParams, PromptContent, PromptKind};
use pvct_core::diff::{diff_metadata, diff_versions};
use pvct_core::names::Slug;
use pvct_core::page::{finish_page, VersionListing};
use pvct_core::release::Event;
use pvct_core::request::Commit;
use pvct_core::template::IncludeGraph;
use pvct_core::{Error, ErrorKind};
use serde_json::json as j;
use worker::Request;

use super::find_prompt;
use crate::http::{body, json, ApiResult, OrInternal, Query};
use crate::ids::{new_id, now};
use crate::store::{NewVersion, PromptRow, VersionRow};
use crate::Ctx;

pub fn version_summary(v: &VersionRow, prompt: &PromptRow) -> VersionSummaryView {
    VersionSummaryView {
        id: v.id.clone(),
        prompt: prompt.slug.clone(),
        number: v.number,
        parent_version: v.parent_number,
        model_params: v.model_params.clone(),
        variables: v.variables.uses.clone(),
        variable_declarations: v.variables.declares.clone(),
        snippet_pins: v.snippet_pins.pins.clone(),
        content_hash: v.content_hash.clone(),
        author: v.author.clone(),
        message: v.commit_msg.clone(),
        created_at: v.created_at.clone(),
    }
}

pub fn version_view(v: &VersionRow, prompt: &PromptRow) -> VersionView {
    VersionView {
        summary: version_summary(v, prompt),
        content: v.content.clone(),
        resolved_content: v.expanded().clone(),
    }
}

/// Pins every include of a commit: to `@N` when given, otherwise to the
/// snippet's live production version; returns what `Commit::finish` needs.
async fn pin_snippets(
    ctx: &Ctx,
    commit: &Commit,
    texts_too: bool,
) -> Result<Vec<(String, u32, String, IncludeGraph)>, Error> {
    let mut pinned = Vec::new();
    for (slug, version) in commit.includes()? {
        let unknown = |message: String| {
            Error::new(ErrorKind::UnknownInclude, message).with_details(j!({ "snippet": slug, "version": version }))
        };
        let snippet = ctx
            .store
            .prompt(&ctx.who.workspace_id, &slug)
            .await
            .or_internal("snippet")?
            // Langfuse composes text prompts; natively only snippets are parts.
            .filter(|p| p.kind == PromptKind::Snippet.as_str() || (texts_too && p.kind == PromptKind::Text.as_str()))
            .ok_or_else(|| unknown(format!("'{slug}' is not a snippet of this workspace")))?;
        let number = match version {
            Some(n) => n,
            None => ctx
                .store
                .live(&ctx.who.workspace_id, &slug, "production")
                .await
                .or_internal("snippet live")?
                .map(|l| l.version)
                .ok_or_else(|| {
                    unknown(format!(
                        "snippet '{slug}' has no production version; promote one or pin it as {{{{> {slug}@N}}}}"
                    ))
                })?,
        };
        let v = ctx
            .store
            .version(&snippet.id, number)
            .await
            .or_internal("snippet version")?
            .ok_or_else(|| unknown(format!("snippet '{slug}' has no version {number}")))?;
        let text = v.expanded()["text"].as_str().ok_or_else(Error::internal)?.to_owned();
        pinned.push((slug, number, text, v.snippet_pins));
    }
    Ok(pinned)
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
    let Committed { row, created } = commit_version(ctx, &prompt, commit, Includes::Snippets).await?;
    let version = version_view(&row, &prompt);
    json(if created { 201 } else { 200 }, &CommitView { created, version })
}

/// A commit's outcome: the new version, or the head when the content was
/// the head's already (nothing written).
pub struct Committed {
    pub row: VersionRow,
    pub created: bool,
}

/// What `{{> slug}}` may include.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Includes {
    Snippets,
    /// Snippets and text prompts: Langfuse's composed prompts.
    SnippetsAndTexts,
}

/// Commits a parsed body on `prompt` (also the Langfuse-compatible create).
pub async fn commit_version(
    ctx: &Ctx,
    prompt: &PromptRow,
    commit: Commit,
    includes: Includes,
) -> Result<Committed, Error> {
    let snippets = pin_snippets(ctx, &commit, includes == Includes::SnippetsAndTexts).await?;
    let (content_value, params_value) = (commit.content.to_value(), commit.model_params.to_value());
    let (parent_version, rebase, message) = (commit.parent_version, commit.rebase, commit.message.clone());
    let finished = commit.finish(&prompt.slug, &snippets)?;
    let head = ctx.store.head(&prompt.id).await.or_internal("head")?;
    let number = match plan_commit(
        head.as_ref().map(head_of).as_ref(),
        parent_version,
        rebase,
        &finished.content_hash,
    ) {
        Ok(CommitPlan::Unchanged) => {
            let row = head.ok_or_else(Error::internal)?;
            return Ok(Committed { row, created: false });
        }
        Ok(CommitPlan::Create { number }) => number,
        Err(err) => return Err(with_head(err, head.as_ref(), prompt)),
    };
    let at = now();
    let id = new_id();
    let resolved_value = finished.expanded.to_value();
    let content = content_value.to_string();
    let params = params_value.to_string();
    let resolved = resolved_value.to_string();
    let variables = serde_json::to_string(&finished.variables).or_internal("variables json")?;
    let pins = serde_json::to_string(&finished.includes).or_internal("pins json")?;
    let event = Event {
        name: "version.created",
        data: j!({ "prompt": prompt.slug, "version": number, "version_id": id, "author": ctx.who.actor,
                   "message": message, "content_hash": finished.content_hash }),
    };
    // The webhook deliveries commit with the version (the outbox).
    let outgoing = webhook_delivery::outbox(&ctx.store, &ctx.who.workspace_id, &[event], &at, &ctx.console()).await?;
    let inserted = ctx
        .store
        .insert_version(
            &NewVersion {
                id: &id,
                prompt_id: &prompt.id,
                number,
                parent_id: head.as_ref().map(|h| h.id.as_str()),
                content: &content,
                resolved_content: &resolved,
                variables: &variables,
                snippet_pins: &pins,
                model_params: &params,
                content_hash: &finished.content_hash,
                author: &ctx.who.actor,
                message: &message,
                at: &at,
            },
            &ctx.audit(AuditAction::VersionCreate, format!("{}@{number}", prompt.slug), &at)
                .prompt(&prompt.slug)
                .details(j!({ "number": number, "content_hash": finished.content_hash, "message": message })),
            (&outgoing, webhook_delivery::sweep_due()),
        )
        .await;
    if let Err(cause) = inserted {
        // The number was taken by a concurrent commit: answer as if we had
        // seen it, with the head that won.
        let now_head = ctx.store.head(&prompt.id).await.or_internal("head")?;
        if now_head.as_ref().map(|h| h.number) != head.as_ref().map(|h| h.number) {
            let err = stale_parent(parent_version, now_head.as_ref().map(|h| h.number));
            return Err(with_head(err, now_head.as_ref(), prompt));
        }
        return Err(crate::http::internal("insert version", cause));
    }
    let row = VersionRow {
        id,
        number,
        parent_number: head.as_ref().map(|h| h.number),
        content: content_value,
        resolved_content: Some(resolved_value),
        variables: finished.variables,
        snippet_pins: finished.includes,
        model_params: params_value,
        content_hash: finished.content_hash,
        author: ctx.who.actor.clone(),
        commit_msg: message,
        created_at: at,
    };
    webhook_delivery::dispatch(&ctx.env, &ctx.store, &ctx.who.workspace_id, &outgoing).await;
    crate::test_runs::on_commit(ctx, prompt, &row).await;
    Ok(Committed { row, created: true })
}

/// Adds the current head to a 409 so the client can rebase without a
/// second request.
fn with_head(err: Error, head: Option<&VersionRow>, prompt: &PromptRow) -> Error {
    if err.kind() != ErrorKind::StaleParent {
        return err;
    }
    let mut details = err.details().clone();
    details["head"] = serde_json::to_value(head.map(|h| version_view(h, prompt))).unwrap_or_default();
    err.with_details(details)
}

pub async fn list(ctx: &Ctx, slug: &Slug) -> ApiResult {
    let prompt = find_prompt(ctx, slug).await?;
    let q = Query::of(&ctx.url);
    let VersionListing { page, with_content } =
        VersionListing::parse(q.get("limit"), q.get("cursor"), q.get("include"))?;
    let before = page.after_number()?;
    let rows = ctx
        .store
        .list_versions(&prompt.id, before, page.fetch_size(), with_content)
        .await
        .or_internal("versions")?;
    let (rows, next) = finish_page(rows, &page, |v| v.number.to_string());
    if with_content {
        let items: Vec<VersionView> = rows.iter().map(|v| version_view(v, &prompt)).collect();
        json(200, &Page::new(items, next))
    } else {
        let items: Vec<VersionSummaryView> = rows.iter().map(|v| version_summary(v, &prompt)).collect();
        json(200, &Page::new(items, next))
    }
}

pub async fn get(ctx: &Ctx, slug: &Slug, number: u32) -> ApiResult {
    let prompt = find_prompt(ctx, slug).await?;
    let v = ctx
        .store
        .version(&prompt.id, number)
        .await
        .or_internal("version")?
        .ok_or_else(|| Error::not_found("version"))?;
    json(200, &version_view(&v, &prompt))
}

pub async fn diff(ctx: &Ctx, slug: &Slug) -> ApiResult {
    let q = Query::of(&ctx.url);
    let (from, to) = (q.version_number("from")?, q.version_number("to")?);
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
            let content = PromptContent::from_value(kind, &v.content).or_internal("stored content")?;
            let params = ModelParams::from_value(&v.model_params).or_internal("stored params")?;
            Ok::<_, Error>((content, params, v.variables, v.snippet_pins))
        }
    };
    let (old, new) = (load(from).await?, load(to).await?);
    let mut d = diff_versions((&old.0, &old.1), (&new.0, &new.1));
    diff_metadata(&mut d, (&old.2, &old.3), (&new.2, &new.3));
    json(200, &DiffView::new(prompt.slug, from, to, d))
}
