//! The wasm-bindgen boundary of the npm package `pvct`.
//!
//! Exports stay thin: each converts its arguments, calls `pvct-core` and
//! converts the result back. No logic lives here; the JavaScript client in
//! `js/` adds caching, networking and telemetry around these.
//!
//! The core parses and validates a bundle once and compiles each version:
//! templates into literals and variable slots, experiments into bucket
//! ranges ([`Bundle::info`]). The client executes those compiled plans per
//! call in JS (a hash and a string join cost less than a WASM call), asking
//! the core only how a non-plain value renders ([`value_text`]).
//!
//! Built three times (see the crate features): `prompts` gives [`Bundle`]
//! and [`value_text`], `diff` gives [`diff_words`]; `versions` adds
//! [`diff_versions`] for the web console, which builds that module itself
//! (it parses whole versions, so it is kept out of the npm package's diff
//! module).
//!
//! Variants cross the boundary as an `i32`: `-1` for the deployed version,
//! `i >= 0` for experiment variant `i`. Errors are JavaScript `Error`s with
//! the core's stable `code`.

#[cfg(feature = "prompts")]
use pvct_core::prepared_bundle::PreparedBundle;
use wasm_bindgen::prelude::*;

#[cfg(any(feature = "prompts", feature = "versions"))]
fn to_js(err: pvct_core::Error) -> JsValue {
    let e = js_sys::Error::new(err.message());
    // Reflect::set on a fresh Error object cannot fail.
    let _ = js_sys::Reflect::set(&e, &"code".into(), &err.code().into());
    e.into()
}

#[cfg(any(feature = "prompts", feature = "versions"))]
fn bad_json(what: &str) -> JsValue {
    to_js(pvct_core::Error::new(
        pvct_core::ErrorKind::InvalidField,
        format!("{what} is not JSON"),
    ))
}

/// `-1`: the deployed version; `i >= 0`: experiment variant `i`.
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

    /// The served version's description as JSON (stable per variant).
    pub fn info(&self, slug: &str, variant_index: i32) -> Result<String, JsValue> {
        let info = self.0.info(slug, variant(variant_index)).map_err(to_js)?;
        serde_json::to_string(info).map_err(|_| bad_json("info"))
    }
}

/// The text a variable's value renders as (`value` is its JSON): what the
/// JS plan executor asks for values other than strings, booleans, null and
/// safe integers, so number and object formatting is the core's.
#[cfg(feature = "prompts")]
#[wasm_bindgen(js_name = valueText)]
pub fn value_text(value_json: &str) -> Result<String, JsValue> {
    let value: serde_json::Value = serde_json::from_str(value_json).map_err(|_| bad_json("value"))?;
    Ok(pvct_core::template::value_text(&value))
}

#[cfg(feature = "diff")]
#[wasm_bindgen(js_name = diffWords)]
pub fn diff_words(old: &str, new: &str) -> String {
    let diff = pvct_core::diff::diff_words("text", old, new);
    serde_json::to_string(&diff.ops).expect("diff ops serialize")
}

/// The field-by-field diff of two versions (`{content, model_params}` JSON
/// each, as the API returns versions) of a prompt of `kind`: what
/// `GET /v1/prompts/{slug}/diff` computes, for UIs that diff locally.
#[cfg(feature = "versions")]
#[wasm_bindgen(js_name = diffVersions)]
pub fn diff_versions(kind: &str, old_json: &str, new_json: &str) -> Result<String, JsValue> {
    let kind = pvct_core::content::PromptKind::parse(kind).map_err(to_js)?;
    let old: serde_json::Value = serde_json::from_str(old_json).map_err(|_| bad_json("old version"))?;
    let new: serde_json::Value = serde_json::from_str(new_json).map_err(|_| bad_json("new version"))?;
    let diff = pvct_core::diff::diff_version_values(kind, &old, &new).map_err(to_js)?;
    serde_json::to_string(&diff).map_err(|_| bad_json("diff"))
}

// A small allocator: dlmalloc is ~7 KB of the module; the SDK allocates
// little (a bundle parse per refresh; renders mostly happen in JS).
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    // SAFETY: wasm32-unknown-unknown without atomics runs one thread.
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };
