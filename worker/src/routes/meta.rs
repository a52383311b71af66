//! Routes without a key: liveness and the API description.

use pvct_core::api::{AccessView, AuthConfigView, HealthView};
use pvct_core::route::Route;
use pvct_core::Error;

use crate::http::{json, raw_json, ApiResult};

const OPENAPI: &str = include_str!("../../openapi.json");

pub fn handle(route: &Route, env: &worker::Env) -> ApiResult {
    match route {
        Route::AuthConfig => json(
            200,
            &AuthConfigView {
                access: crate::access::config(env).map(|c| AccessView {
                    team_domain: c.team_origin().to_owned(),
                    logout_url: "/cdn-cgi/access/logout",
                }),
                key_sign_in: crate::console_key_sign_in(env),
            },
        ),
        Route::Healthz => json(200, &HealthView::ok(env!("CARGO_PKG_VERSION"))),
        Route::OpenApi => raw_json(200, OPENAPI.to_owned()),
        _ => Err(Error::internal()),
    }
}
