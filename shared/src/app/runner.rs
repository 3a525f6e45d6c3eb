//! The embedded scheduler: runs due jobs from the store, in time order,
//! interleaved with customer events, on a simulated or the real clock.

use std::collections::VecDeque;

use std::panic::AssertUnwindSafe;

use chrono::{DateTime, Duration, Utc};
use futures::FutureExt;
use serde::Serialize;

use crate::adapters::embedded::Embedded;
use crate::clock::SimulatedClock;
use crate::domain::delivery_event::DeliveryEvent;
use crate::domain::event::{CustomerEvent, CustomerEventKind};
use crate::domain::milestone::ScheduledJob;
use crate::domain::{Campaign, Job};
use crate::ports::JobFailure;
use crate::services::jobs::{self, JobError, JobOutcome};
use crate::services::{delivery_events, events};

/// One step of the run, for the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub at: DateTime<Utc>,
    pub job: String,
    #[serde(flatten)]
    pub outcome: JobOutcome,
}

/// A job run that failed: recorded, and retried alone or given up.
#[derive(Debug, Clone, Serialize)]
pub struct Failed {
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub failure: JobFailure,
}

/// What one pass of the scheduler did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tick {
    pub steps: Vec<Step>,
    pub failed: Vec<Failed>,
}

/// How often a failing job is tried: after 1, 2, 4 ... minutes, at most an
/// hour apart, ten times in all, if its error may pass (a busy store, a
/// throttled provider). A permanent error or a panic is given up at once:
/// running it again cannot help until someone fixes the cause (and plans
/// the campaign again, which revives it).
const FIRST_RETRY: Duration = Duration::minutes(1);
const LONGEST_RETRY: Duration = Duration::hours(1);
pub const MAX_ATTEMPTS: u32 = 10;

/// When a job that has failed `attempts` times runs again, if at all.
fn retry_at(now: DateTime<Utc>, attempts: u32, retryable: bool) -> Option<DateTime<Utc>> {
    let doubled = FIRST_RETRY * 2i32.saturating_pow(attempts.saturating_sub(1).min(16));
    (retryable && attempts < MAX_ATTEMPTS).then(|| now + doubled.min(LONGEST_RETRY))
}

/// Runs a job, turning a panic into an error: one job's bug must not take
/// the scheduler (or `simulate`) down with it.
async fn run_guarded(
    emb: &Embedded,
    job: &Job,
    now: DateTime<Utc>,
) -> Result<JobOutcome, (String, bool)> {
    match AssertUnwindSafe(jobs::run(&emb.deps, job, now, &jobs::Budget::unlimited()))
        .catch_unwind()
        .await
    {
        Ok(Ok(outcome)) => Ok(outcome),
        Ok(Err(e)) => Err((format!("{e:#}"), e.retryable())),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_owned());
            Err((format!("the job panicked: {what}"), false))
        }
    }
}

/// An events-file row that was not applied: unreadable (`field` says
/// which column), or refused (unknown customer, after the purge, ...).
#[derive(Debug, Clone, Serialize)]
pub struct EventProblem {
    pub row: usize,
    pub customer_id: String,
    pub event: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
#[error("job {job} due {due} failed: {source}")]
pub struct RunError {
    pub job: String,
    pub due: DateTime<Utc>,
    #[source]
    pub source: JobError,
}

/// Runs every job due at or before `now` (real-clock use: `sunset serve`).
/// A job that fails or panics is recorded and moved back (or given up) on
/// its own; the jobs after it still run. `Err` only when the store itself
/// cannot be read or written.
pub async fn run_due(emb: &Embedded, now: DateTime<Utc>) -> Result<Tick, RunError> {
    let store_err = |job: &str, due, e: crate::ports::PortError| RunError {
        job: job.to_owned(),
        due,
        source: e.into(),
    };
    let mut tick = Tick::default();
    while let Some(scheduled) = emb
        .store
        .next_due_job(now)
        .map_err(|e| store_err("scheduler", now, e))?
    {
        match run_guarded(emb, &scheduled.job, now).await {
            Ok(outcome) => {
                emb.store
                    .mark_job_done(&scheduled.name, now)
                    .map_err(|e| store_err(&scheduled.name, scheduled.due, e))?;
                tick.steps.push(Step {
                    at: now,
                    job: scheduled.name,
                    outcome,
                });
            }
            Err((error, retryable)) => {
                let failure = emb
                    .store
                    .record_job_failure(&scheduled.name, now, &error, |attempts| {
                        retry_at(now, attempts, retryable)
                    })
                    .map_err(|e| store_err(&scheduled.name, scheduled.due, e))?;
                match failure.next_attempt {
                    Some(next) => tracing::warn!(
                        job = %scheduled.name, attempts = failure.attempts, retry_at = %next,
                        error = %error, "scheduled job failed; it will be tried again"
                    ),
                    None => tracing::error!(
                        job = %scheduled.name, attempts = failure.attempts, error = %error,
                        "scheduled job failed and was given up; plan the campaign again to retry it"
                    ),
                }
                tick.failed.push(Failed { at: now, failure });
            }
        }
    }
    Ok(tick)
}

/// A job run as the timeline shows it.
pub enum Ran<'a> {
    Done(&'a Step),
    Failed(&'a Failed),
}

/// What a whole run did.
pub struct Run {
    pub steps: Vec<Step>,
    /// Failed job runs, in order (a job retried three times is here three
    /// times; the report lists each failing job once).
    pub failures: Vec<Failed>,
    pub event_problems: Vec<EventProblem>,
    /// The run stopped here: the campaign is paused, nothing left in the
    /// inputs could resume it, and its waves wait for the operator (a
    /// paused wave checks back every hour, for ever on a simulated clock).
    pub paused: Option<crate::domain::reputation::Pause>,
}

/// Moves the simulated clock from job to job and event to event until
/// nothing is left: the last purge included.
pub async fn run_to_end(
    emb: &Embedded,
    clock: &SimulatedClock,
    campaign: &Campaign,
    events: Vec<(usize, CustomerEvent)>,
    deliveries: Vec<(usize, DeliveryEvent)>,
    mut on_step: impl FnMut(&Ran<'_>),
) -> Result<Run, RunError> {
    let mut events: VecDeque<_> = {
        let mut e = events;
        e.sort_by_key(|(row, ev)| (ev.at, *row));
        e.into()
    };
    let mut deliveries: VecDeque<_> = {
        let mut d = deliveries;
        d.sort_by_key(|(n, ev)| (ev.at, *n));
        d.into()
    };
    let mut steps = Vec::new();
    let mut failures = Vec::new();
    let mut problems = Vec::new();
    // A paused campaign's waves check back every hour until the operator
    // resumes it, which on a simulated clock never comes: each wave's
    // first check shows, the rest only count, and once nothing but such
    // waves is left to run (no input, no other job) the run ends there.
    let mut shown_paused = std::collections::HashSet::new();
    let mut paused = None;
    loop {
        if events.is_empty() && deliveries.is_empty() {
            let store_err = |e: crate::ports::PortError| RunError {
                job: "campaign".into(),
                due: clock.now_utc(),
                source: e.into(),
            };
            paused = emb
                .deps
                .campaigns
                .paused(&campaign.id)
                .await
                .map_err(store_err)?;
            if paused.is_some() {
                // Every job due by now has run: what is later is left.
                let now = clock.now_utc();
                let left = emb
                    .deps
                    .scheduler
                    .scheduled(&campaign.id)
                    .await
                    .map_err(store_err)?;
                let is_wave = |j: &ScheduledJob| matches!(j.job, Job::Notice { .. });
                let next_other = left
                    .iter()
                    .filter(|j| j.due > now && !is_wave(j))
                    .map(|j| j.due)
                    .min();
                let Some(next_other) = next_other else {
                    break;
                };
                // Nothing resumes a campaign in a run: every hourly check
                // of its waves until the next other job (the purge, say)
                // would find it paused. They check once more then, so the
                // run gets there in a step per wave.
                for wave in left.iter().filter(|j| is_wave(j) && j.due < next_other) {
                    let mut later = wave.clone();
                    later.due = next_other + Duration::seconds(1);
                    emb.deps.scheduler.upsert(&later).await.map_err(store_err)?;
                }
            }
        }
        let next_job = emb.store.next_job_time().map_err(|e| RunError {
            job: "scheduler".into(),
            due: clock.now_utc(),
            source: e.into(),
        })?;
        let next_event = events.front().map(|(_, e)| e.at);
        // SES's events come in at their own times, between the rest.
        if let Some((n, delivery)) = deliveries.front()
            && next_job.is_none_or(|j| delivery.at <= j)
            && next_event.is_none_or(|e| delivery.at <= e)
        {
            clock.advance_to(delivery.at);
            let recorded = delivery_events::record(&emb.deps, delivery)
                .await
                .map_err(|e| RunError {
                    job: "delivery-events".into(),
                    due: clock.now_utc(),
                    source: e.into(),
                })?;
            if matches!(
                recorded,
                delivery_events::EventRecorded::Recorded {
                    recorded: crate::ports::OutcomeRecorded::NoSuchMessage,
                    ..
                }
            ) {
                problems.push(EventProblem {
                    row: *n,
                    customer_id: delivery.key.recipient.key(),
                    event: format!("ses {} (SES events file)", delivery.outcome.name()),
                    field: Some("mail.messageId".into()),
                    reason: "no message with this id was sent (yet) to this recipient".into(),
                });
            }
            deliveries.pop_front();
            continue;
        }
        match (next_job, next_event) {
            (None, None) => break,
            (job, Some(first)) if job.is_none_or(|j| first <= j) => {
                // Every event up to the next job goes in one write; an
                // event that schedules a job (an export request, an
                // extension, a released hold, an approved purge) ends the
                // batch, since that job must run at the event's own time.
                let mut batch = Vec::new();
                while let Some((_, e)) = events.front() {
                    if job.is_some_and(|j| e.at > j) {
                        break;
                    }
                    let (row, e) = events.pop_front().expect("peeked");
                    let export = matches!(
                        e.kind,
                        CustomerEventKind::ExportRequested
                            | CustomerEventKind::Extension(_)
                            | CustomerEventKind::LegalHoldReleased(_)
                            | CustomerEventKind::ApprovePurge(_)
                            | CustomerEventKind::OutreachDone(_)
                    );
                    batch.push((row, e));
                    if export {
                        break;
                    }
                }
                clock.advance_to(batch.last().expect("one event at least").1.at);
                let only: Vec<CustomerEvent> = batch.iter().map(|(_, e)| e.clone()).collect();
                let refused = events::apply_all(&emb.deps, campaign, &only)
                    .await
                    .map_err(|e| RunError {
                        job: "events".into(),
                        due: clock.now_utc(),
                        source: e.into(),
                    })?;
                for (i, e) in refused {
                    let (row, event) = &batch[i];
                    problems.push(EventProblem {
                        row: *row,
                        customer_id: event.customer.to_string(),
                        event: event.kind.name().into(),
                        field: None,
                        reason: e.to_string(),
                    });
                }
            }
            (Some(due), _) => {
                clock.advance_to(due);
                let now = clock.now_utc();
                let tick = run_due(emb, now).await?;
                for step in tick.steps {
                    let waiting = matches!(
                        &step.outcome,
                        JobOutcome::Wave(w) if w.state == crate::services::dispatch::WaveState::Paused
                    );
                    if !waiting || shown_paused.insert(describe(&step, campaign)) {
                        on_step(&Ran::Done(&step));
                    }
                    steps.push(step);
                }
                for failed in tick.failed {
                    on_step(&Ran::Failed(&failed));
                    failures.push(failed);
                }
            }
            (None, Some(_)) => unreachable!("handled by the event arm"),
        }
    }
    Ok(Run {
        steps,
        failures,
        event_problems: problems,
        paused,
    })
}

impl SimulatedClock {
    fn now_utc(&self) -> DateTime<Utc> {
        crate::ports::Clock::now(self)
    }
}

/// A line of the timeline people read.
pub fn describe(step: &Step, campaign: &Campaign) -> String {
    let local = format!(
        "{:<22}",
        step.at
            .with_timezone(&campaign.timezone)
            .format("%Y-%m-%d %H:%M %Z")
            .to_string()
    );
    match &step.outcome {
        JobOutcome::Briefs(b) if b.reminder => format!(
            "{local}  outreach-reminder  {} account managers reminded of {} core customers not told 1:1 yet",
            b.sent, b.core_customers
        ),
        JobOutcome::Briefs(b) => format!(
            "{local}  outreach-brief     {} account managers briefed on {} core customers",
            b.sent, b.core_customers
        ),
        JobOutcome::Wave(w) => format!(
            "{local}  {:<18} {:>7} sent in {}{} ({:?}{}{})",
            w.milestone.to_string(),
            w.sent,
            w.zone,
            if w.texts > 0 {
                format!(", {} of them as texts", w.texts)
            } else {
                String::new()
            },
            w.state,
            if w.late { ", late" } else { "" },
            if w.missed > 0 {
                format!(", {} missed", w.missed)
            } else {
                String::new()
            } + &if w.suppressed > 0 {
                format!(", {} suppressed", w.suppressed)
            } else {
                String::new()
            } + &if w.outreach_held > 0 {
                format!(
                    ", {} core {} held for their 1:1 call",
                    w.outreach_held,
                    if w.outreach_held == 1 {
                        "customer"
                    } else {
                        "customers"
                    }
                )
            } else {
                String::new()
            }
        ),
        JobOutcome::Cancelled { .. } => {
            format!("{local}  cancelled          not run: the campaign was cancelled")
        }
        JobOutcome::Launched { tiers, jobs } => format!(
            "{local}  launch             {} core, {} standard, {} low; {jobs} jobs planned",
            tiers.core, tiers.standard, tiers.low
        ),
        JobOutcome::DeadlineNotice(d) => format!(
            "{local}  deadline           {} told their new last day{}",
            d.customer,
            if d.sent { "" } else { " (already told)" }
        ),
        JobOutcome::ExportReady { request } => {
            format!("{local}  export-ready       bundle {request} built and mailed")
        }
        JobOutcome::Again { at, reason } => format!(
            "{local}  again              {reason}; runs again at {}",
            at.with_timezone(&campaign.timezone)
                .format("%Y-%m-%d %H:%M")
        ),
        JobOutcome::CatchUp(c) if step.job.contains(".outreach-release.") => format!(
            "{local}  held announcement  sent to a core customer ({} {}){}",
            c.sent,
            if c.sent == 1 { "message" } else { "messages" },
            if c.already_sent > 0 {
                ", already sent before"
            } else {
                ""
            }
        ),
        JobOutcome::CatchUp(c) => format!(
            "{local}  catch-up           {} late joiners sent the announcement{}",
            c.sent,
            match c.outreach_held {
                0 => String::new(),
                1 => ", 1 core customer held for their 1:1 call".to_owned(),
                n => format!(", {n} core customers held for their 1:1 call"),
            }
        ),
        JobOutcome::Purge(p) => format!(
            "{local}  purge              {} purged ({}, {}; {} told it is done{}), {} on legal hold, {} held as never told, {} not yet due",
            p.purged,
            counted(p.product_files, "file", "files"),
            counted(p.bundles, "bundle", "bundles"),
            p.farewells_sent,
            if p.farewells_missed > 0 {
                format!(", {} could not be told", p.farewells_missed)
            } else {
                String::new()
            },
            p.legal_hold,
            p.never_told,
            p.not_due
        ),
    }
}

/// "1 file", "2 files".
fn counted(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A failed run as the timeline shows it.
pub fn describe_failure(failed: &Failed, campaign: &Campaign) -> String {
    let local = failed
        .at
        .with_timezone(&campaign.timezone)
        .format("%Y-%m-%d %H:%M %Z");
    let then = match failed.failure.next_attempt {
        Some(t) => format!(
            "tried again at {}",
            t.with_timezone(&campaign.timezone).format("%Y-%m-%d %H:%M")
        ),
        None => "given up".to_owned(),
    };
    format!(
        "{local:<22}  FAILED             {} (attempt {}): {}; {then}",
        failed.failure.job, failed.failure.attempts, failed.failure.last_error
    )
}

pub fn is_export_step(step: &Step) -> bool {
    matches!(step.outcome, JobOutcome::ExportReady { .. })
}

/// A step about one customer (an export, a deadline notice): the demo
/// counts them instead of listing thousands.
pub fn is_per_customer_step(step: &Step) -> bool {
    matches!(
        step.outcome,
        JobOutcome::ExportReady { .. } | JobOutcome::DeadlineNotice(_)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::purge::PurgeReport;

    #[test]
    fn one_file_is_not_one_files() {
        let campaign = Campaign::from_toml(crate::app::demo::CAMPAIGN).unwrap();
        let step = Step {
            at: "2027-12-01T12:00:00Z".parse().unwrap(),
            job: "orbit-crm-2027.purge.2027-11-30".into(),
            outcome: JobOutcome::Purge(PurgeReport {
                purged: 1,
                farewells_sent: 1,
                farewells_missed: 0,
                legal_hold: 0,
                never_told: 0,
                not_due: 0,
                product_files: 1,
                product_bytes: 10,
                bundles: 2,
            }),
        };
        let line = describe(&step, &campaign);
        assert!(line.contains("1 purged (1 file, 2 bundles; "), "{line}");
    }

    #[test]
    fn a_catch_up_says_whom_it_held() {
        let campaign = Campaign::from_toml(crate::app::demo::CAMPAIGN).unwrap();
        let step = |held| Step {
            at: "2027-02-10T12:00:00Z".parse().unwrap(),
            job: "orbit-crm-2027.catch-up.0a1b2c3d4e5f".into(),
            outcome: JobOutcome::CatchUp(crate::services::dispatch::CatchUpReport {
                sent: 3,
                outreach_held: held,
                ..Default::default()
            }),
        };
        let line = describe(&step(2), &campaign);
        assert!(
            line.ends_with(
                "3 late joiners sent the announcement, 2 core customers held for their 1:1 call"
            ),
            "{line}"
        );
        let line = describe(&step(0), &campaign);
        assert!(
            line.ends_with("3 late joiners sent the announcement"),
            "{line}"
        );
    }
}
