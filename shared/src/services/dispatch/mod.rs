//! Sends a milestone's e-mails: one wave per zone for the announcement and
//! each reminder (`wave`), late joiners' announcements (`catch_up`) and
//! the account managers' briefs (`briefs`). Every message claims its
//! ledger entry first, so a repeated event sends nothing twice, and waits
//! its turn at the pacer (`send`).

mod briefs;
mod catch_up;
pub(crate) mod farewell;
mod send;
mod wave;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::domain::ledger::DeliveryKey;
use crate::domain::{Campaign, EmailAddress, Milestone};
use crate::ports::{OutgoingEmail, PortError};

use super::notice::{RenderError, Rendered};

pub use briefs::{BriefKind, BriefReport, outreach_briefs};
pub use catch_up::{CatchUpReport, catch_up};
pub(crate) use send::{channels_for, send_one_claimed};
pub use wave::{Wave, WaveReport, WaveState, notice_wave};

#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error("milestone {0} is not a customer notice")]
    NotANotice(Milestone),
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The provider's quota is used up: nothing more goes out before
    /// then, and the job continues then (not a failure: nothing is lost).
    #[error("the sending quota is used up; sending continues at {0}")]
    Deferred(DateTime<Utc>),
    /// Another run holds some of the messages' claims until then: the job
    /// runs again after, and sends what that run did not.
    #[error("another run holds some of these messages until {0}")]
    Held(DateTime<Utc>),
    #[error(transparent)]
    Port(#[from] PortError),
}

impl DispatchError {
    pub fn retryable(&self) -> bool {
        matches!(self, DispatchError::Port(e) if e.retryable)
    }

    /// When a job whose sends were deferred or held runs again.
    pub fn again_at(&self) -> Option<DateTime<Utc>> {
        match self {
            DispatchError::Deferred(until) => Some(*until),
            DispatchError::Held(until) => Some(*until + chrono::Duration::seconds(1)),
            _ => None,
        }
    }
}

/// A message id derived from the ledger key: unique, stable, no personal data.
pub fn message_id(key: &DeliveryKey) -> String {
    let mut h = Sha256::new();
    h.update(format!(
        "{}\n{}\n{}\n{}\n{}",
        key.campaign,
        key.recipient.key(),
        key.milestone,
        key.channel,
        key.occurrence
    ));
    format!("{}.{}", key.milestone, hex::encode(&h.finalize()[..12]))
}

pub(crate) fn email(
    campaign: &Campaign,
    to: &EmailAddress,
    key: &DeliveryKey,
    rendered: Rendered,
    now: DateTime<Utc>,
) -> OutgoingEmail {
    OutgoingEmail {
        from: campaign.sender.from.clone(),
        reply_to: campaign.sender.reply_to.clone(),
        to: to.clone(),
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
        date: now,
        key: key.clone(),
        message_id: message_id(key),
        attachments: rendered.attachments,
    }
}
