//! The word diff against the implementation it replaced
//! (`TextDiff::from_words`, kept here as the reference): the same ops and
//! counts on the diff cases of core's tests and on generated pairs.

use super::*;
use similar::{ChangeTag, TextDiff};

/// The implementation before issue 22, verbatim.
fn reference_diff_words(field: &str, old: &str, new: &str) -> FieldDiff {
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

fn assert_same(old: &str, new: &str) {
    let ours = diff_words("text", old, new);
    let reference = reference_diff_words("text", old, new);
    assert_eq!(ours, reference, "old: {old:?}\nnew: {new:?}");
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const VOCABULARY: &[&str] = &[
    "the",
    "a",
    "you",
    "are",
    "helpful",
    "assistant.",
    "answer",
    "{{name}}",
    "in",
    "French,",
    "être",
    "naïve",
    "日本語",
    "🙂",
    "x",
    "don't",
    "concise",
    "tone:",
    "—",
    "\"quoted\"",
    "and",
    "or",
    "never",
    "always",
];
const SPACES: &[&str] = &[
    " ", " ", " ", " ", "  ", "\n", "\n\n", "\t", " \u{a0}", "\u{3000}", "\r\n", "\x0b", "\x0c",
];

/// Tokens of a random text: words from a small vocabulary, separated by
/// whitespace runs, sometimes with leading or trailing whitespace.
fn random_tokens(rng: &mut Rng, max_words: usize) -> Vec<String> {
    let n = rng.below(max_words + 1);
    let mut tokens = Vec::new();
    if rng.below(4) == 0 {
        tokens.push(SPACES[rng.below(SPACES.len())].to_owned());
    }
    for i in 0..n {
        if i > 0 {
            tokens.push(SPACES[rng.below(SPACES.len())].to_owned());
        }
        tokens.push(VOCABULARY[rng.below(VOCABULARY.len())].to_owned());
    }
    if rng.below(4) == 0 {
        tokens.push(SPACES[rng.below(SPACES.len())].to_owned());
    }
    tokens
}

/// The text with scattered edits: substituted, inserted and deleted words,
/// changed whitespace, at `rate_percent` of the tokens.
fn edit(rng: &mut Rng, tokens: &[String], rate_percent: usize) -> String {
    let mut out = String::new();
    if rng.below(8) == 0 {
        out.push(' ');
    }
    for t in tokens {
        if rng.below(100) < rate_percent {
            match rng.below(4) {
                0 => out.push_str(VOCABULARY[rng.below(VOCABULARY.len())]),
                1 => {
                    out.push_str(t);
                    out.push(' ');
                    out.push_str(VOCABULARY[rng.below(VOCABULARY.len())]);
                }
                2 => {}
                _ => out.push_str(SPACES[rng.below(SPACES.len())]),
            }
        } else {
            out.push_str(t);
        }
    }
    if rng.below(8) == 0 {
        out.push('\n');
    }
    out
}

#[test]
fn same_as_the_reference_on_the_existing_cases() {
    let cases = [
        ("You are a helpful assistant.", "You are a concise, helpful assistant."),
        ("same words", "same words"),
        ("a", "a"),
        ("Be helpful.", "Be concise and helpful."),
        ("Be brief.", "Be very brief."),
        ("", "Hello"),
        ("Hello", ""),
        ("", ""),
        ("system", "user"),
        ("a quick fox", "a slow fox"),
        ("temperature: 0.2", "temperature: 0.7"),
        ("name", "locale\nname"),
        ("tone@3", "tone@4"),
        ("  leading", "leading  "),
        ("a  b", "a b"),
        ("\n\n", " "),
        ("naïve café 日本語", "naïve  café 🙂 日本語"),
    ];
    for (old, new) in cases {
        assert_same(old, new);
        assert_same(new, old);
    }
}

#[test]
fn tokenizer_matches_similar() {
    for s in [
        "",
        " ",
        "a",
        " a b  c\n",
        "日本語\u{3000}x\u{a0}y",
        "\t\n",
        "a\u{2028}b",
        "a\x0bb\x0cc\rd\x1fe\u{85}f\u{200b}g",
        "\u{1680}é\u{2000}\u{202f}ß\u{205f}",
    ] {
        let ours = tokenize_words(s);
        let theirs = TextDiff::from_words(s, "").old_slices().to_vec();
        assert_eq!(ours, theirs, "{s:?}");
    }
}

#[test]
fn same_as_the_reference_on_generated_pairs() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..400 {
        let tokens = random_tokens(&mut rng, 400);
        let old: String = tokens.concat();
        let rate = [1, 5, 20, 60][i % 4];
        let new = edit(&mut rng, &tokens, rate);
        assert_same(&old, &new);
        // Unrelated texts too: many edits, no long common runs.
        if i % 10 == 0 {
            let other: String = random_tokens(&mut rng, 200).concat();
            assert_same(&old, &other);
        }
    }
}

/// Timing on the bench's scattered-edit shape:
/// `cargo test -p pvct-core --release diff_tests::timing -- --ignored --nocapture`.
#[test]
#[ignore]
fn timing() {
    let mut rng = Rng(42);
    let vocabulary: Vec<String> = (0..2000).map(|i| format!("w{i}")).collect();
    for n in [2_000, 20_000] {
        let tokens: Vec<String> = (0..n)
            .flat_map(|i| {
                let sep = if i % 15 == 14 { ".\n" } else { " " };
                [vocabulary[rng.below(vocabulary.len())].clone(), sep.to_owned()]
            })
            .collect();
        let old = tokens.concat();
        let new = {
            let mut out = String::new();
            for t in &tokens {
                if !t.trim().is_empty() && rng.below(100) < 5 {
                    match rng.below(3) {
                        0 => out.push_str(&vocabulary[rng.below(vocabulary.len())]),
                        1 => {
                            out.push_str(t);
                            out.push(' ');
                            out.push_str(&vocabulary[rng.below(vocabulary.len())]);
                        }
                        _ => {}
                    }
                } else {
                    out.push_str(t);
                }
            }
            out
        };
        let t = std::time::Instant::now();
        let a = reference_diff_words("text", &old, &new);
        let before = t.elapsed();
        let t = std::time::Instant::now();
        let b = diff_words("text", &old, &new);
        let after = t.elapsed();
        assert_eq!(a, b);
        println!("{n} words: reference {before:?}, ours {after:?}");
    }
}
