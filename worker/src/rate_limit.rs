//! Rate limits at the door: the Workers Rate Limiting bindings count, the
//! core decides which limiter applies and what a refusal says
//! (`pvct_core::ratelimit`). An address past its failed sign-ins is also
//! refused by this isolate until the period ends, before any key check.

use std::cell::RefCell;

use pvct_core::ratelimit::Limiter;
use pvct_core::Error;
use worker::Env;

use crate::isolate_cache::TtlMap;

thread_local! {
    /// Addresses refused for failed sign-ins, in this isolate.
    static BLOCKED: RefCell<TtlMap<()>> =
        RefCell::new(TtlMap::new(u64::from(Limiter::AuthFailures.period_seconds()) * 1000, 10_000));
}

/// Counts one request of `subject` against `limiter`: Err(429) past it.
/// A missing or failing binding lets the request through (logged): limits
/// protect the service, they must not take it down.
pub async fn count(env: &Env, limiter: Limiter, subject: &str) -> Result<(), Error> {
    let binding = match env.rate_limiter(limiter.binding()) {
        Ok(b) => b,
        Err(e) => {
            worker::console_error!("rate limiter {} unavailable, not limiting: {e}", limiter.binding());
            return Ok(());
        }
    };
    match binding.limit(limiter.key(subject)).await {
        Ok(outcome) if !outcome.success => Err(limiter.refusal()),
        Ok(_) => Ok(()),
        Err(e) => {
            worker::console_error!("rate limiter {} failed, not limiting: {e}", limiter.binding());
            Ok(())
        }
    }
}

/// Refuses an address this isolate saw pass its failed sign-ins.
pub fn refuse_blocked(address: &str) -> Result<(), Error> {
    match BLOCKED.with(|b| b.borrow().get(address)) {
        Some(()) => Err(Limiter::AuthFailures.refusal()),
        None => Ok(()),
    }
}

/// Counts a failed sign-in of `address`: Err(429) past the limit, and the
/// address is refused here for the period.
pub async fn count_failure(env: &Env, address: &str) -> Result<(), Error> {
    let counted = count(env, Limiter::AuthFailures, address).await;
    if counted.is_err() {
        BLOCKED.with(|b| b.borrow_mut().put(address, ()));
    }
    counted
}
