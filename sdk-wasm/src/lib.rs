//! The wasm-bindgen boundary of the npm package `pvct`.
//!
//! Exports stay thin: each converts its arguments, calls `pvct-core` and
//! converts the result back. No logic lives here; the JavaScript client in
//! `js/` adds caching, networking and telemetry around these.
//!
//! Built twice (see the crate features): `prompts` gives [`Bundle`] and
//! [`bucket`], `diff` gives [`diff_words`].
//!
//! Variants cross the boundary as an `i32`: `-1` for the deployed version,
//! `i >= 0` for experiment variant `i`. Errors are JavaScript `Error`s with
//! the core's stable `code`.

#[cfg(feature = "prompts")]
use pvct_core::prepared_bundle::PreparedBundle;
#[cfg(feature = "prompts")]
use pvct_core::render::Rendered;
#[cfg(feature = "prompts")]
use serde_json::{Map, Value};
use wasm_bindgen::prelude::*;

#[cfg(feature = "prompts")]
fn to_js(err: pvct_core::Error) -> JsValue {
    let e = js_sys::Error::new(err.message());
    // Reflect::set on a fresh Error object cannot fail.
    let _ = js_sys::Reflect::set(&e, &"code".into(), &err.code().into());
    e.into()
}

#[cfg(feature = "prompts")]
fn bad_json(what: &str) -> JsValue {
    to_js(pvct_core::Error::new(
        pvct_core::ErrorKind::InvalidField,
        format!("{what} must be a JSON object"),
    ))
}

#[cfg(feature = "prompts")]
fn variant(v: i32) -> Option<usize> {
    usize::try_from(v).ok()
}

/// Every prompt deployed in one environment, parsed and ready to route and
/// render without further parsing.
#[cfg(feature = "prompts")]
#[wasm_bindgen]
pub struct Bundle(PreparedBundle);

#[cfg(feature = "prompts")]
#[wasm_bindgen]
impl Bundle {
    /// Parses a `GET /v1/bundle` body.
    #[wasm_bindgen(constructor)]
    pub fn new(json: &str) -> Result<Bundle, JsValue> {
        PreparedBundle::parse(json).map(Bundle).map_err(to_js)
    }

    /// The variant serving `user_key` (or, without one, the one `random`
    /// picks): exactly the worker's routing.
    pub fn route(&self, slug: &str, user_key: Option<String>, random: u32) -> Result<i32, JsValue> {
        let choice = self.0.route(slug, user_key.as_deref(), || random).map_err(to_js)?;
        Ok(choice.variant.map_or(-1, |v| v as i32))
    }

    /// The served version's description as JSON (stable per variant).
    pub fn info(&self, slug: &str, variant_index: i32) -> Result<String, JsValue> {
        let info = self.0.info(slug, variant(variant_index)).map_err(to_js)?;
        serde_json::to_string(info).map_err(|_| bad_json("info"))
    }

    /// Renders a variant: the text of a text prompt, or the JSON array of
    /// messages of a chat prompt.
    pub fn render(
        &self,
        slug: &str,
        variant_index: i32,
        variables_json: &str,
        history_json: &str,
        strict: bool,
    ) -> Result<String, JsValue> {
        let variables: Map<String, Value> = serde_json::from_str(variables_json).map_err(|_| bad_json("variables"))?;
        let history: Value = serde_json::from_str(history_json).map_err(|_| bad_json("history"))?;
        match self
            .0
            .render(slug, variant(variant_index), &variables, &history, strict)
            .map_err(to_js)?
        {
            Rendered::Text { text } => Ok(text),
            Rendered::Chat { messages } => serde_json::to_string(&messages).map_err(|_| bad_json("messages")),
        }
    }
}

/// Word-level diff of two strings: a JSON array of `{op, text}` runs where
/// `op` is `equal`, `insert` or `delete`.
#[cfg(feature = "diff")]
#[wasm_bindgen(js_name = diffWords)]
pub fn diff_words(old: &str, new: &str) -> String {
    let diff = pvct_core::diff::diff_words("text", old, new);
    serde_json::to_string(&diff.ops).expect("diff ops serialize")
}

/// The routing hash in [0, 1) of `key` under `seed` (GrowthBook's v2
/// bucketing), for checking shared test vectors.
#[cfg(feature = "prompts")]
#[wasm_bindgen]
pub fn bucket(seed: &str, key: &str) -> f64 {
    pvct_core::routing::bucket(seed, key)
}

// A small allocator: dlmalloc is ~7 KB of the module; the SDK allocates
// little (a bundle parse per refresh, a string per render).
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    // SAFETY: wasm32-unknown-unknown without atomics runs one thread.
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };
