//! Preview: exactly what one customer would get for one message, rendered
//! from their stored record (tier, standing, locale, zone, extension) with
//! the campaign's own templates: `sunset preview` and
//! `GET /v1/campaigns/{id}/preview`.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::export::{ExportId, ExportRequest, ExportStatus};
use crate::domain::ids::InvalidValue;
use crate::domain::ledger::Channel;
use crate::domain::{Campaign, CustomerId, Milestone, Tier};
use crate::ports::{Deps, PortError};

use super::notice::{self, Message, RenderError};

/// The messages a preview can show, by the names the plan and the ledger
/// use: `announcement`, `reminder-30`, `service-ended`,
/// `deletion-warning-7`, `deadline`, `export-ready`, `deletion-done`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Previewed {
    Announcement,
    Reminder(u32),
    ServiceEnded,
    DeletionWarning(u32),
    Deadline,
    ExportReady,
    DeletionDone,
}

const NAMES: &str = "announcement, reminder-<days>, service-ended, deletion-warning-<days>, deadline, export-ready, deletion-done";

impl FromStr for Previewed {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, InvalidValue> {
        let days = |prefix: &str| {
            s.strip_prefix(prefix)
                .and_then(|n| n.parse::<u32>().ok())
                .filter(|n| (1..=3660).contains(n))
        };
        Ok(match s {
            "announcement" => Previewed::Announcement,
            "service-ended" => Previewed::ServiceEnded,
            "deadline" => Previewed::Deadline,
            "export-ready" => Previewed::ExportReady,
            "deletion-done" => Previewed::DeletionDone,
            _ => {
                if let Some(n) = days("reminder-") {
                    Previewed::Reminder(n)
                } else if let Some(n) = days("deletion-warning-") {
                    Previewed::DeletionWarning(n)
                } else {
                    return Err(InvalidValue(format!(
                        "'{}' is not a message: one of {NAMES}",
                        s.chars().take(40).collect::<String>()
                    )));
                }
            }
        })
    }
}

impl fmt::Display for Previewed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Previewed::Announcement => f.write_str("announcement"),
            Previewed::Reminder(n) => write!(f, "reminder-{n}"),
            Previewed::ServiceEnded => f.write_str("service-ended"),
            Previewed::DeletionWarning(n) => write!(f, "deletion-warning-{n}"),
            Previewed::Deadline => f.write_str("deadline"),
            Previewed::ExportReady => f.write_str("export-ready"),
            Previewed::DeletionDone => f.write_str("deletion-done"),
        }
    }
}

/// What the customer would get.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    pub customer: CustomerId,
    pub message: String,
    pub channel: Channel,
    /// Whether the campaign's rules send this message on this channel to
    /// this customer as they stand now (a preview renders it either way).
    pub sent_by_rules: bool,
    /// The address (or number) it would go to.
    pub to: String,
    /// The template that wrote it (the campaign's own, or a built-in).
    pub template: String,
    pub locale: &'static str,
    pub tier: &'static str,
    pub status: &'static str,
    /// Empty for a text.
    pub subject: String,
    pub text: String,
    /// Empty for a text.
    pub html: String,
    /// A text's segments (what it is billed as).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segments: Option<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    #[error("no campaign {0}")]
    UnknownCampaign(String),
    #[error("no customer {0} in this campaign")]
    UnknownCustomer(CustomerId),
    #[error("customer {0}'s data was deleted: there is nothing to render for them")]
    Purged(CustomerId),
    /// A reminder the campaign does not send.
    #[error("the campaign sends no {asked}; it sends {planned}")]
    NotPlanned { asked: String, planned: String },
    /// Only the announcement and the reminders go out as texts.
    #[error("the {0} is sent by e-mail only; the announcement and the reminders are also texts")]
    NotOnChannel(String),
    #[error("customer {0} has no mobile number with its country code (+…): no text can reach them")]
    NoMobile(CustomerId),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Renders `message` for one customer as it would be sent now.
pub async fn preview(
    deps: &Deps,
    campaign: &Campaign,
    customer: &CustomerId,
    message: Previewed,
    channel: Channel,
    now: DateTime<Utc>,
) -> Result<Preview, PreviewError> {
    // The notices waves send (their rules say who gets them); the rest
    // are each customer's own.
    let milestone = match message {
        Previewed::Announcement => Some(Milestone::Announcement),
        Previewed::Reminder(n) => Some(Milestone::Reminder(n)),
        Previewed::ServiceEnded => Some(Milestone::ServiceEnded),
        Previewed::DeletionWarning(n) => Some(Milestone::DeletionWarning(n)),
        _ => None,
    };
    let textable = matches!(
        milestone,
        Some(Milestone::Announcement | Milestone::Reminder(_))
    );
    if channel == Channel::Sms && !textable {
        return Err(PreviewError::NotOnChannel(message.to_string()));
    }
    // A countdown notice the campaign does not send: say which it does.
    if let Some(m @ (Milestone::Reminder(_) | Milestone::DeletionWarning(_))) = milestone {
        let notices = campaign.notices();
        if !notices.contains(&m) {
            let same_kind =
                |n: &&Milestone| std::mem::discriminant(*n) == std::mem::discriminant(&m);
            return Err(PreviewError::NotPlanned {
                asked: message.to_string(),
                planned: notices
                    .iter()
                    .filter(same_kind)
                    .map(|n| n.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    let record = deps
        .customers
        .customer(&campaign.id, customer)
        .await?
        .ok_or_else(|| PreviewError::UnknownCustomer(customer.clone()))?;
    let profile = record
        .profile
        .clone()
        .ok_or_else(|| PreviewError::Purged(customer.clone()))?;
    // The export-ready mail of their newest bundle, else of a bundle as it
    // would be built now (its size is then unknown).
    let newest = deps
        .exports
        .exports_of(&campaign.id, customer)
        .await?
        .into_iter()
        .filter(|r| r.status == ExportStatus::Ready)
        .max_by_key(|r| r.ready_at);
    let request = newest.unwrap_or_else(|| {
        let mut r = ExportRequest::new(
            ExportId::generate(),
            campaign.id.clone(),
            customer.clone(),
            now,
        );
        r.status = ExportStatus::Ready;
        r
    });
    let deleted_on = record
        .deadline_ends(campaign.dates.export_deadline)
        .with_timezone(&record.zone)
        .date_naive();
    let m = match message {
        Previewed::Announcement => Message::Announcement,
        Previewed::Reminder(n) => Message::Reminder(n),
        Previewed::ServiceEnded => Message::ServiceEnded,
        Previewed::DeletionWarning(n) => Message::DeletionWarning(n),
        Previewed::Deadline => Message::Deadline,
        Previewed::ExportReady => Message::ExportReady(&request),
        Previewed::DeletionDone => Message::DeletionDone(deleted_on),
    };
    let locale = profile.notice_locale(campaign.default_locale);
    let tier = record.tier.as_ref().map(|t| t.tier);
    let sent_by_rules = match milestone {
        Some(m) => campaign
            .rules
            .channels(m, tier.unwrap_or(Tier::Standard), record.status)
            .contains(&channel),
        // The customer's own messages (export-ready, deadline...) go by
        // e-mail to whoever they concern.
        None => channel == Channel::Email,
    };
    let (to, template, subject, text, html, segments) = match (channel, milestone) {
        (Channel::Sms, Some(m)) => {
            let mobile = profile
                .phone
                .as_ref()
                .and_then(|p| p.mobile())
                .ok_or_else(|| PreviewError::NoMobile(customer.clone()))?;
            let t = notice::render_sms(campaign, &record, &profile, m, &deps.signer)?;
            let segments = t.segments.count;
            (
                mobile.to_string(),
                t.template,
                String::new(),
                t.text,
                String::new(),
                Some(segments),
            )
        }
        _ => {
            let r = notice::render(campaign, &record, &profile, m, &deps.signer)?;
            (
                profile.email.to_string(),
                r.template,
                r.subject,
                r.text,
                r.html,
                None,
            )
        }
    };
    Ok(Preview {
        customer: customer.clone(),
        message: message.to_string(),
        channel,
        sent_by_rules,
        to,
        template,
        locale: locale.tag(),
        tier: tier.map_or("unsegmented", Tier::as_str),
        status: record.status.as_str(),
        subject,
        text,
        html,
        segments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_names_round_trip_and_refusals_list_them() {
        for name in [
            "announcement",
            "reminder-30",
            "service-ended",
            "deletion-warning-7",
            "deadline",
            "export-ready",
            "deletion-done",
        ] {
            assert_eq!(name.parse::<Previewed>().unwrap().to_string(), name);
        }
        let err = "reminder-0".parse::<Previewed>().unwrap_err().0;
        assert!(err.contains("reminder-<days>"), "{err}");
        assert!("farewell".parse::<Previewed>().is_err());
    }
}
