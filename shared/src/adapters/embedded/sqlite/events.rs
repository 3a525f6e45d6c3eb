//! Customer events, with the state changes they bring, in one write.

use async_trait::async_trait;
use rusqlite::params;

use super::{SqliteStore, ts};
use crate::adapters::records::{event_from_json, event_to_json};
use crate::domain::event::{CustomerEvent, CustomerEventKind};
use crate::domain::{CampaignId, CustomerId, CustomerRecord, MigrationStatus};
use crate::ports::{EventLog, PortResult};

#[async_trait]
impl EventLog for SqliteStore {
    async fn record_events(
        &self,
        campaign: &CampaignId,
        events: &[(CustomerEvent, Option<CustomerRecord>)],
    ) -> PortResult<Vec<usize>> {
        let rows = events
            .iter()
            .map(|(e, state)| Ok((e, state, event_to_json(e)?)))
            .collect::<PortResult<Vec<_>>>()?;
        self.with(|c| {
            let tx = c.transaction()?;
            let mut already = Vec::new();
            {
                // `?8`: the status the write must not find (a migration
                // is written once); NULL for any other change.
                let mut update = tx.prepare_cached(
                    "UPDATE customers SET status = ?3, status_at = ?4, legal_hold = ?5, extended_until = ?6,
                        purge_without_notice = ?7
                     WHERE campaign_id = ?1 AND customer_id = ?2 AND status IS NOT ?8",
                )?;
                let mut insert =
                    tx.prepare_cached("INSERT INTO events (campaign_id, customer_id, kind, event) VALUES (?1, ?2, ?3, ?4)")?;
                for (i, (event, state, json)) in rows.into_iter().enumerate() {
                    if let Some(r) = state {
                        let once = (event.kind == CustomerEventKind::Migrated)
                            .then_some(MigrationStatus::Migrated.as_str());
                        let changed = update.execute(params![
                            campaign.as_str(),
                            r.id.as_str(),
                            r.status.as_str(),
                            r.status_at.map(ts),
                            r.legal_hold,
                            r.extended_until.map(|d| d.to_string()),
                            r.purge_without_notice,
                            once
                        ])?;
                        if once.is_some() && changed == 0 {
                            already.push(i);
                            continue;
                        }
                    }
                    insert.execute(params![campaign.as_str(), event.customer.as_str(), event.kind.name(), json])?;
                }
            }
            tx.commit()?;
            Ok(already)
        })
    }

    async fn events_of(
        &self,
        campaign: &CampaignId,
        customer: &CustomerId,
    ) -> PortResult<Vec<CustomerEvent>> {
        let rows: Vec<String> = self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT event FROM events WHERE campaign_id = ?1 AND customer_id = ?2 ORDER BY seq",
            )?;
            stmt.query_map(params![campaign.as_str(), customer.as_str()], |r| r.get(0))?
                .collect()
        })?;
        rows.iter().map(|j| event_from_json(j)).collect()
    }

    async fn events(&self, campaign: &CampaignId) -> PortResult<Vec<CustomerEvent>> {
        let rows: Vec<String> = self.with(|c| {
            let mut stmt =
                c.prepare_cached("SELECT event FROM events WHERE campaign_id = ?1 ORDER BY seq")?;
            stmt.query_map(params![campaign.as_str()], |r| r.get(0))?
                .collect()
        })?;
        rows.iter().map(|j| event_from_json(j)).collect()
    }
}
