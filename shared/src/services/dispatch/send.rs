//! Sending claimed messages. Each waits its turn at the pacer, is marked
//! sent the moment the provider accepts it (not at the end of a page), and
//! gives its claim back when it does not go out, so the next run sends
//! it. A crash therefore leaves unmarked at most the messages in flight
//! (`IN_FLIGHT`) that the provider had accepted: the one window the ledger
//! cannot close, since SES takes no idempotency key.

use chrono::{DateTime, Utc};
use futures::StreamExt;

use super::{DispatchError, email};
use crate::domain::ledger::{Channel, Claimed, DeliveryKey, Lease, Recipient};
use crate::domain::reputation::DeliveryCounts;
use crate::domain::{Campaign, CustomerRecord, EmailAddress, Milestone};
use crate::ports::{Deps, OutgoingEmail, PortError, SendError};
use crate::services::notice::{self, RenderError, Rendered};
use crate::services::pacing::Turn;

/// Messages a run has with the provider at once.
pub(crate) const IN_FLIGHT: usize = 16;

/// Throttled sends of one message before the run gives up on it (its
/// claim goes back; the job is retried), waiting 0.1, 0.2, 0.4 … seconds
/// between tries, 3.2 at most.
const MAX_THROTTLED: u32 = 10;

/// What sending a batch came to.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sent {
    pub sent: u64,
    /// The quota ran out: what was not sent waits until then (its claims
    /// were given back).
    pub deferred_until: Option<DateTime<Utc>>,
}

enum One {
    Sent,
    Deferred(DateTime<Utc>),
}

async fn send_one(deps: &Deps, key: DeliveryKey, mail: OutgoingEmail) -> Result<One, PortError> {
    let mut throttled = 0;
    loop {
        let now = deps.clock.now();
        if let Turn::Defer(until) = deps.pacer.turn(Channel::Email, now).await? {
            deps.ledger.release(&key).await?;
            return Ok(One::Deferred(until));
        }
        match deps.mailer.send(&mail).await {
            Ok(provider_id) => {
                deps.ledger
                    .mark_sent(&[(key, provider_id)], deps.clock.now())
                    .await?;
                return Ok(One::Sent);
            }
            Err(SendError::Throttled(e)) => {
                throttled += 1;
                deps.pacer.throttled(Channel::Email).await;
                if throttled == MAX_THROTTLED {
                    deps.ledger.release(&key).await?;
                    return Err(PortError::retryable(e.context("throttled again and again")));
                }
                tracing::warn!(campaign = %key.campaign, milestone = %key.milestone, throttled, "throttled; slowing down");
                let backoff = std::time::Duration::from_millis(100 << (throttled - 1).min(5));
                tokio::time::sleep(backoff).await;
            }
            Err(SendError::QuotaExhausted(_)) => {
                let until = deps.pacer.quota_exhausted(Channel::Email, now).await;
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
    batch: Vec<(DeliveryKey, OutgoingEmail)>,
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
            Ok(One::Sent) => sent.sent += 1,
            Ok(One::Deferred(until)) => {
                sent.deferred_until = Some(sent.deferred_until.map_or(until, |u| u.max(until)))
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if sent.sent > 0 {
        // The reputation guard's denominator. Counted per batch, not per
        // message (a write each); a crash before this undercounts, which
        // only makes the guard stricter.
        let campaign = &batch_campaign;
        deps.campaigns
            .count_delivery(
                campaign,
                DeliveryCounts {
                    sent: sent.sent,
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
    let mail = email(campaign, to, &key, rendered, now);
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
    /// Not sent: the address is suppressed.
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
    chunk.deferred_until = sent.deferred_until;
    Ok(chunk)
}

/// Claimed messages, rendered, ready to send.
pub(super) type Batch = Vec<(DeliveryKey, OutgoingEmail)>;

/// The first half of `send_notices`: claims and renders; what it found,
/// and the messages this run now holds and must send or give back.
pub(super) async fn prepare_notices(
    deps: &Deps,
    campaign: &Campaign,
    milestone: Milestone,
    records: &[CustomerRecord],
    now: DateTime<Utc>,
) -> Result<(Chunk, Batch), DispatchError> {
    let keys: Vec<DeliveryKey> = records
        .iter()
        .map(|r| DeliveryKey::once(&campaign.id, Recipient::Customer(r.id.clone()), milestone))
        .collect();
    let claimed = deps.ledger.claim(&keys, Lease::starting(now)).await?;
    let mut chunk = Chunk::default();
    let mut mine = Vec::with_capacity(records.len());
    for ((record, key), claimed) in records.iter().zip(keys).zip(claimed) {
        match (claimed, &record.profile) {
            (Claimed::Taken, _) => match record.mailable() {
                Some(profile) => mine.push((record, profile, key)),
                None => {
                    // Purged, or the address bounced or complained.
                    if record.suppressed.is_some() {
                        chunk.suppressed += 1;
                    }
                    release_all(deps, std::iter::once(&key)).await?
                }
            },
            (Claimed::Sent | Claimed::Missed, _) => chunk.already_sent += 1,
            (Claimed::Held { until }, _) => {
                chunk.held += 1;
                chunk.held_until = chunk.held_until.max(Some(until));
            }
        }
    }
    // Rendering is the CPU part of a wave: a chunk renders on all cores.
    let rendered = crate::parallel::map(&mine, |(record, profile, _)| {
        notice::render_notice(campaign, record, profile, milestone, &deps.signer)
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
        release_all(deps, batch.iter().map(|(k, _)| k).chain(&unrendered)).await?;
        return Err(e.into());
    }
    Ok((chunk, batch))
}
