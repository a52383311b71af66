//! The exports run under node through wasm-bindgen-test.
#![cfg(target_arch = "wasm32")]

use pvct_sdk::{bucket, diff_words, Bundle};
use serde_json::{json, Value};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

fn bundle() -> Bundle {
    let doc = json!({
        "environment": "production",
        "prompts": { "greet": {
            "slug": "greet", "name": "Greet", "kind": "text", "environment": "production",
            "version": 1, "version_id": "v1", "content": { "text": "Hello {{name}}" }, "model_params": { "temperature": 0.2 },
            "variables": { "uses": ["name"], "declares": [] }, "content_hash": "h", "deployment_id": "d",
            "deployed_at": "2026-01-01T00:00:00.000Z",
            "experiment": { "id": "x", "name": "x", "salt": "s", "variants": [
                { "version": 2, "version_id": "v2", "weight": 100, "content": { "text": "Hi {{name}}" },
                  "model_params": {}, "variables": { "uses": ["name"], "declares": [] }, "content_hash": "h2" }
            ] }
        } }
    });
    Bundle::new(&doc.to_string()).unwrap_or_else(|_| panic!("bundle parses"))
}

fn code_of(err: JsValue) -> String {
    js_sys::Reflect::get(&err, &"code".into()).unwrap().as_string().unwrap()
}

#[wasm_bindgen_test]
fn routes_describes_and_renders() {
    let b = bundle();
    assert_eq!(b.environment(), "production");
    assert_eq!(b.slugs(), r#"["greet"]"#);
    // A 100% experiment sends everyone to variant 0 (version 2).
    let v = b
        .route("greet", Some("user-1".into()), 0)
        .unwrap_or_else(|_| panic!("routes"));
    assert_eq!(v, 0);
    let info: Value = serde_json::from_str(&b.info("greet", v).unwrap_or_else(|_| panic!("info"))).unwrap();
    assert_eq!(info["version"], 2);
    assert_eq!(info["experimentId"], "x");
    let text = b.render("greet", v, r#"{"name":"Ada"}"#, "null", true);
    assert_eq!(text.unwrap_or_else(|_| panic!("renders")), "Hi Ada");
    let deployed = b.render("greet", -1, r#"{"name":"Ada"}"#, "null", true);
    assert_eq!(deployed.unwrap_or_else(|_| panic!("renders")), "Hello Ada");
}

#[wasm_bindgen_test]
fn errors_carry_the_cores_codes() {
    let b = bundle();
    assert_eq!(code_of(b.route("nope", None, 7).unwrap_err()), "not_deployed");
    assert_eq!(
        code_of(b.render("greet", -1, "{}", "null", true).unwrap_err()),
        "missing_variables"
    );
    assert_eq!(
        code_of(b.render("greet", -1, "[1]", "null", true).unwrap_err()),
        "invalid_field"
    );
    assert_eq!(code_of(Bundle::new("{").err().unwrap()), "malformed_json");
}

#[wasm_bindgen_test]
fn diff_words_returns_ops_that_rebuild_both_sides() {
    let ops: Value = serde_json::from_str(&diff_words("a quick fox", "a slow fox")).unwrap();
    let ops = ops.as_array().unwrap();
    let side = |skip: &str| -> String {
        ops.iter()
            .filter(|o| o["op"] != skip)
            .map(|o| o["text"].as_str().unwrap())
            .collect()
    };
    assert_eq!(side("insert"), "a quick fox");
    assert_eq!(side("delete"), "a slow fox");
}

#[wasm_bindgen_test]
fn bucket_matches_a_growthbook_vector() {
    assert_eq!(bucket("exp-1", "user-1"), 0.5069);
}
