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

use super::ids::{CampaignId, CustomerId, InvalidValue};
use super::milestone::Milestone;

/// A channel a message is pushed on. Each has its own ledger entry per
/// customer and milestone, and its own lane at the pacer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Email,
    /// A text message to the customer's mobile number.
    Sms,
}

impl Channel {
    pub const ALL: [Channel; 2] = [Channel::Email, Channel::Sms];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Channel {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, InvalidValue> {
        Channel::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| InvalidValue(format!("'{s}' is not a channel (email, sms)")))
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
        Self::on(campaign, recipient, milestone, Channel::Email)
    }

    /// The key of a milestone sent once per customer on `channel`.
    pub fn on(
        campaign: &CampaignId,
        recipient: Recipient,
        milestone: Milestone,
        channel: Channel,
    ) -> Self {
        Self {
            campaign: campaign.clone(),
            recipient,
            milestone,
            channel,
            occurrence: String::new(),
        }
    }
}

/// The message tags that carry a ledger key to the provider and back in
/// its delivery events: SES allows only letters, digits, `_` and `-` in a
/// tag value, so the recipient (a customer id may hold `.` and `:`) goes
/// base64url-encoded; campaign ids, milestones and occurrences (export
/// ids, dates) are already in that alphabet.
pub mod tags {
    pub const CAMPAIGN: &str = "campaign";
    pub const MILESTONE: &str = "milestone";
    pub const RECIPIENT: &str = "recipient";
    pub const OCCURRENCE: &str = "occurrence";
}

impl DeliveryKey {
    /// The key as message tags (name, value).
    pub fn tags(&self) -> Vec<(&'static str, String)> {
        use base64::Engine;
        let mut tags = vec![
            (tags::CAMPAIGN, self.campaign.to_string()),
            (tags::MILESTONE, self.milestone.name()),
            (
                tags::RECIPIENT,
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.recipient.key()),
            ),
        ];
        if !self.occurrence.is_empty() {
            tags.push((tags::OCCURRENCE, self.occurrence.clone()));
        }
        tags
    }

    /// The key back from a message's tags; an error names the tag at
    /// fault.
    pub fn from_tags<'a>(tag: impl Fn(&str) -> Option<&'a str>) -> Result<Self, InvalidValue> {
        use base64::Engine;
        let need = |name: &str| {
            tag(name).ok_or_else(|| InvalidValue(format!("the message has no `{name}` tag")))
        };
        let bad = |name: &str, e: String| InvalidValue(format!("the `{name}` tag {e}"));
        let campaign =
            CampaignId::parse(need(tags::CAMPAIGN)?).map_err(|e| bad(tags::CAMPAIGN, e.0))?;
        let milestone: Milestone = need(tags::MILESTONE)?
            .parse()
            .map_err(|e: InvalidValue| bad(tags::MILESTONE, e.0))?;
        let recipient = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(need(tags::RECIPIENT)?)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| bad(tags::RECIPIENT, "is not base64url text".into()))?;
        let recipient = match recipient.strip_prefix("staff/") {
            Some(hash) => Recipient::Staff(hash.to_owned()),
            None => Recipient::Customer(
                CustomerId::parse(&recipient).map_err(|e| bad(tags::RECIPIENT, e.0))?,
            ),
        };
        Ok(Self {
            campaign,
            recipient,
            milestone,
            channel: Channel::Email,
            occurrence: tag(tags::OCCURRENCE).unwrap_or_default().to_owned(),
        })
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
    fn a_key_survives_the_trip_through_message_tags() {
        let keys = [
            DeliveryKey::once(
                &CampaignId::parse("orbit-crm-2027").unwrap(),
                Recipient::Customer(CustomerId::parse("acme:eu.01_x-y").unwrap()),
                Milestone::Reminder(30),
            ),
            DeliveryKey::once(
                &CampaignId::parse("c").unwrap(),
                Recipient::Staff("0a1b2c".into()),
                Milestone::OutreachBrief,
            ),
            DeliveryKey {
                occurrence: "x0123abcd".into(),
                ..DeliveryKey::once(
                    &CampaignId::parse("c").unwrap(),
                    Recipient::Customer(CustomerId::parse("c1").unwrap()),
                    Milestone::ExportReady,
                )
            },
        ];
        let ses_allows = |v: &str| {
            !v.is_empty()
                && v.len() <= 256
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        };
        for key in keys {
            let tags = key.tags();
            assert!(tags.iter().all(|(_, v)| ses_allows(v)), "{tags:?}");
            let back = DeliveryKey::from_tags(|name| {
                tags.iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.as_str())
            })
            .unwrap();
            assert_eq!(back, key);
        }
        let missing = DeliveryKey::from_tags(|_| None).unwrap_err();
        assert!(missing.0.contains("`campaign`"), "{}", missing.0);
    }

    #[test]
    fn no_customer_shares_a_key_with_an_account_manager() {
        let customer = Recipient::Customer(CustomerId::parse("staff:0a1b2c").unwrap());
        let staff = Recipient::Staff("0a1b2c".into());
        assert_ne!(customer.key(), staff.key());
        assert!(CustomerId::parse(&staff.key()).is_err());
    }
}
