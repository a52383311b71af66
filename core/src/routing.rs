//! Deterministic A/B routing, bit-for-bit compatible with GrowthBook's v2
//! bucketing so every implementation (worker, WASM SDK, Python SDK, or a
//! GrowthBook SDK) puts the same user in the same variant:
//!
//! ```text
//! n = (fnv1a32(str(fnv1a32(seed + key))) % 10000) / 10000
//! ```
//!
//! FNV-1a runs over UTF-16 code units (JavaScript's `charCodeAt`). Weights
//! are percents; bucket ranges are built cumulatively in floating point
//! exactly as GrowthBook does (`w / 100`, summed left to right), and the
//! variant is the range `[start, end)` holding `n`.
//!
//! The ramp rule follows from the cumulative ranges: raising the weight of
//! the *last* variant (taking it from the others) only moves its start
//! down, so users who already had the last variant keep it.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

const FNV_OFFSET: u32 = 0x811c_9dc5;
const FNV_PRIME: u32 = 0x0100_0193;

/// At most this many variants in one experiment.
pub const MAX_VARIANTS: usize = 10;

/// FNV-1a 32 over the UTF-16 code units of `s`.
pub fn fnv1a32(s: &str) -> u32 {
    s.encode_utf16()
        .fold(FNV_OFFSET, |h, unit| (h ^ u32::from(unit)).wrapping_mul(FNV_PRIME))
}

/// GrowthBook v2 hash of `key` under `seed`: a number in `[0, 1)` with four
/// decimals.
pub fn bucket(seed: &str, key: &str) -> f64 {
    let inner = fnv1a32(&format!("{seed}{key}"));
    f64::from(fnv1a32(&inner.to_string()) % 10_000) / 10_000.0
}

/// `[start, end)` per variant, from weights in percent.
pub fn bucket_ranges(weights_percent: &[f64]) -> Vec<(f64, f64)> {
    let mut cumulative = 0.0;
    weights_percent
        .iter()
        .map(|w| {
            let w = w / 100.0;
            let start = cumulative;
            cumulative += w;
            (start, start + w)
        })
        .collect()
}

/// The index of the range holding `n`, if any.
pub fn choose_variant(n: f64, ranges: &[(f64, f64)]) -> Option<usize> {
    ranges.iter().position(|(start, end)| n >= *start && n < *end)
}

/// Maps 32 random bits to a bucket, for callers without a user key.
pub fn random_bucket(random: u32) -> f64 {
    f64::from(random % 10_000) / 10_000.0
}

/// One arm of an experiment as requested: a version and its weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantSpec {
    pub version: u32,
    pub weight: f64,
}

/// A validated experiment request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentSpec {
    pub variants: Vec<VariantSpec>,
    #[serde(default)]
    pub salt: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// Variants may need other variables than the live version (callers
    /// are ready for it), as `accept_variable_changes` on a promotion.
    #[serde(default)]
    pub accept_variable_changes: bool,
}

impl ExperimentSpec {
    pub fn parse(body: &[u8]) -> Result<Self> {
        let value: serde_json::Value = crate::request::parse_json(body)?;
        crate::request::expect_objects("variants", &value["variants"])?;
        let spec: ExperimentSpec = serde_json::from_value(value)
            .map_err(|e| Error::invalid_field("variants", format!("request body: {e}")))?;
        spec.validate()?;
        Ok(spec)
    }

    pub fn validate(&self) -> Result<()> {
        let field = |msg: String| Err(Error::invalid_field("variants", msg));
        if self.variants.len() == 1 {
            return field(format!(
                "a split needs two variants or more; to send all traffic to version {}, promote it",
                self.variants[0].version
            ));
        }
        if self.variants.is_empty() || self.variants.len() > MAX_VARIANTS {
            return field(format!(
                "an experiment has 2 to {MAX_VARIANTS} variants; got {}",
                self.variants.len()
            ));
        }
        let mut basis_points: u64 = 0;
        for (i, v) in self.variants.iter().enumerate() {
            if v.version == 0 {
                return field(format!("variants[{i}].version must be a version number (1 or more)"));
            }
            if !(v.weight.is_finite() && (0.0..=100.0).contains(&v.weight)) {
                return field(format!(
                    "variants[{i}].weight must be between 0 and 100 (percent); got {}",
                    v.weight
                ));
            }
            let bp = (v.weight * 100.0).round();
            if (bp - v.weight * 100.0).abs() > 1e-6 {
                return field(format!("variants[{i}].weight has more than two decimals: {}", v.weight));
            }
            basis_points += bp as u64;
            if self.variants[..i].iter().any(|o| o.version == v.version) {
                return field(format!("version {} appears twice", v.version));
            }
        }
        if basis_points != 10_000 {
            return field(format!(
                "weights must sum to 100; they sum to {}",
                basis_points as f64 / 100.0
            ));
        }
        if let Some(salt) = &self.salt {
            if salt.is_empty() || salt.chars().count() > 128 {
                return Err(Error::invalid_field("salt", "salt must be 1 to 128 characters"));
            }
        }
        if let Some(name) = &self.name {
            crate::names::bounded_text("name", name, 200, false)?;
        }
        Ok(())
    }

    /// Versions named by the variants that are not in `existing`.
    pub fn unknown_versions(&self, existing: &[u32]) -> Vec<u32> {
        self.variants
            .iter()
            .map(|v| v.version)
            .filter(|v| !existing.contains(v))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn vectors() -> Vec<Value> {
        let text = include_str!("../../tests/vectors/routing.json");
        let doc: Value = serde_json::from_str(text).unwrap();
        doc["vectors"].as_array().unwrap().clone()
    }

    #[test]
    fn fnv1a32_matches_the_reference() {
        assert_eq!(fnv1a32(""), 0x811c_9dc5);
        assert_eq!(fnv1a32("a"), 0xe40c_292c);
        assert_eq!(fnv1a32("foobar"), 0xbf9c_f968);
    }

    #[test]
    fn golden_vectors_match_growthbook() {
        let vectors = vectors();
        assert!(vectors.len() >= 50);
        for v in vectors {
            let seed = v["seed"].as_str().unwrap();
            let key = v["key"].as_str().unwrap();
            let n = bucket(seed, key);
            assert_eq!(n, v["n"].as_f64().unwrap(), "n for {seed:?}+{key:?}");
            let weights: Vec<f64> = v["weights"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w.as_f64().unwrap())
                .collect();
            let expected = v["variant"].as_i64().unwrap();
            let got = choose_variant(n, &bucket_ranges(&weights)).map_or(-1, |i| i as i64);
            assert_eq!(got, expected, "variant for {seed:?}+{key:?} with {weights:?}");
        }
    }

    #[test]
    fn non_ascii_keys_hash_over_utf16_units() {
        // "🙂" is two UTF-16 code units; hashing its UTF-8 bytes would differ.
        let utf8_bytes_as_chars: String = "🙂".bytes().map(char::from).collect();
        assert_ne!(fnv1a32("🙂"), fnv1a32(&utf8_bytes_as_chars));
    }

    #[test]
    fn splits_100k_users_within_one_point_of_the_weights() {
        let ranges = bucket_ranges(&[20.0, 30.0, 50.0]);
        let mut counts = [0u32; 3];
        for i in 0..100_000 {
            counts[choose_variant(bucket("split-test", &format!("user-{i}")), &ranges).unwrap()] += 1;
        }
        for (count, want) in counts.iter().zip([20.0, 30.0, 50.0]) {
            let pct = f64::from(*count) / 1000.0;
            assert!((pct - want).abs() < 1.0, "{counts:?}");
        }
    }

    #[test]
    fn ramping_the_last_variant_never_moves_its_users() {
        let steps = [[90.0, 10.0], [80.0, 20.0], [50.0, 50.0], [0.0, 100.0]];
        let mut had_last: Vec<String> = Vec::new();
        for weights in steps {
            let ranges = bucket_ranges(&weights);
            for key in &had_last {
                assert_eq!(
                    choose_variant(bucket("ramp", key), &ranges),
                    Some(1),
                    "{key} moved at {weights:?}"
                );
            }
            had_last = (0..20_000)
                .map(|i| format!("u{i}"))
                .filter(|k| choose_variant(bucket("ramp", k), &ranges) == Some(1))
                .collect();
        }
        assert_eq!(had_last.len(), 20_000);
    }

    #[test]
    fn specs_are_validated() {
        let ok =
            br#"{"variants":[{"version":1,"weight":33.33},{"version":2,"weight":33.33},{"version":3,"weight":33.34}]}"#;
        assert!(ExperimentSpec::parse(ok).is_ok());
        let bad: [&[u8]; 9] = [
            br#"{"variants":[{"version":1,"weight":50},{"version":2,"weight":40}]}"#,
            br#"{"variants":[{"version":1,"weight":-10},{"version":2,"weight":110}]}"#,
            br#"{"variants":[{"version":1,"weight":50.001},{"version":2,"weight":49.999}]}"#,
            br#"{"variants":[{"version":1,"weight":50},{"version":1,"weight":50}]}"#,
            br#"{"variants":[]}"#,
            br#"{"variants":[{"version":0,"weight":100}]}"#,
            br#"{"variants":[{"version":1,"weight":100}],"salt":""}"#,
            br#"{"variants":[{"version":1,"weight":100}],"colour":"red"}"#,
            br#"{"variants":[[1,100]]}"#,
        ];
        for body in bad {
            let err = ExperimentSpec::parse(body).unwrap_err();
            assert_eq!(err.status(), 400, "{}", String::from_utf8_lossy(body));
        }
        let eleven: Vec<String> = (1..=11)
            .map(|v| format!(r#"{{"version":{v},"weight":{}}}"#, if v == 1 { 0 } else { 10 }))
            .collect();
        let body = format!(r#"{{"variants":[{}]}}"#, eleven.join(","));
        assert!(ExperimentSpec::parse(body.as_bytes())
            .unwrap_err()
            .message()
            .contains("2 to 10"));
        let one = ExperimentSpec::parse(br#"{"variants":[{"version":9,"weight":100}]}"#).unwrap_err();
        assert_eq!(one.status(), 400);
        assert!(one.message().contains("promote it"), "{}", one.message());
    }

    #[test]
    fn unknown_versions_are_listed() {
        let spec =
            ExperimentSpec::parse(br#"{"variants":[{"version":1,"weight":50},{"version":7,"weight":50}]}"#).unwrap();
        assert_eq!(spec.unknown_versions(&[1, 2, 3]), vec![7]);
    }
}
