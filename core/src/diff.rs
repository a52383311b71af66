//! Word-level diff between two versions, field by field.
//!
//! Each field (the text, each chat message, the model parameters) is diffed
//! with `similar`'s word tokenizer; runs of the same operation are merged so
//! a UI can render the ops directly.

use serde::Serialize;
use similar::{ChangeTag, TextDiff};

use crate::content::{ModelParams, PromptContent, PromptKind};
use crate::error::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DiffTag {
    Equal,
    Insert,
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffOp {
    pub op: DiffTag,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldDiff {
    /// `text`, `messages[i]`, `messages[i].role` or `model_params`.
    pub field: String,
    pub changed: bool,
    pub words_added: usize,
    pub words_removed: usize,
    pub ops: Vec<DiffOp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionDiff {
    pub fields: Vec<FieldDiff>,
    pub words_added: usize,
    pub words_removed: usize,
}

/// Word diff of two strings, with merged runs and word counts.
pub fn diff_words(field: &str, old: &str, new: &str) -> FieldDiff {
    let diff = TextDiff::from_words(old, new);
    let mut ops: Vec<DiffOp> = Vec::new();
    let (mut added, mut removed) = (0, 0);
    for change in diff.iter_all_changes() {
        let tag = match change.tag() {
            ChangeTag::Equal => DiffTag::Equal,
            ChangeTag::Insert => DiffTag::Insert,
            ChangeTag::Delete => DiffTag::Delete,
        };
        let token = change.value();
        if !token.trim().is_empty() {
            match tag {
                DiffTag::Insert => added += 1,
                DiffTag::Delete => removed += 1,
                DiffTag::Equal => {}
            }
        }
        match ops.last_mut() {
            Some(last) if last.op == tag => last.text.push_str(token),
            _ => ops.push(DiffOp {
                op: tag,
                text: token.to_owned(),
            }),
        }
    }
    FieldDiff {
        field: field.to_owned(),
        changed: added > 0 || removed > 0 || old != new,
        words_added: added,
        words_removed: removed,
        ops,
    }
}

/// The diff of two versions of the same prompt. Messages are aligned by
/// position; a message present on one side only diffs against "".
pub fn diff_versions(old: (&PromptContent, &ModelParams), new: (&PromptContent, &ModelParams)) -> VersionDiff {
    let old_fields = old.0.fields();
    let new_fields = new.0.fields();
    let mut fields = Vec::new();
    for i in 0..old_fields.len().max(new_fields.len()) {
        let o = old_fields.get(i);
        let n = new_fields.get(i);
        let name = o.or(n).map(|f| f.0.clone()).unwrap_or_default();
        let old_role = o.and_then(|f| f.1).unwrap_or("");
        let new_role = n.and_then(|f| f.1).unwrap_or("");
        if old_role != new_role {
            fields.push(diff_words(&format!("{name}.role"), old_role, new_role));
        }
        fields.push(diff_words(&name, o.map_or("", |f| f.2), n.map_or("", |f| f.2)));
    }
    fields.push(diff_words("model_params", &old.1.to_diff_text(), &new.1.to_diff_text()));
    VersionDiff {
        words_added: fields.iter().map(|f| f.words_added).sum(),
        words_removed: fields.iter().map(|f| f.words_removed).sum(),
        fields,
    }
}

/// The diff of two versions given as the API returns them (`content` and
/// `model_params` of a version), for tools that diff in the browser: the
/// web console calls this through the npm package's WASM diff module, so
/// it shows exactly what `GET /v1/prompts/{slug}/diff` computes.
pub fn diff_version_values(kind: PromptKind, old: &serde_json::Value, new: &serde_json::Value) -> Result<VersionDiff> {
    let parse = |v: &serde_json::Value| -> Result<(PromptContent, ModelParams)> {
        let content = PromptContent::from_value(kind, v.get("content").unwrap_or(&serde_json::Value::Null))?;
        let params = ModelParams::from_value(v.get("model_params").unwrap_or(&serde_json::Value::Null))?;
        Ok((content, params))
    };
    let (old, new) = (parse(old)?, parse(new)?);
    Ok(diff_versions((&old.0, &old.1), (&new.0, &new.1)))
}

/// Adds the changes to the variable set and to snippet pins (only when
/// they changed), so a diff shows "now needs {{locale}}" and "tone 3 → 4".
pub fn diff_metadata(
    diff: &mut VersionDiff,
    old: (&crate::render::VersionVariables, &crate::template::IncludeGraph),
    new: (&crate::render::VersionVariables, &crate::template::IncludeGraph),
) {
    let pins = |g: &crate::template::IncludeGraph| {
        g.pins
            .iter()
            .map(|(s, v)| format!("{s}@{v}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    for field in [
        diff_words("variables", &old.0.to_diff_text(), &new.0.to_diff_text()),
        diff_words("snippet_pins", &pins(old.1), &pins(new.1)),
    ] {
        if field.changed {
            diff.words_added += field.words_added;
            diff.words_removed += field.words_removed;
            diff.fields.push(field);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::{ChatEntry, Message, MessageRole};
    use serde_json::json;

    fn render(ops: &[DiffOp], keep: DiffTag) -> String {
        ops.iter()
            .filter(|o| o.op == DiffTag::Equal || o.op == keep)
            .map(|o| o.text.as_str())
            .collect()
    }

    #[test]
    fn version_values_diff_as_the_api_does_and_refuse_bad_content() {
        let old = json!({"content": {"messages": [{"role": "system", "content": "Be helpful."}]}, "model_params": {"temperature": 0.2}});
        let new = json!({"content": {"messages": [{"role": "system", "content": "Be concise and helpful."}]}, "model_params": {"temperature": 0.3}});
        let d = diff_version_values(PromptKind::Chat, &old, &new).unwrap();
        let fields: Vec<&str> = d.fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["messages[0]", "model_params"]);
        assert_eq!(render(&d.fields[0].ops, DiffTag::Insert), "Be concise and helpful.");
        assert_eq!(d.words_added, 3);
        let text = json!({"content": {"text": "x"}});
        assert_eq!(
            diff_version_values(PromptKind::Chat, &text, &new).unwrap_err().code(),
            "invalid_field"
        );
    }

    #[test]
    fn word_diff_reconstructs_both_sides_and_counts_words() {
        let d = diff_words(
            "text",
            "You are a helpful assistant.",
            "You are a concise, helpful assistant.",
        );
        assert_eq!(render(&d.ops, DiffTag::Delete), "You are a helpful assistant.");
        assert_eq!(render(&d.ops, DiffTag::Insert), "You are a concise, helpful assistant.");
        assert_eq!(d.words_added, 1);
        assert_eq!(d.words_removed, 0);
        assert!(d.changed);
    }

    #[test]
    fn equal_text_has_one_equal_op() {
        let d = diff_words("text", "same words", "same words");
        assert!(!d.changed);
        assert_eq!(
            d.ops,
            vec![DiffOp {
                op: DiffTag::Equal,
                text: "same words".into()
            }]
        );
    }

    #[test]
    fn versions_diff_each_message_and_the_params() {
        let old = PromptContent::Chat {
            messages: vec![ChatEntry::Message(Message {
                role: MessageRole::System,
                content: "Be brief.".into(),
            })],
        };
        let new = PromptContent::Chat {
            messages: vec![
                ChatEntry::Message(Message {
                    role: MessageRole::System,
                    content: "Be very brief.".into(),
                }),
                ChatEntry::Message(Message {
                    role: MessageRole::User,
                    content: "Hello".into(),
                }),
            ],
        };
        let p1 = ModelParams::from_value(&json!({"temperature": 0.2})).unwrap();
        let p2 = ModelParams::from_value(&json!({"temperature": 0.7})).unwrap();
        let d = diff_versions((&old, &p1), (&new, &p2));
        let names: Vec<&str> = d.fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            names,
            ["messages[0]", "messages[1].role", "messages[1]", "model_params"]
        );
        assert_eq!(d.fields[0].words_added, 1);
        assert_eq!(d.fields[2].words_added, 1);
        let params = &d.fields[3];
        assert_eq!(params.words_added, 1);
        assert_eq!(params.words_removed, 1);
        assert_eq!(d.words_added, 4);
    }

    #[test]
    fn metadata_changes_are_listed_only_when_they_change() {
        use crate::render::VersionVariables;
        use crate::template::IncludeGraph;
        let mut d = diff_words("text", "a", "a");
        let mut diff = VersionDiff {
            fields: vec![d.clone()],
            words_added: 0,
            words_removed: 0,
        };
        let v1 = VersionVariables {
            uses: ["name".to_owned()].into(),
            declares: vec![],
        };
        let v2 = VersionVariables {
            uses: ["name".to_owned(), "locale".to_owned()].into(),
            declares: vec![],
        };
        let mut g1 = IncludeGraph::default();
        g1.pins.insert("tone".into(), 3);
        let mut g2 = g1.clone();
        diff_metadata(&mut diff, (&v1, &g1), (&v1, &g2));
        assert_eq!(diff.fields.len(), 1);
        g2.pins.insert("tone".into(), 4);
        diff_metadata(&mut diff, (&v1, &g1), (&v2, &g2));
        let names: Vec<&str> = diff.fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(names, ["text", "variables", "snippet_pins"]);
        d = diff.fields[2].clone();
        assert!(d
            .ops
            .iter()
            .any(|o| o.op == DiffTag::Insert && o.text.contains("tone@4")));
    }
}
