//! The Langfuse-compatible prompt API (`/api/public/…`): what Langfuse's
//! official clients call, served from the registry. Core decides
//! (`pvct_core::langfuse`: routes, credentials, bodies, views, errors);
//! setting a label is a promotion through the release service.

use pvct_core::apikey::ApiKey;
use pvct_core::audit::AuditAction;
use pvct_core::content::PromptKind;
use pvct_core::langfuse::{
    self, labels_of, prompt_of, CompatRoute, CreatePrompt, Credentials, ListQuery, PendingLabel, PromptMeta,
    PromptName, PromptView, Reference, Selector,
};
use pvct_core::names::{EnvironmentName, Slug};
use pvct_core::release::Change;
use pvct_core::request::Commit;
use pvct_core::role::Permission;
use pvct_core::{Error, ErrorKind};
use serde_json::json;
use worker::{Env, Request, Response};

use super::versions::{commit_version, Includes};
use crate::http::{body, raw_json, OrInternal, Query};
use crate::ids::{new_id, now};
use crate::store::{NamedPrompt, PromptRow, VersionRow};
use crate::{release, Ctx};

/// Serves one compatibility request; errors answer in Langfuse's shape.
pub async fn handle(req: &mut Request, env: &Env, url: worker::Url) -> Response {
    match serve(req, env, url).await {
        Ok(response) => response,
        Err(err) => {
            let (status, body) = langfuse::error_body(&err);
            let mut response = raw_json(status, body.to_string())
                .unwrap_or_else(|_| Response::empty().expect("empty response").with_status(500));
            crate::http::error_headers(&err, &mut response);
            response
        }
    }
}

type Answer = Result<Response, Error>;

fn answer(status: u16, body: &impl serde::Serialize) -> Answer {
    raw_json(status, serde_json::to_string(body).or_internal("serialize")?)
}

async fn serve(req: &mut Request, env: &Env, url: worker::Url) -> Answer {
    let method = req.inner().method();
    let route = langfuse::match_route(&method, url.path())?;
    let (key, public_key) = match langfuse::credentials(crate::http::header(req, "authorization").as_deref())? {
        Credentials::Pair { public_key, secret_key } => (ApiKey::parse(&secret_key)?, Some(public_key)),
        Credentials::Secret(secret) => (ApiKey::parse(&secret)?, None),
        Credentials::PublicOnly => {
            return Err(Error::new(
                ErrorKind::Forbidden,
                "a public key alone cannot call this API: send Basic base64(publicKey:secretKey)",
            ));
        }
    };
    let address = crate::http::header(req, "cf-connecting-ip");
    let address = pvct_core::ratelimit::client_address(address.as_deref());
    let ctx = Ctx::signed_in(env, url, &key, pvct_core::ratelimit::Limiter::Key, address).await?;
    if public_key.is_some_and(|pk| !langfuse::public_key_matches(&pk, &ctx.who.key_id)) {
        return Err(Error::new(
            ErrorKind::Unauthenticated,
            "the public key does not belong to the secret key",
        ));
    }
    ctx.who.role.require(if route.writes() {
        Permission::Write
    } else {
        Permission::Read
    })?;
    match route {
        CompatRoute::GetPrompt(name) => get(&ctx, &name).await,
        CompatRoute::ListPrompts => list(&ctx).await,
        CompatRoute::CreatePrompt => create(&ctx, &body(req).await?).await,
        CompatRoute::UpdateLabels(name, version) => update_labels(&ctx, &name, version, &body(req).await?).await,
        CompatRoute::DeletePrompt(_) => Err(Error::invalid_field(
            "name",
            "PromptVault keeps every version of a prompt forever (its history is append-only), so prompts and \
             versions cannot be deleted; to stop serving a version, set its label on another version or roll \
             the environment back (POST /v1/prompts/{slug}/rollback)",
        )),
        CompatRoute::Ingestion => ingestion(&ctx, &body(req).await?).await,
        CompatRoute::OtelTraces | CompatRoute::Scores => answer(200, &json!({})),
        CompatRoute::Projects => {
            let ws = &ctx.who.workspace_id;
            let name = ctx
                .store
                .workspace_name(ws)
                .await
                .or_internal("workspace")?
                .unwrap_or_else(|| ws.clone());
            answer(
                200,
                &json!({ "data": [{ "id": ws, "name": name, "organization": { "id": ws, "name": name }, "metadata": {} }] }),
            )
        }
    }
}

/// The prompt a name stands for: its recorded name, a native prompt whose
/// slug is the name, or a native prompt created under the name's slug with
/// the name as its display name (what `pvct import` creates).
async fn named(ctx: &Ctx, name: &PromptName) -> Result<Option<NamedPrompt>, Error> {
    let ws = &ctx.who.workspace_id;
    if let Some(found) = ctx
        .store
        .prompt_by_name(ws, name.as_str())
        .await
        .or_internal("prompt by name")?
    {
        return Ok(Some(found));
    }
    let slug = langfuse::slug_for(name);
    Ok(ctx
        .store
        .prompt(ws, slug.as_str())
        .await
        .or_internal("prompt by slug")?
        .filter(|p| p.name == name.as_str())
        .map(|prompt| NamedPrompt {
            prompt,
            name: name.as_str().to_owned(),
            tags: Vec::new(),
        }))
}

/// (environment, version) of what each environment serves.
async fn live_of(ctx: &Ctx, prompt: &PromptRow) -> Result<Vec<(String, u32)>, Error> {
    Ok(ctx
        .store
        .live_of_prompt(&prompt.id)
        .await
        .or_internal("live")?
        .into_iter()
        .map(|l| (l.environment, l.version))
        .collect())
}

async fn head_of(ctx: &Ctx, prompt: &PromptRow) -> Result<Option<VersionRow>, Error> {
    ctx.store.head(&prompt.id).await.or_internal("head")
}

async fn get(ctx: &Ctx, name: &PromptName) -> Answer {
    let q = Query::of(&ctx.url);
    let selector = Selector::of(q.get("version"), q.get("label"))?;
    let named = named(ctx, name).await?.ok_or_else(|| selector.not_found(name))?;
    let head = head_of(ctx, &named.prompt)
        .await?
        .ok_or_else(|| selector.not_found(name))?;
    let live = live_of(ctx, &named.prompt).await?;
    let number = selector
        .version(head.number, &live)
        .ok_or_else(|| selector.not_found(name))?;
    let version = ctx
        .store
        .version(&named.prompt.id, number)
        .await
        .or_internal("version")?
        .ok_or_else(|| selector.not_found(name))?;
    let resolve = q.get("resolve") != Some("false");
    let view = view(ctx, &named, &version, head.number, &live, resolve, Vec::new()).await?;
    answer(200, &view)
}

/// A version as the clients parse it.
async fn view(
    ctx: &Ctx,
    named: &NamedPrompt,
    v: &VersionRow,
    head: u32,
    live: &[(String, u32)],
    resolve: bool,
    pending: Vec<PendingLabel>,
) -> Result<PromptView, Error> {
    let pins: Vec<String> = v.snippet_pins.pins.keys().cloned().collect();
    let names = if pins.is_empty() {
        Vec::new()
    } else {
        ctx.store
            .names_of_slugs(&ctx.who.workspace_id, &pins)
            .await
            .or_internal("names of slugs")?
    };
    let name_of = |slug: &str| names.iter().find(|(s, _)| s == slug).map(|(_, n)| n.clone());
    let content = if resolve {
        v.expanded().clone()
    } else {
        langfuse::unresolve_content(&v.content, &name_of)
    };
    let own = PromptName::parse(&named.name)?;
    let graph_pins: Vec<(String, u32)> = v
        .snippet_pins
        .pins
        .iter()
        .map(|(slug, n)| (name_of(slug).unwrap_or_else(|| slug.clone()), *n))
        .collect();
    Ok(PromptView {
        id: v.id.clone(),
        name: named.name.clone(),
        version: v.number,
        kind: if named.prompt.kind == PromptKind::Chat.as_str() {
            "chat"
        } else {
            "text"
        },
        prompt: prompt_of(&content),
        config: v.model_params.clone(),
        labels: labels_of(v.number, head, live),
        tags: named.tags.clone(),
        commit_message: Some(v.commit_msg.clone()).filter(|m| !m.is_empty()),
        resolution_graph: langfuse::resolution_graph(&own, v.number, &graph_pins),
        created_at: v.created_at.clone(),
        updated_at: v.created_at.clone(),
        created_by: v.author.clone(),
        project_id: ctx.who.workspace_id.clone(),
        is_active: None,
        pending_approvals: pending,
    })
}

async fn environment_names(ctx: &Ctx) -> Result<Vec<String>, Error> {
    Ok(ctx
        .store
        .environments(&ctx.who.workspace_id)
        .await
        .or_internal("environments")?
        .into_iter()
        .map(|e| e.name)
        .collect())
}

/// Sets labels on a version: one promotion per environment, through the
/// release service. Returns the labels that wait for an approver.
async fn set_labels(
    ctx: &Ctx,
    slug: &Slug,
    version: u32,
    environments: &[EnvironmentName],
) -> Result<Vec<PendingLabel>, Error> {
    let mut pending = Vec::new();
    for env in environments {
        let change = Change::Promote {
            version,
            reason: "Langfuse label".to_owned(),
            accept_variable_changes: false,
            end_experiment: false,
        };
        let answer = release::change_answer(ctx, slug, env, change).await?;
        if answer.status == 202 {
            pending.push(PendingLabel {
                environment: env.to_string(),
                approval_id: answer.body["approval_id"].as_str().unwrap_or_default().to_owned(),
            });
        }
    }
    Ok(pending)
}

async fn create(ctx: &Ctx, bytes: &[u8]) -> Answer {
    let input = CreatePrompt::parse(bytes)?;
    let ws = &ctx.who.workspace_id;
    let label_envs = langfuse::label_environments(&input.labels, &environment_names(ctx).await?)?;
    let existing = named(ctx, &input.name).await?;
    if let Some(n) = existing.as_ref().filter(|n| n.prompt.kind != input.kind.as_str()) {
        return Err(Error::invalid_field(
            "type",
            format!(
                "prompt '{}' is a {} prompt; a new version keeps its type",
                input.name.as_str(),
                n.prompt.kind
            ),
        ));
    }
    // Everything that can refuse the version is checked before a new
    // prompt is written: references pinned (as includes), templates parsed.
    let mut pins = Vec::new();
    for r in langfuse::references_in(&input.content)? {
        pins.push((r.clone(), pin_reference(ctx, &r).await?));
    }
    let mut content = input.content.clone();
    langfuse::rewrite_content(&mut content, &mut |r: &Reference| {
        pins.iter()
            .find(|(p, _)| p == r)
            .map(|(_, include)| include.clone())
            .ok_or_else(Error::internal)
    })?;
    let native =
        json!({ "content": content, "model_params": input.model_params, "message": input.message, "rebase": true });
    let commit = Commit::parse(native.to_string().as_bytes(), input.kind)?;
    let named = match existing {
        Some(n) => n,
        None => create_prompt(ctx, &input).await?,
    };
    let committed = commit_version(ctx, &named.prompt, commit, Includes::SnippetsAndTexts).await?;
    let tags = input.tags.clone().unwrap_or_else(|| named.tags.clone());
    ctx.store
        .set_name_and_tags(ws, &named.prompt.id, &named.name, &tags)
        .await
        .or_internal("name and tags")?;
    let named = NamedPrompt { tags, ..named };
    let slug = Slug::parse(&named.prompt.slug).or_internal("stored slug")?;
    let pending = set_labels(ctx, &slug, committed.row.number, &label_envs)
        .await
        .map_err(|e| {
            let message = format!(
                "version {} of '{}' was created, but a label was refused: {}",
                committed.row.number,
                named.name,
                e.message()
            );
            Error::new(e.kind(), message).with_details(e.details().clone())
        })?;
    let head = head_of(ctx, &named.prompt).await?.ok_or_else(Error::internal)?;
    let live = live_of(ctx, &named.prompt).await?;
    let status = if pending.is_empty() { 200 } else { 202 };
    answer(
        status,
        &view(ctx, &named, &committed.row, head.number, &live, true, pending).await?,
    )
}

/// A new prompt under a Langfuse name, with a slug of its own.
async fn create_prompt(ctx: &Ctx, input: &CreatePrompt) -> Result<NamedPrompt, Error> {
    let slug = langfuse::slug_for(&input.name);
    let ws = &ctx.who.workspace_id;
    if ctx
        .store
        .prompt(ws, slug.as_str())
        .await
        .or_internal("find slug")?
        .is_some()
    {
        return Err(Error::new(
            ErrorKind::AlreadyExists,
            format!(
                "the slug '{slug}' of '{}' is taken by another prompt",
                input.name.as_str()
            ),
        ));
    }
    let at = now();
    let row = PromptRow {
        id: new_id(),
        slug: slug.to_string(),
        name: input.name.as_str().to_owned(),
        description: String::new(),
        kind: input.kind.as_str().to_owned(),
        created_by: Some(ctx.who.actor.clone()),
        created_at: at.clone(),
    };
    let tags = input.tags.clone().unwrap_or_default();
    ctx.store
        .create_named_prompt(
            ws,
            &row,
            input.name.as_str(),
            &tags,
            &ctx.audit(AuditAction::PromptCreate, &row.slug, &at)
                .prompt(&row.slug)
                .details(json!({ "kind": row.kind, "name": row.name, "via": "langfuse" })),
        )
        .await
        .or_internal("create named prompt")?;
    Ok(NamedPrompt {
        name: input.name.as_str().to_owned(),
        tags,
        prompt: row,
    })
}

/// `{{> slug@N}}` for a reference: a label is the version it points to now.
async fn pin_reference(ctx: &Ctx, r: &Reference) -> Result<String, Error> {
    let missing = || {
        Error::new(
            ErrorKind::UnknownInclude,
            format!(
                "the referenced prompt '{}' does not exist or is not a text prompt",
                r.name.as_str()
            ),
        )
    };
    let named = named(ctx, &r.name).await?.ok_or_else(missing)?;
    if named.prompt.kind == PromptKind::Chat.as_str() {
        return Err(missing());
    }
    let head = head_of(ctx, &named.prompt)
        .await?
        .ok_or_else(|| r.selector.not_found(&r.name))?;
    let live = live_of(ctx, &named.prompt).await?;
    let version = r
        .selector
        .version(head.number, &live)
        .ok_or_else(|| r.selector.not_found(&r.name))?;
    Ok(format!("{{{{> {}@{version}}}}}", named.prompt.slug))
}

async fn update_labels(ctx: &Ctx, name: &PromptName, version: u32, bytes: &[u8]) -> Answer {
    let labels = langfuse::parse_new_labels(bytes)?;
    let envs = langfuse::label_environments(&labels, &environment_names(ctx).await?)?;
    let selector = Selector::Version(version);
    let named = named(ctx, name).await?.ok_or_else(|| selector.not_found(name))?;
    let row = ctx
        .store
        .version(&named.prompt.id, version)
        .await
        .or_internal("version")?
        .ok_or_else(|| selector.not_found(name))?;
    let slug = Slug::parse(&named.prompt.slug).or_internal("stored slug")?;
    let pending = set_labels(ctx, &slug, version, &envs).await?;
    let head = head_of(ctx, &named.prompt).await?.ok_or_else(Error::internal)?;
    let live = live_of(ctx, &named.prompt).await?;
    let status = if pending.is_empty() { 200 } else { 202 };
    answer(
        status,
        &view(ctx, &named, &row, head.number, &live, true, pending).await?,
    )
}

async fn list(ctx: &Ctx) -> Answer {
    let q = Query::of(&ctx.url);
    let query = ListQuery::parse(&|k: &str| q.get(k).map(str::to_owned))?;
    let ws = &ctx.who.workspace_id;
    let prompts = ctx.store.named_prompts(ws).await.or_internal("named prompts")?;
    let versions = ctx.store.version_stamps(ws).await.or_internal("version stamps")?;
    let live = ctx.store.live_stamps(ws).await.or_internal("live stamps")?;
    let items: Vec<PromptMeta> = prompts
        .into_iter()
        .filter_map(|(id, kind, name, tags)| {
            let mine: Vec<_> = versions.iter().filter(|v| v.prompt_id == id).collect();
            let last = mine.last()?;
            let mut labels: Vec<String> = live
                .iter()
                .filter(|l| l.prompt_id == id)
                .map(|l| l.environment.clone())
                .collect();
            labels.push(langfuse::LATEST.to_owned());
            Some(PromptMeta {
                name,
                kind: if kind == PromptKind::Chat.as_str() {
                    "chat"
                } else {
                    "text"
                },
                versions: mine.iter().map(|v| v.number).collect(),
                labels,
                tags,
                last_updated_at: last.created_at.clone(),
                last_config: last.model_params.clone(),
            })
        })
        .collect();
    answer(200, &query.page_of(items))
}

/// The legacy JS client's tracing batch: acknowledged; generations that
/// name a prompt version and were timed count as executions of it.
async fn ingestion(ctx: &Ctx, bytes: &[u8]) -> Answer {
    let batch: serde_json::Value = pvct_core::request::parse_json(bytes)?;
    let mut executions = Vec::new();
    for g in langfuse::generations(&batch) {
        let Some(named) = named(ctx, &g.prompt_name).await? else {
            continue;
        };
        let Some(version) = ctx
            .store
            .version(&named.prompt.id, g.prompt_version)
            .await
            .or_internal("version")?
        else {
            continue;
        };
        executions.push(json!({
            "id": g.id, "prompt_version_id": version.id, "environment": g.environment, "latency_ms": g.latency_ms,
            "tokens_in": g.tokens_in, "tokens_out": g.tokens_out, "model": g.model, "error": g.error,
        }));
    }
    if !executions.is_empty() {
        let body = json!({ "executions": executions }).to_string();
        super::telemetry::ingest(ctx, body.as_bytes()).await?;
    }
    answer(200, &json!({ "successes": [], "errors": [] }))
}
