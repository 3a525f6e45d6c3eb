//! Where a campaign stands: drafted, launched, paused, cancelled. The
//! campaign's content (`Campaign`) is what the operator wrote; this is what
//! happened to it since.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::reputation::Pause;

/// An operator's decision to stop telling customers: no further notice
/// goes out. The data deadline and the purge stay as planned (a customer's
/// data is still deleted when the campaign said it would be, with proof).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancellation {
    pub at: DateTime<Utc>,
    /// Who cancelled (the operator's name as they gave it).
    pub by: String,
    pub reason: String,
}

/// What happened to a campaign since it was written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignStatus {
    pub launched_at: Option<DateTime<Utc>>,
    pub paused: Option<Pause>,
    pub cancelled: Option<Cancellation>,
}

/// One word for the operator's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Written, not launched: nothing is scheduled.
    Draft,
    /// Launched: its notices go out as planned.
    Running,
    /// Launched, its waves waiting for the operator.
    Paused,
    /// No further notices; the purge still runs.
    Cancelled,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Draft => "draft",
            Phase::Running => "running",
            Phase::Paused => "paused",
            Phase::Cancelled => "cancelled",
        }
    }
}

impl CampaignStatus {
    pub fn phase(&self) -> Phase {
        if self.cancelled.is_some() {
            Phase::Cancelled
        } else if self.launched_at.is_none() {
            Phase::Draft
        } else if self.paused.is_some() {
            Phase::Paused
        } else {
            Phase::Running
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancellation_outweighs_a_pause_and_a_launch_a_draft() {
        let at: DateTime<Utc> = "2027-01-01T00:00:00Z".parse().unwrap();
        let mut s = CampaignStatus::default();
        assert_eq!(s.phase(), Phase::Draft);
        s.launched_at = Some(at);
        assert_eq!(s.phase(), Phase::Running);
        s.paused = Some(Pause {
            at,
            reason: "r".into(),
        });
        assert_eq!(s.phase(), Phase::Paused);
        s.cancelled = Some(Cancellation {
            at,
            by: "ops".into(),
            reason: "r".into(),
        });
        assert_eq!(s.phase(), Phase::Cancelled);
    }
}
