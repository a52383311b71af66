use serde_json::json;

use super::*;

fn name(s: &str) -> PromptName {
    PromptName::parse(s).unwrap()
}

#[test]
fn names_arrive_encoded_in_one_segment_or_raw_over_several() {
    let one = match_route("GET", "/api/public/v2/prompts/team%20a%2FSupport%20Bot%20v2.1").unwrap();
    let many = match_route("GET", "/api/public/v2/prompts/team%20a/Support%20Bot%20v2.1").unwrap();
    assert_eq!(one, CompatRoute::GetPrompt(name("team a/Support Bot v2.1")));
    assert_eq!(one, many);
    assert_eq!(
        match_route("PATCH", "/api/public/v2/prompts/folder%2Fx/versions/3").unwrap(),
        CompatRoute::UpdateLabels(name("folder/x"), 3)
    );
    assert_eq!(
        match_route("PATCH", "/api/public/v2/prompts/folder/x/versions/3").unwrap(),
        CompatRoute::UpdateLabels(name("folder/x"), 3)
    );
    // A name ending in /versions/N is reachable encoded in one segment; raw,
    // that path is the label route, which takes PATCH only.
    assert_eq!(
        match_route("GET", "/api/public/v2/prompts/a%2Fversions%2F3").unwrap(),
        CompatRoute::GetPrompt(name("a/versions/3"))
    );
    let e = match_route("DELETE", "/api/public/v2/prompts/a/versions/3").unwrap_err();
    assert_eq!((e.status(), e.details()["allowed"].clone()), (405, json!(["PATCH"])));
    assert_eq!(
        match_route("GET", "/api/public/v2/prompts").unwrap(),
        CompatRoute::ListPrompts
    );
    assert_eq!(match_route("PUT", "/api/public/v2/prompts").unwrap_err().status(), 405);
    assert_eq!(match_route("GET", "/api/public/v9/things").unwrap_err().status(), 404);
    assert_eq!(
        match_route("POST", "/api/public/ingestion").unwrap(),
        CompatRoute::Ingestion
    );
    assert!(match_route("PATCH", "/api/public/v2/prompts/x/versions/0").is_err());
}

#[test]
fn names_are_bounded_and_free_of_control_characters() {
    assert!(PromptName::parse("").is_err());
    assert!(PromptName::parse(&"x".repeat(201)).is_err());
    assert!(PromptName::parse("a\nb").is_err());
    assert!(PromptName::parse("/lead").is_err());
    assert!(PromptName::parse("Ünïcode ok.v2").is_ok());
}

#[test]
fn a_slug_is_its_own_name_and_other_names_get_a_hashed_slug() {
    assert_eq!(slug_for(&name("support-bot")).as_str(), "support-bot");
    let folder = slug_for(&name("team a/Support Bot v2.1"));
    assert!(folder.as_str().starts_with("team-a-support-bot-v2-1-"), "{folder}");
    // Names that slugify alike stay apart.
    assert_ne!(slug_for(&name("Support Bot")), slug_for(&name("support bot")));
    assert!(slug_for(&name("日本語")).as_str().starts_with("prompt-"));
}

#[test]
fn credentials_are_basic_pairs_or_a_native_bearer() {
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("pk-pvct-abc:pvct_secret")
    );
    assert_eq!(
        credentials(Some(&basic)).unwrap(),
        Credentials::Pair {
            public_key: "pk-pvct-abc".into(),
            secret_key: "pvct_secret".into()
        }
    );
    assert_eq!(
        credentials(Some("Bearer pk-pvct-abc")).unwrap(),
        Credentials::PublicOnly
    );
    assert_eq!(
        credentials(Some("Bearer pvct_x")).unwrap(),
        Credentials::Secret("pvct_x".into())
    );
    assert_eq!(credentials(None).unwrap_err().status(), 401);
    assert_eq!(credentials(Some("Basic !!!")).unwrap_err().status(), 401);
    assert!(public_key_matches(&public_key("k1"), "k1"));
    assert!(!public_key_matches("pk-pvct-k2", "k1"));
}

#[test]
fn selectors_default_to_production_and_refuse_both() {
    assert_eq!(Selector::of(None, None).unwrap(), Selector::Label("production".into()));
    assert_eq!(Selector::of(Some("3"), None).unwrap(), Selector::Version(3));
    assert_eq!(Selector::of(Some("3"), Some("staging")).unwrap_err().status(), 400);
    assert_eq!(Selector::of(Some("x"), None).unwrap_err().status(), 400);
    let live = vec![("production".to_owned(), 2), ("staging".to_owned(), 3)];
    assert_eq!(Selector::Label("latest".into()).version(4, &live), Some(4));
    assert_eq!(Selector::Label("staging".into()).version(4, &live), Some(3));
    assert_eq!(Selector::Label("dev".into()).version(4, &live), None);
    assert_eq!(Selector::Version(5).version(4, &live), None);
    let e = Selector::Label("production".into()).not_found(&name("x"));
    assert_eq!(error_body(&e).1["error"], "LangfuseNotFoundError");
    assert_eq!(
        error_body(&e).1["message"],
        "Prompt not found: 'x' with label 'production'"
    );
}

#[test]
fn labels_are_environments_plus_latest() {
    let live = vec![("production".to_owned(), 2), ("staging".to_owned(), 3)];
    assert_eq!(labels_of(3, 3, &live), vec!["staging", "latest"]);
    assert_eq!(labels_of(2, 3, &live), vec!["production"]);
    let known = vec!["dev".to_owned(), "staging".to_owned(), "production".to_owned()];
    let envs = label_environments(&["latest".into(), "production".into(), "production".into()], &known).unwrap();
    assert_eq!(envs.len(), 1);
    let e = label_environments(&["canary".into()], &known).unwrap_err();
    assert_eq!(e.status(), 400);
    assert!(e.message().contains("dev, staging, production"));
}

#[test]
fn create_bodies_as_each_client_sends_them() {
    // Python: no type for text, null tags and commit message, config {}.
    let py = CreatePrompt::parse(
        br#"{"name":"folder/new","prompt":"Hello {{x}}","config":{},"labels":["production"],"tags":null,"commitMessage":null}"#,
    )
    .unwrap();
    assert_eq!(py.kind, PromptKind::Text);
    assert_eq!(py.content, json!({ "text": "Hello {{x}}" }));
    assert_eq!(py.tags, None);
    assert_eq!(py.message, "");
    // JS: chatmessage types and placeholders.
    let js = CreatePrompt::parse(
        br#"{"name":"chat-new","type":"chat","prompt":[{"role":"system","content":"s {{a}}","type":"chatmessage"},{"type":"placeholder","name":"hist"}],"labels":[]}"#,
    )
    .unwrap();
    assert_eq!(js.kind, PromptKind::Chat);
    assert_eq!(
        js.content,
        json!({ "messages": [{ "role": "system", "content": "s {{a}}" }, { "role": "placeholder", "name": "hist" }] })
    );
    assert_eq!(
        prompt_of(&js.content)[1],
        json!({ "type": "placeholder", "name": "hist" })
    );
    assert_eq!(prompt_of(&js.content)[0]["type"], "chatmessage");
    // Legacy JS: isActive means production.
    let legacy = CreatePrompt::parse(br#"{"name":"t","prompt":"x","isActive":true,"labels":[]}"#).unwrap();
    assert_eq!(legacy.labels, vec!["production"]);
    for bad in [
        &br#"{"name":"t","prompt":"x","type":"chat"}"#[..],
        br#"{"name":"t","prompt":[{"type":"message","role":"a","content":"b"}]}"#,
        br#"{"name":"t","prompt":5}"#,
        br#"{"name":"","prompt":"x"}"#,
        br#"{"name":"t","prompt":"x","config":[1]}"#,
    ] {
        assert_eq!(
            CreatePrompt::parse(bad).unwrap_err().status(),
            400,
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    assert_eq!(
        parse_new_labels(br#"{"name":"x","version":1,"newLabels":["staging"]}"#).unwrap(),
        vec!["staging"]
    );
}

#[test]
fn references_become_pinned_includes_and_back() {
    let mut seen = Vec::new();
    let out = rewrite_references(
        "A @@@langfusePrompt:name=team/base|version=2@@@ B @@@langfusePrompt:name=tone|label=production@@@",
        &mut |r| {
            seen.push(r.clone());
            Ok(format!("{{{{> s{}@{}}}}}", seen.len(), seen.len() + 4))
        },
    )
    .unwrap();
    assert_eq!(out, "A {{> s1@5}} B {{> s2@6}}");
    assert_eq!(seen[0].selector, Selector::Version(2));
    assert_eq!(seen[1].name.as_str(), "tone");
    assert!(rewrite_references("x @@@langfusePrompt:name=a@@@", &mut |_| Ok(String::new())).is_err());
    assert!(rewrite_references("x @@@langfusePrompt:name=a|version=1", &mut |_| Ok(String::new())).is_err());
    let back = unresolve("A {{> s1@5}} {{name}}", &|slug| {
        (slug == "s1").then(|| "team/base".to_owned())
    });
    assert_eq!(back, "A @@@langfusePrompt:name=team/base|version=5@@@ {{name}}");
}

#[test]
fn lists_filter_sort_and_page() {
    let meta = |name: &str, labels: &[&str], at: &str| PromptMeta {
        name: name.into(),
        kind: "text",
        versions: vec![1],
        labels: labels.iter().map(|s| s.to_string()).collect(),
        tags: vec![],
        last_updated_at: at.into(),
        last_config: json!({}),
    };
    let items = vec![
        meta("c", &["production"], "2026-01-03"),
        meta("a", &["latest"], "2026-01-01"),
        meta("b", &["production"], "2026-01-02"),
    ];
    let q = |pairs: &[(&str, &str)]| {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        ListQuery::parse(&move |k: &str| pairs.iter().find(|(p, _)| p == k).map(|(_, v)| v.clone())).unwrap()
    };
    let page = q(&[("limit", "2"), ("page", "2")]).page_of(items.clone());
    assert_eq!(page["data"][0]["name"], "c");
    assert_eq!(
        page["meta"],
        json!({ "page": 2, "limit": 2, "totalItems": 3, "totalPages": 2 })
    );
    let prod = q(&[("label", "production"), ("fromUpdatedAt", "2026-01-03")]).page_of(items);
    assert_eq!(prod["meta"]["totalItems"], 1);
    assert!(ListQuery::parse(&|k| (k == "limit").then(|| "1000".to_owned())).is_err());
    assert!(
        ListQuery::parse(&|k| (k == "limit").then(String::new)).is_err(),
        "an empty limit is no number"
    );
}

#[test]
fn traced_generations_become_executions_of_their_prompt_version() {
    let batch = json!({ "batch": [
        { "type": "trace-create", "body": { "id": "t1" } },
        { "type": "generation-create", "body": { "id": "g1", "promptName": "team/bot", "promptVersion": 3,
          "startTime": "2026-12-04T10:00:00.000Z", "model": "gpt-4o", "environment": "default" } },
        { "type": "generation-update", "body": { "id": "g1", "endTime": "2026-12-04T10:00:01.250Z",
          "usage": { "input": 120, "output": 30 }, "level": null } },
        { "type": "generation-create", "body": { "id": "g2", "promptName": "team/bot", "promptVersion": 3,
          "startTime": "2026-12-04T10:00:00.000Z" } },
        { "type": "generation-create", "body": { "id": "g3", "startTime": "2026-12-04T10:00:00Z", "endTime": "2026-12-04T10:00:01Z" } },
        { "type": "generation-create", "body": { "id": "g4", "promptName": "x", "promptVersion": 1, "environment": "staging",
          "startTime": "2026-12-04T10:00:00Z", "endTime": "2026-12-04T10:00:00.100Z", "level": "ERROR", "statusMessage": "rate limited" } },
    ]});
    let found = generations(&batch);
    assert_eq!(found.len(), 2, "g2 has no end, g3 no prompt: not measurable");
    assert_eq!(found[0].id, "lf-g1");
    assert_eq!(found[0].prompt_name.as_str(), "team/bot");
    assert_eq!(
        (found[0].latency_ms, found[0].tokens_in, found[0].tokens_out),
        (1250.0, 120, 30)
    );
    assert_eq!(found[0].environment, "production");
    assert_eq!(found[0].model.as_deref(), Some("gpt-4o"));
    assert_eq!(found[0].error, None);
    assert_eq!(
        (found[1].environment.as_str(), found[1].error.as_deref()),
        ("staging", Some("rate limited"))
    );
    assert!(generations(&json!({ "nope": 1 })).is_empty());
}
