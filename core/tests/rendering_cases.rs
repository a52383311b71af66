//! The shared rendering cases (tests/vectors/rendering.json), run through
//! the core: the reference the SDKs are held to.

use pvct_core::content::{PromptContent, PromptKind};
use pvct_core::prepared_bundle::PreparedBundle;
use pvct_core::render::{render, Rendered, VersionVariables};
use pvct_core::template::VariableDecl;
use serde_json::{json, Value};

fn cases() -> Vec<Value> {
    let text = include_str!("../../tests/vectors/rendering.json");
    let doc: Value = serde_json::from_str(text).expect("rendering.json is JSON");
    doc["cases"].as_array().expect("cases").clone()
}

fn outcome(result: pvct_core::Result<Rendered>) -> Value {
    match result {
        Ok(Rendered::Text { text }) => json!({ "text": text }),
        Ok(Rendered::Chat { messages }) => json!({ "messages": messages }),
        Err(e) => json!({ "error": e.code() }),
    }
}

#[test]
fn every_case_renders_as_expected_directly_and_through_a_prepared_bundle() {
    let cases = cases();
    assert!(cases.len() >= 20);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let kind = PromptKind::parse(case["kind"].as_str().unwrap()).unwrap();
        let content = PromptContent::from_value(kind, &case["content"]).unwrap();
        let declares: Vec<VariableDecl> = serde_json::from_value(case["declares"].clone()).unwrap();
        let variables = VersionVariables::of(&content, declares).unwrap();
        let uses: Vec<&String> = variables.uses.iter().collect();
        assert_eq!(json!(uses), case["uses"], "{name}: uses");
        let given = case["variables"].as_object().unwrap();
        let strict = case["strict"].as_bool().unwrap();
        let history = pvct_core::render::parse_history(&case["history"]);
        let direct = history.and_then(|h| render(&content, &variables, given, &h, strict));
        assert_eq!(outcome(direct), case["expected"], "{name}: render");

        // The same through a bundle, as SDKs get it (the compiled plan).
        let bundle = json!({ "environment": "production", "prompts": { "p": {
            "slug": "p", "name": "P", "kind": case["kind"], "environment": "production", "version": 1,
            "version_id": "v1", "content": case["content"], "model_params": {}, "variables": variables,
            "content_hash": "h", "deployment_id": "d", "deployed_at": "2026-01-01T00:00:00.000Z" } } });
        let prepared = PreparedBundle::parse(&bundle.to_string()).unwrap();
        let via_plan = prepared.render("p", None, given, &case["history"], strict);
        assert_eq!(outcome(via_plan), case["expected"], "{name}: plan");
    }
}
