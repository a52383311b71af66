//! The wasm-bindgen boundary of the npm package `pvct`.
//!
//! Exports stay thin: each converts its arguments, calls `pvct-core` and
//! converts the result back. No logic lives here.

use wasm_bindgen::prelude::*;

/// Word-level diff of two strings: a JSON array of `{op, text}` runs where
/// `op` is `equal`, `insert` or `delete`.
#[wasm_bindgen(js_name = diffWords)]
pub fn diff_words(old: &str, new: &str) -> String {
    let diff = pvct_core::diff::diff_words("text", old, new);
    serde_json::to_string(&diff.ops).expect("diff ops serialize")
}
