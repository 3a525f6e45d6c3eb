//! Export requests, keyed by (campaign, id) and looked up as their
//! customer's own.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use crate::adapters::records::{export_from_json, export_to_json};
use crate::domain::export::{ExportId, ExportRequest};
use crate::domain::{CampaignId, CustomerId};
use crate::ports::{ExportStore, PortError, PortResult};

#[async_trait]
impl ExportStore for SqliteStore {
    async fn put_export(&self, r: &ExportRequest) -> PortResult<()> {
        let json = export_to_json(r)?;
        let written = self.with(|c| {
            c.execute(
                "INSERT INTO exports (campaign_id, id, customer_id, request) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (campaign_id, id) DO UPDATE SET request = excluded.request
                 WHERE exports.customer_id = excluded.customer_id",
                params![r.campaign.as_str(), r.id.as_str(), r.customer.as_str(), json],
            )
        })?;
        if written == 0 {
            return Err(PortError::permanent(anyhow::anyhow!(
                "export request {} belongs to another customer",
                r.id
            )));
        }
        Ok(())
    }

    async fn export(
        &self,
        campaign: &CampaignId,
        customer: &CustomerId,
        id: &ExportId,
    ) -> PortResult<Option<ExportRequest>> {
        let json: Option<String> = self.with(|c| {
            c.query_row(
                "SELECT request FROM exports WHERE campaign_id = ?1 AND id = ?2 AND customer_id = ?3",
                params![campaign.as_str(), id.as_str(), customer.as_str()],
                |r| r.get(0),
            )
            .optional()
        })?;
        json.as_deref().map(export_from_json).transpose()
    }

    async fn exports_of(
        &self,
        campaign: &CampaignId,
        customer: &CustomerId,
    ) -> PortResult<Vec<ExportRequest>> {
        let rows: Vec<String> = self.with(|c| {
            let mut stmt = c.prepare_cached("SELECT request FROM exports WHERE campaign_id = ?1 AND customer_id = ?2 ORDER BY id")?;
            stmt.query_map(params![campaign.as_str(), customer.as_str()], |r| r.get(0))?.collect()
        })?;
        rows.iter().map(|j| export_from_json(j)).collect()
    }

    async fn all_exports(&self, campaign: &CampaignId) -> PortResult<Vec<ExportRequest>> {
        let rows: Vec<String> = self.with(|c| {
            let mut stmt =
                c.prepare_cached("SELECT request FROM exports WHERE campaign_id = ?1 ORDER BY id")?;
            stmt.query_map(params![campaign.as_str()], |r| r.get(0))?
                .collect()
        })?;
        rows.iter().map(|j| export_from_json(j)).collect()
    }
}
