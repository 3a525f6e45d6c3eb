//! Segmentation: core / standard / low, by a documented score.
//!
//! The seed asks for tiers by contract value, tenure, usage depth and
//! strategic importance. The default score (0-100) is:
//!
//! * **value**, up to 40 points: `40 × log10(1 + value) / log10(1 + full_value)`,
//!   so the tenth customer of a hundred-fold larger contract is not lost in a
//!   linear scale. Currencies are not converted.
//! * **tenure**, up to 20 points: 4 points per full year as a customer.
//! * **usage**, up to 40 points: `usage_score` / `usage_max` × 40 (the
//!   campaign's scale, default 0-100).
//!
//! `strategic = true` makes a customer core whatever the score.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};

use super::customer::Customer;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Core,
    Standard,
    Low,
}

impl Tier {
    pub const ALL: [Tier; 3] = [Tier::Core, Tier::Standard, Tier::Low];

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Core => "core",
            Tier::Standard => "standard",
            Tier::Low => "low",
        }
    }

    pub fn parse(s: &str) -> Option<Tier> {
        Tier::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SegmentationPolicy {
    pub core_score: u32,
    pub standard_score: u32,
    #[serde(with = "rust_decimal::serde::str")]
    pub full_value: Decimal,
    /// The top of the customers' `usage_score` scale (100 for a
    /// percentage, 5 for stars ...): a full score earns all 40 points.
    pub usage_max: u32,
}

impl Default for SegmentationPolicy {
    fn default() -> Self {
        Self {
            core_score: 70,
            standard_score: 35,
            full_value: Decimal::from(100_000),
            usage_max: 100,
        }
    }
}

/// A tier and the reason for it, in words an account manager can check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierDecision {
    pub tier: Tier,
    pub score: u32,
    pub explanation: String,
}

/// The operator's tier for a customer, with who and why: it wins over
/// segmentation, run again or not (an account manager knows the customer
/// better than the score).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierOverride {
    pub tier: Tier,
    pub by: String,
    pub reason: String,
    pub at: chrono::DateTime<chrono::Utc>,
}

impl TierOverride {
    /// The decision it stands for: the score segmentation gave, if any,
    /// and the operator's reason as the explanation.
    pub fn decision(&self, score: u32) -> TierDecision {
        TierDecision {
            tier: self.tier,
            score,
            explanation: format!("set by {}: {}", self.by, self.reason),
        }
    }
}

impl SegmentationPolicy {
    pub fn decide(&self, customer: &Customer, today: NaiveDate) -> TierDecision {
        let value = customer
            .contract_value
            .and_then(|v| v.get().to_f64())
            .unwrap_or(0.0)
            .max(0.0);
        let full = self.full_value.to_f64().unwrap_or(100_000.0).max(1.0);
        let value_pts = (40.0 * (1.0 + value).log10() / (1.0 + full).log10()).clamp(0.0, 40.0);
        let years = customer
            .customer_since
            .map(|since| ((today - since).num_days().max(0) / 365) as f64)
            .unwrap_or(0.0);
        let tenure_pts = (years * 4.0).min(20.0);
        let usage_pts = (customer.usage_score.unwrap_or(0.0) / f64::from(self.usage_max.max(1))
            * 40.0)
            .clamp(0.0, 40.0);
        let (v, t, u) = (
            value_pts.round() as u32,
            tenure_pts.round() as u32,
            usage_pts.round() as u32,
        );
        let score = v + t + u;
        let breakdown = format!(
            "score {score} = value {v} + tenure {t} + usage {u} (core >= {}, standard >= {})",
            self.core_score, self.standard_score
        );
        let (tier, explanation) = if customer.strategic {
            (Tier::Core, format!("core: strategic account; {breakdown}"))
        } else if score >= self.core_score {
            (Tier::Core, format!("core: {breakdown}"))
        } else if score >= self.standard_score {
            (Tier::Standard, format!("standard: {breakdown}"))
        } else {
            (Tier::Low, format!("low: {breakdown}"))
        };
        TierDecision {
            tier,
            score,
            explanation,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::customer::tests::customer;

    #[test]
    fn strategic_forces_core() {
        let mut c = customer("c1");
        c.strategic = true;
        let d =
            SegmentationPolicy::default().decide(&c, NaiveDate::from_ymd_opt(2027, 1, 1).unwrap());
        assert_eq!(d.tier, Tier::Core);
        assert!(d.explanation.starts_with("core: strategic"));
    }

    #[test]
    fn big_long_heavy_user_is_core_and_empty_is_low() {
        let policy = SegmentationPolicy::default();
        let today = NaiveDate::from_ymd_opt(2027, 1, 1).unwrap();
        let mut c = customer("c1");
        c.contract_value = Some("120000".parse().unwrap());
        c.customer_since = NaiveDate::from_ymd_opt(2019, 1, 1);
        c.usage_score = Some(80.0);
        assert_eq!(policy.decide(&c, today).tier, Tier::Core);
        let empty = customer("c2");
        let d = policy.decide(&empty, today);
        assert_eq!((d.tier, d.score), (Tier::Low, 0));
    }
}
