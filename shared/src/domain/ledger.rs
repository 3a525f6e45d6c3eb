//! The delivery ledger: one entry per message that may go out, claimed
//! before sending so a repeated event never sends twice.
//!
//! A claim is a lease. It is marked sent the moment the provider accepts
//! the message; a claim whose lease ran out unsent (the run that took it
//! crashed or was stopped) may be taken again by the next run. The one
//! window left is "accepted, mark not yet written": at most the messages
//! a run has in flight when it dies are sent twice.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{CampaignId, CustomerId};
use super::milestone::Milestone;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Email,
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Channel::Email => "email",
        })
    }
}

/// Who a message goes to: a customer, or (for briefs) an account manager,
/// keyed by a hash of the address so the ledger holds no address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Recipient {
    Customer(CustomerId),
    Staff(String),
}

impl Recipient {
    /// The recipient's ledger key. A staff key holds a `/`, which no
    /// customer id may, so a customer can never share one (a customer id
    /// may well read `staff:…`).
    pub fn key(&self) -> String {
        match self {
            Recipient::Customer(id) => id.to_string(),
            Recipient::Staff(hash) => format!("staff/{hash}"),
        }
    }
}

/// The ledger key: campaign, recipient, milestone, channel, and an
/// occurrence for milestones that may repeat (one per export request).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DeliveryKey {
    pub campaign: CampaignId,
    pub recipient: Recipient,
    pub milestone: Milestone,
    pub channel: Channel,
    pub occurrence: String,
}

impl DeliveryKey {
    pub fn once(campaign: &CampaignId, recipient: Recipient, milestone: Milestone) -> Self {
        Self {
            campaign: campaign.clone(),
            recipient,
            milestone,
            channel: Channel::Email,
            occurrence: String::new(),
        }
    }
}

/// How long a claim holds before another run may take it again: far
/// longer than a run needs to send what it claims at once (a few seconds'
/// worth at the send rate), short enough that a crashed run's messages go
/// out within minutes.
pub const LEASE: chrono::Duration = chrono::Duration::minutes(10);

/// A claim's time and the end of its lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub at: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

impl Lease {
    /// A lease taken at `at` for [`LEASE`].
    pub fn starting(at: DateTime<Utc>) -> Self {
        Self {
            at,
            until: at + LEASE,
        }
    }
}

/// What claiming a key found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claimed {
    /// This call holds it now: send, then mark or release.
    Taken,
    /// The message went out already.
    Sent,
    /// The message was recorded as missed (past its grace).
    Missed,
    /// Another run holds it until then; taken again after, if unsent.
    Held { until: DateTime<Utc> },
}

impl Claimed {
    pub fn is_taken(self) -> bool {
        self == Claimed::Taken
    }

    /// What an entry that the claim did not take is, from its stored
    /// state (an entry without a lease was written before leases: it
    /// would have been taken, so it is only met in a race, as held).
    pub fn found(
        sent_at: Option<DateTime<Utc>>,
        missed_at: Option<DateTime<Utc>>,
        lease_until: Option<DateTime<Utc>>,
        at: DateTime<Utc>,
    ) -> Self {
        match (sent_at, missed_at) {
            (Some(_), _) => Claimed::Sent,
            (None, Some(_)) => Claimed::Missed,
            (None, None) => Claimed::Held {
                until: lease_until.unwrap_or(at),
            },
        }
    }
}

/// A ledger entry as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub key: DeliveryKey,
    pub claimed_at: DateTime<Utc>,
    /// Until when the claim holds while unsent.
    pub lease_until: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
    pub message_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_customer_shares_a_key_with_an_account_manager() {
        let customer = Recipient::Customer(CustomerId::parse("staff:0a1b2c").unwrap());
        let staff = Recipient::Staff("0a1b2c".into());
        assert_ne!(customer.key(), staff.key());
        assert!(CustomerId::parse(&staff.key()).is_err());
    }
}
