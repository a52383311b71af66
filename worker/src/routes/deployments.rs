//! Promotion, rollback and the deployment history of a prompt.

use pvct_core::audit::AuditAction;
use pvct_core::deployment::{rollback_target, DeploymentAction};
use pvct_core::names::{EnvironmentName, Slug};
use pvct_core::page::{finish_page, PageRequest};
use pvct_core::request::{Promote, Rollback};
use serde_json::{json as j, Value};
use worker::Request;

use super::{find_environment, find_prompt, find_version};
use crate::http::{body, json, ApiResult, OrInternal, Query};
use crate::ids::{new_id, now};
use crate::publish::publish;
use crate::store::{DeploymentRow, EnvironmentRow, NewDeployment, PromptRow, VersionRow};
use crate::Ctx;
use pvct_core::environment::GatePolicy;
use pvct_core::gates::{refusal, Measurements};
use pvct_core::histogram::Histogram;
use pvct_core::render::VersionVariables;

fn deployment_json(d: &DeploymentRow) -> Value {
    j!({
        "id": d.id, "environment": d.environment, "version": d.version, "version_id": d.version_id,
        "action": d.action, "reason": d.reason, "actor": d.actor, "created_at": d.created_at,
    })
}

/// Writes the deployment and its audit row, then republishes the edge copy.
pub async fn deploy(
    ctx: &Ctx,
    prompt: &PromptRow,
    env: &EnvironmentRow,
    version: &VersionRow,
    action: DeploymentAction,
    reason: &str,
    extra: Value,
) -> ApiResult {
    let at = now();
    let id = new_id();
    let (audit_action, verb) = match action {
        DeploymentAction::Promote => (AuditAction::DeploymentPromote, "promote"),
        DeploymentAction::Rollback => (AuditAction::DeploymentRollback, "rollback"),
    };
    let mut details = j!({ "environment": env.name, "version": version.number, "reason": reason });
    if let (Some(d), Some(e)) = (details.as_object_mut(), extra.as_object()) {
        d.extend(e.clone());
    }
    ctx.store
        .insert_deployment(
            &NewDeployment {
                id: &id,
                workspace_id: &ctx.who.workspace_id,
                prompt_id: &prompt.id,
                environment_id: &env.id,
                version_id: &version.id,
                action,
                reason,
                actor: &ctx.who.actor,
                at: &at,
            },
            &ctx.audit(
                audit_action,
                format!("{}@{} -> {}", prompt.slug, version.number, env.name),
                &at,
            )
            .prompt(&prompt.slug)
            .details(details),
        )
        .await
        .or_internal(verb)?;
    publish(
        &ctx.store,
        &ctx.kv,
        &ctx.who.workspace_id,
        &env.id,
        &env.name,
        &prompt.slug,
    )
    .await?;
    let row = DeploymentRow {
        seq: 0,
        id,
        environment: env.name.clone(),
        version: version.number,
        version_id: version.id.clone(),
        action: action.as_str().to_owned(),
        reason: reason.to_owned(),
        actor: ctx.who.actor.clone(),
        created_at: at,
    };
    let mut body = deployment_json(&row);
    body["status"] = j!("deployed");
    if let Some(e) = extra.as_object() {
        body.as_object_mut().expect("object").extend(e.clone());
    }
    let event = match action {
        DeploymentAction::Rollback => "deployment.rolled_back",
        _ => "deployment.created",
    };
    let mut data = body.clone();
    data["prompt"] = j!(prompt.slug);
    crate::webhook_delivery::emit(ctx, event, data).await;
    json(201, &body)
}

pub async fn promote(ctx: &Ctx, slug: &Slug, req: &mut Request) -> ApiResult {
    let input = Promote::parse(&body(req).await?)?;
    let prompt = find_prompt(ctx, slug).await?;
    let env = find_environment(ctx, &input.environment).await?;
    let version = find_version(ctx, &prompt, input.version).await?;
    let live = ctx
        .store
        .live(&ctx.who.workspace_id, &prompt.slug, &env.name)
        .await
        .or_internal("live")?;
    if let Some(live) = live.as_ref().filter(|l| l.version == version.number) {
        // Promoting what is already live is a no-op: re-running a pipeline
        // must not stack duplicate deployments.
        return json(
            200,
            &j!({ "status": "unchanged", "id": live.deployment_id, "environment": env.name,
                  "version": live.version, "version_id": live.version_id, "created_at": live.deployed_at }),
        );
    }
    if let (Some(live), false) = (&live, input.accept_variable_changes) {
        let live_vars: VersionVariables = serde_json::from_str(&live.variables).unwrap_or_default();
        version
            .variables
            .check_replaces(&live_vars, live.version, version.number)?;
    }
    let policy = &env.policy;
    check_gates(ctx, &prompt, &env, &version, policy).await?;
    if policy.requires_approval {
        return super::approvals::request(ctx, &prompt, &env, &version, &input.reason).await;
    }
    let extra = j!({ "previous_version": live.map(|p| p.version) });
    deploy(
        ctx,
        &prompt,
        &env,
        &version,
        DeploymentAction::Promote,
        &input.reason,
        extra,
    )
    .await
}

pub async fn rollback(ctx: &Ctx, slug: &Slug, req: &mut Request) -> ApiResult {
    let input = Rollback::parse(&body(req).await?)?;
    let prompt = find_prompt(ctx, slug).await?;
    let env = find_environment(ctx, &input.environment).await?;
    let steps = ctx
        .store
        .deployment_steps(&prompt.id, &env.id)
        .await
        .or_internal("steps")?;
    let target = rollback_target(&steps)?;
    let from = steps.last().map(|s| s.version);
    let version = find_version(ctx, &prompt, target).await?;
    deploy(
        ctx,
        &prompt,
        &env,
        &version,
        DeploymentAction::Rollback,
        &input.reason,
        j!({ "previous_version": from }),
    )
    .await
}

pub async fn list(ctx: &Ctx, slug: &Slug) -> ApiResult {
    let q = Query::of(&ctx.url);
    let environment = q.parse("environment", |s| EnvironmentName::parse(s).ok())?;
    let page = PageRequest::parse(q.get("limit"), q.get("cursor"))?;
    let before = page.after_number()?;
    let prompt = find_prompt(ctx, slug).await?;
    let rows = ctx
        .store
        .list_deployments(
            &prompt.id,
            environment.as_ref().map(|e| e.as_str()),
            before,
            page.fetch_size(),
        )
        .await
        .or_internal("deployments")?;
    let (rows, next) = finish_page(rows, &page, |d| d.seq.to_string());
    let items: Vec<Value> = rows.iter().map(deployment_json).collect();
    json(200, &j!({ "items": items, "next_cursor": next }))
}

/// Refuses with 422 when the version fails a gate of `env`, measured in
/// the policy's `measured_in` environment (default: the one before `env`).
pub async fn check_gates(
    ctx: &Ctx,
    prompt: &PromptRow,
    env: &EnvironmentRow,
    version: &VersionRow,
    policy: &GatePolicy,
) -> Result<(), pvct_core::Error> {
    if !policy.has_gates() {
        return Ok(());
    }
    let measured_in = match &policy.measured_in {
        Some(name) => name.to_string(),
        None => {
            let envs = ctx
                .store
                .environments(&ctx.who.workspace_id)
                .await
                .or_internal("environments")?;
            envs.iter()
                .filter(|e| e.position < env.position)
                .max_by_key(|e| e.position)
                .map_or_else(|| env.name.clone(), |e| e.name.clone())
        }
    };
    let (from, to) = ("0000-01-01T00", "9999-12-31T23");
    let rows = ctx
        .store
        .rollups(&prompt.id, &measured_in, from, to)
        .await
        .or_internal("rollups")?;
    let mut m = Measurements::default();
    if let Some(r) = rows.iter().find(|r| r.version_id == version.id) {
        let buckets = ctx
            .store
            .latency_histograms(&prompt.id, &measured_in, from, to)
            .await
            .or_internal("buckets")?;
        let mut h = Histogram::default();
        for b in buckets.iter().filter(|b| b.version_id == version.id) {
            h.add_bucket(b.bucket, b.count);
        }
        m = Measurements {
            samples: r.calls,
            mean_score: (r.score_count > 0).then(|| r.score_sum / r.score_count as f64),
            error_rate: (r.calls > 0).then(|| r.errors as f64 / r.calls as f64),
            p95_ms: h.quantile(0.95),
        };
    }
    let failures = policy.evaluate(&m);
    if failures.is_empty() {
        Ok(())
    } else {
        Err(refusal(&env.name, &measured_in, &failures))
    }
}
