//! Deletes customers' data for good once their effective deadline has
//! passed: the product's data, export bundles and the personal data in the
//! store. Legal holds are skipped, and so is every customer who was never
//! sent the announcement, unless the operator decided otherwise (nobody is
//! deleted unwarned). Each deletion is verified and recorded in the audit
//! chain (counts and hashes, no name or address); the non-personal columns
//! stay, so the report still adds up.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::audit::AuditEntry;
use crate::domain::export::ExportRequest;
use crate::domain::ledger::{DeliveryKey, Recipient};
use crate::domain::milestone::{Job, ScheduledJob};
use crate::domain::{Campaign, CustomerId, CustomerRecord, Milestone};
use crate::ports::{Deps, PortError};
use crate::services::dispatch::farewell;

#[derive(Debug, thiserror::Error)]
pub enum PurgeError {
    #[error("customer {customer}: data still present after the purge ({what})")]
    NotVerified {
        customer: String,
        what: &'static str,
    },
    #[error(transparent)]
    Port(#[from] PortError),
}

impl PurgeError {
    pub fn retryable(&self) -> bool {
        match self {
            PurgeError::Port(e) => e.retryable,
            // A failed verification is retried: the deletes are idempotent.
            PurgeError::NotVerified { .. } => true,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PurgeReport {
    pub purged: u64,
    pub legal_hold: u64,
    /// Due, but never sent the announcement: held until the operator
    /// decides (`approve_purge`); the report names them.
    pub never_told: u64,
    /// Not yet past their (possibly extended) deadline.
    pub not_due: u64,
    pub product_files: u64,
    pub product_bytes: u64,
    pub bundles: u64,
    /// The notices that their data was deleted: sent once it was, or
    /// missed (they cannot be sent later).
    pub farewells_sent: u64,
    pub farewells_missed: u64,
}

/// Customers per purge batch: one shred flush, one store write and one
/// audit append each.
const PAGE: usize = 2000;

/// Purges every customer due at `now`, a page at a time. Resumable: a
/// customer is marked purged only after everything of theirs is gone, and
/// every step is idempotent, so a run cut short is finished by the next.
pub async fn purge_due(
    deps: &Deps,
    campaign: &Campaign,
    now: DateTime<Utc>,
) -> Result<PurgeReport, PurgeError> {
    let mut report = PurgeReport::default();
    let mut next_due: Option<DateTime<Utc>> = None;
    // A cancelled campaign still deletes the data it said it would, and
    // sends no farewell: it sends no further notices.
    let farewell = deps
        .campaigns
        .status(&campaign.id)
        .await?
        .is_none_or(|s| s.cancelled.is_none());
    let mut pages = super::paging::Pages::new(PAGE);
    while let Some(page) = pages.next(deps.customers.as_ref(), &campaign.id).await? {
        let mut due = Vec::new();
        for record in page.iter().filter(|r| r.purged_at.is_none()) {
            let ends = record.deadline_ends(campaign.dates.export_deadline);
            if now < ends {
                report.not_due += 1;
                // Nobody is left behind: a customer whose last day ends
                // after this run (a zone the plan did not know of) gets a
                // run of their own.
                next_due = Some(next_due.map_or(ends, |t: DateTime<Utc>| t.min(ends)));
            } else if record.legal_hold {
                report.legal_hold += 1;
            } else {
                due.push(record);
            }
        }
        let told = were_told(deps, campaign, &due).await?;
        let due: Vec<&CustomerRecord> = due
            .into_iter()
            .zip(told)
            .filter_map(|(r, told)| {
                if told || r.purge_without_notice {
                    Some(r)
                } else {
                    report.never_told += 1;
                    None
                }
            })
            .collect();
        if !due.is_empty() {
            purge_batch(deps, campaign, &due, now, farewell, &mut report).await?;
        }
    }
    if let Some(due) = next_due {
        deps.scheduler
            .upsert(&ScheduledJob {
                name: format!("{}.purge.at.{}", campaign.id, due.format("%Y%m%dT%H%M")),
                due,
                job: Job::Purge {
                    campaign: campaign.id.clone(),
                },
            })
            .await?;
    }
    if report.legal_hold > 0 {
        deps.audit
            .append(AuditEntry {
                at: now,
                campaign: campaign.id.clone(),
                customer: None,
                action: "purge-skipped-legal-hold".into(),
                detail: serde_json::json!({ "customers": report.legal_hold }),
            })
            .await?;
    }
    if report.never_told > 0 {
        deps.audit
            .append(AuditEntry {
                at: now,
                campaign: campaign.id.clone(),
                customer: None,
                action: "purge-held-never-told".into(),
                detail: serde_json::json!({ "customers": report.never_told }),
            })
            .await?;
    }
    tracing::info!(campaign = %campaign.id, purged = report.purged, held = report.legal_hold, never_told = report.never_told, not_due = report.not_due, "purge finished");
    Ok(report)
}

/// Whether each customer was sent the announcement (on any channel the
/// ledger knows; the catch-up of a late joiner counts).
pub(crate) async fn were_told(
    deps: &Deps,
    campaign: &Campaign,
    records: &[&CustomerRecord],
) -> Result<Vec<bool>, PortError> {
    if records.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<DeliveryKey> = records
        .iter()
        .map(|r| {
            DeliveryKey::once(
                &campaign.id,
                Recipient::Customer(r.id.clone()),
                Milestone::Announcement,
            )
        })
        .collect();
    deps.ledger.sent(&keys).await
}

async fn purge_batch(
    deps: &Deps,
    campaign: &Campaign,
    records: &[&CustomerRecord],
    now: DateTime<Utc>,
    farewell: bool,
    report: &mut PurgeReport,
) -> Result<(), PurgeError> {
    let ids: Vec<CustomerId> = records.iter().map(|r| r.id.clone()).collect();
    let prefixes: Vec<String> = ids
        .iter()
        .map(|id| ExportRequest::customer_prefix(&campaign.id, id))
        .collect();
    // Their farewell is written while their address and language are
    // here, and sent once the deletion is verified.
    let farewells = if farewell {
        farewell::prepare(deps, campaign, records, now).await?
    } else {
        farewell::Farewells::none()
    };
    let deleted = delete_verified(deps, campaign, records, &ids, &prefixes, now).await;
    let (erased, bundles) = match deleted {
        Ok(done) => done,
        Err(e) => {
            farewells.release(deps).await?;
            return Err(e);
        }
    };
    let farewelled = farewells.send(deps).await?;
    report.farewells_sent += farewelled.sent;
    report.farewells_missed += farewelled.missed;
    let mut certificates = Vec::with_capacity(records.len());
    for ((record, erased), bundles) in records.iter().zip(erased).zip(bundles) {
        certificates.push(AuditEntry {
            at: now,
            campaign: campaign.id.clone(),
            customer: Some(record.id.clone()),
            action: "purged".into(),
            detail: serde_json::json!({
                "deadline": record.effective_deadline(campaign.dates.export_deadline),
                "product_files": erased.files,
                "product_bytes": erased.bytes,
                "bundles": bundles,
                "store": "personal fields deleted",
                "notice": if record.purge_without_notice {
                    "none: purged by the operator's decision"
                } else {
                    "announcement sent"
                },
                "verified": true,
            }),
        });
        report.purged += 1;
        report.product_files += erased.files;
        report.product_bytes += erased.bytes;
        report.bundles += bundles;
    }
    deps.audit.append_all(certificates).await?;
    Ok(())
}

/// Deletes the batch's product data, bundles and personal fields, and
/// checks nothing is left: what each customer's deletion erased.
async fn delete_verified(
    deps: &Deps,
    campaign: &Campaign,
    records: &[&CustomerRecord],
    ids: &[CustomerId],
    prefixes: &[String],
    now: DateTime<Utc>,
) -> Result<(Vec<crate::ports::Erased>, Vec<u64>), PurgeError> {
    let erased = deps.product_data.erase(ids).await?;
    let bundles = deps.blobs.delete_prefixes(prefixes).await?;
    // Verify before recording: the certificate must be true. The files go
    // first, so a failure leaves the customer unpurged and retried whole.
    let data_left = deps.product_data.any_left(ids).await?;
    let bundles_left = deps.blobs.any_under(prefixes).await?;
    for ((record, data), bundle) in records.iter().zip(data_left).zip(bundles_left) {
        let what = match (data, bundle) {
            (true, _) => "product data",
            (_, true) => "export bundles",
            _ => continue,
        };
        return Err(PurgeError::NotVerified {
            customer: record.id.to_string(),
            what,
        });
    }
    super::outreach::scrub_notes(deps, campaign, ids, now).await?;
    deps.customers
        .scrub_customers(&campaign.id, ids, now)
        .await?;
    for record in records {
        let after = deps.customers.customer(&campaign.id, &record.id).await?;
        if after
            .as_ref()
            .is_none_or(|r| r.profile.is_some() || r.purged_at.is_none())
        {
            return Err(PurgeError::NotVerified {
                customer: record.id.to_string(),
                what: "personal data in the store",
            });
        }
    }
    Ok((erased, bundles))
}
