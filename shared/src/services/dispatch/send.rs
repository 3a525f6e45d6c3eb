//! Sending claimed messages. Each waits its turn at the pacer, is marked
//! sent the moment the provider accepts it (not at the end of a page), and
//! gives its claim back when it does not go out, so the next run sends
//! it. A crash therefore leaves unmarked at most the messages in flight
//! (`IN_FLIGHT`) that the provider had accepted: the one window the ledger
//! cannot close, since SES takes no idempotency key.

use chrono::{DateTime, Utc};
use futures::StreamExt;

use super::{DispatchError, email, message_id};
use crate::domain::ledger::{Channel, Claimed, DeliveryKey, Lease, Recipient};
use crate::domain::reputation::DeliveryCounts;
use crate::domain::{Campaign, CustomerRecord, EmailAddress, Milestone};
use crate::ports::{Deps, OutgoingEmail, OutgoingSms, PortError, SendError};
use crate::services::notice::{self, RenderError, Rendered};
use crate::services::pacing::Turn;

/// Messages a run has with the provider at once.
pub(crate) const IN_FLIGHT: usize = 16;

/// Throttled sends of one message before the run gives up on it (its
/// claim goes back; the job is retried), waiting 0.1, 0.2, 0.4 … seconds
/// between tries, 3.2 at most.
const MAX_THROTTLED: u32 = 10;

/// A message on its channel.
#[derive(Debug, Clone)]
pub(crate) enum Outgoing {
    Email(OutgoingEmail),
    Sms(OutgoingSms),
}

impl Outgoing {
    fn channel(&self) -> Channel {
        match self {
            Outgoing::Email(_) => Channel::Email,
            Outgoing::Sms(_) => Channel::Sms,
        }
    }

    async fn send(&self, deps: &Deps) -> Result<String, SendError> {
        match self {
            Outgoing::Email(mail) => deps.mailer.send(mail).await,
            Outgoing::Sms(sms) => deps.texter.send(sms).await,
        }
    }
}

/// What sending a batch came to.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sent {
    pub sent: u64,
    /// E-mails among `sent` (what the reputation guard counts).
    pub emails: u64,
    /// Not sent: the number opted out of texts.
    pub opted_out: u64,
    /// The quota ran out: what was not sent waits until then (its claims
    /// were given back).
    pub deferred_until: Option<DateTime<Utc>>,
}

enum One {
    Sent(Channel),
    Deferred(DateTime<Utc>),
    OptedOut,
}

async fn send_one(deps: &Deps, key: DeliveryKey, message: Outgoing) -> Result<One, PortError> {
    let channel = message.channel();
    let mut throttled = 0;
    loop {
        let now = deps.clock.now();
        if let Turn::Defer(until) = deps.pacer.turn(channel, now).await? {
            deps.ledger.release(&key).await?;
            return Ok(One::Deferred(until));
        }
        match message.send(deps).await {
            Ok(provider_id) => {
                deps.ledger
                    .mark_sent(&[(key, provider_id)], deps.clock.now())
                    .await?;
                return Ok(One::Sent(channel));
            }
            Err(SendError::OptedOut) => {
                // Never to be sent: the claim goes back, and each later
                // run finds the number opted out again.
                deps.ledger.release(&key).await?;
                return Ok(One::OptedOut);
            }
            Err(SendError::Throttled(e)) => {
                throttled += 1;
                deps.pacer.throttled(channel).await;
                if throttled == MAX_THROTTLED {
                    deps.ledger.release(&key).await?;
                    return Err(PortError::retryable(e.context("throttled again and again")));
                }
                tracing::warn!(campaign = %key.campaign, milestone = %key.milestone, %channel, throttled, "throttled; slowing down");
                let backoff = std::time::Duration::from_millis(100 << (throttled - 1).min(5));
                tokio::time::sleep(backoff).await;
            }
            Err(SendError::QuotaExhausted(_)) => {
                let until = deps.pacer.quota_exhausted(channel, now).await;
                deps.ledger.release(&key).await?;
                return Ok(One::Deferred(until));
            }
            Err(SendError::Failed(e)) => {
                deps.ledger.release(&key).await?;
                return Err(e);
            }
        }
    }
}

/// Sends claimed messages, `IN_FLIGHT` at a time; every message ends sent,
/// or given back. The first failure is returned once the others have
/// settled.
pub(crate) async fn send_claimed(
    deps: &Deps,
    batch: Vec<(DeliveryKey, Outgoing)>,
) -> Result<Sent, PortError> {
    let Some(batch_campaign) = batch.first().map(|(k, _)| k.campaign.clone()) else {
        return Ok(Sent::default());
    };
    let mut outcomes = futures::stream::iter(batch)
        .map(|(key, mail)| send_one(deps, key, mail))
        .buffer_unordered(IN_FLIGHT);
    let mut sent = Sent::default();
    let mut first_error = None;
    while let Some(outcome) = outcomes.next().await {
        match outcome {
            Ok(One::Sent(channel)) => {
                sent.sent += 1;
                sent.emails += u64::from(channel == Channel::Email);
            }
            Ok(One::OptedOut) => sent.opted_out += 1,
            Ok(One::Deferred(until)) => {
                sent.deferred_until = Some(sent.deferred_until.map_or(until, |u| u.max(until)))
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if sent.emails > 0 {
        // The reputation guard's denominator (e-mail bounces and
        // complaints per e-mail sent). Counted per batch, not per
        // message (a write each); a crash before this undercounts, which
        // only makes the guard stricter.
        let campaign = &batch_campaign;
        deps.campaigns
            .count_delivery(
                campaign,
                DeliveryCounts {
                    sent: sent.emails,
                    ..DeliveryCounts::default()
                },
            )
            .await?;
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(sent),
    }
}

/// Claims `key` and, if this call took it, renders and sends its message;
/// `Ok(false)` when it was sent already. A render that fails gives the
/// claim back, so a retry sends it. A claim another run holds is
/// `DispatchError::Held` and a used-up quota `DispatchError::Deferred`:
/// the job runs again then.
pub(crate) async fn send_one_claimed(
    deps: &Deps,
    campaign: &Campaign,
    to: &EmailAddress,
    key: DeliveryKey,
    render: impl FnOnce() -> Result<Rendered, RenderError>,
    now: DateTime<Utc>,
) -> Result<bool, DispatchError> {
    let claimed = deps
        .ledger
        .claim(std::slice::from_ref(&key), Lease::starting(now))
        .await?;
    match claimed.first() {
        Some(Claimed::Taken) => {}
        Some(Claimed::Held { until }) => return Err(DispatchError::Held(*until)),
        _ => return Ok(false),
    }
    let rendered = match render() {
        Ok(r) => r,
        Err(e) => {
            deps.ledger.release(&key).await?;
            return Err(e.into());
        }
    };
    let mail = Outgoing::Email(email(campaign, to, &key, rendered, now));
    let sent = send_claimed(deps, vec![(key, mail)]).await?;
    match sent.deferred_until {
        Some(until) => Err(DispatchError::Deferred(until)),
        None => Ok(true),
    }
}

/// Gives back claims that will not be sent (a render failed, or the
/// customer is gone).
pub(crate) async fn release_all(
    deps: &Deps,
    keys: impl Iterator<Item = &DeliveryKey>,
) -> Result<(), PortError> {
    for key in keys {
        deps.ledger.release(key).await?;
    }
    Ok(())
}

/// What a chunk came to.
#[derive(Default)]
pub(super) struct Chunk {
    pub sent: u64,
    pub already_sent: u64,
    pub held: u64,
    pub held_until: Option<DateTime<Utc>>,
    pub deferred_until: Option<DateTime<Utc>>,
    /// Not sent: the address is suppressed, or the number opted out.
    pub suppressed: u64,
}

/// Claims, renders and sends `milestone` to these customers. A customer
/// without a profile (purged) gets nothing. When a notice does not render,
/// nothing is sent and every claim is given back, so the job, run again
/// once fixed, sends them all.
pub(super) async fn send_notices(
    deps: &Deps,
    campaign: &Campaign,
    milestone: Milestone,
    records: &[CustomerRecord],
    now: DateTime<Utc>,
) -> Result<Chunk, DispatchError> {
    let (mut chunk, batch) = prepare_notices(deps, campaign, milestone, records, now).await?;
    let sent = send_claimed(deps, batch).await?;
    chunk.sent = sent.sent;
    chunk.suppressed += sent.opted_out;
    chunk.deferred_until = sent.deferred_until;
    Ok(chunk)
}

/// Claimed messages, rendered, ready to send.
pub(super) type Batch = Vec<(DeliveryKey, Outgoing)>;

/// The channels the campaign's rules send `milestone` on to this
/// customer, as they stand now (their stored status), and that can reach
/// them: an e-mail address not suppressed, a mobile number in E.164 form.
/// `None` for a channel the rules name that cannot reach them.
pub(crate) fn channels_for(
    campaign: &Campaign,
    milestone: Milestone,
    record: &CustomerRecord,
) -> Vec<(Channel, bool)> {
    // A deletion warning counts down to the campaign's deadline: a
    // customer on legal hold, or with a later last day, is not deleted
    // then (the notice of their extension gave them their own day).
    if let Milestone::DeletionWarning(_) = milestone {
        let deadline = campaign.dates.export_deadline;
        if record.legal_hold || record.effective_deadline(deadline) != deadline {
            return Vec::new();
        }
    }
    let tier = record
        .tier
        .as_ref()
        .map_or(crate::domain::Tier::Standard, |t| t.tier);
    campaign
        .rules
        .channels(milestone, tier, record.status)
        .into_iter()
        .map(|channel| {
            let reachable = match channel {
                Channel::Email => record.mailable().is_some(),
                Channel::Sms => record
                    .profile
                    .as_ref()
                    .and_then(|p| p.phone.as_ref())
                    .and_then(|p| p.mobile())
                    .is_some(),
            };
            (channel, reachable)
        })
        .collect()
}

/// The first half of `send_notices`: claims and renders; what it found,
/// and the messages this run now holds and must send or give back. Each
/// customer gets the milestone on every channel the rules give them, one
/// ledger entry per channel.
pub(super) async fn prepare_notices(
    deps: &Deps,
    campaign: &Campaign,
    milestone: Milestone,
    records: &[CustomerRecord],
    now: DateTime<Utc>,
) -> Result<(Chunk, Batch), DispatchError> {
    let mut chunk = Chunk::default();
    let mut wanted = Vec::with_capacity(records.len());
    for record in records {
        for (channel, reachable) in channels_for(campaign, milestone, record) {
            if reachable {
                let key = DeliveryKey::on(
                    &campaign.id,
                    Recipient::Customer(record.id.clone()),
                    milestone,
                    channel,
                );
                wanted.push((record, key));
            } else if channel == Channel::Email && record.suppressed.is_some() {
                // The address bounced or complained: counted, not claimed.
                chunk.suppressed += 1;
            }
        }
    }
    let keys: Vec<DeliveryKey> = wanted.iter().map(|(_, k)| k.clone()).collect();
    let claimed = deps.ledger.claim(&keys, Lease::starting(now)).await?;
    let mut mine = Vec::with_capacity(wanted.len());
    for ((record, key), claimed) in wanted.into_iter().zip(claimed) {
        match claimed {
            Claimed::Taken => match &record.profile {
                Some(profile) => mine.push((record, profile, key)),
                // Purged since the page was read.
                None => release_all(deps, std::iter::once(&key)).await?,
            },
            Claimed::Sent | Claimed::Missed => chunk.already_sent += 1,
            Claimed::Held { until } => {
                chunk.held += 1;
                chunk.held_until = chunk.held_until.max(Some(until));
            }
        }
    }
    // Rendering is the CPU part of a wave: a chunk renders on all cores.
    let rendered = crate::parallel::map(&mine, |(record, profile, key)| match key.channel {
        Channel::Email => notice::render_notice(campaign, record, profile, milestone, &deps.signer)
            .map(|r| Outgoing::Email(email(campaign, &profile.email, key, r, now))),
        Channel::Sms => {
            notice::render_sms(campaign, record, profile, milestone, &deps.signer).map(|t| {
                Outgoing::Sms(OutgoingSms {
                    to: profile
                        .phone
                        .as_ref()
                        .and_then(|p| p.mobile())
                        .expect("only customers with a mobile number are claimed for texts"),
                    text: t.text,
                    sender_id: campaign.sms.sender_id.clone(),
                    origination_number: campaign.sms.origination_number.clone(),
                    key: key.clone(),
                    message_id: message_id(key),
                })
            })
        }
    });
    let mut batch = Vec::with_capacity(mine.len());
    let (mut unrendered, mut failed) = (Vec::new(), None);
    for ((_, _, key), result) in mine.into_iter().zip(rendered) {
        match result {
            Ok(message) => batch.push((key, message)),
            Err(e) => {
                unrendered.push(key);
                failed.get_or_insert(e);
            }
        }
    }
    if let Some(e) = failed {
        release_all(deps, batch.iter().map(|(k, _)| k).chain(&unrendered)).await?;
        return Err(e.into());
    }
    Ok((chunk, batch))
}
