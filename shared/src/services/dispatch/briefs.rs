//! The account managers' briefs: each gets the list of their core
//! customers to call 1:1 before the announcement.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::DispatchError;
use super::send::send_one_claimed;
use crate::domain::ledger::{DeliveryKey, Recipient};
use crate::domain::{Campaign, EmailAddress, Milestone, Tier};
use crate::ports::Deps;
use crate::services::notice;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BriefReport {
    pub managers: u64,
    pub core_customers: u64,
    /// Core customers without an account manager: their brief goes to the
    /// campaign's support address.
    pub unassigned: u64,
    pub sent: u64,
    /// The reminder of open tasks, not the brief.
    pub reminder: bool,
}

fn staff_key(email: &EmailAddress) -> String {
    hex::encode(&Sha256::digest(email.as_str().as_bytes())[..8])
}

/// Which of the owners' two mails: the brief (every core customer, when
/// the calls should start), or the reminder a few days before the
/// announcement (only those not told yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BriefKind {
    Brief,
    Reminder,
}

/// Sends each account manager the list of their core customers, each with
/// where their outreach task stands; the reminder lists only the open
/// ones, and goes only to owners who have any.
pub async fn outreach_briefs(
    deps: &Deps,
    campaign: &Campaign,
    kind: BriefKind,
    now: DateTime<Utc>,
) -> Result<BriefReport, DispatchError> {
    let tasks = crate::services::outreach::tasks_by_customer(deps, campaign).await?;
    let mut by_manager: BTreeMap<EmailAddress, Vec<notice::BriefLine>> = BTreeMap::new();
    let mut report = BriefReport {
        reminder: kind == BriefKind::Reminder,
        ..Default::default()
    };
    let mut pages = crate::services::paging::Pages::new(1000);
    while let Some(page) = pages.next(deps.customers.as_ref(), &campaign.id).await? {
        for r in &page {
            let (Some(profile), Some(tier)) = (&r.profile, &r.tier) else {
                continue;
            };
            if tier.tier != Tier::Core {
                continue;
            }
            let task = tasks.get(&r.id);
            if kind == BriefKind::Reminder && !task.is_some_and(|t| t.state.is_open()) {
                continue;
            }
            report.core_customers += 1;
            let manager = match &profile.account_manager {
                Some(m) => m.clone(),
                None => {
                    report.unassigned += 1;
                    campaign.support.email.clone()
                }
            };
            by_manager
                .entry(manager)
                .or_default()
                .push(notice::brief_line(campaign, r, profile, task));
        }
    }
    report.managers = by_manager.len() as u64;
    for (manager, lines) in &by_manager {
        let mut key = DeliveryKey::once(
            &campaign.id,
            Recipient::Staff(staff_key(manager)),
            Milestone::OutreachBrief,
        );
        if kind == BriefKind::Reminder {
            key.occurrence = "reminder".into();
        }
        let render = || notice::render_brief(campaign, lines, kind == BriefKind::Reminder);
        if send_one_claimed(deps, campaign, manager, key, render, now).await? {
            report.sent += 1;
        }
    }
    tracing::info!(campaign = %campaign.id, ?kind, managers = report.managers, core = report.core_customers, sent = report.sent, "outreach briefs sent");
    Ok(report)
}
