//! The sender's reputation: SES reviews an account whose bounce rate
//! passes 5 % or complaint rate 0.1 %, so a campaign pauses its remaining
//! waves before that, and the operator decides.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A campaign's running counts, kept as messages go out and events come
/// back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryCounts {
    pub sent: u64,
    pub hard_bounces: u64,
    pub complaints: u64,
}

/// Why and since when a campaign's waves wait.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    pub at: DateTime<Utc>,
    pub reason: String,
}

/// Rates are read only once this many messages went out: two bounces in
/// the first ten say little.
pub const MIN_SENT: u64 = 100;

/// Whether the counts pass a limit, and which: the pause's reason.
pub fn breach(
    counts: DeliveryCounts,
    max_bounce_rate: f64,
    max_complaint_rate: f64,
) -> Option<String> {
    if counts.sent < MIN_SENT {
        return None;
    }
    let rate = |n: u64| n as f64 / counts.sent as f64;
    let pct = |r: f64| format!("{:.2} %", r * 100.0);
    if rate(counts.hard_bounces) > max_bounce_rate {
        return Some(format!(
            "bounce rate {} ({} of {}) passed {}",
            pct(rate(counts.hard_bounces)),
            counts.hard_bounces,
            counts.sent,
            pct(max_bounce_rate)
        ));
    }
    if rate(counts.complaints) > max_complaint_rate {
        return Some(format!(
            "complaint rate {} ({} of {}) passed {}",
            pct(rate(counts.complaints)),
            counts.complaints,
            counts.sent,
            pct(max_complaint_rate)
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(sent: u64, hard_bounces: u64, complaints: u64) -> DeliveryCounts {
        DeliveryCounts {
            sent,
            hard_bounces,
            complaints,
        }
    }

    #[test]
    fn a_campaign_pauses_past_either_limit_and_not_before() {
        assert_eq!(breach(counts(1000, 50, 1), 0.05, 0.001), None);
        let bounces = breach(counts(1000, 51, 0), 0.05, 0.001).unwrap();
        assert!(bounces.starts_with("bounce rate 5.10 %"), "{bounces}");
        let complaints = breach(counts(1000, 0, 2), 0.05, 0.001).unwrap();
        assert!(
            complaints.starts_with("complaint rate 0.20 %"),
            "{complaints}"
        );
        assert_eq!(
            breach(counts(10, 5, 5), 0.05, 0.001),
            None,
            "too few to judge"
        );
    }
}
