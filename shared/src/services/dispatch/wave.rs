//! A wave: a customer notice — the announcement, a reminder, that the
//! service ended, a deletion warning — to every customer due it in one
//! zone, at the local send hour of its day.
//!
//! A wave is a loop that may stop anywhere — Lambda's 15 minutes, a crash,
//! a used-up quota — so it is written to be continued. It walks the
//! customers in the store's order, a chunk at a time (claim, render, send),
//! and keeps its next part scheduled: first as a watchdog due after this
//! run's time and its leases are over, moved forward page by page (the
//! checkpoint). When the run's time is nearly up it schedules that part
//! for now and stops; when the quota is used up, for when it is back. When
//! it finishes, the watchdog is cancelled — unless another run held claims
//! it met, in which case the next part runs once those leases end and
//! sends whatever they left unsent. A crashed run's part therefore always
//! comes, and finds its claims free.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use std::collections::VecDeque;

use super::DispatchError;
use super::send::{Batch, Chunk, channels_for, prepare_notices, release_all, send_claimed};
use crate::domain::ledger::{Claimed, DeliveryKey, LEASE, Recipient};
use crate::domain::milestone::{
    Resume, ScheduledJob, continuation_name, day_ends, local_instant, milestone_date,
};
use crate::domain::{Campaign, CustomerId, CustomerRecord, Job, Milestone};
use crate::ports::Deps;
use crate::services::jobs::Budget;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WaveState {
    /// Sent to everyone it was due for (on its day, or late within grace).
    Done,
    /// Before the local send hour of the milestone's day in this zone.
    NotYetDue,
    /// The run's time was nearly up: the next part goes on from here.
    Continued,
    /// The provider's quota is used up: the next part goes on then.
    Deferred,
    /// Run past its grace: nothing sent, every customer still due it is
    /// recorded as missed (and counted, and alarmed).
    Missed,
    /// The campaign is paused (its reputation guard, or the operator): the
    /// next part looks again in an hour, or at once when it is resumed.
    Paused,
    /// The campaign was cancelled while the wave ran: it stopped, and has
    /// no next part.
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaveReport {
    pub milestone: Milestone,
    pub zone: String,
    pub state: WaveState,
    /// Which part of the wave this run was (0: the first).
    pub part: u32,
    /// Messages sent, on every channel.
    pub sent: u64,
    /// Of `sent`, the texts (SMS).
    pub texts: u64,
    /// Sent by an earlier run: not sent again.
    pub already_sent: u64,
    /// Claimed by another run still within its lease: the next part
    /// sends them if that run does not.
    pub held: u64,
    /// Recorded as missed (past the grace).
    pub missed: u64,
    /// Not sent: their address hard-bounced or complained.
    pub suppressed: u64,
    /// Core customers whose announcement waits for their account
    /// manager's call (`services::outreach`): sent when the call is done,
    /// or when the hold ends.
    pub outreach_held: u64,
    /// Sent after the milestone's local day (within the grace).
    pub late: bool,
    /// When the next part runs, if one is scheduled.
    pub next_part_at: Option<DateTime<Utc>>,
}

/// Which notice goes to which zone, when, and from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wave {
    pub milestone: Milestone,
    pub zone: Tz,
    pub now: DateTime<Utc>,
    /// Where a continuation goes on from; `None` for the first part.
    pub resume: Option<Resume>,
}

/// Customers read at a time.
const PAGE: usize = 500;
/// How often a paused wave looks whether its campaign was resumed (a
/// resume also moves it to at once).
pub const PAUSE_RECHECK: chrono::Duration = chrono::Duration::hours(1);
/// Customers claimed, rendered and sent at a time: the most a run holds
/// claimed at once.
const CHUNK: usize = 50;

/// Where a wave stands in its zone's day.
enum Timing {
    NotYetDue,
    OnTime,
    Late,
    PastGrace,
}

fn timing(campaign: &Campaign, wave: &Wave) -> Timing {
    let day = milestone_date(campaign, wave.milestone).expect("notices have a date");
    if wave.now < local_instant(day, campaign.send_time(), wave.zone) {
        return Timing::NotYetDue;
    }
    let day_over = day_ends(day, wave.zone);
    let grace = chrono::Duration::hours(i64::from(campaign.delivery.late_grace_hours));
    if wave.now < day_over {
        Timing::OnTime
    } else if campaign.always_sent_late(wave.milestone) || wave.now < day_over + grace {
        Timing::Late
    } else {
        Timing::PastGrace
    }
}

/// The wave's next part, set to go on after `after` at `due`.
fn next_part(
    campaign: &Campaign,
    wave: &Wave,
    part: u32,
    after: Option<CustomerId>,
    due: DateTime<Utc>,
) -> ScheduledJob {
    ScheduledJob {
        name: continuation_name(&campaign.id, wave.milestone, wave.zone, part),
        due,
        job: Job::Notice {
            campaign: campaign.id.clone(),
            milestone: wave.milestone,
            timezone: wave.zone,
            resume: Some(Resume { part, after }),
        },
    }
}

/// A page of the wave's customers still due its notice, after `after`.
async fn due_after(
    deps: &Deps,
    campaign: &Campaign,
    wave: &Wave,
    after: Option<&CustomerId>,
) -> Result<Vec<CustomerRecord>, crate::ports::PortError> {
    deps.customers
        .awaiting_notice(
            &campaign.id,
            wave.milestone,
            wave.zone,
            campaign.rules.only_unmigrated(wave.milestone),
            after,
            PAGE,
        )
        .await
}

/// Sends the wave's notice to the customers in its zone who are due it,
/// within `budget`, on the channels the campaign's rules give each (by
/// default, reminders skip customers who have migrated).
pub async fn notice_wave(
    deps: &Deps,
    campaign: &Campaign,
    wave: Wave,
    budget: &Budget,
) -> Result<WaveReport, DispatchError> {
    let milestone = wave.milestone;
    if !milestone.is_notice() {
        return Err(DispatchError::NotANotice(milestone));
    }
    let (part, start) = wave.resume.clone().map_or((0, None), |r| (r.part, r.after));
    let mut report = WaveReport {
        milestone,
        zone: wave.zone.name().to_owned(),
        state: WaveState::Done,
        part,
        sent: 0,
        texts: 0,
        already_sent: 0,
        held: 0,
        missed: 0,
        suppressed: 0,
        outreach_held: 0,
        late: false,
        next_part_at: None,
    };
    match timing(campaign, &wave) {
        Timing::NotYetDue => {
            report.state = WaveState::NotYetDue;
            return Ok(report);
        }
        Timing::PastGrace => return record_missed(deps, campaign, &wave, start, report).await,
        Timing::Late => report.late = true,
        Timing::OnTime => {}
    }
    let now = wave.now;
    let checkpoint =
        |after: Option<CustomerId>, due| next_part(campaign, &wave, part + 1, after, due);
    if deps.campaigns.paused(&campaign.id).await?.is_some() {
        let next = checkpoint(start, now + PAUSE_RECHECK);
        return stop(deps, report, WaveState::Paused, next).await;
    }
    // If this run dies, the next part takes over from the last checkpoint
    // once this run's time and the leases it took are over.
    let watchdog_at = now + budget.left() + LEASE;
    deps.scheduler
        .upsert(&checkpoint(start.clone(), watchdog_at))
        .await?;
    let mut gate = crate::services::outreach::Gate::for_wave(deps, campaign, milestone).await?;
    // Everything up to `cursor` is settled (sent, or given back); the next
    // page is read after `read_after`.
    let mut cursor = start;
    let mut read_after = cursor.clone();
    let mut chunks: VecDeque<Vec<CustomerRecord>> = VecDeque::new();
    let mut last_page = false;
    let mut since_checkpoint = 0;
    // Where the first claim another run held was met: the next part goes
    // on from there, and when its leases have ended.
    let mut held_from: Option<Option<CustomerId>> = None;
    let mut held_until = None;
    // A chunk claimed and rendered, waiting to be sent.
    let mut ready: Option<(Chunk, Batch, Option<CustomerId>)> = None;
    loop {
        if chunks.is_empty() && !last_page {
            let page = due_after(deps, campaign, &wave, read_after.as_ref()).await?;
            last_page = page.len() < PAGE;
            if let Some(last) = page.last() {
                read_after = Some(last.id.clone());
            }
            let page = match gate.as_mut() {
                Some(gate) => {
                    let gated = gate.filter(deps, campaign, page, now).await?;
                    report.outreach_held += gated.held;
                    gated.records
                }
                None => page,
            };
            chunks.extend(page.chunks(CHUNK).map(<[CustomerRecord]>::to_vec));
        }
        // Every part sends at least a chunk, so a wave always moves on.
        let stopping = budget.nearly_up() && (report.sent + report.already_sent + report.held) > 0;
        let next = if stopping { None } else { chunks.pop_front() };
        let Some((chunk, batch, last)) = ready.take() else {
            match next {
                Some(records) => {
                    let last = records.last().map(|r| r.id.clone());
                    let (chunk, batch) =
                        prepare_notices(deps, campaign, milestone, &records, now).await?;
                    ready = Some((chunk, batch, last));
                    continue;
                }
                None if stopping => {
                    let from = held_from.clone().unwrap_or_else(|| cursor.clone());
                    return stop(deps, report, WaveState::Continued, checkpoint(from, now)).await;
                }
                None => break,
            }
        };
        report.already_sent += chunk.already_sent;
        report.held += chunk.held;
        report.suppressed += chunk.suppressed;
        if chunk.held > 0 {
            held_from.get_or_insert_with(|| cursor.clone());
            held_until = held_until.max(chunk.held_until);
        }
        // This chunk is sent while the next one is claimed and rendered,
        // so the sends never wait on the ledger.
        let prepare_next = async {
            match &next {
                Some(records) => Some(
                    prepare_notices(deps, campaign, milestone, records, now)
                        .await
                        .map(|(c, b)| (c, b, records.last().map(|r| r.id.clone()))),
                ),
                None => None,
            }
        };
        let (sent, prepared) = tokio::join!(send_claimed(deps, batch), prepare_next);
        let prepared = prepared.transpose();
        let sent = match (sent, prepared) {
            (Ok(sent), Ok(prepared)) => {
                ready = prepared;
                sent
            }
            (Err(e), Ok(Some((_, batch, _)))) => {
                release_all(deps, batch.iter().map(|(k, _)| k)).await?;
                return Err(e.into());
            }
            (Err(e), _) => return Err(e.into()),
            (Ok(_), Err(e)) => return Err(e),
        };
        report.sent += sent.sent;
        report.texts += sent.sent - sent.emails;
        report.suppressed += sent.opted_out;
        if let Some(until) = sent.deferred_until {
            // What was not sent went back; so does the next chunk.
            if let Some((_, batch, _)) = ready.take() {
                release_all(deps, batch.iter().map(|(k, _)| k)).await?;
            }
            let from = held_from.clone().unwrap_or_else(|| cursor.clone());
            return stop(deps, report, WaveState::Deferred, checkpoint(from, until)).await;
        }
        cursor = last;
        since_checkpoint += 1;
        if since_checkpoint == PAGE / CHUNK {
            since_checkpoint = 0;
            let from = held_from.clone().unwrap_or_else(|| cursor.clone());
            let status = deps
                .campaigns
                .status(&campaign.id)
                .await?
                .unwrap_or_default();
            if status.paused.is_some() || status.cancelled.is_some() {
                if let Some((_, batch, _)) = ready.take() {
                    release_all(deps, batch.iter().map(|(k, _)| k)).await?;
                }
            }
            if status.cancelled.is_some() {
                // No next part: a cancelled campaign sends nothing more.
                let name = continuation_name(&campaign.id, milestone, wave.zone, part + 1);
                deps.scheduler.cancel(&campaign.id, &name).await?;
                report.state = WaveState::Cancelled;
                tracing::info!(campaign = %campaign.id, %milestone, zone = wave.zone.name(), sent = report.sent, "wave stopped: the campaign was cancelled");
                return Ok(report);
            }
            if status.paused.is_some() {
                let next = checkpoint(from, now + PAUSE_RECHECK);
                return stop(deps, report, WaveState::Paused, next).await;
            }
            deps.scheduler
                .upsert(&checkpoint(from, watchdog_at))
                .await?;
        }
    }
    match (held_from, held_until) {
        (Some(from), Some(until)) => {
            // Another run holds some claims: if it dies, they are sent
            // once its leases end.
            let job = checkpoint(from, until + chrono::Duration::seconds(1));
            deps.scheduler.upsert(&job).await?;
            report.next_part_at = Some(job.due);
        }
        _ => {
            let name = continuation_name(&campaign.id, milestone, wave.zone, part + 1);
            deps.scheduler.cancel(&campaign.id, &name).await?;
        }
    }
    tracing::info!(campaign = %campaign.id, %milestone, zone = wave.zone.name(), part, sent = report.sent, already = report.already_sent, held = report.held, late = report.late, "wave finished");
    Ok(report)
}

/// Schedules the next part and ends this run.
async fn stop(
    deps: &Deps,
    mut report: WaveReport,
    state: WaveState,
    next: ScheduledJob,
) -> Result<WaveReport, DispatchError> {
    deps.scheduler.upsert(&next).await?;
    report.state = state;
    report.next_part_at = Some(next.due);
    tracing::info!(campaign = %next.job.campaign(), milestone = %report.milestone, zone = %report.zone, part = report.part, sent = report.sent, next_at = %next.due, state = ?state, "wave stopped; its next part is scheduled");
    Ok(report)
}

/// Past its grace, a wave sends nothing: each customer still due it is
/// recorded as missed, so the report counts them and an alarm fires.
async fn record_missed(
    deps: &Deps,
    campaign: &Campaign,
    wave: &Wave,
    start: Option<CustomerId>,
    mut report: WaveReport,
) -> Result<WaveReport, DispatchError> {
    let milestone = wave.milestone;
    let mut cursor = start;
    loop {
        let page = due_after(deps, campaign, wave, cursor.as_ref()).await?;
        let keys: Vec<DeliveryKey> = page
            .iter()
            .flat_map(|r| {
                channels_for(campaign, milestone, r)
                    .into_iter()
                    .filter(|(_, reachable)| *reachable)
                    .map(|(channel, _)| {
                        DeliveryKey::on(
                            &campaign.id,
                            Recipient::Customer(r.id.clone()),
                            milestone,
                            channel,
                        )
                    })
            })
            .collect();
        let recorded = deps.ledger.mark_missed(&keys, wave.now).await?;
        for r in recorded {
            match r {
                Claimed::Taken => report.missed += 1,
                Claimed::Held { .. } => report.held += 1,
                Claimed::Sent | Claimed::Missed => report.already_sent += 1,
            }
        }
        cursor = page.last().map(|r| r.id.clone());
        if page.len() < PAGE {
            break;
        }
    }
    report.state = WaveState::Missed;
    crate::telemetry::missed_notices(&campaign.id, milestone, report.missed);
    tracing::error!(campaign = %campaign.id, %milestone, zone = wave.zone.name(), missed = report.missed, "wave ran past its grace: nothing sent, customers recorded as missed");
    Ok(report)
}
