//! The core customers' outreach tasks, one row per (campaign, customer),
//! stored as versioned records; a write names the revision it read.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use crate::adapters::records::{outreach_from_json, outreach_to_json};
use crate::domain::outreach::OutreachTask;
use crate::domain::{CampaignId, CustomerId};
use crate::ports::{OutreachStore, PortResult};

#[async_trait]
impl OutreachStore for SqliteStore {
    async fn open_tasks(&self, tasks: &[OutreachTask]) -> PortResult<u64> {
        let rows = tasks
            .iter()
            .map(|t| Ok((t, outreach_to_json(t)?)))
            .collect::<PortResult<Vec<_>>>()?;
        self.with(|c| {
            let tx = c.transaction()?;
            let mut added = 0u64;
            {
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO outreach (campaign_id, customer_id, revision, task)
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                )?;
                for (t, json) in &rows {
                    added += stmt.execute(params![
                        t.campaign.as_str(),
                        t.customer.as_str(),
                        t.revision as i64,
                        json
                    ])? as u64;
                }
            }
            tx.commit()?;
            Ok(added)
        })
    }

    async fn task(
        &self,
        campaign: &CampaignId,
        customer: &CustomerId,
    ) -> PortResult<Option<OutreachTask>> {
        let json: Option<String> = self.with(|c| {
            c.query_row(
                "SELECT task FROM outreach WHERE campaign_id = ?1 AND customer_id = ?2",
                params![campaign.as_str(), customer.as_str()],
                |r| r.get(0),
            )
            .optional()
        })?;
        json.as_deref().map(outreach_from_json).transpose()
    }

    async fn tasks(&self, campaign: &CampaignId) -> PortResult<Vec<OutreachTask>> {
        let rows: Vec<String> = self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT task FROM outreach WHERE campaign_id = ?1 ORDER BY customer_id",
            )?;
            stmt.query_map(params![campaign.as_str()], |r| r.get(0))?
                .collect()
        })?;
        rows.iter().map(|j| outreach_from_json(j)).collect()
    }

    async fn update_task(&self, task: &OutreachTask) -> PortResult<bool> {
        let json = outreach_to_json(task)?;
        let written = self.with(|c| {
            c.execute(
                "UPDATE outreach SET revision = ?3, task = ?4
                 WHERE campaign_id = ?1 AND customer_id = ?2 AND revision = ?5",
                params![
                    task.campaign.as_str(),
                    task.customer.as_str(),
                    task.revision as i64,
                    json,
                    task.revision as i64 - 1
                ],
            )
        })?;
        Ok(written == 1)
    }
}
