//! The exports run under node through wasm-bindgen-test.
#![cfg(target_arch = "wasm32")]

use pvct_sdk::{diff_versions, diff_words, value_text, Bundle};
use serde_json::{json, Value};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

fn bundle() -> Bundle {
    let doc = json!({
        "environment": "production",
        "prompts": { "greet": {
            "slug": "greet", "name": "Greet", "kind": "text", "environment": "production",
            "version": 1, "version_id": "v1", "content": { "text": "Hello \\{{x}} {{name}}" }, "model_params": { "temperature": 0.2 },
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
fn describes_versions_with_their_compiled_plans() {
    let b = bundle();
    let info: Value = serde_json::from_str(&b.info("greet", 0).unwrap_or_else(|_| panic!("info"))).unwrap();
    assert_eq!(info["version"], 2);
    assert_eq!(info["experimentId"], "x");
    assert_eq!(info["routing"]["ranges"], json!([[0.0, 1.0]]));
    let deployed: Value = serde_json::from_str(&b.info("greet", -1).unwrap_or_else(|_| panic!("info"))).unwrap();
    assert_eq!(
        deployed["plan"]["text"],
        json!({ "literals": ["Hello {{x}} ", ""], "slots": [0] })
    );
    assert_eq!(deployed["plan"]["names"], json!(["name"]));
}

#[wasm_bindgen_test]
fn errors_carry_the_cores_codes() {
    let b = bundle();
    assert_eq!(code_of(b.info("nope", -1).unwrap_err()), "not_deployed");
    assert_eq!(code_of(b.info("greet", 5).unwrap_err()), "not_found");
    assert_eq!(code_of(Bundle::new("{").err().unwrap()), "malformed_json");
}

#[wasm_bindgen_test]
fn values_render_as_the_core_formats_them() {
    let text = |json: &str| value_text(json).unwrap_or_else(|_| panic!("value"));
    assert_eq!(text("0.5"), "0.5");
    assert_eq!(text(r#"{"b":1,"a":[true,null]}"#), r#"{"a":[true,null],"b":1}"#);
    assert_eq!(text("null"), "");
    assert_eq!(code_of(value_text("{").unwrap_err()), "invalid_field");
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
fn diff_versions_gives_the_apis_fields_and_refuses_content_of_another_kind() {
    let old = r#"{"content":{"text":"Hello {{name}}"},"model_params":{"model":"m"}}"#;
    let new = r#"{"content":{"text":"Hello there {{name}}"},"model_params":{"model":"m"}}"#;
    let diff: Value = serde_json::from_str(&diff_versions("text", old, new).unwrap()).unwrap();
    assert_eq!(diff["fields"][0]["field"], "text");
    assert_eq!(diff["fields"][0]["words_added"], 1);
    assert_eq!(diff["fields"][1]["field"], "model_params");
    assert_eq!(diff["fields"][1]["changed"], false);
    assert_eq!(code_of(diff_versions("chat", old, new).unwrap_err()), "invalid_field");
    assert_eq!(code_of(diff_versions("text", "{", new).unwrap_err()), "invalid_field");
}
