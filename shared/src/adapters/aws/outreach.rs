//! The core customers' outreach tasks: one item per task under
//! `OUT#{campaign}` (sort key the customer id), holding the versioned
//! record (`task`, version in `v`) and its `revision`, which every write
//! names in its condition.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use futures::future::join_all;

use super::DynamoStore;
use super::dynamo::{get_s, s, sdk_err};
use crate::adapters::records::{outreach_from_json, outreach_to_json};
use crate::domain::outreach::OutreachTask;
use crate::domain::{CampaignId, CustomerId};
use crate::ports::{OutreachStore, PortError, PortResult};

/// The version of the record in `task`.
const RECORD_VERSION: &str = "1";

fn pk(campaign: &CampaignId) -> String {
    format!("OUT#{campaign}")
}

fn task_of(item: &super::dynamo::Item) -> PortResult<OutreachTask> {
    let json = get_s(item, "task").ok_or_else(|| {
        PortError::permanent(anyhow::anyhow!("an outreach item without its task"))
    })?;
    outreach_from_json(json)
}

impl DynamoStore {
    /// Puts `task` on `condition` (with `:prev` when it names one); `false`
    /// when the condition failed.
    async fn put_task(
        &self,
        task: &OutreachTask,
        condition: &str,
        prev: Option<u64>,
    ) -> PortResult<bool> {
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(pk(&task.campaign)))
            .item("sk", s(task.customer.as_str()))
            .item("v", AttributeValue::N(RECORD_VERSION.into()))
            .item("revision", AttributeValue::N(task.revision.to_string()))
            .item("task", s(outreach_to_json(task)?))
            .condition_expression(condition);
        if let Some(prev) = prev {
            put = put.expression_attribute_values(":prev", AttributeValue::N(prev.to_string()));
        }
        match put.send().await {
            Ok(_) => Ok(true),
            Err(e) => match e.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(_)) => Ok(false),
                _ => Err(sdk_err(e)),
            },
        }
    }
}

/// Tasks created at once (core customers are few; each is one PutItem).
const PUTS_IN_FLIGHT: usize = 16;

#[async_trait]
impl OutreachStore for DynamoStore {
    async fn open_tasks(&self, tasks: &[OutreachTask]) -> PortResult<u64> {
        let mut added = 0;
        for chunk in tasks.chunks(PUTS_IN_FLIGHT) {
            let puts: Vec<_> = chunk
                .iter()
                .map(|t| self.put_task(t, "attribute_not_exists(pk)", None))
                .collect();
            for put in join_all(puts).await {
                added += u64::from(put?);
            }
        }
        Ok(added)
    }

    async fn task(
        &self,
        campaign: &CampaignId,
        customer: &CustomerId,
    ) -> PortResult<Option<OutreachTask>> {
        self.get(pk(campaign), customer.as_str())
            .await?
            .as_ref()
            .map(task_of)
            .transpose()
    }

    async fn tasks(&self, campaign: &CampaignId) -> PortResult<Vec<OutreachTask>> {
        self.query_all(self.partition(pk(campaign)).consistent_read(true))
            .await?
            .iter()
            .map(task_of)
            .collect()
    }

    async fn update_task(&self, task: &OutreachTask) -> PortResult<bool> {
        let prev = task
            .revision
            .checked_sub(1)
            .ok_or_else(|| PortError::permanent(anyhow::anyhow!("an update names revision 0")))?;
        self.put_task(task, "revision = :prev", Some(prev)).await
    }
}
