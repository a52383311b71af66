//! A small per-isolate cache in front of KV for the hot path.
//!
//! A Worker isolate serves many requests; keeping the last documents it read
//! saves a KV round trip per request. Entries live `TTL_MS`, and a publish in
//! this isolate replaces its entries at once, so the staleness a caller can
//! see is bounded by `TTL_MS` plus KV's own propagation (README states it).
//! A request with `Cache-Control: no-cache` skips this cache.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use pvct_core::resolved::ResolvedPrompt;

use crate::ids::now_millis;

pub const TTL_MS: u64 = 5_000;
const MAX_ENTRIES: usize = 4_096;

/// What the cache holds: the parsed resolved document (so a hit neither
/// reads KV nor parses JSON), or a bundle's JSON text; each with its ETag.
#[derive(Clone)]
pub enum Entry {
    Resolved(Rc<ResolvedPrompt>, Rc<str>),
    Bundle(Rc<str>, Rc<str>),
}

thread_local! {
    static CACHE: RefCell<HashMap<String, (Entry, u64)>> = RefCell::new(HashMap::new());
}

pub fn get(key: &str) -> Option<Entry> {
    let now = now_millis();
    CACHE.with(|c| {
        c.borrow()
            .get(key)
            .filter(|(_, exp)| *exp > now)
            .map(|(e, _)| e.clone())
    })
}

pub fn put(key: &str, entry: Entry) {
    let now = now_millis();
    CACHE.with(|c| {
        let mut cache = c.borrow_mut();
        if cache.len() >= MAX_ENTRIES {
            cache.retain(|_, (_, exp)| *exp > now);
            if cache.len() >= MAX_ENTRIES {
                cache.clear();
            }
        }
        cache.insert(key.to_owned(), (entry, now + TTL_MS));
    });
}

pub fn forget(key: &str) {
    CACHE.with(|c| c.borrow_mut().remove(key));
}
