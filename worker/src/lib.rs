//! `pvct-worker`: PromptVault's HTTP API on Cloudflare Workers.
//!
//! A thin adapter: the core matches the route and decides; this crate reads
//! the request, talks to D1 (store), KV (kv) and the Queue, and writes the
//! response. Bindings are named once, here.

mod access;
mod auth;
mod evaluation;
mod http;
mod ids;
mod ingest;
mod isolate_cache;
mod kv;
mod live;
mod outbound;
mod publish;
mod queue;
mod rate_limit;
mod raw_log;
mod release;
mod routes;
mod secrets;
mod store;
mod test_runs;
mod webhook_delivery;

use pvct_core::access_token::{credential, Credential, Presented};
use pvct_core::apikey::ApiKey;
use pvct_core::audit::{AuditAction, AuditEntry};
use pvct_core::ratelimit::{client_address, limiter_of, Limiter};
use pvct_core::route::{match_route, Access, Route};
use pvct_core::{Error, ErrorKind};
use worker::{event, Context, Env, Request, Response, Result};

use crate::auth::Principal;
use crate::http::{error_response, ApiResult, OrInternal};
use crate::kv::EdgeKv;
use crate::store::Store;

pub const D1_BINDING: &str = "DB";
pub const KV_BINDING: &str = "KV";
const BOOTSTRAP_KEY_VAR: &str = "PVCT_ADMIN_KEY";
/// `off` stops API keys from signing in to the web console (people then
/// sign in through Cloudflare Access only; machines keep their keys).
const CONSOLE_KEY_SIGN_IN_VAR: &str = "CONSOLE_KEY_SIGN_IN";
/// The header a person who is a member of several workspaces names one in.
const WORKSPACE_HEADER: &str = "pvct-workspace";

/// Whether the web console offers and accepts sign-in with an API key.
pub fn console_key_sign_in(env: &Env) -> bool {
    env.var(CONSOLE_KEY_SIGN_IN_VAR)
        .map(|v| v.to_string())
        .map_or(true, |v| !v.trim().eq_ignore_ascii_case("off"))
}

/// What every handler gets: the stores and, on workspace routes, the caller.
pub struct Ctx {
    pub env: Env,
    pub store: Store,
    pub kv: EdgeKv,
    pub url: worker::Url,
    pub who: Principal,
}

impl Ctx {
    /// The context of a request made with `key` from `address`: its
    /// bindings and caller, after the rate limits (`limiter` counts the key's
    /// requests; failed sign-ins count against the address).
    pub async fn signed_in(
        env: &Env,
        url: worker::Url,
        key: &ApiKey,
        limiter: Limiter,
        address: &str,
    ) -> Result<Ctx, Error> {
        rate_limit::refuse_blocked(address)?;
        rate_limit::count(env, limiter, &key.hash()).await?;
        let store = Store::new(env.d1(D1_BINDING).or_internal("d1 binding")?, secrets::keyring(env));
        let kv = EdgeKv::of(env, KV_BINDING).or_internal("kv binding")?;
        let who = match auth::authenticate(key, &kv, &store).await {
            Ok((who, _)) => who,
            Err(e) if e.kind() == ErrorKind::Unauthenticated => {
                rate_limit::count_failure(env, address).await?;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        Ok(Ctx {
            env: env.clone(),
            store,
            kv,
            url,
            who,
        })
    }

    /// The context of a request a person makes through Cloudflare Access
    /// with `token`, in `workspace` (by name) when they name one.
    pub async fn person(
        env: &Env,
        url: worker::Url,
        token: &str,
        workspace: Option<&str>,
        limiter: Limiter,
        address: &str,
    ) -> Result<Ctx, Error> {
        let config = access::config(env).ok_or_else(Error::internal)?;
        let store = Store::new(env.d1(D1_BINDING).or_internal("d1 binding")?, secrets::keyring(env));
        let kv = EdgeKv::of(env, KV_BINDING).or_internal("kv binding")?;
        let who = match auth::sign_in_person(&config, token, workspace, &store).await {
            Ok(who) => who,
            Err(e) if e.kind() == ErrorKind::InvalidAccessToken => {
                rate_limit::count_failure(env, address).await?;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        rate_limit::count(env, limiter, &who.key_id).await?;
        Ok(Ctx {
            env: env.clone(),
            store,
            kv,
            url,
            who,
        })
    }

    /// The web console's origin (it is served beside the API): where
    /// notifications link to.
    pub fn console(&self) -> String {
        self.url.origin().ascii_serialization()
    }

    /// The audit entry of a change the caller makes at `at`.
    pub fn audit(&self, action: AuditAction, target: impl Into<String>, at: &str) -> AuditEntry {
        AuditEntry::new(&self.who.workspace_id, &self.who.actor, at, action, target).by(self.who.person.as_ref())
    }
}

#[event(start)]
fn start() {
    console_error_panic_hook::set_once();
}

#[event(queue)]
async fn consume(batch: worker::MessageBatch<String>, env: Env, _ctx: Context) -> Result<()> {
    let store = Store::new(env.d1(D1_BINDING)?, secrets::keyring(&env));
    queue::consume(&env, &store, batch).await
}

/// The crons (wrangler.toml `[triggers]`): every minute the outbox sweep,
/// daily the retention of raw telemetry.
#[event(scheduled)]
async fn scheduled(event: worker::ScheduledEvent, env: Env, _ctx: worker::ScheduleContext) {
    use pvct_core::jobs::Scheduled;
    let store = match env.d1(D1_BINDING) {
        Ok(db) => Store::new(db, secrets::keyring(&env)),
        Err(e) => return worker::console_error!("cron: no D1 binding: {e}"),
    };
    match Scheduled::of_cron(&event.cron()) {
        Some(Scheduled::Sweep) => match webhook_delivery::sweep(&env, &store).await {
            Ok(n) => worker::console_log!("sweep: queued {n} due webhook deliveries"),
            Err(e) => worker::console_error!("sweep failed: {e}"),
        },
        Some(Scheduled::Retention) => {
            // One job per workspace, each deleting in bounded chunks.
            let today = ids::now()[..10].to_owned();
            let queued = match store.workspace_ids().await {
                Ok(ids) => {
                    let jobs: Vec<queue::Job> = ids
                        .into_iter()
                        .map(|workspace_id| queue::Job::Prune {
                            workspace_id,
                            today: today.clone(),
                        })
                        .collect();
                    let n = jobs.len();
                    queue::send(&env, jobs).await.map(|()| n)
                }
                Err(e) => Err(e),
            };
            match queued {
                Ok(n) => worker::console_log!("retention: queued {n} workspaces"),
                Err(e) => worker::console_error!("retention not queued: {e}"),
            }
        }
        None => worker::console_error!("cron {} runs nothing", event.cron()),
    }
}

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let mut response = match handle(&mut req, &env).await {
        Ok(response) => response,
        Err(err) => error_response(&err),
    };
    if response.status_code() == 101 {
        // A WebSocket handed over by the live hub: its headers are the
        // runtime's and cannot change.
        return Ok(response);
    }
    let headers = response.headers_mut();
    headers.set("x-content-type-options", "nosniff")?;
    if !headers.has("cache-control")? {
        headers.set("cache-control", "no-store")?;
    }
    Ok(response)
}

async fn handle(req: &mut Request, env: &Env) -> ApiResult {
    let url = req.url().or_internal("request url")?;
    // The raw method: workers-rs maps methods it does not know (QUERY) to GET.
    if pvct_core::langfuse::is_compat_path(url.path()) {
        // Langfuse's clients: their own auth and error shape.
        return Ok(routes::langfuse::handle(req, env, url).await);
    }
    let method = req.inner().method();
    let route = match_route(&method, url.path())?;
    match route.access() {
        Access::Public => routes::meta::handle(&route, env),
        Access::Bootstrap => {
            let presented = ApiKey::from_authorization(http::header(req, "authorization").as_deref())?;
            let bootstrap = env
                .secret(BOOTSTRAP_KEY_VAR)
                .map(|s| s.to_string())
                .or_else(|_| env.var(BOOTSTRAP_KEY_VAR).map(|v| v.to_string()))
                .ok()
                .filter(|k| !k.is_empty());
            let allowed = bootstrap
                .and_then(|k| ApiKey::parse(&k).ok())
                .is_some_and(|k| k.hash() == presented.hash());
            if !allowed {
                return Err(Error::new(
                    ErrorKind::Forbidden,
                    "creating workspaces needs the deployment's bootstrap key (PVCT_ADMIN_KEY)",
                ));
            }
            let store = Store::new(env.d1(D1_BINDING).or_internal("d1 binding")?, secrets::keyring(env));
            let kv = EdgeKv::of(env, KV_BINDING).or_internal("kv binding")?;
            routes::workspaces::create(&store, &kv, req, &presented).await
        }
        Access::Workspace(permission) => {
            let address = http::header(req, "cf-connecting-ip");
            let address = client_address(address.as_deref());
            rate_limit::refuse_blocked(address)?;
            let (authorization, assertion, cookie, fetch_site, protocols) = (
                http::header(req, "authorization"),
                http::header(req, pvct_core::access_token::ASSERTION_HEADER),
                http::header(req, "cookie"),
                http::header(req, "sec-fetch-site"),
                http::header(req, "sec-websocket-protocol"),
            );
            let presented = Presented {
                authorization: authorization.as_deref(),
                assertion: assertion.as_deref(),
                cookie: cookie.as_deref(),
                fetch_site: fetch_site.as_deref(),
                protocols: protocols.as_deref(),
            };
            let limiter = limiter_of(&route).unwrap_or(Limiter::Key);
            let ctx = match credential(presented, access::config(env).is_some(), console_key_sign_in(env)) {
                Ok(Credential::Key(key)) => Ctx::signed_in(env, url, &key, limiter, address).await?,
                Ok(Credential::Person(token)) => {
                    let workspace = http::header(req, WORKSPACE_HEADER);
                    Ctx::person(env, url, token, workspace.as_deref(), limiter, address).await?
                }
                Err(e) => {
                    if e.kind() == ErrorKind::Unauthenticated {
                        rate_limit::count_failure(env, address).await?;
                    }
                    return Err(e);
                }
            };
            ctx.who.role.require(permission)?;
            dispatch(&ctx, route, req).await
        }
    }
}

async fn dispatch(ctx: &Ctx, route: Route, req: &mut Request) -> ApiResult {
    use routes::*;
    match route {
        Route::Me => keys::me(ctx),
        Route::ListPrompts => prompts::list(ctx).await,
        Route::CreatePrompt => prompts::create(ctx, req).await,
        Route::GetPrompt(slug) => prompts::get(ctx, &slug).await,
        Route::ListVersions(slug) => versions::list(ctx, &slug).await,
        Route::CreateVersion(slug) => versions::create(ctx, &slug, req).await,
        Route::GetVersion(slug, n) => versions::get(ctx, &slug, n).await,
        Route::Diff(slug) => versions::diff(ctx, &slug).await,
        Route::Promote(slug) => deployments::promote(ctx, &slug, req).await,
        Route::Rollback(slug) => deployments::rollback(ctx, &slug, req).await,
        Route::ListDeployments(slug) => deployments::list(ctx, &slug).await,
        Route::ListExperiments(slug) => experiments::list(ctx, &slug).await,
        Route::Executions => telemetry::executions(ctx, req).await,
        Route::PromotionStats => telemetry::promotion_stats(ctx).await,
        Route::ListPrices => telemetry::list_prices(ctx).await,
        Route::PutPrice(model) => telemetry::put_price(ctx, &model, req).await,
        Route::ListApprovals => approvals::list(ctx).await,
        Route::Approve(id) => approvals::decide(ctx, &id, true, req).await,
        Route::Reject(id) => approvals::decide(ctx, &id, false, req).await,
        Route::Feedback => telemetry::feedback(ctx, req).await,
        Route::Metrics(slug) => telemetry::metrics(ctx, &slug).await,
        Route::Compare(slug) => telemetry::compare(ctx, &slug).await,
        Route::Render(slug) => render::render(ctx, &slug, req).await,
        Route::Dependents(slug) => render::dependents(ctx, &slug).await,
        Route::PutExperiment(slug, env) => experiments::put(ctx, &slug, &env, req).await,
        Route::EndExperiment(slug, env) => experiments::end(ctx, &slug, &env).await,
        Route::Resolve(slug) => resolve::resolve(ctx, &slug, req).await,
        Route::Bundle => resolve::bundle(ctx, req).await,
        Route::Live => routes::live::subscribe(ctx, req).await,
        Route::ListEnvironments => environments::list(ctx).await,
        Route::PutEnvironment(name) => environments::put(ctx, &name, req).await,
        Route::ListKeys => keys::list(ctx).await,
        Route::CreateKey => keys::create(ctx, req).await,
        Route::RevokeKey(id) => keys::revoke(ctx, &id).await,
        Route::Audit => audit::list(ctx).await,
        Route::GetEvaluators(slug) => evaluators::get(ctx, &slug).await,
        Route::PutEvaluators(slug) => evaluators::put(ctx, &slug, req).await,
        Route::GetTests(slug) => testing::get_suite(ctx, &slug).await,
        Route::PutTests(slug) => testing::put_suite(ctx, &slug, req).await,
        Route::StartTestRun(slug, n) => testing::start_run(ctx, &slug, n, req).await,
        Route::ListTestRuns(slug) => testing::list_runs(ctx, &slug).await,
        Route::CompareTestRuns(slug) => testing::compare(ctx, &slug).await,
        Route::GetTestRun(slug, id) => testing::get_run(ctx, &slug, &id).await,
        Route::ListTelemetryLog => telemetry::log_objects(ctx).await,
        Route::GetTelemetryLog(id) => telemetry::log_object(ctx, &id).await,
        Route::GetSettings => settings::get(ctx).await,
        Route::ListWebhooks => webhooks::list(ctx).await,
        Route::CreateWebhook => webhooks::create(ctx, req).await,
        Route::DeleteWebhook(id) => webhooks::delete(ctx, &id).await,
        Route::ListDeliveries(id) => webhooks::deliveries(ctx, &id).await,
        Route::Redeliver(id, delivery) => webhooks::redeliver(ctx, &id, &delivery).await,
        Route::ListNotifications => webhooks::notifications(ctx).await,
        Route::ListMembers => members::list(ctx).await,
        Route::AddMember => members::add(ctx, req).await,
        Route::UpdateMember(id) => members::update(ctx, &id, req).await,
        Route::RemoveMember(id) => members::remove(ctx, &id).await,
        Route::PutSettings => settings::put(ctx, req).await,
        Route::ListDeadLetters => dead_letters::list(ctx).await,
        Route::ReplayDeadLetter(id) => dead_letters::replay(ctx, &id).await,
        Route::Healthz | Route::OpenApi | Route::AuthConfig | Route::CreateWorkspace => Err(Error::internal()),
    }
}
