//! Rate limits: which limiter counts a request, and the answer past it.
//!
//! Counting is the Workers Rate Limiting binding's (wrangler.toml
//! `[[ratelimits]]`, one per [`Limiter`]); deciding which limiter applies
//! and what a refusal says is here. Edge reads (resolve, bundle) have their
//! own, larger budget so an app's serving path is never starved by its own
//! telemetry or CI; failed sign-ins are counted per client address, so
//! guessing keys from one address stops after a few tries.

use crate::error::{Error, ErrorKind};
use crate::route::{Access, Route};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limiter {
    /// Every authenticated request but edge reads, per API key.
    Key,
    /// `GET /v1/resolve/…` and `GET /v1/bundle`, per API key.
    EdgeReads,
    /// Failed authentications, per client address.
    AuthFailures,
}

impl Limiter {
    /// The binding's name in wrangler.toml.
    pub const fn binding(self) -> &'static str {
        match self {
            Limiter::Key => "RATE_LIMIT_KEY",
            Limiter::EdgeReads => "RATE_LIMIT_EDGE_READS",
            Limiter::AuthFailures => "RATE_LIMIT_AUTH_FAILURES",
        }
    }

    /// The limiter's period in wrangler.toml: how long a refused caller waits.
    pub const fn period_seconds(self) -> u32 {
        match self {
            Limiter::Key | Limiter::EdgeReads => 10,
            Limiter::AuthFailures => 60,
        }
    }

    /// What the limiter counts: `key:<key id>` or `ip:<address>`.
    pub fn key(self, subject: &str) -> String {
        match self {
            Limiter::Key | Limiter::EdgeReads => format!("key:{subject}"),
            Limiter::AuthFailures => format!("ip:{subject}"),
        }
    }

    /// The 429 a caller past this limiter gets; `Retry-After` comes from the details.
    pub fn refusal(self) -> Error {
        let wait = self.period_seconds();
        let message = match self {
            Limiter::AuthFailures => {
                format!("too many failed sign-ins from this address; retry in {wait} s")
            }
            Limiter::Key | Limiter::EdgeReads => format!("this API key sent too many requests; retry in {wait} s"),
        };
        Error::new(ErrorKind::RateLimited, message).with_details(serde_json::json!({ "retry_after_seconds": wait }))
    }
}

/// The limiter that counts an authenticated request to `route`; None for
/// public routes.
pub fn limiter_of(route: &Route) -> Option<Limiter> {
    match route {
        Route::Resolve(_) | Route::Bundle | Route::Live => Some(Limiter::EdgeReads),
        _ if matches!(route.access(), Access::Workspace(_)) => Some(Limiter::Key),
        _ => None,
    }
}

/// The client address to count failed sign-ins by: `CF-Connecting-IP`, set
/// by Cloudflare's edge (locally absent: every local caller is one address).
pub fn client_address(cf_connecting_ip: Option<&str>) -> &str {
    cf_connecting_ip
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or("local")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::Slug;

    #[test]
    fn edge_reads_have_their_own_budget() {
        let slug = Slug::parse("bot").unwrap();
        assert_eq!(limiter_of(&Route::Resolve(slug.clone())), Some(Limiter::EdgeReads));
        assert_eq!(limiter_of(&Route::Bundle), Some(Limiter::EdgeReads));
        assert_eq!(limiter_of(&Route::Promote(slug)), Some(Limiter::Key));
        assert_eq!(limiter_of(&Route::Executions), Some(Limiter::Key));
        assert_eq!(limiter_of(&Route::Healthz), None);
        assert_eq!(limiter_of(&Route::CreateWorkspace), None);
    }

    #[test]
    fn a_refusal_says_when_to_retry() {
        let e = Limiter::AuthFailures.refusal();
        assert_eq!(e.status(), 429);
        assert_eq!(e.code(), "rate_limited");
        assert_eq!(e.details()["retry_after_seconds"], 60);
        assert_eq!(Limiter::Key.refusal().details()["retry_after_seconds"], 10);
        assert_eq!(Limiter::Key.key("abc"), "key:abc");
        assert_eq!(Limiter::AuthFailures.key("1.2.3.4"), "ip:1.2.3.4");
        assert_eq!(client_address(Some(" 1.2.3.4 ")), "1.2.3.4");
        assert_eq!(client_address(None), "local");
        assert_eq!(client_address(Some("")), "local");
    }
}
