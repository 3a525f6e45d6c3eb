//! Things that happen to a customer during the sunset, from the product,
//! support desk or legal team (the `--events` file, or the HTTP API).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::bounds::{CAMPAIGN_YEARS, parse_date};
use super::ids::CustomerId;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", content = "detail", rename_all = "snake_case")]
pub enum CustomerEventKind {
    Migrated,
    ExportRequested,
    /// Downloaded their export bundle: they hold a copy of their data.
    ExportDownloaded,
    /// Refused the alternatives; the reason is personal and purged.
    Declined(String),
    /// A support ticket of a type (a category, not free text).
    TicketOpened(String),
    TicketResolved(String),
    /// Keep this customer's data: never purge while held.
    LegalHold(String),
    /// The legal hold is lifted (the reason for the record). Past their
    /// deadline, the customer gets time to take their data first.
    LegalHoldReleased(String),
    /// A later data deadline for this customer.
    Extension(NaiveDate),
    /// Their account manager told them 1:1 (the note, if any, is the
    /// call's outcome): their outreach task is done.
    OutreachDone(String),
    /// A 1:1 call or meeting is set for this day: their task is scheduled.
    OutreachScheduled(NaiveDate),
    /// The operator's decision that a customer who was never sent the
    /// announcement may be purged anyway (the reason is required, and
    /// kept in the audit trail's certificate).
    ApprovePurge(String),
}

/// An event that cannot be read: which of its two fields is at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct EventParseError {
    /// `event` or `detail`.
    pub field: &'static str,
    pub reason: String,
}

/// Longest `detail` (a reason, a ticket type), in characters.
const DETAIL_CHARS: usize = 500;

impl CustomerEventKind {
    /// Parses the `event` and `detail` columns of the events file (or the
    /// body of the events route).
    pub fn parse(event: &str, detail: &str) -> Result<Self, EventParseError> {
        let detail = detail.trim();
        let bad_detail = |reason: String| EventParseError {
            field: "detail",
            reason,
        };
        let need = |what: &str| {
            if detail.is_empty() {
                Err(bad_detail(format!(
                    "event '{}' needs a {what}",
                    event.trim()
                )))
            } else if detail.chars().any(char::is_control) {
                Err(bad_detail("holds a control character".into()))
            } else if detail.chars().count() > DETAIL_CHARS {
                Err(bad_detail(format!(
                    "is longer than {DETAIL_CHARS} characters"
                )))
            } else {
                Ok(detail.to_owned())
            }
        };
        Ok(match event.trim() {
            "migrated" => Self::Migrated,
            "export_requested" => Self::ExportRequested,
            "export_downloaded" => Self::ExportDownloaded,
            "declined" => Self::Declined(need("reason")?),
            "ticket_opened" => Self::TicketOpened(need("ticket type")?),
            "ticket_resolved" => Self::TicketResolved(need("ticket type")?),
            "legal_hold" => Self::LegalHold(need("reason")?),
            "legal_hold_released" => Self::LegalHoldReleased(need("reason")?),
            "approve_purge" => Self::ApprovePurge(need("reason")?),
            "outreach_done" => Self::OutreachDone(if detail.is_empty() {
                String::new()
            } else {
                need("note")?
            }),
            "outreach_scheduled" => Self::OutreachScheduled(
                parse_date(&need("day of the call (YYYY-MM-DD)")?, CAMPAIGN_YEARS)
                    .map_err(|e| bad_detail(format!("the call's day {}", e.0)))?,
            ),
            "extension" => Self::Extension(
                parse_date(&need("new last day (YYYY-MM-DD)")?, CAMPAIGN_YEARS)
                    .map_err(|e| bad_detail(format!("the extension date {}", e.0)))?,
            ),
            other => {
                return Err(EventParseError {
                    field: "event",
                    reason: format!(
                        "'{}' is not an event (migrated, export_requested, export_downloaded, \
                         declined, ticket_opened, ticket_resolved, legal_hold, legal_hold_released, \
                         extension, approve_purge, outreach_scheduled, outreach_done)",
                        other.chars().take(40).collect::<String>()
                    ),
                });
            }
        })
    }

    /// The detail as the events file writes it (what `parse` reads back).
    pub fn detail(&self) -> String {
        match self {
            Self::Migrated | Self::ExportRequested | Self::ExportDownloaded => String::new(),
            Self::Declined(d)
            | Self::TicketOpened(d)
            | Self::TicketResolved(d)
            | Self::LegalHold(d)
            | Self::LegalHoldReleased(d)
            | Self::ApprovePurge(d)
            | Self::OutreachDone(d) => d.clone(),
            Self::Extension(day) | Self::OutreachScheduled(day) => day.to_string(),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Migrated => "migrated",
            Self::ExportRequested => "export_requested",
            Self::ExportDownloaded => "export_downloaded",
            Self::Declined(_) => "declined",
            Self::TicketOpened(_) => "ticket_opened",
            Self::TicketResolved(_) => "ticket_resolved",
            Self::LegalHold(_) => "legal_hold",
            Self::LegalHoldReleased(_) => "legal_hold_released",
            Self::Extension(_) => "extension",
            Self::ApprovePurge(_) => "approve_purge",
            Self::OutreachDone(_) => "outreach_done",
            Self::OutreachScheduled(_) => "outreach_scheduled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerEvent {
    pub at: DateTime<Utc>,
    pub customer: CustomerId,
    pub kind: CustomerEventKind,
}
