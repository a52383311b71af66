//! Response views of the registry: prompts, their versions, diffs,
//! server-side renders and the dependents of a snippet.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::diff::{FieldDiff, VersionDiff};
use crate::render::Rendered;
use crate::resolved::AssignmentKind;
use crate::template::VariableDecl;

/// A prompt without its versions (also the stored prompt row).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptView {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub description: String,
    /// `text`, `chat` or `snippet`.
    pub kind: String,
    pub created_by: Option<String>,
    pub created_at: String,
}

/// `GET /v1/prompts/{slug}`: the prompt's fields, its newest version and
/// what each environment serves.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromptDetailView {
    #[serde(flatten)]
    pub prompt: PromptView,
    /// `null` before the first commit.
    pub head: Option<VersionView>,
    /// Environment name → its live deployment; environments with nothing
    /// deployed are left out.
    pub deployments: BTreeMap<String, LiveDeploymentView>,
}

/// What an environment serves of a prompt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveDeploymentView {
    pub version: u32,
    pub version_id: String,
    pub deployment_id: String,
    pub deployed_at: String,
}

/// One committed version of a prompt: what every version answer carries
/// apart from its content. Version lists are pages of these unless they
/// ask for content (`?include=content`), so a page stays small whatever
/// the prompts hold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionSummaryView {
    pub id: String,
    /// The prompt's slug.
    pub prompt: String,
    pub number: u32,
    /// `null` for the first version.
    pub parent_version: Option<u32>,
    pub model_params: Value,
    /// The variables the version uses.
    pub variables: BTreeSet<String>,
    pub variable_declarations: Vec<VariableDecl>,
    /// Snippet slug → the version this one includes.
    pub snippet_pins: BTreeMap<String, u32>,
    pub content_hash: String,
    pub author: String,
    pub message: String,
    pub created_at: String,
}

/// One committed version of a prompt, with its content.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionView {
    #[serde(flatten)]
    pub summary: VersionSummaryView,
    pub content: Value,
    /// The content with its snippet includes expanded (the content itself
    /// when it has none).
    pub resolved_content: Value,
}

/// The answer to a commit: the new version, or the head when the content
/// did not change (`created: false`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommitView {
    pub created: bool,
    pub version: VersionView,
}

/// `GET /v1/prompts/{slug}/diff`: the word diff between two versions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiffView {
    pub prompt: String,
    pub from: u32,
    pub to: u32,
    pub words_added: usize,
    pub words_removed: usize,
    pub fields: Vec<FieldDiff>,
}

impl DiffView {
    pub fn new(prompt: impl Into<String>, from: u32, to: u32, diff: VersionDiff) -> Self {
        DiffView {
            prompt: prompt.into(),
            from,
            to,
            words_added: diff.words_added,
            words_removed: diff.words_removed,
            fields: diff.fields,
        }
    }
}

/// `POST /v1/prompts/{slug}/render`: the rendered prompt, and how the
/// version was chosen when it was asked for by environment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RenderView {
    pub prompt: String,
    pub kind: String,
    pub version: u32,
    pub rendered: Rendered,
    /// Present (its fields at the top level) only when rendered for an
    /// environment; a render of one version has none of them.
    #[serde(flatten)]
    pub routing: Option<RenderRouting>,
}

/// How an environment chose the version it rendered for this user.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RenderRouting {
    pub environment: String,
    /// `null` without a running experiment.
    pub experiment_id: Option<String>,
    /// `null` when the deployed version was chosen.
    pub variant: Option<usize>,
    pub assignment: AssignmentKind,
}

/// `GET /v1/prompts/{slug}/dependents`: the prompts whose newest version
/// includes this snippet.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DependentsView {
    pub snippet: String,
    /// `null` when no version of the snippet is in production.
    pub production_version: Option<u32>,
    pub items: Vec<DependentView>,
}

/// A prompt that includes the snippet, and which version of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DependentView {
    pub prompt: String,
    pub head_version: u32,
    pub pinned_version: u32,
    /// Pins a version older than the one in production.
    pub behind_production: bool,
}

impl DependentView {
    pub fn new(prompt: impl Into<String>, head_version: u32, pinned_version: u32, production: Option<u32>) -> Self {
        DependentView {
            prompt: prompt.into(),
            head_version,
            pinned_version,
            behind_production: production.is_some_and(|p| pinned_version < p),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn prompt() -> PromptView {
        PromptView {
            id: "p1".into(),
            slug: "bot".into(),
            name: "Bot".into(),
            description: "".into(),
            kind: "text".into(),
            created_by: None,
            created_at: "t".into(),
        }
    }

    #[test]
    fn prompt_detail_flattens_the_prompt_and_says_null_without_head() {
        let v = serde_json::to_value(PromptDetailView {
            prompt: prompt(),
            head: None,
            deployments: BTreeMap::new(),
        })
        .unwrap();
        assert_eq!(
            v,
            json!({ "id": "p1", "slug": "bot", "name": "Bot", "description": "", "kind": "text",
                    "created_by": null, "created_at": "t", "head": null, "deployments": {} })
        );
    }

    #[test]
    fn a_render_of_one_version_has_no_routing_fields() {
        let mut view = RenderView {
            prompt: "bot".into(),
            kind: "text".into(),
            version: 2,
            rendered: Rendered::Text { text: "hi".into() },
            routing: None,
        };
        let v = serde_json::to_value(&view).unwrap();
        assert_eq!(
            v,
            json!({ "prompt": "bot", "kind": "text", "version": 2, "rendered": { "text": "hi" } })
        );
        view.routing = Some(RenderRouting {
            environment: "production".into(),
            experiment_id: None,
            variant: None,
            assignment: AssignmentKind::Deployed,
        });
        let v = serde_json::to_value(&view).unwrap();
        assert_eq!(v["environment"], "production");
        assert_eq!(v["assignment"], "deployed");
        // Routed without an experiment: present, and null.
        assert!(v["experiment_id"].is_null() && v.get("experiment_id").is_some());
        assert!(v.get("variant").is_some_and(Value::is_null));
    }

    #[test]
    fn a_dependent_is_behind_only_below_production() {
        assert!(DependentView::new("a", 3, 1, Some(2)).behind_production);
        assert!(!DependentView::new("a", 3, 2, Some(2)).behind_production);
        assert!(!DependentView::new("a", 3, 1, None).behind_production);
    }
}
