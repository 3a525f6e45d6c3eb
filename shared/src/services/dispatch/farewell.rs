//! The farewell at the purge: the notice that the customer's data was
//! deleted. It is rendered while their address and language are still
//! stored, and sent once the deletion is verified (it says the data is
//! gone). One that cannot go out then — a used-up quota, a provider's
//! failure — is recorded as missed: nobody can send it later, and the
//! deletion never waits for a mail.

use chrono::{DateTime, Utc};

use super::email;
use super::send::{Outgoing, release_all, send_claimed};
use crate::domain::ledger::{Claimed, DeliveryKey, Lease, Recipient};
use crate::domain::{Campaign, CustomerRecord, Milestone};
use crate::ports::{Deps, PortError};
use crate::services::notice::{self, Message};

/// Farewells claimed and rendered, waiting for the deletion.
pub(crate) struct Farewells {
    batch: Vec<(DeliveryKey, Outgoing)>,
}

/// What became of a batch's farewells.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Farewelled {
    pub sent: u64,
    pub missed: u64,
}

/// Claims and renders the farewell of each customer who was told of the
/// sunset and can be mailed; a customer purged by the operator's decision
/// without notice gets none.
pub(crate) async fn prepare(
    deps: &Deps,
    campaign: &Campaign,
    records: &[&CustomerRecord],
    now: DateTime<Utc>,
) -> Result<Farewells, PortError> {
    let mailable: Vec<&CustomerRecord> = records
        .iter()
        .copied()
        .filter(|r| !r.purge_without_notice && r.mailable().is_some())
        .collect();
    let keys: Vec<DeliveryKey> = mailable
        .iter()
        .map(|r| {
            DeliveryKey::once(
                &campaign.id,
                Recipient::Customer(r.id.clone()),
                Milestone::DeletionDone,
            )
        })
        .collect();
    let claimed = deps.ledger.claim(&keys, Lease::starting(now)).await?;
    let mut batch = Vec::new();
    for ((record, key), claimed) in mailable.into_iter().zip(keys).zip(claimed) {
        let (Claimed::Taken, Some(profile)) = (claimed, record.profile.as_ref()) else {
            continue;
        };
        let deleted_on = now.with_timezone(&record.zone).date_naive();
        let message = Message::DeletionDone(deleted_on);
        match notice::render(campaign, record, profile, message, &deps.signer) {
            Ok(rendered) => {
                let mail = email(campaign, &profile.email, &key, rendered, now);
                batch.push((key, Outgoing::Email(mail)));
            }
            Err(e) => {
                // A template that fails (saved campaigns' do not) costs
                // the farewell, never the deletion.
                tracing::error!(campaign = %campaign.id, customer = %record.id, error = %e, "farewell does not render");
                deps.ledger.release(&key).await?;
            }
        }
    }
    Ok(Farewells { batch })
}

impl Farewells {
    /// None to send: a cancelled campaign's purge tells no one.
    pub(crate) fn none() -> Self {
        Self { batch: Vec::new() }
    }

    /// The deletion failed: the claims go back, for the run that retries.
    pub(crate) async fn release(self, deps: &Deps) -> Result<(), PortError> {
        release_all(deps, self.batch.iter().map(|(k, _)| k)).await
    }

    /// Sends them (paced, as every message); what did not go out is
    /// recorded as missed.
    pub(crate) async fn send(self, deps: &Deps) -> Result<Farewelled, PortError> {
        let keys: Vec<DeliveryKey> = self.batch.iter().map(|(k, _)| k.clone()).collect();
        if keys.is_empty() {
            return Ok(Farewelled::default());
        }
        let campaign = keys[0].campaign.clone();
        if let Err(e) = send_claimed(deps, self.batch).await {
            tracing::warn!(%campaign, error = %e, "some farewells could not be sent; they are recorded as missed");
        }
        // The ledger says what went out: a key marked missed now was not
        // sent; one already sent stays sent.
        let marked = deps.ledger.mark_missed(&keys, deps.clock.now()).await?;
        let count = |what: fn(&Claimed) -> bool| marked.iter().filter(|c| what(c)).count() as u64;
        Ok(Farewelled {
            sent: count(|c| matches!(c, Claimed::Sent)),
            missed: count(|c| matches!(c, Claimed::Taken)),
        })
    }
}
