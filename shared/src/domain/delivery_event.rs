//! What happened to a sent message, as SES reports it: its event
//! publishing record (`eventType`, `mail`, and `bounce`, `complaint`,
//! `delivery`, `open` or `click`), bare or inside EventBridge's envelope
//! (`detail`). The message's tags carry its ledger key; its message id
//! must match the one the ledger recorded when SES accepted it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::EmailAddress;
use super::ledger::DeliveryKey;

/// What a delivery event says of its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeliveryOutcome {
    /// SES accepted it (the ledger already knows; recorded for the trail).
    Sent,
    Delivered,
    /// A permanent bounce is hard: the address does not exist. Others
    /// (transient, undetermined) are soft.
    Bounced {
        hard: bool,
    },
    Complained,
    Opened,
    Clicked,
    /// SES keeps trying.
    Delayed,
    /// SES refused to send it (a virus, say).
    Rejected,
}

impl DeliveryOutcome {
    /// Whether the address must never be mailed again.
    pub fn suppresses(self) -> bool {
        matches!(
            self,
            DeliveryOutcome::Bounced { hard: true } | DeliveryOutcome::Complained
        )
    }

    /// The ledger field that keeps when this outcome first happened.
    pub fn recorded_as(self) -> &'static str {
        match self {
            DeliveryOutcome::Sent => "accepted_at",
            DeliveryOutcome::Delivered => "delivered_at",
            DeliveryOutcome::Bounced { .. } => "bounced_at",
            DeliveryOutcome::Complained => "complained_at",
            DeliveryOutcome::Opened => "opened_at",
            DeliveryOutcome::Clicked => "clicked_at",
            DeliveryOutcome::Delayed => "delayed_at",
            DeliveryOutcome::Rejected => "rejected_at",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DeliveryOutcome::Sent => "sent",
            DeliveryOutcome::Delivered => "delivered",
            DeliveryOutcome::Bounced { hard: true } => "hard-bounce",
            DeliveryOutcome::Bounced { hard: false } => "soft-bounce",
            DeliveryOutcome::Complained => "complaint",
            DeliveryOutcome::Opened => "open",
            DeliveryOutcome::Clicked => "click",
            DeliveryOutcome::Delayed => "delay",
            DeliveryOutcome::Rejected => "reject",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryEvent {
    /// SES's message id (what the ledger recorded as sent).
    pub message_id: String,
    pub key: DeliveryKey,
    pub outcome: DeliveryOutcome,
    pub at: DateTime<Utc>,
    /// Who bounced or complained (the addresses to suppress).
    pub recipients: Vec<EmailAddress>,
}

/// An event that cannot be read, with the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("delivery event field `{field}`: {reason}")]
pub struct DeliveryEventError {
    pub field: String,
    pub reason: String,
}

/// An event this function has nothing to do with (a subscription
/// preference, a template's rendering failure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Event(Box<DeliveryEvent>),
    Ignored { event_type: String },
}

fn err(field: &str, reason: impl Into<String>) -> DeliveryEventError {
    DeliveryEventError {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

fn text<'a>(v: &'a serde_json::Value, path: &str) -> Result<&'a str, DeliveryEventError> {
    let mut at = v;
    for part in path.split('.') {
        at = &at[part];
    }
    at.as_str()
        .ok_or_else(|| err(path, "is missing or not text"))
}

fn time(v: &serde_json::Value, path: &str) -> Result<DateTime<Utc>, DeliveryEventError> {
    let t = text(v, path)?;
    DateTime::parse_from_rfc3339(t)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| err(path, format!("'{t}' is not an RFC 3339 time")))
}

fn addresses(
    v: &serde_json::Value,
    path: &str,
    field: &str,
) -> Result<Vec<EmailAddress>, DeliveryEventError> {
    let list = v[path].as_array().ok_or_else(|| err(path, "is missing"))?;
    list.iter()
        .enumerate()
        .map(|(i, r)| {
            let raw = if field.is_empty() {
                r.as_str()
            } else {
                r[field].as_str()
            };
            let at = format!("{path}[{i}]");
            EmailAddress::parse(raw.ok_or_else(|| err(&at, "is not an address"))?)
                .map_err(|e| err(&at, e.0))
        })
        .collect()
}

/// Reads one SES event record, bare or in its EventBridge envelope.
pub fn parse(json: &serde_json::Value) -> Result<Parsed, DeliveryEventError> {
    let record = if json.get("detail").is_some() {
        &json["detail"]
    } else {
        json
    };
    let event_type = text(record, "eventType")
        .or_else(|_| text(record, "notificationType"))
        .map_err(|_| err("eventType", "is missing: not an SES event"))?;
    let mail = &record["mail"];
    let message_id = text(mail, "messageId")
        .map_err(|_| err("mail.messageId", "is missing"))?
        .to_owned();
    let tags = &mail["tags"];
    let key =
        DeliveryKey::from_tags(|name| tags[name][0].as_str()).map_err(|e| err("mail.tags", e.0))?;
    let (outcome, at, recipients) = match event_type {
        "Send" => (DeliveryOutcome::Sent, time(mail, "timestamp")?, vec![]),
        "Delivery" => (
            DeliveryOutcome::Delivered,
            time(record, "delivery.timestamp")?,
            vec![],
        ),
        "Bounce" => {
            let bounce = &record["bounce"];
            let hard = text(bounce, "bounceType")
                .map_err(|_| err("bounce.bounceType", "is missing"))?
                == "Permanent";
            let recipients = addresses(bounce, "bouncedRecipients", "emailAddress")
                .map_err(|e| err(&format!("bounce.{}", e.field), e.reason))?;
            (
                DeliveryOutcome::Bounced { hard },
                time(record, "bounce.timestamp")?,
                recipients,
            )
        }
        "Complaint" => {
            let complaint = &record["complaint"];
            let recipients = addresses(complaint, "complainedRecipients", "emailAddress")
                .map_err(|e| err(&format!("complaint.{}", e.field), e.reason))?;
            (
                DeliveryOutcome::Complained,
                time(record, "complaint.timestamp")?,
                recipients,
            )
        }
        "Open" => (
            DeliveryOutcome::Opened,
            time(record, "open.timestamp")?,
            vec![],
        ),
        "Click" => (
            DeliveryOutcome::Clicked,
            time(record, "click.timestamp")?,
            vec![],
        ),
        "DeliveryDelay" => (
            DeliveryOutcome::Delayed,
            time(record, "deliveryDelay.timestamp")?,
            vec![],
        ),
        "Reject" => (DeliveryOutcome::Rejected, time(mail, "timestamp")?, vec![]),
        other => {
            return Ok(Parsed::Ignored {
                event_type: other.to_owned(),
            });
        }
    };
    Ok(Parsed::Event(Box::new(DeliveryEvent {
        message_id,
        key,
        outcome,
        at,
        recipients,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ledger::Recipient;
    use crate::domain::{CampaignId, CustomerId, Milestone};

    fn key() -> DeliveryKey {
        DeliveryKey::once(
            &CampaignId::parse("orbit").unwrap(),
            Recipient::Customer(CustomerId::parse("acme:1").unwrap()),
            Milestone::Announcement,
        )
    }

    fn mail() -> serde_json::Value {
        let tags: serde_json::Map<String, serde_json::Value> = key()
            .tags()
            .into_iter()
            .map(|(n, v)| (n.to_owned(), serde_json::json!([v])))
            .collect();
        serde_json::json!({
            "timestamp": "2027-02-01T09:00:00.000Z",
            "messageId": "0100018f-abc",
            "destination": ["li@example.com"],
            "tags": tags,
        })
    }

    #[test]
    fn a_hard_bounce_through_eventbridge_names_its_message_and_address() {
        let event = serde_json::json!({
            "version": "0",
            "detail-type": "Email Bounced",
            "source": "aws.ses",
            "detail": {
                "eventType": "Bounce",
                "mail": mail(),
                "bounce": {
                    "bounceType": "Permanent",
                    "bounceSubType": "General",
                    "bouncedRecipients": [{ "emailAddress": "li@example.com" }],
                    "timestamp": "2027-02-01T09:00:05.000Z",
                },
            },
        });
        let Parsed::Event(e) = parse(&event).unwrap() else {
            panic!("an event")
        };
        assert_eq!(e.message_id, "0100018f-abc");
        assert_eq!(e.key, key());
        assert_eq!(e.outcome, DeliveryOutcome::Bounced { hard: true });
        assert!(e.outcome.suppresses());
        assert_eq!(e.recipients[0].as_str(), "li@example.com");
    }

    #[test]
    fn a_soft_bounce_suppresses_nothing_and_a_complaint_does() {
        let soft = serde_json::json!({
            "eventType": "Bounce",
            "mail": mail(),
            "bounce": {
                "bounceType": "Transient",
                "bouncedRecipients": [{ "emailAddress": "li@example.com" }],
                "timestamp": "2027-02-01T09:00:05.000Z",
            },
        });
        let Parsed::Event(e) = parse(&soft).unwrap() else {
            panic!()
        };
        assert!(!e.outcome.suppresses());
        let complaint = serde_json::json!({
            "eventType": "Complaint",
            "mail": mail(),
            "complaint": {
                "complainedRecipients": [{ "emailAddress": "li@example.com" }],
                "timestamp": "2027-02-02T08:00:00.000Z",
            },
        });
        let Parsed::Event(e) = parse(&complaint).unwrap() else {
            panic!()
        };
        assert!(e.outcome.suppresses());
    }

    #[test]
    fn a_broken_event_names_the_field() {
        let mut no_tags = serde_json::json!({ "eventType": "Delivery", "mail": mail() });
        no_tags["mail"]["tags"] = serde_json::json!({});
        assert_eq!(parse(&no_tags).unwrap_err().field, "mail.tags");
        let bad_time = serde_json::json!({
            "eventType": "Delivery",
            "mail": mail(),
            "delivery": { "timestamp": "yesterday" },
        });
        assert_eq!(parse(&bad_time).unwrap_err().field, "delivery.timestamp");
        assert_eq!(
            parse(&serde_json::json!({ "hello": 1 })).unwrap_err().field,
            "eventType"
        );
        let other = serde_json::json!({ "eventType": "Subscription", "mail": mail() });
        assert!(matches!(parse(&other).unwrap(), Parsed::Ignored { .. }));
    }
}
