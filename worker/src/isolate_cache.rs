//! Small per-isolate caches in front of KV.
//!
//! A Worker isolate serves many requests; keeping what it read saves a KV
//! round trip per request. [`TtlMap`] is the one mechanism: entries expire
//! after a fixed time and the map is bounded. The hot-path cache below keeps
//! resolved documents and bundles for `TTL_MS`; a publish in this isolate
//! replaces its entries at once, so the staleness a caller can see is
//! bounded by `TTL_MS` plus KV's own propagation (README states it). A
//! request with `Cache-Control: no-cache` skips it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use pvct_core::resolved::ResolvedPrompt;

use crate::ids::now_millis;

pub const TTL_MS: u64 = 5_000;
const MAX_ENTRIES: usize = 4_096;

/// A bounded map whose entries expire `ttl_ms` after they were put.
pub struct TtlMap<V> {
    entries: HashMap<String, (V, u64)>,
    ttl_ms: u64,
    max: usize,
}

impl<V: Clone> TtlMap<V> {
    pub fn new(ttl_ms: u64, max: usize) -> Self {
        TtlMap {
            entries: HashMap::new(),
            ttl_ms,
            max,
        }
    }

    pub fn get(&self, key: &str) -> Option<V> {
        let now = now_millis();
        self.entries
            .get(key)
            .filter(|(_, exp)| *exp > now)
            .map(|(v, _)| v.clone())
    }

    pub fn put(&mut self, key: &str, value: V) {
        let now = now_millis();
        if self.entries.len() >= self.max {
            self.entries.retain(|_, (_, exp)| *exp > now);
            if self.entries.len() >= self.max {
                self.entries.clear();
            }
        }
        self.entries.insert(key.to_owned(), (value, now + self.ttl_ms));
    }

    pub fn remove(&mut self, key: &str) {
        self.entries.remove(key);
    }
}

/// What the hot-path cache holds: the parsed resolved document (so a hit
/// neither reads KV nor parses JSON), or a bundle's JSON text; each with its
/// ETag.
#[derive(Clone)]
pub enum Entry {
    Resolved(Rc<ResolvedPrompt>, Rc<str>),
    Bundle(Rc<str>, Rc<str>),
}

thread_local! {
    static CACHE: RefCell<TtlMap<Entry>> = RefCell::new(TtlMap::new(TTL_MS, MAX_ENTRIES));
}

pub fn get(key: &str) -> Option<Entry> {
    CACHE.with(|c| c.borrow().get(key))
}

pub fn put(key: &str, entry: Entry) {
    CACHE.with(|c| c.borrow_mut().put(key, entry));
}

pub fn forget(key: &str) {
    CACHE.with(|c| c.borrow_mut().remove(key));
}
