//! The release service: the one path by which anything changes what an
//! environment serves (promote, rollback, experiment set or end, approval
//! decisions). It loads the prompt's state in the environment, asks the
//! core planner (`pvct_core::release::plan`) what the change does, writes
//! the plan in one guarded D1 batch, then publishes to KV and emits events.
//!
//! A batch whose guard fails (another change committed between load and
//! write) writes nothing; the service plans again on the new state, a few
//! times, before answering 409. A publish that fails after the commit is
//! backed by a `Job::Publish` queued right after the commit, which retries
//! until KV holds the environment's current sequence (a no-op when the
//! inline publish succeeded); the answer says `"edge": "pending"`.

use pvct_core::names::{EnvironmentName, Slug};
use pvct_core::release::{self, Actor, Answer, Change};
use pvct_core::{Error, ErrorKind};
use serde_json::json;

use crate::http::{json, ApiResult, OrInternal};
use crate::ids::{new_id, now};
use crate::publish::publish;
use crate::queue::{send_delayed, Job};
use crate::routes::{find_environment, find_prompt};
use crate::store::{EnvironmentRow, PromptRow, StateQuery};
use crate::Ctx;

/// Plans made on a state that moved before their batch committed are made
/// again this many times.
const ATTEMPTS: usize = 3;

/// What the caller asks, before the state it applies to is known.
enum Ask {
    Change(Box<Change>),
    Decide {
        approval_id: String,
        approve: bool,
        note: String,
    },
}

/// A change to one prompt in one environment, named by the caller.
pub async fn change(ctx: &Ctx, slug: &Slug, environment: &EnvironmentName, change: Change) -> ApiResult {
    let answer = change_answer(ctx, slug, environment, change).await?;
    json(answer.status, &answer.body)
}

/// The same, answering the planner's answer for callers that build their
/// own response (the Langfuse-compatible label moves).
pub async fn change_answer(
    ctx: &Ctx,
    slug: &Slug,
    environment: &EnvironmentName,
    change: Change,
) -> Result<Answer, Error> {
    let prompt = find_prompt(ctx, slug).await?;
    let env = find_environment(ctx, environment).await?;
    run(ctx, &prompt, &env, Ask::Change(Box::new(change))).await
}

/// Approves or rejects a pending request.
pub async fn decide(ctx: &Ctx, approval_id: &str, approve: bool, note: String) -> ApiResult {
    let approval = ctx
        .store
        .approval(&ctx.who.workspace_id, approval_id)
        .await
        .or_internal("approval")?
        .ok_or_else(|| Error::not_found("approval"))?;
    let slug = Slug::parse(&approval.prompt).or_internal("stored slug")?;
    let environment = EnvironmentName::parse(&approval.environment).or_internal("stored environment")?;
    let prompt = find_prompt(ctx, &slug).await?;
    let env = find_environment(ctx, &environment).await?;
    let ask = Ask::Decide {
        approval_id: approval_id.to_owned(),
        approve,
        note,
    };
    let answer = run(ctx, &prompt, &env, ask).await?;
    json(answer.status, &answer.body)
}

async fn run(ctx: &Ctx, prompt: &PromptRow, env: &EnvironmentRow, ask: Ask) -> Result<Answer, Error> {
    let ws = &ctx.who.workspace_id;
    let actor = Actor {
        name: ctx.who.actor.clone(),
        key_id: ctx.who.key_id.clone(),
        person: ctx.who.person.clone(),
    };
    let environments: Vec<(String, i64)> = ctx
        .store
        .environments(ws)
        .await
        .or_internal("environments")?
        .into_iter()
        .map(|e| (e.name, i64::from(e.position)))
        .collect();
    for _ in 0..ATTEMPTS {
        // A decision is planned on the request as it is now.
        let change = match &ask {
            Ask::Change(c) => (**c).clone(),
            Ask::Decide {
                approval_id,
                approve,
                note,
            } => Change::Decide {
                approval: ctx
                    .store
                    .approval(ws, approval_id)
                    .await
                    .or_internal("approval")?
                    .ok_or_else(|| Error::not_found("approval"))?,
                approve: *approve,
                note: note.clone(),
            },
        };
        let state = ctx
            .store
            .release_state(&StateQuery {
                workspace_id: ws,
                prompt_id: &prompt.id,
                slug: &prompt.slug,
                environment_id: &env.id,
                environment: &env.name,
                policy: env.policy.clone(),
                measured_in: release::measured_in(&env.policy, &env.name, &environments),
                versions: release::versions_named(&change),
            })
            .await
            .or_internal("release state")?;
        let at = now();
        let plan = release::plan(&state, &change, &actor, &at, &mut new_id);
        // The change's webhook deliveries commit with it (the outbox).
        let outgoing = crate::webhook_delivery::outbox(&ctx.store, ws, &plan.events, &at, &ctx.console()).await?;
        if !plan.writes.is_empty() || plan.release.is_some() || !outgoing.is_empty() {
            let outbox = (&outgoing[..], crate::webhook_delivery::sweep_due());
            if let Err(e) = ctx.store.execute(&state, &plan, &actor.name, &at, outbox).await {
                // Nothing was written. If the state moved, plan again on
                // what is there now; if it did not, D1 refused for another
                // reason, which the caller may retry as a whole.
                if ctx
                    .store
                    .guards_hold(&state, &plan.guards)
                    .await
                    .or_internal("release guards")?
                {
                    return Err(crate::http::internal("release batch", e));
                }
                worker::console_log!("the state moved under a release batch, planning again: {e}");
                continue;
            }
        }
        let mut answer = match plan.answer {
            Ok(answer) => answer,
            Err(refused) => {
                // A refusal can still tell people (refused gates).
                crate::webhook_delivery::dispatch(&ctx.env, &ctx.store, ws, &outgoing).await;
                return Err(refused);
            }
        };
        if plan.release.is_some() {
            // Queued before publishing: if this request is cancelled or KV
            // fails, the job brings KV to the committed sequence (it is a
            // no-op when the publish below got there first).
            repair_later(ctx, &env.id, &env.name, &prompt.slug).await;
        }
        if plan.publish {
            let edge = match publish(&ctx.store, &ctx.kv, ws, &env.id, &env.name, &prompt.slug).await {
                Ok(()) => "current",
                Err(_) => "pending",
            };
            if answer.body.is_object() {
                answer.body["edge"] = json!(edge);
            }
        }
        if let Some(seq) = plan.release {
            // Running apps hear of it now, not when their cache expires.
            let change = pvct_core::live::Change {
                environment: env.name.clone(),
                seq,
                etag: None,
                prompts: vec![prompt.slug.clone()],
            };
            crate::live::tell(&ctx.env, ws, &change).await;
        }
        for e in plan
            .events
            .iter()
            .filter(|e| pvct_core::live::ACTIVITY_EVENTS.contains(&e.name))
        {
            let activity = pvct_core::live::Activity {
                environment: env.name.clone(),
                event: e.name.to_owned(),
                prompt: Some(prompt.slug.clone()),
            };
            crate::live::tell_activity(&ctx.env, ws, &activity).await;
        }
        crate::webhook_delivery::dispatch(&ctx.env, &ctx.store, ws, &outgoing).await;
        return Ok(answer);
    }
    Err(Error::new(
        ErrorKind::Conflict,
        "what this environment serves changed while the change was being made; retry",
    ))
}

/// How long the safety-net publish job waits: the inline publish normally
/// finishes first, and the job then finds KV current.
const REPAIR_DELAY_SECONDS: u32 = 5;

async fn repair_later(ctx: &Ctx, environment_id: &str, environment: &str, slug: &str) {
    let job = Job::Publish {
        workspace_id: ctx.who.workspace_id.clone(),
        environment_id: environment_id.to_owned(),
        environment: environment.to_owned(),
        slug: slug.to_owned(),
        round: 0,
    };
    if let Err(e) = send_delayed(&ctx.env, job, REPAIR_DELAY_SECONDS).await {
        worker::console_error!("publish job not queued; the next change or promote republishes: {e}");
    }
}
