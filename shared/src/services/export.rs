//! Data exports: a customer asks through their signed link, a job builds a
//! zip of everything held about them (the product's data and ours, JSON and
//! CSV, with a SHA-256 manifest), and the export-ready mail sends a signed
//! download link.

use std::io::Write;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::domain::audit::AuditEntry;
use crate::domain::event::{CustomerEvent, CustomerEventKind};
use crate::domain::export::{ExportId, ExportRequest, ExportStatus};
use crate::domain::ledger::{DeliveryKey, Recipient};
use crate::domain::milestone::{Job, ScheduledJob};
use crate::domain::{Campaign, CustomerId, CustomerRecord, Milestone};
use crate::ports::{Deps, PortError};

use super::dispatch::{DispatchError, send_one_claimed};
use super::notice;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("no customer {0} in this campaign")]
    UnknownCustomer(CustomerId),
    #[error("the customer's data has been deleted; there is nothing left to export")]
    Purged,
    #[error("the export deadline has passed")]
    PastDeadline,
    /// The customer asked for more copies than a day allows.
    #[error(
        "{MAX_REQUESTS_PER_DAY} copies were asked for in the last day; the next can be asked for at {retry_at}"
    )]
    TooMany {
        retry_at: DateTime<Utc>,
        now: DateTime<Utc>,
    },
    /// No request of that id for this customer (there may be one for
    /// another customer: it is not theirs to see).
    #[error("no export request {0} for this customer")]
    UnknownRequest(ExportId),
    #[error("the bundle could not be written: {0}")]
    Bundle(#[from] zip::result::ZipError),
    #[error(transparent)]
    Send(#[from] DispatchError),
    #[error(transparent)]
    Port(#[from] PortError),
}

impl ExportError {
    pub fn retryable(&self) -> bool {
        match self {
            ExportError::Port(e) => e.retryable,
            ExportError::Send(e) => e.retryable(),
            _ => false,
        }
    }
}

async fn live_customer(
    deps: &Deps,
    campaign: &Campaign,
    id: &CustomerId,
) -> Result<CustomerRecord, ExportError> {
    let record = deps
        .customers
        .customer(&campaign.id, id)
        .await?
        .ok_or_else(|| ExportError::UnknownCustomer(id.clone()))?;
    if record.purged_at.is_some() || record.profile.is_none() {
        return Err(ExportError::Purged);
    }
    Ok(record)
}

/// Copies a customer may ask for in a day: each is a full bundle built and
/// stored, and a reader needs one, or one more after a change.
pub const MAX_REQUESTS_PER_DAY: usize = 3;

/// Records a request and schedules its build now. A request still being
/// built is returned instead of a second one; past
/// [`MAX_REQUESTS_PER_DAY`] in the last 24 hours, none is made.
pub async fn request_export(
    deps: &Deps,
    campaign: &Campaign,
    customer: &CustomerId,
    now: DateTime<Utc>,
) -> Result<ExportRequest, ExportError> {
    let record = live_customer(deps, campaign, customer).await?;
    if now >= record.deadline_ends(campaign.dates.export_deadline) {
        return Err(ExportError::PastDeadline);
    }
    let existing = deps.exports.exports_of(&campaign.id, customer).await?;
    if let Some(open) = existing
        .iter()
        .find(|r| r.status == ExportStatus::Requested)
    {
        return Ok(open.clone());
    }
    let day_ago = now - chrono::Duration::hours(24);
    let mut today: Vec<DateTime<Utc>> = existing
        .iter()
        .map(|r| r.requested_at)
        .filter(|at| *at > day_ago)
        .collect();
    if today.len() >= MAX_REQUESTS_PER_DAY {
        today.sort();
        let oldest = today[today.len() - MAX_REQUESTS_PER_DAY];
        return Err(ExportError::TooMany {
            retry_at: oldest + chrono::Duration::hours(24),
            now,
        });
    }
    let request = ExportRequest::new(
        ExportId::generate(),
        campaign.id.clone(),
        customer.clone(),
        now,
    );
    deps.exports.put_export(&request).await?;
    deps.scheduler
        .upsert(&ScheduledJob {
            name: format!("{}.export.{}.{}", campaign.id, customer, request.id),
            due: now,
            job: Job::BuildExport {
                campaign: campaign.id.clone(),
                customer: customer.clone(),
                request: request.id.clone(),
            },
        })
        .await?;
    tracing::info!(campaign = %campaign.id, customer = %customer, request = %request.id, "export requested");
    Ok(request)
}

#[derive(Serialize)]
struct ManifestFile {
    path: String,
    bytes: u64,
    sha256: String,
}

#[derive(Serialize)]
struct Manifest<'a> {
    format: &'static str,
    campaign: &'a str,
    customer_id: &'a str,
    request: &'a str,
    created_at: DateTime<Utc>,
    files: Vec<ManifestFile>,
}

fn csv_bytes(header: &[&str], rows: &[Vec<String>]) -> Result<Vec<u8>, ExportError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let io = |e: csv::Error| PortError::permanent(e);
    w.write_record(header).map_err(io)?;
    for r in rows {
        w.write_record(r).map_err(io)?;
    }
    w.into_inner()
        .map_err(|e| PortError::permanent(anyhow::anyhow!("{e}")).into())
}

/// Builds the bundle of a customer's request, stores it and mails the link.
/// Running it again for a ready request only makes sure the mail went out.
pub async fn build_export(
    deps: &Deps,
    campaign: &Campaign,
    customer: &CustomerId,
    request_id: &ExportId,
    now: DateTime<Utc>,
) -> Result<ExportRequest, ExportError> {
    let mut request = deps
        .exports
        .export(&campaign.id, customer, request_id)
        .await?
        .ok_or_else(|| ExportError::UnknownRequest(request_id.clone()))?;
    let record = live_customer(deps, campaign, customer).await?;
    let customer = record.profile.clone().ok_or(ExportError::Purged)?;
    if request.status != ExportStatus::Ready {
        let Bundle {
            bytes: bundle,
            files: files_in_bundle,
        } = build_bundle(deps, campaign, &record, &customer, request.id.as_str(), now).await?;
        let key = ExportRequest::bundle_key_for(&campaign.id, &record.id, &request.id);
        let sha = hex::encode(Sha256::digest(&bundle));
        let size = bundle.len() as u64;
        deps.blobs.put(&key, bundle).await?;
        request.status = ExportStatus::Ready;
        request.ready_at = Some(now);
        request.bundle_key = Some(key);
        request.bundle_bytes = Some(size);
        request.bundle_files = Some(files_in_bundle as u64);
        request.bundle_sha256 = Some(sha.clone());
        deps.exports.put_export(&request).await?;
        deps.audit
            .append(AuditEntry {
                at: now,
                campaign: campaign.id.clone(),
                customer: Some(record.id.clone()),
                action: "export-built".into(),
                detail: serde_json::json!({ "request": request.id, "files": files_in_bundle, "bytes": size, "sha256": sha }),
            })
            .await?;
    }
    let mut key = DeliveryKey::once(
        &campaign.id,
        Recipient::Customer(record.id.clone()),
        Milestone::ExportReady,
    );
    key.occurrence = request.id.to_string();
    if record.mailable().is_none() {
        // The address bounced or complained: the bundle waits on the
        // portal, where the customer asked for it.
        tracing::info!(campaign = %campaign.id, customer = %record.id, request = %request.id, "export ready; no mail to a suppressed address");
        return Ok(request);
    }
    send_one_claimed(
        deps,
        campaign,
        &customer.email,
        key,
        || notice::render_export_ready(campaign, &record, &customer, &request, &deps.signer),
        now,
    )
    .await?;
    tracing::info!(campaign = %campaign.id, customer = %record.id, request = %request.id, "export ready");
    Ok(request)
}

/// A customer's bundle: the zip and how many files it holds.
pub struct Bundle {
    pub bytes: Vec<u8>,
    pub files: usize,
}

/// Builds the bundle of one customer's data, as `request`: their profile,
/// the messages sent to them, their events and the product's files for
/// them, with a manifest of each file's size and digest.
async fn build_bundle(
    deps: &Deps,
    campaign: &Campaign,
    record: &CustomerRecord,
    customer: &crate::domain::Customer,
    request: &str,
    now: DateTime<Utc>,
) -> Result<Bundle, ExportError> {
    let product_files = deps.product_data.files(&record.id).await?;
    let deliveries = deps.ledger.deliveries_to(&campaign.id, &record.id).await?;
    let events = deps.events.events_of(&campaign.id, &record.id).await?;
    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
    // Their data, not our bookkeeping: no tier or score explanation,
    // no ledger claims or provider message ids.
    let messages: Vec<serde_json::Value> = deliveries
        .iter()
        .filter_map(|d| {
            d.sent_at
                .map(|at| serde_json::json!({ "message": d.key.milestone.name(), "sent_at": at }))
        })
        .collect();
    let customer_json = serde_json::json!({
        "customer": &customer,
        "migration_status": record.status,
        "data_kept_until": record.effective_deadline(campaign.dates.export_deadline),
        "messages_sent": messages,
        "events": &events,
    });
    entries.push((
        "sunset/customer.json".into(),
        serde_json::to_vec_pretty(&customer_json).map_err(PortError::permanent)?,
    ));
    let profile_row = {
        let v = serde_json::to_value(customer).map_err(PortError::permanent)?;
        let cell = |k: &str| match v.get(k) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        let prepaid = customer.prepaid.as_ref();
        vec![
            cell("id"),
            cell("name"),
            cell("contact_name"),
            cell("email"),
            cell("locale"),
            cell("timezone"),
            cell("contract_value"),
            cell("currency"),
            cell("customer_since"),
            cell("usage_score"),
            cell("strategic"),
            cell("account_manager"),
            cell("account_manager_name"),
            cell("phone"),
            prepaid.map_or(String::new(), |p| p.from.to_string()),
            prepaid.map_or(String::new(), |p| p.until.to_string()),
            prepaid.map_or(String::new(), |p| p.amount.to_string()),
        ]
    };
    entries.push((
        "sunset/customer.csv".into(),
        csv_bytes(&super::import::COLUMNS, &[profile_row])?,
    ));
    let delivery_rows: Vec<Vec<String>> = deliveries
        .iter()
        .filter_map(|d| {
            d.sent_at.map(|t| {
                vec![
                    d.key.milestone.name(),
                    d.key.channel.to_string(),
                    t.to_rfc3339(),
                ]
            })
        })
        .collect();
    entries.push((
        "sunset/messages.csv".into(),
        csv_bytes(&["message", "channel", "sent_at"], &delivery_rows)?,
    ));
    for f in product_files {
        entries.push((format!("product-data/{}", f.path), f.bytes));
    }
    let manifest = Manifest {
        format: "sunset-export/1",
        campaign: campaign.id.as_str(),
        customer_id: record.id.as_str(),
        request,
        created_at: now,
        files: entries
            .iter()
            .map(|(path, bytes)| ManifestFile {
                path: path.clone(),
                bytes: bytes.len() as u64,
                sha256: hex::encode(Sha256::digest(bytes)),
            })
            .collect(),
    };
    let manifest_bytes = serde_json::to_vec_pretty(&manifest).map_err(PortError::permanent)?;
    let files_in_bundle = entries.len() + 1;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (path, bytes) in
        std::iter::once(("manifest.json".to_owned(), manifest_bytes)).chain(entries)
    {
        zip.start_file(path, options)?;
        zip.write_all(&bytes)
            .map_err(|e| ExportError::Bundle(e.into()))?;
    }
    Ok(Bundle {
        bytes: zip.finish()?.into_inner(),
        files: files_in_bundle,
    })
}

/// What the preflight's test export found: a bundle for a sample
/// customer, built as theirs would be, checked and then dropped (nothing
/// is stored or mailed).
#[derive(Debug, Clone, serde::Serialize)]
pub struct TestExport {
    pub customer: CustomerId,
    pub files: usize,
    pub bytes: u64,
}

/// Builds `customer`'s bundle in memory and reads it back: the product's
/// data for them can be read and a bundle made of it.
pub async fn test_export(
    deps: &Deps,
    campaign: &Campaign,
    record: &CustomerRecord,
    now: DateTime<Utc>,
) -> Result<TestExport, ExportError> {
    let customer = record.profile.as_ref().ok_or(ExportError::Purged)?;
    let bundle = build_bundle(deps, campaign, record, customer, "preflight", now).await?;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&bundle.bytes))?;
    if zip.len() != bundle.files {
        return Err(ExportError::Bundle(zip::result::ZipError::InvalidArchive(
            "the bundle does not hold the files it was given".into(),
        )));
    }
    zip.by_name("manifest.json")?;
    Ok(TestExport {
        customer: record.id.clone(),
        files: bundle.files,
        bytes: bundle.bytes.len() as u64,
    })
}

/// How a customer gets their bundle.
pub enum Download {
    /// Redirect to this short-lived URL (S3 presigned GET).
    Redirect(String),
    /// Serve these bytes.
    Bytes(Vec<u8>),
}

/// How long a download redirect stays valid.
pub const DOWNLOAD_URL_VALID_FOR: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// The download of a customer's bundle — the request the link names, else
/// their newest ready one: a redirect where the blob store offers
/// short-lived URLs, else the bytes. A request id of another customer is
/// refused as unknown, whatever the link.
pub async fn download(
    deps: &Deps,
    campaign: &Campaign,
    customer: &CustomerId,
    request: Option<&ExportId>,
    now: DateTime<Utc>,
) -> Result<Option<(ExportRequest, Download)>, ExportError> {
    let found = bundle(deps, campaign, customer, request).await?;
    if found.is_some() {
        // They hold a copy now: their reminders say so. The download
        // stands even if this is not recorded.
        let event = CustomerEvent {
            at: now,
            customer: customer.clone(),
            kind: CustomerEventKind::ExportDownloaded,
        };
        if let Err(e) = super::events::apply(deps, campaign, &event).await {
            tracing::warn!(campaign = %campaign.id, customer = %customer, error = %e, "download not recorded");
        }
    }
    Ok(found)
}

async fn bundle(
    deps: &Deps,
    campaign: &Campaign,
    customer: &CustomerId,
    request: Option<&ExportId>,
) -> Result<Option<(ExportRequest, Download)>, ExportError> {
    let request = match request {
        Some(id) => {
            live_customer(deps, campaign, customer).await?;
            let r = deps
                .exports
                .export(&campaign.id, customer, id)
                .await?
                .ok_or_else(|| ExportError::UnknownRequest(id.clone()))?;
            Some(r).filter(|r| r.status == ExportStatus::Ready)
        }
        None => newest_ready(deps, campaign, customer).await?,
    };
    let Some(request) = request else {
        return Ok(None);
    };
    if request.customer != *customer {
        // The stores promise this; a bundle is never handed to anyone else.
        return Err(ExportError::UnknownRequest(request.id));
    }
    let Some(key) = request.bundle_key.clone() else {
        return Ok(None);
    };
    if let Some(url) = deps
        .blobs
        .download_url(&key, DOWNLOAD_URL_VALID_FOR)
        .await?
    {
        return Ok(Some((request, Download::Redirect(url))));
    }
    Ok(deps
        .blobs
        .get(&key)
        .await?
        .map(|bytes| (request, Download::Bytes(bytes))))
}

async fn newest_ready(
    deps: &Deps,
    campaign: &Campaign,
    customer: &CustomerId,
) -> Result<Option<ExportRequest>, ExportError> {
    live_customer(deps, campaign, customer).await?;
    Ok(deps
        .exports
        .exports_of(&campaign.id, customer)
        .await?
        .into_iter()
        .filter(|r| r.status == ExportStatus::Ready)
        .max_by_key(|r| r.ready_at))
}
