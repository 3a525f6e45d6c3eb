//! The embedded scheduler: runs due jobs from the store, in time order,
//! interleaved with customer events, on a simulated or the real clock.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::adapters::embedded::Embedded;
use crate::clock::SimulatedClock;
use crate::domain::Campaign;
use crate::domain::event::{CustomerEvent, CustomerEventKind};
use crate::services::events;
use crate::services::jobs::{self, JobError, JobOutcome};

/// One step of the run, for the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub at: DateTime<Utc>,
    pub job: String,
    #[serde(flatten)]
    pub outcome: JobOutcome,
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
pub async fn run_due(emb: &Embedded, now: DateTime<Utc>) -> Result<Vec<Step>, RunError> {
    let mut steps = Vec::new();
    while let Some(scheduled) = emb.store.next_due_job(now).map_err(|e| RunError {
        job: "scheduler".into(),
        due: now,
        source: e.into(),
    })? {
        let outcome = jobs::run(&emb.deps, &scheduled.job, now)
            .await
            .map_err(|source| RunError {
                job: scheduled.name.clone(),
                due: scheduled.due,
                source,
            })?;
        emb.store
            .mark_job_done(&scheduled.name, now)
            .map_err(|e| RunError {
                job: scheduled.name.clone(),
                due: scheduled.due,
                source: e.into(),
            })?;
        steps.push(Step {
            at: now,
            job: scheduled.name,
            outcome,
        });
    }
    Ok(steps)
}

/// Moves the simulated clock from job to job and event to event until
/// nothing is left: the last purge included.
pub async fn run_to_end(
    emb: &Embedded,
    clock: &SimulatedClock,
    campaign: &Campaign,
    events: Vec<(usize, CustomerEvent)>,
    mut on_step: impl FnMut(&Step),
) -> Result<(Vec<Step>, Vec<EventProblem>), RunError> {
    let mut events: VecDeque<_> = {
        let mut e = events;
        e.sort_by_key(|(row, ev)| (ev.at, *row));
        e.into()
    };
    let mut steps = Vec::new();
    let mut problems = Vec::new();
    loop {
        let next_job = emb.store.next_job_time().map_err(|e| RunError {
            job: "scheduler".into(),
            due: clock.now_utc(),
            source: e.into(),
        })?;
        let next_event = events.front().map(|(_, e)| e.at);
        match (next_job, next_event) {
            (None, None) => break,
            (job, Some(first)) if job.is_none_or(|j| first <= j) => {
                // Every event up to the next job goes in one write; an
                // export request ends the batch, since it schedules a job
                // that must run at the request's own time.
                let mut batch = Vec::new();
                while let Some((_, e)) = events.front() {
                    if job.is_some_and(|j| e.at > j) {
                        break;
                    }
                    let (row, e) = events.pop_front().expect("peeked");
                    let export = matches!(e.kind, CustomerEventKind::ExportRequested);
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
                for step in run_due(emb, now).await? {
                    on_step(&step);
                    steps.push(step);
                }
            }
            (None, Some(_)) => unreachable!("handled by the event arm"),
        }
    }
    Ok((steps, problems))
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
        JobOutcome::Briefs(b) => format!(
            "{local}  outreach-brief     {} account managers briefed on {} core customers",
            b.sent, b.core_customers
        ),
        JobOutcome::Wave(w) => format!(
            "{local}  {:<18} {:>7} sent in {} ({:?})",
            w.milestone.to_string(),
            w.sent,
            w.zone,
            w.state
        ),
        JobOutcome::Launched { tiers, jobs } => format!(
            "{local}  launch             {} core, {} standard, {} low; {jobs} jobs planned",
            tiers.core, tiers.standard, tiers.low
        ),
        JobOutcome::ExportReady { request } => {
            format!("{local}  export-ready       bundle {request} built and mailed")
        }
        JobOutcome::CatchUp(c) => format!(
            "{local}  catch-up           {} late joiners sent the announcement",
            c.sent
        ),
        JobOutcome::Purge(p) => format!(
            "{local}  purge              {} purged ({} files, {} bundles), {} on legal hold, {} not yet due",
            p.purged, p.product_files, p.bundles, p.legal_hold, p.not_due
        ),
    }
}

pub fn is_export_step(step: &Step) -> bool {
    matches!(step.outcome, JobOutcome::ExportReady { .. })
}
