//! The delivery ledger: one entry per message that may go out, claimed
//! before sending so a repeated event never sends twice.

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

/// A ledger entry as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub key: DeliveryKey,
    pub claimed_at: DateTime<Utc>,
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
