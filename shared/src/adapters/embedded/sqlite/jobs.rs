//! The local scheduler's jobs: the same jobs EventBridge Scheduler runs on
//! AWS, kept in the store and run by `app::runner` when due. A job that
//! fails is retried on its own after a back-off (`next_at`) or given up,
//! so it never holds up the jobs after it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};

use super::{SqliteStore, parse_ts, ts};
use crate::adapters::records;
use crate::domain::{CampaignId, ScheduledJob};
use crate::ports::{JobFailure, PortError, PortResult, Scheduler};

/// A stored error message is cut to this many characters.
const ERROR_CHARS: usize = 500;

impl SqliteStore {
    /// The job to run next at `until`: not done, not given up, next run at
    /// or before `until`; the earliest first.
    pub fn next_due_job(&self, until: DateTime<Utc>) -> PortResult<Option<ScheduledJob>> {
        let row = self.with(|c| {
            c.query_row(
                "SELECT name, due, payload FROM jobs
                 WHERE done_at IS NULL AND gave_up_at IS NULL AND next_at <= ?1
                 ORDER BY next_at, name LIMIT 1",
                params![until.timestamp()],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                },
            )
            .optional()
        })?;
        row.map(job_from_parts).transpose()
    }

    /// When the next job is to run (a retry included); `None` when no job
    /// is left to run.
    pub fn next_job_time(&self) -> PortResult<Option<DateTime<Utc>>> {
        let due: Option<i64> = self.with(|c| {
            c.query_row(
                "SELECT MIN(next_at) FROM jobs WHERE done_at IS NULL AND gave_up_at IS NULL",
                [],
                |r| r.get(0),
            )
        })?;
        Ok(due.and_then(|s| DateTime::from_timestamp(s, 0)))
    }

    pub fn mark_job_done(&self, name: &str, at: DateTime<Utc>) -> PortResult<()> {
        self.with(|c| {
            c.execute(
                "UPDATE jobs SET done_at = ?2 WHERE name = ?1",
                params![name, ts(at)],
            )
        })?;
        Ok(())
    }

    /// Records a failed run: counted, with its error; `retry` says, from
    /// the failed runs so far (this one included), when the job runs again,
    /// or `None` to give it up. Returns the failure as recorded.
    pub fn record_job_failure(
        &self,
        name: &str,
        at: DateTime<Utc>,
        error: &str,
        retry: impl FnOnce(u32) -> Option<DateTime<Utc>>,
    ) -> PortResult<JobFailure> {
        let error: String = error.chars().take(ERROR_CHARS).collect();
        let failure = self.with(|c| {
            let before: u32 = c
                .query_row(
                    "SELECT attempts FROM jobs WHERE name = ?1",
                    params![name],
                    |r| r.get(0),
                )
                .optional()?
                .unwrap_or(0);
            let retry_at = retry(before + 1);
            c.execute(
                "UPDATE jobs SET attempts = attempts + 1, last_error = ?2, failed_at = ?3,
                    next_at = COALESCE(?4, next_at), gave_up_at = CASE WHEN ?4 IS NULL THEN ?3 END
                 WHERE name = ?1",
                params![name, error, ts(at), retry_at.map(|t| t.timestamp())],
            )?;
            c.query_row(
                &format!("SELECT {FAILURE_COLUMNS} FROM jobs WHERE name = ?1"),
                params![name],
                failure_from_row,
            )
            .optional()
        })?;
        failure.transpose()?.ok_or_else(|| {
            PortError::permanent(anyhow::anyhow!("no job {name} to record a failure for"))
        })
    }

    /// Every job of every campaign that failed and is retried or given up:
    /// what `sunset serve`'s health check reports.
    pub fn job_failures(&self) -> PortResult<Vec<JobFailure>> {
        self.failures_where("1 = 1", params![])
    }

    fn failures_where(
        &self,
        filter: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> PortResult<Vec<JobFailure>> {
        let rows = self.with(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {FAILURE_COLUMNS} FROM jobs
                 WHERE done_at IS NULL AND failed_at IS NOT NULL AND {filter}
                 ORDER BY failed_at, name"
            ))?;
            stmt.query_map(args, failure_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })?;
        rows.into_iter().collect()
    }
}

const FAILURE_COLUMNS: &str =
    "name, campaign_id, attempts, last_error, failed_at, next_at, gave_up_at";

fn failure_from_row(r: &Row<'_>) -> rusqlite::Result<PortResult<JobFailure>> {
    let name: String = r.get(0)?;
    let campaign: String = r.get(1)?;
    let attempts: u32 = r.get(2)?;
    let last_error: Option<String> = r.get(3)?;
    let failed_at: Option<String> = r.get(4)?;
    let next_at: Option<i64> = r.get(5)?;
    let gave_up: Option<String> = r.get(6)?;
    Ok((|| {
        let bad = |what: &str| {
            PortError::permanent(anyhow::anyhow!("stored job {name} has a bad {what}"))
        };
        Ok(JobFailure {
            campaign: CampaignId::parse(&campaign).map_err(|_| bad("campaign"))?,
            attempts,
            last_error: last_error.unwrap_or_default(),
            last_failed_at: parse_ts(failed_at).ok_or_else(|| bad("failure time"))?,
            next_attempt: match gave_up {
                Some(_) => None,
                None => Some(
                    next_at
                        .and_then(|s| DateTime::from_timestamp(s, 0))
                        .ok_or_else(|| bad("next run time"))?,
                ),
            },
            job: name.clone(),
        })
    })())
}

fn job_from_parts((name, due, payload): (String, i64, String)) -> PortResult<ScheduledJob> {
    Ok(ScheduledJob {
        due: DateTime::from_timestamp(due, 0).ok_or_else(|| {
            PortError::permanent(anyhow::anyhow!("stored job {name} has a bad due time"))
        })?,
        job: records::job_from_json(&payload)
            .map_err(|e| PortError::permanent(anyhow::anyhow!("stored job {name}: {e}")))?,
        name,
    })
}

#[async_trait]
impl Scheduler for SqliteStore {
    async fn upsert(&self, job: &ScheduledJob) -> PortResult<()> {
        let payload = records::job_to_json(&job.job)?;
        self.with(|c| {
            // Planning again with the same time keeps a done job done and a
            // retried one on its back-off; a moved date makes it due afresh;
            // a job given up is revived (planning again is how an operator
            // retries it once the cause is fixed).
            c.prepare_cached(
                "INSERT INTO jobs (name, campaign_id, due, next_at, payload) VALUES (?1, ?2, ?3, ?3, ?4)
                 ON CONFLICT (name) DO UPDATE SET
                    payload = excluded.payload,
                    done_at = CASE WHEN jobs.due = excluded.due THEN jobs.done_at END,
                    attempts = CASE WHEN jobs.due = excluded.due AND jobs.gave_up_at IS NULL
                                    THEN jobs.attempts ELSE 0 END,
                    last_error = CASE WHEN jobs.due = excluded.due AND jobs.gave_up_at IS NULL
                                      THEN jobs.last_error END,
                    failed_at = CASE WHEN jobs.due = excluded.due AND jobs.gave_up_at IS NULL
                                     THEN jobs.failed_at END,
                    next_at = CASE WHEN jobs.due = excluded.due AND jobs.gave_up_at IS NULL
                                   THEN jobs.next_at ELSE excluded.due END,
                    gave_up_at = NULL,
                    due = excluded.due",
            )?
            .execute(params![
                job.name,
                job.job.campaign().as_str(),
                job.due.timestamp(),
                payload
            ])
        })?;
        Ok(())
    }

    async fn cancel(&self, campaign: &CampaignId, name: &str) -> PortResult<()> {
        self.with(|c| {
            c.prepare_cached("DELETE FROM jobs WHERE campaign_id = ?1 AND name = ?2")?
                .execute(params![campaign.as_str(), name])
        })?;
        Ok(())
    }

    async fn scheduled(&self, campaign: &CampaignId) -> PortResult<Vec<ScheduledJob>> {
        let rows: Vec<(String, i64, String)> = self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT name, due, payload FROM jobs WHERE campaign_id = ?1 ORDER BY due, name",
            )?;
            stmt.query_map(params![campaign.as_str()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect()
        })?;
        rows.into_iter().map(job_from_parts).collect()
    }

    async fn failures(&self, campaign: &CampaignId) -> PortResult<Vec<JobFailure>> {
        self.failures_where("campaign_id = ?1", params![campaign.as_str()])
    }
}
