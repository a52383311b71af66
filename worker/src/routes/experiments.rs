//! A/B experiments: start or change a split of an environment's traffic
//! between versions, end it, and read the history.

use pvct_core::audit::AuditAction;
use pvct_core::names::{EnvironmentName, Slug};
use pvct_core::routing::{ExperimentSpec, VariantSpec};
use pvct_core::{Error, ErrorKind};
use serde_json::{json as j, Value};
use worker::Request;

use super::{find_environment, find_prompt, parse_stored};
use crate::http::{body, json, ApiResult, OrInternal};
use crate::ids::{new_id, now};
use crate::publish::publish;
use crate::store::{EnvironmentRow, ExperimentRow, NewExperiment};
use crate::Ctx;

fn experiment_json(x: &ExperimentRow) -> Result<Value, Error> {
    Ok(j!({
        "id": x.id, "prompt": x.prompt_slug, "environment": x.environment, "name": x.name, "salt": x.salt,
        "variants": parse_stored(&x.variants)?, "status": x.status, "started_by": x.started_by,
        "started_at": x.started_at, "updated_at": x.updated_at, "ended_by": x.ended_by, "ended_at": x.ended_at,
    }))
}

/// Splitting traffic in a protected environment needs an approver.
fn require_traffic_permission(ctx: &Ctx, env: &EnvironmentRow) -> Result<(), Error> {
    ctx.who.role.require(env.policy.traffic_permission())
}

pub async fn put(ctx: &Ctx, slug: &Slug, env_name: &EnvironmentName, req: &mut Request) -> ApiResult {
    let spec = ExperimentSpec::parse(&body(req).await?)?;
    let prompt = find_prompt(ctx, slug).await?;
    let env = find_environment(ctx, env_name).await?;
    require_traffic_permission(ctx, &env)?;
    let ws = &ctx.who.workspace_id;
    if ctx
        .store
        .live(ws, &prompt.slug, &env.name)
        .await
        .or_internal("live")?
        .is_none()
    {
        return Err(Error::new(
            ErrorKind::Conflict,
            format!(
                "promote a version of '{}' to {} before splitting its traffic",
                prompt.slug, env.name
            ),
        ));
    }
    let unknown = spec.unknown_versions(&ctx.store.version_numbers(&prompt.id).await.or_internal("versions")?);
    if !unknown.is_empty() {
        return Err(
            Error::invalid_field("variants", format!("no such version of '{}': {unknown:?}", prompt.slug))
                .with_details(j!({ "field": "variants", "unknown_versions": unknown })),
        );
    }
    let variants: Vec<VariantSpec> = spec.variants.clone();
    let variants_json = serde_json::to_string(&variants).or_internal("variants json")?;
    let at = now();
    let running = ctx
        .store
        .running_experiment(&prompt.id, &env.id)
        .await
        .or_internal("running")?;
    let status = match &running {
        Some(x) => {
            let salt = spec.salt.clone().unwrap_or_else(|| x.salt.clone());
            let name = spec.name.clone().unwrap_or_else(|| x.name.clone());
            ctx.store
                .update_experiment(
                    &x.id,
                    &name,
                    &salt,
                    &variants_json,
                    &at,
                    &ctx.audit(
                        AuditAction::ExperimentUpdate,
                        format!("{} in {}", prompt.slug, env.name),
                        &at,
                    )
                    .prompt(&prompt.slug)
                    .details(j!({ "experiment_id": x.id, "environment": env.name,
                                      "from": parse_stored(&x.variants)?, "to": variants,
                                      "salt_changed": salt != x.salt })),
                )
                .await
                .or_internal("update experiment")?;
            200
        }
        None => {
            let id = new_id();
            let salt = spec.salt.clone().unwrap_or_else(|| id.clone());
            let name = spec.name.clone().unwrap_or_default();
            let started = ctx
                .store
                .start_experiment(
                    &NewExperiment {
                        id: &id,
                        workspace_id: ws,
                        prompt_id: &prompt.id,
                        environment_id: &env.id,
                        name: &name,
                        salt: &salt,
                        variants: &variants_json,
                        actor: &ctx.who.actor,
                        at: &at,
                    },
                    &ctx.audit(
                        AuditAction::ExperimentStart,
                        format!("{} in {}", prompt.slug, env.name),
                        &at,
                    )
                    .prompt(&prompt.slug)
                    .details(j!({ "experiment_id": id, "environment": env.name, "variants": variants })),
                )
                .await;
            if started.is_err() {
                // The one-running-experiment index refused a concurrent start.
                if ctx
                    .store
                    .running_experiment(&prompt.id, &env.id)
                    .await
                    .or_internal("running")?
                    .is_some()
                {
                    return Err(Error::new(
                        ErrorKind::Conflict,
                        "another experiment was started at the same time; retry",
                    ));
                }
                started.or_internal("start experiment")?;
            }
            201
        }
    };
    publish(&ctx.store, &ctx.kv, ws, &env.id, &env.name, &prompt.slug).await?;
    let row = ctx
        .store
        .running_experiment(&prompt.id, &env.id)
        .await
        .or_internal("running")?
        .ok_or_else(Error::internal)?;
    let body = experiment_json(&row)?;
    if status == 201 {
        crate::webhook_delivery::emit(ctx, "experiment.started", body.clone()).await;
    }
    json(status, &body)
}

pub async fn end(ctx: &Ctx, slug: &Slug, env_name: &EnvironmentName) -> ApiResult {
    let prompt = find_prompt(ctx, slug).await?;
    let env = find_environment(ctx, env_name).await?;
    require_traffic_permission(ctx, &env)?;
    let ws = &ctx.who.workspace_id;
    let running = ctx
        .store
        .running_experiment(&prompt.id, &env.id)
        .await
        .or_internal("running")?
        .ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!("no experiment is running for '{}' in {}", prompt.slug, env.name),
            )
        })?;
    let at = now();
    ctx.store
        .end_experiment(
            &running.id,
            &ctx.who.actor,
            &at,
            &ctx.audit(
                AuditAction::ExperimentEnd,
                format!("{} in {}", prompt.slug, env.name),
                &at,
            )
            .prompt(&prompt.slug)
            .details(j!({ "experiment_id": running.id, "environment": env.name })),
        )
        .await
        .or_internal("end experiment")?;
    publish(&ctx.store, &ctx.kv, ws, &env.id, &env.name, &prompt.slug).await?;
    let mut body = experiment_json(&running)?;
    body["status"] = j!("ended");
    body["ended_by"] = j!(ctx.who.actor);
    body["ended_at"] = j!(at);
    body["updated_at"] = j!(at);
    crate::webhook_delivery::emit(ctx, "experiment.ended", body.clone()).await;
    json(200, &body)
}

pub async fn list(ctx: &Ctx, slug: &Slug) -> ApiResult {
    let prompt = find_prompt(ctx, slug).await?;
    let rows = ctx
        .store
        .list_experiments(&prompt.id)
        .await
        .or_internal("experiments")?;
    let items = rows.iter().map(experiment_json).collect::<Result<Vec<_>, _>>()?;
    json(200, &j!({ "items": items }))
}
