//! `GET /v1/live?environment=E`: the environment's live channel, a
//! WebSocket served by the workspace's hub (`crate::live`).

use pvct_core::{Error, ErrorKind};
use worker::Request;

use crate::http::{header, ApiResult, OrInternal, Query};
use crate::routes::find_environment;
use crate::Ctx;

pub async fn subscribe(ctx: &Ctx, req: &Request) -> ApiResult {
    let q = Query::of(&ctx.url);
    let name = q.get("environment").unwrap_or_default();
    let environment = pvct_core::names::EnvironmentName::parse(name).map_err(|e| {
        Error::new(ErrorKind::InvalidQuery, e.message().to_owned())
            .with_details(serde_json::json!({ "parameter": "environment" }))
    })?;
    let env = find_environment(ctx, &environment).await?;
    if !header(req, "upgrade").is_some_and(|u| u.eq_ignore_ascii_case("websocket")) {
        return Err(Error::new(
            ErrorKind::UpgradeRequired,
            "this is a WebSocket: connect with Upgrade: websocket (or long-poll GET /v1/bundle?wait=25)",
        ));
    }

    let protocols = header(req, "sec-websocket-protocol");
    crate::live::subscribe(&ctx.env, &ctx.who.workspace_id, &env.name, protocols.as_deref())
        .await
        .or_internal("live subscribe")
}
