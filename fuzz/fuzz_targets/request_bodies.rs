//! Every request-body parser of the API on arbitrary bytes: each must
//! answer Ok or an error with a code, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pvct_core::content::PromptKind;
use pvct_core::request::{Commit, CreateKey, CreatePrompt, PutEnvironment, Rollback};

fuzz_target!(|body: &[u8]| {
    let _ = CreatePrompt::parse(body);
    for kind in [PromptKind::Text, PromptKind::Chat, PromptKind::Snippet] {
        let _ = Commit::parse(body, kind);
    }
    let _ = pvct_core::request::Promote::parse(body);
    let _ = Rollback::parse(body);
    let _ = CreateKey::parse(body);
    let _ = PutEnvironment::parse(body);
    let _ = pvct_core::render::RenderRequest::parse(body);
    let _ = pvct_core::routing::ExperimentSpec::parse(body);
    let _ = pvct_core::telemetry::parse_batch(body);
    let _ = pvct_core::telemetry::Feedback::parse(body);
    let _ = pvct_core::settings::SettingsUpdate::parse(body);
    let _ = pvct_core::evaluator::parse_evaluators(body);
    if let Ok(text) = std::str::from_utf8(body) {
        let _ = pvct_core::prepared_bundle::PreparedBundle::parse(text);
    }
});
