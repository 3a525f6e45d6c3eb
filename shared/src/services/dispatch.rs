//! Sends a milestone's e-mails: one wave per zone for the announcement and
//! each reminder, and the account managers' briefs. Every message claims its
//! ledger entry first, so a repeated event sends nothing twice.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::domain::ledger::{DeliveryKey, Recipient};
use crate::domain::link::LinkSigner;
use crate::domain::milestone::{local_instant, milestone_date};
use crate::domain::{Campaign, CustomerId, CustomerRecord, EmailAddress, Milestone, Tier};
use crate::ports::{CustomerStore, DeliveryLedger, Mailer, OutgoingEmail, PortError};

use super::notice::{self, RenderError, Rendered};

#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error("milestone {0} is not a customer notice")]
    NotANotice(Milestone),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Port(#[from] PortError),
}

impl DispatchError {
    pub fn retryable(&self) -> bool {
        matches!(self, DispatchError::Port(e) if e.retryable)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WaveState {
    /// Sent to everyone it was due for.
    Done,
    /// Before the local send hour of the milestone's day in this zone.
    NotYetDue,
    /// The milestone's day is over in this zone; a late event sends nothing
    /// rather than a reminder on the wrong day.
    DayPassed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaveReport {
    pub milestone: Milestone,
    pub zone: String,
    pub state: WaveState,
    pub sent: u64,
    /// Claimed by an earlier run: not sent again.
    pub already_claimed: u64,
}

const PAGE: usize = 500;

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

/// Sends claimed messages and records them; a message that fails gives
/// its claim back so a retry sends it, and the first failure is returned
/// after the others are recorded.
pub(crate) async fn send_claimed(
    ledger: &dyn DeliveryLedger,
    mailer: &dyn Mailer,
    batch: Vec<(DeliveryKey, OutgoingEmail)>,
    at: DateTime<Utc>,
) -> Result<u64, PortError> {
    let (keys, emails): (Vec<DeliveryKey>, Vec<OutgoingEmail>) = batch.into_iter().unzip();
    let results = mailer.send_all(&emails).await;
    let mut sent = Vec::with_capacity(keys.len());
    let mut first_error = None;
    for (key, result) in keys.into_iter().zip(results) {
        match result {
            Ok(provider_id) => sent.push((key, provider_id)),
            Err(e) => {
                ledger.release(&key).await?;
                first_error.get_or_insert(e);
            }
        }
    }
    ledger.mark_sent(&sent, at).await?;
    match first_error {
        Some(e) => Err(e),
        None => Ok(sent.len() as u64),
    }
}

/// Renders and sends one message whose ledger key was just claimed; a
/// render that fails gives the claim back, so a retry sends it.
pub(crate) async fn send_one_claimed(
    ledger: &dyn DeliveryLedger,
    mailer: &dyn Mailer,
    campaign: &Campaign,
    to: &EmailAddress,
    key: DeliveryKey,
    render: impl FnOnce() -> Result<Rendered, RenderError>,
    now: DateTime<Utc>,
) -> Result<(), DispatchError> {
    let rendered = match render() {
        Ok(r) => r,
        Err(e) => {
            ledger.release(&key).await?;
            return Err(e.into());
        }
    };
    let mail = email(campaign, to, &key, rendered, now);
    send_claimed(ledger, mailer, vec![(key, mail)], now).await?;
    Ok(())
}

/// Gives back claims that will not be sent (a render failed).
async fn release_all(
    ledger: &dyn DeliveryLedger,
    keys: impl Iterator<Item = &DeliveryKey>,
) -> Result<(), PortError> {
    for key in keys {
        ledger.release(key).await?;
    }
    Ok(())
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
        campaign: campaign.id.clone(),
        milestone: key.milestone,
        message_id: message_id(key),
    }
}

/// Claims, renders and sends `milestone` to these customers; returns how
/// many were sent and how many an earlier run had claimed. A customer
/// without a profile (purged) gets nothing. When a notice does not render,
/// nothing is sent and every claim is given back, so the job, run again
/// once fixed, sends them all.
async fn send_notices(
    campaign: &Campaign,
    milestone: Milestone,
    records: &[CustomerRecord],
    now: DateTime<Utc>,
    ledger: &dyn DeliveryLedger,
    mailer: &dyn Mailer,
    signer: &LinkSigner,
) -> Result<(u64, u64), DispatchError> {
    let keys: Vec<DeliveryKey> = records
        .iter()
        .map(|r| DeliveryKey::once(&campaign.id, Recipient::Customer(r.id.clone()), milestone))
        .collect();
    let claimed = ledger.claim(&keys, now).await?;
    let mut already = 0;
    let mut mine = Vec::with_capacity(records.len());
    for ((record, key), claimed) in records.iter().zip(keys).zip(claimed) {
        match (&record.profile, claimed) {
            (_, false) => already += 1,
            (None, true) => release_all(ledger, std::iter::once(&key)).await?,
            (Some(profile), true) => mine.push((record, profile, key)),
        }
    }
    // Rendering is the CPU part of a wave: a page renders on all cores.
    let rendered = crate::parallel::map(&mine, |(record, profile, _)| {
        notice::render_notice(campaign, record, profile, milestone, signer)
    });
    let mut batch = Vec::with_capacity(mine.len());
    let (mut unrendered, mut failed) = (Vec::new(), None);
    for ((_, profile, key), result) in mine.into_iter().zip(rendered) {
        match result {
            Ok(r) => {
                let mail = email(campaign, &profile.email, &key, r, now);
                batch.push((key, mail));
            }
            Err(e) => {
                unrendered.push(key);
                failed.get_or_insert(e);
            }
        }
    }
    if let Some(e) = failed {
        release_all(ledger, batch.iter().map(|(k, _)| k).chain(&unrendered)).await?;
        return Err(e.into());
    }
    Ok((send_claimed(ledger, mailer, batch, now).await?, already))
}

/// Which notice goes to which zone, when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wave {
    pub milestone: Milestone,
    pub zone: Tz,
    pub now: DateTime<Utc>,
}

/// Sends the wave's milestone (the announcement or a reminder) to the
/// customers in its zone who are due it. Reminders skip customers who have
/// migrated.
pub async fn notice_wave(
    campaign: &Campaign,
    wave: Wave,
    customers: &dyn CustomerStore,
    ledger: &dyn DeliveryLedger,
    mailer: &dyn Mailer,
    signer: &LinkSigner,
) -> Result<WaveReport, DispatchError> {
    let Wave {
        milestone,
        zone,
        now,
    } = wave;
    if !matches!(milestone, Milestone::Announcement | Milestone::Reminder(_)) {
        return Err(DispatchError::NotANotice(milestone));
    }
    let day = milestone_date(campaign, milestone).expect("notices have a date");
    let mut report = WaveReport {
        milestone,
        zone: zone.name().to_owned(),
        state: WaveState::Done,
        sent: 0,
        already_claimed: 0,
    };
    if now < local_instant(day, campaign.send_time(), zone) {
        report.state = WaveState::NotYetDue;
        return Ok(report);
    }
    if now.with_timezone(&zone).date_naive() > day {
        tracing::warn!(campaign = %campaign.id, %milestone, zone = zone.name(), "the milestone's day has passed in this zone; nothing sent");
        report.state = WaveState::DayPassed;
        return Ok(report);
    }
    let mut pages = super::paging::Pages::new(PAGE);
    while let Some(after) = pages.start() {
        let page = customers
            .awaiting_notice(
                &campaign.id,
                milestone,
                zone,
                milestone.only_pending(),
                after,
                PAGE,
            )
            .await?;
        if !pages.took(&page) {
            break;
        }
        let (sent, already) =
            send_notices(campaign, milestone, &page, now, ledger, mailer, signer).await?;
        report.sent += sent;
        report.already_claimed += already;
    }
    tracing::info!(campaign = %campaign.id, %milestone, zone = zone.name(), sent = report.sent, already = report.already_claimed, "wave finished");
    Ok(report)
}

/// What a catch-up sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CatchUpReport {
    pub sent: u64,
    /// Claimed by an earlier run: not sent again.
    pub already_claimed: u64,
    /// Not due it (the announcement has not gone out in their zone yet, so
    /// the wave will reach them), purged, or not segmented.
    pub skipped: u64,
}

/// Sends the announcement to customers who joined after it went out in
/// their zone (a late import: `late_import::admit_late` schedules this). Each
/// message claims its ledger entry first, like a wave's, so running the job
/// again sends nothing twice.
pub async fn catch_up(
    campaign: &Campaign,
    ids: &[CustomerId],
    now: DateTime<Utc>,
    customers: &dyn CustomerStore,
    ledger: &dyn DeliveryLedger,
    mailer: &dyn Mailer,
    signer: &LinkSigner,
) -> Result<CatchUpReport, DispatchError> {
    let milestone = Milestone::Announcement;
    let day = milestone_date(campaign, milestone).expect("the announcement has a date");
    let mut report = CatchUpReport::default();
    let mut due = Vec::with_capacity(ids.len());
    for id in ids {
        let record = customers.customer(&campaign.id, id).await?;
        match record {
            Some(r)
                if r.profile.is_some()
                    && r.tier.is_some()
                    && r.purged_at.is_none()
                    && now >= local_instant(day, campaign.send_time(), r.zone) =>
            {
                due.push(r)
            }
            _ => report.skipped += 1,
        }
    }
    (report.sent, report.already_claimed) =
        send_notices(campaign, milestone, &due, now, ledger, mailer, signer).await?;
    tracing::info!(campaign = %campaign.id, sent = report.sent, already = report.already_claimed, skipped = report.skipped, "late joiners caught up");
    Ok(report)
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BriefReport {
    pub managers: u64,
    pub core_customers: u64,
    /// Core customers without an account manager: their brief goes to the
    /// campaign's support address.
    pub unassigned: u64,
    pub sent: u64,
}

fn staff_key(email: &EmailAddress) -> String {
    hex::encode(&Sha256::digest(email.as_str().as_bytes())[..8])
}

/// Sends each account manager the list of their core customers to call 1:1
/// before the announcement.
pub async fn outreach_briefs(
    campaign: &Campaign,
    now: DateTime<Utc>,
    customers: &dyn CustomerStore,
    ledger: &dyn DeliveryLedger,
    mailer: &dyn Mailer,
) -> Result<BriefReport, DispatchError> {
    let mut by_manager: BTreeMap<EmailAddress, Vec<notice::BriefLine>> = BTreeMap::new();
    let mut report = BriefReport::default();
    let mut pages = super::paging::Pages::new(1000);
    while let Some(after) = pages.start() {
        let page = customers.customers_page(&campaign.id, after, 1000).await?;
        if !pages.took(&page) {
            break;
        }
        for r in &page {
            let (Some(profile), Some(tier)) = (&r.profile, &r.tier) else {
                continue;
            };
            if tier.tier != Tier::Core {
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
                .push(notice::brief_line(campaign, r, profile));
        }
    }
    report.managers = by_manager.len() as u64;
    for (manager, lines) in &by_manager {
        let key = DeliveryKey::once(
            &campaign.id,
            Recipient::Staff(staff_key(manager)),
            Milestone::OutreachBrief,
        );
        if !ledger.claim(std::slice::from_ref(&key), now).await?[0] {
            continue;
        }
        let rendered = match notice::render_brief(campaign, lines) {
            Ok(r) => r,
            Err(e) => {
                ledger.release(&key).await?;
                return Err(e.into());
            }
        };
        let mail = email(campaign, manager, &key, rendered, now);
        report.sent += send_claimed(ledger, mailer, vec![(key, mail)], now).await?;
    }
    tracing::info!(campaign = %campaign.id, managers = report.managers, core = report.core_customers, sent = report.sent, "outreach briefs sent");
    Ok(report)
}
