//! What a call cost, from its tokens, when the client did not say: a price
//! table per model (USD per million input and output tokens), seeded with
//! common models' public list prices and overridable per workspace.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The seeded table's version; bump it when prices change.
pub const PRICE_TABLE_VERSION: &str = "2026-11";

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    pub input_per_million: f64,
    pub output_per_million: f64,
}

impl ModelPrice {
    pub fn validate(&self) -> Result<()> {
        for (field, v) in [
            ("input_per_million", self.input_per_million),
            ("output_per_million", self.output_per_million),
        ] {
            if !(v.is_finite() && (0.0..=100_000.0).contains(&v)) {
                return Err(Error::invalid_field(
                    field,
                    format!("{field} must be between 0 and 100000 USD"),
                ));
            }
        }
        Ok(())
    }
}

/// Public list prices (USD per million tokens), longest names first where
/// one is a prefix of another.
const SEEDED: &[(&str, f64, f64)] = &[
    ("gpt-4o-mini", 0.15, 0.60),
    ("gpt-4o", 2.50, 10.00),
    ("gpt-4.1-nano", 0.10, 0.40),
    ("gpt-4.1-mini", 0.40, 1.60),
    ("gpt-4.1", 2.00, 8.00),
    ("o3-mini", 1.10, 4.40),
    ("o4-mini", 1.10, 4.40),
    ("claude-3-5-haiku", 0.80, 4.00),
    ("claude-3-5-sonnet", 3.00, 15.00),
    ("claude-sonnet-4", 3.00, 15.00),
    ("claude-opus-4", 15.00, 75.00),
    ("gemini-2.0-flash", 0.10, 0.40),
    ("gemini-1.5-pro", 1.25, 5.00),
    ("llama-3.1-70b", 0.88, 0.88),
    ("mistral-large", 2.00, 6.00),
];

/// The price of `model`: a workspace override by exact (case-insensitive)
/// name first, else the seeded entry whose name is the longest prefix
/// (so `gpt-4o-2024-08-06` is priced as `gpt-4o`).
pub fn price_of(model: &str, overrides: &BTreeMap<String, ModelPrice>) -> Option<ModelPrice> {
    let m = model.to_ascii_lowercase();
    if let Some(p) = overrides
        .iter()
        .find(|(k, _)| k.to_ascii_lowercase() == m)
        .map(|(_, p)| *p)
    {
        return Some(p);
    }
    SEEDED
        .iter()
        .filter(|(name, _, _)| m.starts_with(name))
        .max_by_key(|(name, _, _)| name.len())
        .map(|(_, i, o)| ModelPrice {
            input_per_million: *i,
            output_per_million: *o,
        })
}

/// Cost in USD of a call, or None for a model without a price.
pub fn cost_usd(model: &str, tokens_in: u32, tokens_out: u32, overrides: &BTreeMap<String, ModelPrice>) -> Option<f64> {
    price_of(model, overrides).map(|p| {
        (f64::from(tokens_in) * p.input_per_million + f64::from(tokens_out) * p.output_per_million) / 1_000_000.0
    })
}

/// The seeded table, for listing.
pub fn seeded() -> BTreeMap<String, ModelPrice> {
    SEEDED
        .iter()
        .map(|(n, i, o)| {
            (
                (*n).to_owned(),
                ModelPrice {
                    input_per_million: *i,
                    output_per_million: *o,
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dated_model_names_use_the_longest_matching_entry() {
        let none = BTreeMap::new();
        assert_eq!(price_of("gpt-4o-2024-08-06", &none).unwrap().input_per_million, 2.50);
        assert_eq!(price_of("GPT-4o-mini", &none).unwrap().input_per_million, 0.15);
        assert_eq!(price_of("gpt-4.1-mini-2025", &none).unwrap().output_per_million, 1.60);
        assert!(price_of("my-local-model", &none).is_none());
    }

    #[test]
    fn cost_is_tokens_times_price_and_overrides_win() {
        let none = BTreeMap::new();
        let c = cost_usd("gpt-4o", 1_000, 500, &none).unwrap();
        assert!((c - (1_000.0 * 2.5 + 500.0 * 10.0) / 1e6).abs() < 1e-12);
        let mut o = BTreeMap::new();
        o.insert(
            "GPT-4o".to_owned(),
            ModelPrice {
                input_per_million: 1.0,
                output_per_million: 1.0,
            },
        );
        assert!((cost_usd("gpt-4o", 1_000_000, 0, &o).unwrap() - 1.0).abs() < 1e-12);
        assert!(ModelPrice {
            input_per_million: -1.0,
            output_per_million: 0.0
        }
        .validate()
        .is_err());
    }
}
