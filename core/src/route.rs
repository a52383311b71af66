//! The HTTP API's route table: method + path → [`Route`], and what each
//! route needs. The worker dispatches on the result and never parses paths.

use crate::error::{Error, ErrorKind, Result};
use crate::names::{EnvironmentName, Slug};
use crate::raw_log::LogObjectId;
use crate::role::Permission;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Healthz,
    OpenApi,
    /// How people sign in to this deployment (public: the console asks
    /// before anyone is signed in).
    AuthConfig,
    CreateWorkspace,
    /// The calling key: its workspace, role and permissions.
    Me,
    ListPrompts,
    CreatePrompt,
    GetPrompt(Slug),
    ListVersions(Slug),
    CreateVersion(Slug),
    GetVersion(Slug, u32),
    Diff(Slug),
    Promote(Slug),
    Rollback(Slug),
    ListDeployments(Slug),
    ListExperiments(Slug),
    Render(Slug),
    Dependents(Slug),
    PutExperiment(Slug, EnvironmentName),
    EndExperiment(Slug, EnvironmentName),
    Resolve(Slug),
    Executions,
    PromotionStats,
    ListPrices,
    PutPrice(String),
    ListApprovals,
    Approve(String),
    Reject(String),
    Feedback,
    Metrics(Slug),
    Compare(Slug),
    Bundle,
    /// The live channel of an environment (a WebSocket).
    Live,
    ListEnvironments,
    PutEnvironment(EnvironmentName),
    ListKeys,
    CreateKey,
    RevokeKey(String),
    Audit,
    GetEvaluators(Slug),
    PutEvaluators(Slug),
    /// A prompt's test suite (current revision) · replace it.
    GetTests(Slug),
    PutTests(Slug),
    /// Run the suite against a version.
    StartTestRun(Slug, u32),
    ListTestRuns(Slug),
    CompareTestRuns(Slug),
    GetTestRun(Slug, String),
    /// The raw telemetry log of a day (admins: it holds model outputs).
    ListTelemetryLog,
    GetTelemetryLog(LogObjectId),
    GetSettings,
    PutSettings,
    ListWebhooks,
    CreateWebhook,
    DeleteWebhook(String),
    ListDeliveries(String),
    /// Send a webhook delivery again (webhook id, delivery id).
    Redeliver(String, String),
    /// The workspace's people.
    ListMembers,
    AddMember,
    UpdateMember(String),
    RemoveMember(String),
    /// Notifications sent to Slack and by email.
    ListNotifications,
    /// Jobs that stopped being retried (admins).
    ListDeadLetters,
    ReplayDeadLetter(String),
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No key needed.
    Public,
    /// Only the deployment's bootstrap key (`PVCT_ADMIN_KEY`).
    Bootstrap,
    /// A workspace key with at least this permission.
    Workspace(Permission),
}

impl Route {
    pub fn access(&self) -> Access {
        use Permission::*;
        match self {
            Route::Healthz | Route::OpenApi | Route::AuthConfig => Access::Public,
            Route::CreateWorkspace => Access::Bootstrap,
            Route::Me
            | Route::ListPrompts
            | Route::GetPrompt(_)
            | Route::ListVersions(_)
            | Route::GetVersion(..)
            | Route::Diff(_)
            | Route::ListDeployments(_)
            | Route::ListExperiments(_)
            | Route::Render(_)
            | Route::Dependents(_)
            | Route::Resolve(_)
            | Route::Executions
            | Route::PromotionStats
            | Route::ListPrices
            | Route::ListApprovals
            | Route::Feedback
            | Route::Metrics(_)
            | Route::Compare(_)
            | Route::Bundle
            | Route::Live
            | Route::GetEvaluators(_)
            | Route::GetTests(_)
            | Route::ListTestRuns(_)
            | Route::CompareTestRuns(_)
            | Route::GetTestRun(..)
            | Route::ListEnvironments => Access::Workspace(Read),
            // Experiments need Approve instead in environments whose policy
            // requires approval; the handler raises the bar from the policy.
            Route::CreatePrompt
            | Route::CreateVersion(_)
            | Route::Promote(_)
            | Route::Rollback(_)
            | Route::PutExperiment(..)
            | Route::PutEvaluators(_)
            | Route::PutTests(_)
            | Route::StartTestRun(..)
            | Route::EndExperiment(..) => Access::Workspace(Write),
            Route::Approve(_) | Route::Reject(_) => Access::Workspace(Approve),
            Route::PutPrice(_)
            | Route::GetSettings
            | Route::PutSettings
            | Route::ListWebhooks
            | Route::CreateWebhook
            | Route::DeleteWebhook(_)
            | Route::ListDeliveries(_)
            | Route::Redeliver(..)
            | Route::ListMembers
            | Route::AddMember
            | Route::UpdateMember(_)
            | Route::RemoveMember(_)
            | Route::ListNotifications
            | Route::ListDeadLetters
            | Route::ReplayDeadLetter(_)
            | Route::ListTelemetryLog
            | Route::GetTelemetryLog(_) => Access::Workspace(Administer),
            Route::PutEnvironment(_) | Route::ListKeys | Route::CreateKey | Route::RevokeKey(_) | Route::Audit => {
                Access::Workspace(Administer)
            }
        }
    }

    /// Whether the route takes a JSON body.
    pub fn has_body(&self) -> bool {
        matches!(
            self,
            Route::CreateWorkspace
                | Route::CreatePrompt
                | Route::CreateVersion(_)
                | Route::Promote(_)
                | Route::Rollback(_)
                | Route::PutEnvironment(_)
                | Route::PutExperiment(..)
                | Route::Render(_)
                | Route::Executions
                | Route::PutPrice(_)
                | Route::Approve(_)
                | Route::Reject(_)
                | Route::Feedback
                | Route::CreateKey
                | Route::PutEvaluators(_)
                | Route::PutTests(_)
                | Route::StartTestRun(..)
                | Route::PutSettings
                | Route::CreateWebhook
                | Route::AddMember
                | Route::UpdateMember(_)
        )
    }
}

fn prompt_slug(segment: &str) -> Result<Slug> {
    Slug::parse(segment).map_err(|_| Error::not_found("prompt"))
}

/// Matches `method` and `path` (without the query string).
pub fn match_route(method: &str, path: &str) -> Result<Route> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    // Each arm lists the methods the path takes; an unknown method on a known
    // path is 405, an unknown path is 404.
    let (allowed, route): (&[&str], Option<Route>) = match segments.as_slice() {
        ["healthz"] => (&["GET"], (method == "GET").then_some(Route::Healthz)),
        ["openapi.json"] => (&["GET"], (method == "GET").then_some(Route::OpenApi)),
        ["v1", "workspaces"] => (&["POST"], (method == "POST").then_some(Route::CreateWorkspace)),
        ["v1", "me"] => (&["GET"], (method == "GET").then_some(Route::Me)),
        ["v1", "live"] => (&["GET"], (method == "GET").then_some(Route::Live)),
        ["v1", "auth", "config"] => (&["GET"], (method == "GET").then_some(Route::AuthConfig)),
        ["v1", "members"] => (
            &["GET", "POST"],
            match method {
                "GET" => Some(Route::ListMembers),
                "POST" => Some(Route::AddMember),
                _ => None,
            },
        ),
        ["v1", "members", id] => (
            &["PATCH", "DELETE"],
            match method {
                "PATCH" => Some(Route::UpdateMember((*id).to_owned())),
                "DELETE" => Some(Route::RemoveMember((*id).to_owned())),
                _ => None,
            },
        ),
        ["v1", "notifications", "deliveries"] => (&["GET"], (method == "GET").then_some(Route::ListNotifications)),
        ["v1", "prompts"] => (
            &["GET", "POST"],
            match method {
                "GET" => Some(Route::ListPrompts),
                "POST" => Some(Route::CreatePrompt),
                _ => None,
            },
        ),
        ["v1", "prompts", slug] => (
            &["GET"],
            gate(method, "GET", || Ok(Route::GetPrompt(prompt_slug(slug)?)))?,
        ),
        ["v1", "prompts", slug, "versions"] => (
            &["GET", "POST"],
            match method {
                "GET" => Some(Route::ListVersions(prompt_slug(slug)?)),
                "POST" => Some(Route::CreateVersion(prompt_slug(slug)?)),
                _ => None,
            },
        ),
        ["v1", "prompts", slug, "versions", number] => (
            &["GET"],
            gate(method, "GET", || {
                Ok(Route::GetVersion(prompt_slug(slug)?, version_number(number)?))
            })?,
        ),
        ["v1", "prompts", slug, "versions", number, "test-runs"] => (
            &["POST"],
            gate(method, "POST", || {
                Ok(Route::StartTestRun(prompt_slug(slug)?, version_number(number)?))
            })?,
        ),
        ["v1", "prompts", slug, "tests"] => (
            &["GET", "PUT"],
            match method {
                "GET" => Some(Route::GetTests(prompt_slug(slug)?)),
                "PUT" => Some(Route::PutTests(prompt_slug(slug)?)),
                _ => None,
            },
        ),
        ["v1", "prompts", slug, "test-runs"] => (
            &["GET"],
            gate(method, "GET", || Ok(Route::ListTestRuns(prompt_slug(slug)?)))?,
        ),
        ["v1", "prompts", slug, "test-runs", "compare"] => (
            &["GET"],
            gate(method, "GET", || Ok(Route::CompareTestRuns(prompt_slug(slug)?)))?,
        ),
        ["v1", "prompts", slug, "test-runs", id] => (
            &["GET"],
            gate(method, "GET", || {
                Ok(Route::GetTestRun(prompt_slug(slug)?, (*id).to_owned()))
            })?,
        ),
        ["v1", "prompts", slug, "diff"] => (&["GET"], gate(method, "GET", || Ok(Route::Diff(prompt_slug(slug)?)))?),
        ["v1", "prompts", slug, "promote"] => (
            &["POST"],
            gate(method, "POST", || Ok(Route::Promote(prompt_slug(slug)?)))?,
        ),
        ["v1", "prompts", slug, "rollback"] => (
            &["POST"],
            gate(method, "POST", || Ok(Route::Rollback(prompt_slug(slug)?)))?,
        ),
        ["v1", "prompts", slug, "deployments"] => (
            &["GET"],
            gate(method, "GET", || Ok(Route::ListDeployments(prompt_slug(slug)?)))?,
        ),
        ["v1", "prompts", slug, "render"] => (
            &["POST"],
            gate(method, "POST", || Ok(Route::Render(prompt_slug(slug)?)))?,
        ),
        ["v1", "prompts", slug, "dependents"] => (
            &["GET"],
            gate(method, "GET", || Ok(Route::Dependents(prompt_slug(slug)?)))?,
        ),
        ["v1", "prompts", slug, "experiments"] => (
            &["GET"],
            gate(method, "GET", || Ok(Route::ListExperiments(prompt_slug(slug)?)))?,
        ),
        ["v1", "prompts", slug, "experiments", env] => (
            &["PUT", "DELETE"],
            match method {
                "PUT" => Some(Route::PutExperiment(prompt_slug(slug)?, environment_segment(env)?)),
                "DELETE" => Some(Route::EndExperiment(prompt_slug(slug)?, environment_segment(env)?)),
                _ => None,
            },
        ),
        ["v1", "resolve", slug] => (
            &["GET"],
            gate(method, "GET", || Ok(Route::Resolve(prompt_slug(slug)?)))?,
        ),
        ["v1", "approvals"] => (&["GET"], (method == "GET").then_some(Route::ListApprovals)),
        ["v1", "approvals", id, "approve"] => (&["POST"], (method == "POST").then(|| Route::Approve((*id).to_owned()))),
        ["v1", "approvals", id, "reject"] => (&["POST"], (method == "POST").then(|| Route::Reject((*id).to_owned()))),
        ["v1", "prices"] => (&["GET"], (method == "GET").then_some(Route::ListPrices)),
        ["v1", "prices", model] => (
            &["PUT"],
            (method == "PUT").then(|| Route::PutPrice((*model).to_owned())),
        ),
        ["v1", "stats", "promotions"] => (&["GET"], (method == "GET").then_some(Route::PromotionStats)),
        ["v1", "executions"] => (&["POST"], (method == "POST").then_some(Route::Executions)),
        ["v1", "telemetry", "log"] => (&["GET"], (method == "GET").then_some(Route::ListTelemetryLog)),
        ["v1", "telemetry", "log", id] => (
            &["GET"],
            gate(method, "GET", || Ok(Route::GetTelemetryLog(LogObjectId::parse(id)?)))?,
        ),
        ["v1", "webhooks"] => (
            &["GET", "POST"],
            match method {
                "GET" => Some(Route::ListWebhooks),
                "POST" => Some(Route::CreateWebhook),
                _ => None,
            },
        ),
        ["v1", "webhooks", id] => (
            &["DELETE"],
            (method == "DELETE").then(|| Route::DeleteWebhook((*id).to_owned())),
        ),
        ["v1", "webhooks", id, "deliveries"] => (
            &["GET"],
            (method == "GET").then(|| Route::ListDeliveries((*id).to_owned())),
        ),
        ["v1", "webhooks", id, "deliveries", delivery, "redeliver"] => (
            &["POST"],
            (method == "POST").then(|| Route::Redeliver((*id).to_owned(), (*delivery).to_owned())),
        ),
        ["v1", "dead-letters"] => (&["GET"], (method == "GET").then_some(Route::ListDeadLetters)),
        ["v1", "dead-letters", id, "replay"] => (
            &["POST"],
            (method == "POST").then(|| Route::ReplayDeadLetter((*id).to_owned())),
        ),
        ["v1", "settings"] => (
            &["GET", "PUT"],
            match method {
                "GET" => Some(Route::GetSettings),
                "PUT" => Some(Route::PutSettings),
                _ => None,
            },
        ),
        ["v1", "prompts", slug, "evaluators"] => (
            &["GET", "PUT"],
            match method {
                "GET" => Some(Route::GetEvaluators(prompt_slug(slug)?)),
                "PUT" => Some(Route::PutEvaluators(prompt_slug(slug)?)),
                _ => None,
            },
        ),
        ["v1", "feedback"] => (&["POST"], (method == "POST").then_some(Route::Feedback)),
        ["v1", "prompts", slug, "compare"] => (
            &["GET"],
            gate(method, "GET", || Ok(Route::Compare(prompt_slug(slug)?)))?,
        ),
        ["v1", "prompts", slug, "metrics"] => (
            &["GET"],
            gate(method, "GET", || Ok(Route::Metrics(prompt_slug(slug)?)))?,
        ),
        ["v1", "bundle"] => (&["GET"], (method == "GET").then_some(Route::Bundle)),
        ["v1", "environments"] => (&["GET"], (method == "GET").then_some(Route::ListEnvironments)),
        ["v1", "environments", name] => (
            &["PUT"],
            gate(method, "PUT", || {
                Ok(Route::PutEnvironment(EnvironmentName::parse(name).map_err(|e| {
                    Error::new(ErrorKind::InvalidField, e.message().to_owned()).with_details(e.details().clone())
                })?))
            })?,
        ),
        ["v1", "keys"] => (
            &["GET", "POST"],
            match method {
                "GET" => Some(Route::ListKeys),
                "POST" => Some(Route::CreateKey),
                _ => None,
            },
        ),
        ["v1", "keys", id] => (
            &["DELETE"],
            (method == "DELETE").then(|| Route::RevokeKey((*id).to_owned())),
        ),
        ["v1", "audit"] => (&["GET"], (method == "GET").then_some(Route::Audit)),
        _ => {
            return Err(Error::new(
                ErrorKind::RouteNotFound,
                format!("no route {method} {path}"),
            ));
        }
    };
    route.ok_or_else(|| {
        Error::new(ErrorKind::MethodNotAllowed, format!("{path} does not take {method}"))
            .with_details(serde_json::json!({ "allowed": allowed }))
    })
}

fn environment_segment(segment: &str) -> Result<EnvironmentName> {
    EnvironmentName::parse(segment).map_err(|_| Error::not_found("environment"))
}

/// A version number in a path: 1 or more, else the version is not found.
fn version_number(segment: &str) -> Result<u32> {
    segment
        .parse::<u32>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| Error::not_found("version"))
}

fn gate(method: &str, wanted: &str, make: impl FnOnce() -> Result<Route>) -> Result<Option<Route>> {
    if method == wanted {
        make().map(Some)
    } else {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slug(s: &str) -> Slug {
        Slug::parse(s).unwrap()
    }

    #[test]
    fn matches_every_route() {
        assert_eq!(match_route("GET", "/healthz").unwrap(), Route::Healthz);
        assert_eq!(match_route("GET", "/v1/auth/config").unwrap(), Route::AuthConfig);
        assert_eq!(match_route("GET", "/v1/live").unwrap(), Route::Live);
        assert_eq!(match_route("POST", "/v1/members").unwrap(), Route::AddMember);
        assert_eq!(
            match_route("PATCH", "/v1/members/m1").unwrap(),
            Route::UpdateMember("m1".into())
        );
        assert_eq!(
            match_route("DELETE", "/v1/members/m1").unwrap(),
            Route::RemoveMember("m1".into())
        );
        assert_eq!(
            match_route("POST", "/v1/webhooks/w/deliveries/d/redeliver").unwrap(),
            Route::Redeliver("w".into(), "d".into())
        );
        assert_eq!(
            match_route("GET", "/v1/notifications/deliveries").unwrap(),
            Route::ListNotifications
        );
        assert_eq!(match_route("POST", "/v1/prompts/").unwrap(), Route::CreatePrompt);
        assert_eq!(
            match_route("GET", "/v1/prompts/a-b/versions/3").unwrap(),
            Route::GetVersion(slug("a-b"), 3)
        );
        assert_eq!(
            match_route("POST", "/v1/prompts/x/versions").unwrap(),
            Route::CreateVersion(slug("x"))
        );
        assert_eq!(match_route("GET", "/v1/resolve/x").unwrap(), Route::Resolve(slug("x")));
        assert_eq!(match_route("GET", "/v1/me").unwrap(), Route::Me);
        assert_eq!(Route::Me.access(), Access::Workspace(Permission::Read));
        assert_eq!(
            match_route("DELETE", "/v1/keys/abc").unwrap(),
            Route::RevokeKey("abc".into())
        );
        assert_eq!(
            match_route("PUT", "/v1/environments/qa").unwrap(),
            Route::PutEnvironment(EnvironmentName::parse("qa").unwrap())
        );
        assert_eq!(
            match_route("PUT", "/v1/prompts/x/evaluators").unwrap(),
            Route::PutEvaluators(slug("x"))
        );
        assert_eq!(match_route("PUT", "/v1/settings").unwrap(), Route::PutSettings);
        let log = "2026-12-04T10_executions_0123456789abcdef0123456789abcdef";
        assert_eq!(
            match_route("GET", &format!("/v1/telemetry/log/{log}")).unwrap(),
            Route::GetTelemetryLog(LogObjectId::parse(log).unwrap())
        );
        assert_eq!(
            match_route("GET", "/v1/telemetry/log/x").unwrap_err().code(),
            "not_found"
        );
        assert_eq!(
            Route::ListTelemetryLog.access(),
            Access::Workspace(Permission::Administer)
        );
        // Raw executions are not in D1: there is no lookup by id.
        assert_eq!(
            match_route("GET", "/v1/executions/e-1").unwrap_err().code(),
            "route_not_found"
        );
        assert_eq!(Route::GetSettings.access(), Access::Workspace(Permission::Administer));
        assert_eq!(
            Route::PutEvaluators(slug("x")).access(),
            Access::Workspace(Permission::Write)
        );
    }

    #[test]
    fn unknown_paths_are_404_and_wrong_methods_405() {
        assert_eq!(match_route("GET", "/nope").unwrap_err().code(), "route_not_found");
        let e = match_route("DELETE", "/v1/prompts").unwrap_err();
        assert_eq!(e.status(), 405);
        assert_eq!(e.details()["allowed"][1], "POST");
    }

    #[test]
    fn bad_slugs_and_numbers_read_as_missing() {
        assert_eq!(match_route("GET", "/v1/prompts/BAD").unwrap_err().code(), "not_found");
        assert_eq!(
            match_route("GET", "/v1/prompts/x/versions/0").unwrap_err().code(),
            "not_found"
        );
        assert_eq!(
            match_route("GET", "/v1/prompts/x/versions/abc").unwrap_err().status(),
            404
        );
    }

    #[test]
    fn access_levels() {
        assert_eq!(Route::Healthz.access(), Access::Public);
        assert_eq!(Route::AuthConfig.access(), Access::Public);
        assert_eq!(Route::AddMember.access(), Access::Workspace(Permission::Administer));
        assert_eq!(
            Route::ListNotifications.access(),
            Access::Workspace(Permission::Administer)
        );
        assert_eq!(Route::CreateWorkspace.access(), Access::Bootstrap);
        assert_eq!(Route::Resolve(slug("a")).access(), Access::Workspace(Permission::Read));
        assert_eq!(Route::Promote(slug("a")).access(), Access::Workspace(Permission::Write));
        assert_eq!(Route::CreateKey.access(), Access::Workspace(Permission::Administer));
    }
}
