//! The help desk's webhook: a ticket opened or resolved, by type, for a
//! customer of the campaign. The report counts them per type (the guide's
//! "support load" during a sunset), so the type is a category the help
//! desk already uses, never the ticket's text.
//!
//! Help desks retry webhooks: a ticket event that names the moment it
//! happened is recorded once however often it arrives.

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::event::{CustomerEvent, CustomerEventKind};
use crate::domain::{Campaign, CustomerId};
use crate::ports::Deps;

use super::events::{self, EventError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketAction {
    Opened,
    Resolved,
}

/// A ticket's category: 1–40 of `a-z 0-9 . _ -`, folded to lower case
/// ("Data-Export" and "data-export" count together).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketType(String);

/// Longest ticket type.
const TYPE_CHARS: usize = 40;

impl TicketType {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let t = raw.trim().to_lowercase();
        if t.is_empty() {
            return Err("is empty; give the ticket's category, such as data-export".into());
        }
        if t.chars().count() > TYPE_CHARS {
            return Err(format!("is longer than {TYPE_CHARS} characters"));
        }
        if !t
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
        {
            return Err(
                "is a category of letters, digits, '.', '_' and '-', not the ticket's text".into(),
            );
        }
        Ok(Self(t))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub customer: CustomerId,
    pub action: TicketAction,
    pub kind: TicketType,
    /// When it happened at the help desk (now when not said); a retried
    /// webhook carries the same moment.
    pub at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Recorded,
    /// The same ticket event, at the same moment, was recorded before.
    AlreadyRecorded,
}

/// Records a ticket event once.
pub async fn record(
    deps: &Deps,
    campaign: &Campaign,
    ticket: Ticket,
    now: DateTime<Utc>,
) -> Result<Outcome, EventError> {
    let kind = match ticket.action {
        TicketAction::Opened => CustomerEventKind::TicketOpened(ticket.kind.0),
        TicketAction::Resolved => CustomerEventKind::TicketResolved(ticket.kind.0),
    };
    let event = CustomerEvent {
        // Seconds: what every store keeps, so a retry compares equal.
        at: ticket.at.map_or(now, |at| at.min(now)).trunc_subsecs(0),
        customer: ticket.customer,
        kind,
    };
    if ticket.at.is_some() {
        let before = deps.events.events_of(&campaign.id, &event.customer).await?;
        if before.contains(&event) {
            return Ok(Outcome::AlreadyRecorded);
        }
    }
    events::apply(deps, campaign, &event).await?;
    Ok(Outcome::Recorded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_type_is_a_category_not_text() {
        assert_eq!(
            TicketType::parse(" Data-Export ").unwrap().as_str(),
            "data-export"
        );
        assert!(TicketType::parse("").is_err());
        assert!(TicketType::parse("Max Mustermann cannot log in").is_err());
        assert!(TicketType::parse(&"a".repeat(41)).is_err());
        assert!(TicketType::parse("billing.refund_2").is_ok());
    }
}
