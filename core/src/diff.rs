//! Word-level diff between two versions, field by field.
//!
//! Each field (the text, each chat message, the model parameters) is diffed
//! with `similar`'s word tokenizer; runs of the same operation are merged so
//! a UI can render the ops directly.

use std::ops::Range;

use serde::Serialize;

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
///
/// Tokens are `similar`'s word tokens (runs of non-whitespace and runs of
/// whitespace); they are interned to integer ids and the id slices are
/// diffed with a port of `similar` 2.7's Myers (which strips the common
/// prefix and suffix first), so the ops are the same as
/// `TextDiff::from_words` gave (diff_tests.rs checks it against that).
pub fn diff_words(field: &str, old: &str, new: &str) -> FieldDiff {
    let old_tokens = tokenize_words(old);
    let new_tokens = tokenize_words(new);
    let mut interner = Interner::with_capacity(old_tokens.len() + new_tokens.len());
    let old_ids: Vec<u32> = old_tokens.iter().map(|t| interner.id(t)).collect();
    let new_ids: Vec<u32> = new_tokens.iter().map(|t| interner.id(t)).collect();
    let diff_ops = myers_ops(&old_ids, &new_ids);

    let mut ops: Vec<DiffOp> = Vec::new();
    let (mut added, mut removed) = (0, 0);
    // A run of tokens is a contiguous part of its text: one push_str each.
    let mut push = |tag: DiffTag, text: &str, tokens: &[&str]| {
        if tokens.is_empty() {
            return;
        }
        let words = tokens.iter().filter(|t| is_word(t)).count();
        match tag {
            DiffTag::Insert => added += words,
            DiffTag::Delete => removed += words,
            DiffTag::Equal => {}
        }
        let run = span(text, tokens);
        match ops.last_mut() {
            Some(last) if last.op == tag => last.text.push_str(run),
            _ => ops.push(DiffOp {
                op: tag,
                text: run.to_owned(),
            }),
        }
    };
    for op in &diff_ops {
        let (tag, o, n) = op.as_tag_tuple();
        match tag {
            similar::DiffTag::Equal => push(DiffTag::Equal, old, &old_tokens[o]),
            similar::DiffTag::Delete => push(DiffTag::Delete, old, &old_tokens[o]),
            similar::DiffTag::Insert => push(DiffTag::Insert, new, &new_tokens[n]),
            similar::DiffTag::Replace => {
                push(DiffTag::Delete, old, &old_tokens[o]);
                push(DiffTag::Insert, new, &new_tokens[n]);
            }
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

/// The ops `similar::capture_diff_slices(Algorithm::Myers, old, new)`
/// gives: the same hooks (compacted, replaces merged) fed by [`myers`], a
/// port of `similar` 2.7's Myers specialised to id slices.
fn myers_ops(old: &[u32], new: &[u32]) -> Vec<similar::DiffOp> {
    use similar::algorithms::{Capture, Compact, DiffHook, Replace};
    let mut d = Compact::new(Replace::new(Capture::new()), old, new);
    let max_d = max_d(old.len(), new.len());
    let mut vf = vec![0usize; 2 * max_d];
    let mut vb = vec![0usize; 2 * max_d];
    let mut m = Myers {
        old,
        new,
        offset: max_d as isize,
        vf: &mut vf,
        vb: &mut vb,
    };
    m.conquer(&mut d, 0..old.len(), 0..new.len());
    let Ok(()) = d.finish();
    d.into_inner().into_inner().into_ops()
}

fn max_d(len1: usize, len2: usize) -> usize {
    (len1 + len2).div_ceil(2) + 1
}

/// `similar::algorithms::myers` (linear-space divide and conquer on the
/// middle snake) on `u32` slices: the same steps in the same order, so the
/// same edit script; without the deadline and the generic indexing.
struct Myers<'a> {
    old: &'a [u32],
    new: &'a [u32],
    offset: isize,
    vf: &'a mut [usize],
    vb: &'a mut [usize],
}

impl Myers<'_> {
    fn prefix(&self, old: Range<usize>, new: Range<usize>) -> usize {
        self.old[old]
            .iter()
            .zip(&self.new[new])
            .take_while(|(a, b)| a == b)
            .count()
    }

    fn suffix(&self, old: Range<usize>, new: Range<usize>) -> usize {
        self.old[old]
            .iter()
            .rev()
            .zip(self.new[new].iter().rev())
            .take_while(|(a, b)| a == b)
            .count()
    }

    fn conquer<D: similar::algorithms::DiffHook<Error = std::convert::Infallible>>(
        &mut self,
        d: &mut D,
        mut old_range: Range<usize>,
        mut new_range: Range<usize>,
    ) {
        let prefix = self.prefix(old_range.clone(), new_range.clone());
        if prefix > 0 {
            let Ok(()) = d.equal(old_range.start, new_range.start, prefix);
        }
        old_range.start += prefix;
        new_range.start += prefix;
        let suffix = self.suffix(old_range.clone(), new_range.clone());
        let suffix_at = (old_range.end - suffix, new_range.end - suffix);
        old_range.end -= suffix;
        new_range.end -= suffix;

        if old_range.is_empty() && new_range.is_empty() {
        } else if new_range.is_empty() {
            let Ok(()) = d.delete(old_range.start, old_range.len(), new_range.start);
        } else if old_range.is_empty() {
            let Ok(()) = d.insert(old_range.start, new_range.start, new_range.len());
        } else {
            let (x_start, y_start) = self.middle_snake(old_range.clone(), new_range.clone());
            self.conquer(d, old_range.start..x_start, new_range.start..y_start);
            self.conquer(d, x_start..old_range.end, y_start..new_range.end);
        }
        if suffix > 0 {
            let Ok(()) = d.equal(suffix_at.0, suffix_at.1, suffix);
        }
    }

    /// Always found without a deadline (similar returns `None` only when
    /// its deadline passes).
    fn middle_snake(&mut self, old_range: Range<usize>, new_range: Range<usize>) -> (usize, usize) {
        let n = old_range.len();
        let m = new_range.len();
        let delta = n as isize - m as isize;
        let odd = delta & 1 == 1;
        let o = self.offset;
        let at = |k: isize| (k + o) as usize;
        self.vf[at(1)] = 0;
        self.vb[at(1)] = 0;
        let d_max = max_d(n, m);
        assert!(self.vf.len() >= d_max && self.vb.len() >= d_max);
        for d in 0..d_max as isize {
            for k in (-d..=d).rev().step_by(2) {
                let mut x = if k == -d || (k != d && self.vf[at(k - 1)] < self.vf[at(k + 1)]) {
                    self.vf[at(k + 1)]
                } else {
                    self.vf[at(k - 1)] + 1
                };
                let y = (x as isize - k) as usize;
                let (x0, y0) = (x, y);
                // (The first pair checked inline: most snakes are empty.)
                if x < n && y < m && self.old[old_range.start + x] == self.new[new_range.start + y] {
                    x += self.prefix(old_range.start + x..old_range.end, new_range.start + y..new_range.end);
                }
                self.vf[at(k)] = x;
                if odd && (k - delta).abs() < d && x + self.vb[at(-(k - delta))] >= n {
                    return (x0 + old_range.start, y0 + new_range.start);
                }
            }
            for k in (-d..=d).rev().step_by(2) {
                let mut x = if k == -d || (k != d && self.vb[at(k - 1)] < self.vb[at(k + 1)]) {
                    self.vb[at(k + 1)]
                } else {
                    self.vb[at(k - 1)] + 1
                };
                let mut y = (x as isize - k) as usize;
                if x < n && y < m && self.old[old_range.start + n - x - 1] == self.new[new_range.start + m - y - 1] {
                    let advance = self.suffix(
                        old_range.start..old_range.start + n - x,
                        new_range.start..new_range.start + m - y,
                    );
                    x += advance;
                    y += advance;
                }
                self.vb[at(k)] = x;
                if !odd && (k - delta).abs() <= d && x + self.vf[at(-(k - delta))] >= n {
                    return (n - x + old_range.start, m - y + new_range.start);
                }
            }
        }
        unreachable!("Myers finds a middle snake within max_d steps")
    }
}

/// A word token (not whitespace): what the counts count, as
/// `!token.trim().is_empty()` did.
fn is_word(token: &str) -> bool {
    token.chars().next().is_some_and(|c| !c.is_whitespace())
}

/// The part of `text` that the consecutive `tokens` (slices of `text`,
/// at least one) cover.
fn span<'a>(text: &'a str, tokens: &[&str]) -> &'a str {
    let base = text.as_ptr() as usize;
    let start = tokens[0].as_ptr() as usize - base;
    let last = tokens[tokens.len() - 1];
    let end = last.as_ptr() as usize - base + last.len();
    &text[start..end]
}

/// `similar`'s word tokenizer: runs of whitespace and runs of anything
/// else, each a token.
fn tokenize_words(s: &str) -> Vec<&str> {
    let bytes = s.as_bytes();
    let mut tokens = Vec::with_capacity(bytes.len() / 4 + 1);
    // `char::is_whitespace` of the char at `i`, and its length; ASCII
    // (\t, \n, \x0b, \x0c, \r and space) without decoding.
    let class_at = |i: usize| -> (bool, usize) {
        let b = bytes[i];
        if b < 0x80 {
            (is_ascii_space(b), 1)
        } else {
            let c = s[i..].chars().next().expect("a char starts here");
            (c.is_whitespace(), c.len_utf8())
        }
    };
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let (space, len) = class_at(i);
        i += len;
        loop {
            while i < bytes.len() && bytes[i] < 0x80 && is_ascii_space(bytes[i]) == space {
                i += 1;
            }
            if i < bytes.len() && bytes[i] >= 0x80 {
                let (next_space, len) = class_at(i);
                if next_space == space {
                    i += len;
                    continue;
                }
            }
            break;
        }
        tokens.push(&s[start..i]);
    }
    tokens
}

fn is_ascii_space(b: u8) -> bool {
    matches!(b, b'\t'..=b'\r' | b' ')
}

/// An Fx-style hash, 8 bytes at a time: tokens are hashed once each, and
/// SipHash costs more. (Equal ids need equal tokens, whatever the hash.)
#[derive(Default)]
struct Fx(u64);

const FX: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Fx {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(FX);
    }
}

impl std::hash::Hasher for Fx {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(last));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
}

/// Token → id; equal tokens get equal ids.
struct Interner<'a> {
    ids: std::collections::HashMap<&'a str, u32, std::hash::BuildHasherDefault<Fx>>,
}

impl<'a> Interner<'a> {
    fn with_capacity(n: usize) -> Self {
        Self {
            ids: std::collections::HashMap::with_capacity_and_hasher(n.min(1 << 16), Default::default()),
        }
    }
    fn id(&mut self, token: &'a str) -> u32 {
        // Most tokens are one space: no hashing for them.
        if token == " " {
            return 0;
        }
        let next = self.ids.len() as u32 + 1;
        *self.ids.entry(token).or_insert(next)
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
#[path = "diff_tests.rs"]
mod diff_tests;

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
