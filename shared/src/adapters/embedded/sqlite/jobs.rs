//! The local scheduler's jobs: the same jobs EventBridge Scheduler runs on
//! AWS, kept in the store and run by `app::runner` when due.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::{SqliteStore, json_err, ts};
use crate::domain::{CampaignId, ScheduledJob};
use crate::ports::{PortResult, Scheduler};

impl SqliteStore {
    /// The earliest job not yet done that is due at or before `until`.
    pub fn next_due_job(&self, until: DateTime<Utc>) -> PortResult<Option<ScheduledJob>> {
        let row = self.with(|c| {
            c.query_row(
                "SELECT name, due, payload FROM jobs WHERE done_at IS NULL AND due <= ?1 ORDER BY due, name LIMIT 1",
                params![until.timestamp()],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?)),
            )
            .optional()
        })?;
        row.map(job_from_parts).transpose()
    }

    /// When the next job not yet done is due.
    pub fn next_job_time(&self) -> PortResult<Option<DateTime<Utc>>> {
        let due: Option<i64> = self.with(|c| {
            c.query_row("SELECT MIN(due) FROM jobs WHERE done_at IS NULL", [], |r| {
                r.get(0)
            })
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
}

fn job_from_parts((name, due, payload): (String, i64, String)) -> PortResult<ScheduledJob> {
    Ok(ScheduledJob {
        name,
        due: DateTime::from_timestamp(due, 0).unwrap_or_default(),
        job: serde_json::from_str(&payload).map_err(json_err)?,
    })
}

#[async_trait]
impl Scheduler for SqliteStore {
    async fn upsert(&self, job: &ScheduledJob) -> PortResult<()> {
        let payload = serde_json::to_string(&job.job).map_err(json_err)?;
        self.with(|c| {
            // Planning again with the same time keeps a done job done; a
            // moved date makes it due again.
            c.prepare_cached(
                "INSERT INTO jobs (name, campaign_id, due, payload) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (name) DO UPDATE SET
                    payload = excluded.payload,
                    done_at = CASE WHEN jobs.due = excluded.due THEN jobs.done_at ELSE NULL END,
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
}
