//! The exports run under node through wasm-bindgen-test.
#![cfg(target_arch = "wasm32")]

use wasm_bindgen_test::*;

#[wasm_bindgen_test]
fn diff_words_returns_ops_that_rebuild_both_sides() {
    let ops: serde_json::Value = serde_json::from_str(&pvct_sdk::diff_words("a quick fox", "a slow fox")).unwrap();
    let ops = ops.as_array().unwrap();
    let side = |skip: &str| -> String {
        ops.iter()
            .filter(|o| o["op"] != skip)
            .map(|o| o["text"].as_str().unwrap())
            .collect()
    };
    assert_eq!(side("insert"), "a quick fox");
    assert_eq!(side("delete"), "a slow fox");
    assert!(ops.iter().any(|o| o["op"] == "insert" && o["text"] == "slow"));
}
