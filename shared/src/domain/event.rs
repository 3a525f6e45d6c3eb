//! Things that happen to a customer during the sunset, from the product,
//! support desk or legal team (the `--events` file, or the HTTP API).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::bounds::{CAMPAIGN_YEARS, parse_date};
use super::ids::{CustomerId, InvalidValue};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", content = "detail", rename_all = "snake_case")]
pub enum CustomerEventKind {
    Migrated,
    ExportRequested,
    /// Refused the alternatives; the reason is personal and purged.
    Declined(String),
    /// A support ticket of a type (a category, not free text).
    TicketOpened(String),
    TicketResolved(String),
    /// Keep this customer's data: never purge while held.
    LegalHold(String),
    /// A later data deadline for this customer.
    Extension(NaiveDate),
    /// The operator's decision that a customer who was never sent the
    /// announcement may be purged anyway (the reason is required, and
    /// kept in the audit trail's certificate).
    ApprovePurge(String),
}

impl CustomerEventKind {
    /// Parses the `event` and `detail` columns of the events file.
    pub fn parse(event: &str, detail: &str) -> Result<Self, InvalidValue> {
        let detail = detail.trim();
        let need = |what: &str| {
            if detail.is_empty() {
                Err(InvalidValue(format!(
                    "event '{event}' needs a {what} in `detail`"
                )))
            } else if detail.chars().any(char::is_control) {
                Err(InvalidValue("detail holds a control character".into()))
            } else {
                Ok(detail.to_owned())
            }
        };
        Ok(match event.trim() {
            "migrated" => Self::Migrated,
            "export_requested" => Self::ExportRequested,
            "declined" => Self::Declined(need("reason")?),
            "ticket_opened" => Self::TicketOpened(need("ticket type")?),
            "ticket_resolved" => Self::TicketResolved(need("ticket type")?),
            "legal_hold" => Self::LegalHold(need("reason")?),
            "approve_purge" => Self::ApprovePurge(need("reason")?),
            "extension" => Self::Extension(
                parse_date(&need("new deadline date")?, CAMPAIGN_YEARS)
                    .map_err(|e| InvalidValue(format!("the extension date {}", e.0)))?,
            ),
            other => {
                return Err(InvalidValue(format!(
                    "'{other}' is not an event (migrated, export_requested, declined, \
                     ticket_opened, ticket_resolved, legal_hold, extension, approve_purge)"
                )));
            }
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Migrated => "migrated",
            Self::ExportRequested => "export_requested",
            Self::Declined(_) => "declined",
            Self::TicketOpened(_) => "ticket_opened",
            Self::TicketResolved(_) => "ticket_resolved",
            Self::LegalHold(_) => "legal_hold",
            Self::Extension(_) => "extension",
            Self::ApprovePurge(_) => "approve_purge",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerEvent {
    pub at: DateTime<Utc>,
    pub customer: CustomerId,
    pub kind: CustomerEventKind,
}
