//! Routes without a key: liveness and the API description.

use pvct_core::api::HealthView;
use pvct_core::route::Route;
use pvct_core::Error;

use crate::http::{json, raw_json, ApiResult};

const OPENAPI: &str = include_str!("../../openapi.json");

pub fn handle(route: &Route) -> ApiResult {
    match route {
        Route::Healthz => json(200, &HealthView::ok(env!("CARGO_PKG_VERSION"))),
        Route::OpenApi => raw_json(200, OPENAPI.to_owned()),
        _ => Err(Error::internal()),
    }
}
