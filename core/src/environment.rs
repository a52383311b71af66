//! Environments and their promotion gate policy.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The environments every new workspace starts with, in promotion order.
pub const DEFAULT_ENVIRONMENTS: [&str; 3] = ["dev", "staging", "production"];

/// The gates a version must pass to be promoted into an environment.
/// Every gate is optional; an empty policy lets every promotion through.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatePolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_samples: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_score: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_error_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_p95_ms: Option<f64>,
    #[serde(default)]
    pub requires_approval: bool,
    /// A passing run of the prompt's current test suite against the exact
    /// version is needed (passing: the suite's own `pass_threshold`, or
    /// `min_test_pass_rate` when set).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub requires_test_run: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_test_pass_rate: Option<f64>,
    /// The environment whose measurements the gates read; by default the
    /// one before this one in promotion order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured_in: Option<crate::names::EnvironmentName>,
}

impl GatePolicy {
    pub fn validate(&self) -> Result<()> {
        let unit = |name: &str, v: Option<f64>| match v {
            Some(x) if !(0.0..=1.0).contains(&x) => Err(Error::invalid_field(
                &format!("policy.{name}"),
                format!("{name} must be between 0 and 1"),
            )),
            _ => Ok(()),
        };
        unit("min_score", self.min_score)?;
        unit("max_error_rate", self.max_error_rate)?;
        unit("min_test_pass_rate", self.min_test_pass_rate)?;
        if self.max_p95_ms.is_some_and(|x| !(x > 0.0 && x.is_finite())) {
            return Err(Error::invalid_field(
                "policy.max_p95_ms",
                "max_p95_ms must be a positive number",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn policy_validates_ranges() {
        let ok: GatePolicy = serde_json::from_value(json!({"min_score": 0.8, "requires_approval": true})).unwrap();
        assert!(ok.validate().is_ok());
        let bad: GatePolicy = serde_json::from_value(json!({"max_error_rate": 2})).unwrap();
        assert_eq!(bad.validate().unwrap_err().details()["field"], "policy.max_error_rate");
        assert!(serde_json::from_value::<GatePolicy>(json!({"min_smaples": 3})).is_err());
    }
}
