//! The ports a function does not wire: each Lambda builds only the clients
//! it uses (`aws::Needs`), and every other port answers that it is not
//! there — a clear, permanent error naming the port, never a silent no-op.

use async_trait::async_trait;

use crate::domain::delivery_event::DeliveryOutcome;
use crate::domain::milestone::ScheduledJob;
use crate::domain::{CampaignId, CustomerId, EmailAddress};
use crate::ports::{
    BlobStore, Erased, Mailer, OutgoingEmail, OutgoingSms, PortError, PortResult, ProductData,
    ProductFile, Scheduler, SendError, SenderCheck, Texter,
};

/// A port this function was wired without; names what it stands for.
pub struct Unwired(pub &'static str);

impl Unwired {
    fn error(&self) -> PortError {
        PortError::permanent(anyhow::anyhow!(
            "{} is not wired into this function (see adapters::aws::Needs)",
            self.0
        ))
    }
}

#[async_trait]
impl Scheduler for Unwired {
    async fn upsert(&self, _: &ScheduledJob) -> PortResult<()> {
        Err(self.error())
    }
    async fn cancel(&self, _: &CampaignId, _: &str) -> PortResult<()> {
        Err(self.error())
    }
    async fn scheduled(&self, _: &CampaignId) -> PortResult<Vec<ScheduledJob>> {
        Err(self.error())
    }
}

#[async_trait]
impl Texter for Unwired {
    async fn send(&self, _: &OutgoingSms) -> Result<String, SendError> {
        Err(self.error().into())
    }
}

#[async_trait]
impl Mailer for Unwired {
    async fn send(&self, _: &OutgoingEmail) -> Result<String, SendError> {
        Err(self.error().into())
    }
    async fn suppress(&self, _: &EmailAddress, _: DeliveryOutcome) -> PortResult<()> {
        Err(self.error())
    }
    async fn sender(&self, _: &EmailAddress) -> PortResult<SenderCheck> {
        Err(self.error())
    }
}

#[async_trait]
impl BlobStore for Unwired {
    async fn put(&self, _: &str, _: Vec<u8>) -> PortResult<()> {
        Err(self.error())
    }
    async fn get(&self, _: &str) -> PortResult<Option<Vec<u8>>> {
        Err(self.error())
    }
    async fn list(&self, _: &str) -> PortResult<Vec<String>> {
        Err(self.error())
    }
    async fn delete_prefixes(&self, _: &[String]) -> PortResult<Vec<u64>> {
        Err(self.error())
    }
    async fn any_under(&self, _: &[String]) -> PortResult<Vec<bool>> {
        Err(self.error())
    }
}

#[async_trait]
impl ProductData for Unwired {
    async fn files(&self, _: &CustomerId) -> PortResult<Vec<ProductFile>> {
        Err(self.error())
    }
    async fn erase(&self, _: &[CustomerId]) -> PortResult<Vec<Erased>> {
        Err(self.error())
    }
    async fn any_left(&self, _: &[CustomerId]) -> PortResult<Vec<bool>> {
        Err(self.error())
    }
}
