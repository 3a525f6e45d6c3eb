//! Import customers from CSV or JSON. A row is refused only when it names
//! no customer that can be reached or told apart (no usable id or
//! address, an id seen before); every other problem is a warning and the
//! customer is imported (`row`). The file is read as the store asks for
//! rows (`read`), so an import of any size holds a chunk of customers in
//! memory, and it is stored all or nothing.

mod read;
mod row;

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::domain::audit::AuditEntry;
use crate::domain::{Campaign, CustomerId, CustomerRecord};
use crate::ports::{AuditLog, CustomerStore, PortError};

pub use read::{Cell, ImportFile, RawRow, parse_csv, parse_json};
pub use row::{RowOutcome, one_line, parse_row};

pub const COLUMNS: [&str; 17] = [
    "customer_id",
    "name",
    "contact_name",
    "email",
    "locale",
    "timezone",
    "contract_value",
    "currency",
    "customer_since",
    "usage_score",
    "strategic",
    "account_manager",
    "account_manager_name",
    "phone",
    "prepaid_from",
    "prepaid_until",
    "prepaid_amount",
];

/// The columns a file must have (a row may still leave `name` empty).
const REQUIRED: [&str; 3] = ["customer_id", "name", "email"];

/// Customers handed to the store at a time.
const CHUNK: usize = 1000;

/// Problems listed in a report, of each kind; the counts cover them all.
const LISTED: usize = 10_000;

/// A problem with one field of one row: row (1 = the first data row),
/// line, customer id, field, reason — never the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowProblem {
    pub row: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// The row's customer id, when it has a valid one.
    pub customer_id: Option<String>,
    pub field: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    pub campaign: String,
    pub rows: usize,
    /// Customers stored by this import.
    pub imported: usize,
    /// Rows not imported.
    pub rejected_rows: usize,
    /// Rows imported with at least one warning.
    pub warned_rows: usize,
    /// Why each refused row was refused, one entry per field.
    pub rejected: Vec<RowProblem>,
    /// What was cleaned or left empty in imported rows, one entry per field.
    pub warnings: Vec<RowProblem>,
    /// Problems beyond the first 10,000 of a kind: counted, not listed.
    #[serde(skip_serializing_if = "is_zero")]
    pub unlisted: usize,
    /// Columns the file has that sunset does not read.
    pub ignored_columns: Vec<String>,
    /// The customers this import added, when asked for
    /// (`ImportOptions::keep_added`, for `late_import`); never serialized,
    /// so the report carries no personal data.
    #[serde(skip)]
    pub added: Vec<CustomerRecord>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl ImportReport {
    fn list(&mut self, rejected: bool, problem: RowProblem) {
        let list = if rejected {
            &mut self.rejected
        } else {
            &mut self.warnings
        };
        if list.len() < LISTED {
            list.push(problem);
        } else {
            self.unlisted += 1;
        }
    }
}

/// What an import does once the service has ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AfterServiceEnd {
    /// Refuse it: a notice now would be for a service that no longer
    /// exists, and no wave is left to send one.
    #[default]
    Refuse,
    /// The operator's explicit choice: import the customers straight into
    /// the purge, with no notice.
    PurgeWithoutNotice,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    pub after_service_end: AfterServiceEnd,
    /// Keep the added customers in the report (a late import into a
    /// launched campaign needs them to join the waves); a first import
    /// does not, and holds none.
    pub keep_added: bool,
}

/// The file as a whole cannot be read, or the import is refused: nothing
/// was imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(
        "the service ended on {0}: a notice now would be about a service that no longer exists. \
         To delete these customers' data without a notice, import them with after_end=purge"
    )]
    ServiceEnded(NaiveDate),
    #[error("the file has no header row")]
    NoHeader,
    #[error("the header lacks the required column `{0}`")]
    MissingColumn(&'static str),
    #[error("the header names column `{0}` twice")]
    RepeatedColumn(String),
    #[error("line {line}: {reason}")]
    Unreadable { line: u64, reason: String },
    #[error("the JSON is not an array of customer objects: {0}")]
    Json(String),
    #[error(transparent)]
    Store(#[from] PortError),
}

/// Checks every row and stores the customers, all or nothing, a chunk at a
/// time; `now` (from the caller's clock) dates the audit entry and says
/// whether the service has ended.
pub async fn import(
    campaign: &Campaign,
    file: ImportFile<'_>,
    customers: &dyn CustomerStore,
    audit: &dyn AuditLog,
    now: DateTime<Utc>,
    options: ImportOptions,
) -> Result<ImportReport, ImportError> {
    let ended = now >= campaign.service_ended_at();
    if ended && options.after_service_end == AfterServiceEnd::Refuse {
        return Err(ImportError::ServiceEnded(campaign.dates.service_end));
    }
    let mut report = ImportReport {
        campaign: campaign.id.to_string(),
        rows: file.rows,
        ignored_columns: file.ignored_columns.clone(),
        ..ImportReport::default()
    };
    // Each valid id's row and line: repeats in the file, and ids the store
    // already holds, are reported against them.
    let mut seen: HashMap<CustomerId, (usize, Option<u64>)> = HashMap::new();
    let mut offered = 0usize;
    let existing = {
        let mut rows = file.rows();
        let (report, seen, offered) = (&mut report, &mut seen, &mut offered);
        let mut chunks = std::iter::from_fn(move || {
            let mut chunk = Vec::with_capacity(CHUNK);
            for raw in rows.by_ref() {
                if let Some(record) = admit(campaign, &raw, ended, seen, report) {
                    if options.keep_added {
                        report.added.push(record.clone());
                    }
                    chunk.push(record);
                    if chunk.len() == CHUNK {
                        break;
                    }
                }
            }
            *offered += chunk.len();
            (!chunk.is_empty()).then_some(chunk)
        });
        customers
            .import_customers(&campaign.id, file.rows, &mut chunks)
            .await?
    };
    for id in &existing {
        let (row, line) = seen.get(id).copied().unwrap_or((0, None));
        report.rejected_rows += 1;
        report.list(
            true,
            RowProblem {
                row,
                line,
                customer_id: Some(id.to_string()),
                field: "customer_id".into(),
                reason: "is already imported in this campaign; the row was not imported again"
                    .into(),
            },
        );
    }
    if !existing.is_empty() {
        let known: std::collections::HashSet<&CustomerId> = existing.iter().collect();
        report.added.retain(|r| !known.contains(&r.id));
    }
    report
        .rejected
        .sort_by(|a, b| a.row.cmp(&b.row).then_with(|| a.field.cmp(&b.field)));
    report.imported = offered - existing.len();
    audit
        .append(AuditEntry {
            at: now,
            campaign: campaign.id.clone(),
            customer: None,
            action: "imported".into(),
            detail: serde_json::json!({
                "rows": report.rows,
                "imported": report.imported,
                "rejected_rows": report.rejected_rows,
                "warned_rows": report.warned_rows,
                "after_service_end": ended.then_some("purge without notice"),
            }),
        })
        .await?;
    tracing::info!(
        campaign = %campaign.id, rows = report.rows, imported = report.imported,
        rejected_rows = report.rejected_rows, warned_rows = report.warned_rows,
        "customers imported"
    );
    Ok(report)
}

/// One row through the rules: the record to store, or `None` with the
/// row's problems in the report.
fn admit(
    campaign: &Campaign,
    raw: &RawRow,
    ended: bool,
    seen: &mut HashMap<CustomerId, (usize, Option<u64>)>,
    report: &mut ImportReport,
) -> Option<CustomerRecord> {
    let id_text = match raw.cell("customer_id") {
        Cell::Text(t) => CustomerId::parse(t).ok().map(|id| id.to_string()),
        _ => None,
    };
    let problem = |(field, reason): (&str, String)| RowProblem {
        row: raw.row,
        line: raw.line,
        customer_id: id_text.clone(),
        field: field.into(),
        reason,
    };
    match parse_row(raw, campaign) {
        RowOutcome::Refused(problems) => {
            report.rejected_rows += 1;
            for p in problems {
                report.list(true, problem(p));
            }
            None
        }
        RowOutcome::Customer(customer, warnings) => {
            if let Some((first, _)) = seen.get(&customer.id) {
                report.rejected_rows += 1;
                report.list(
                    true,
                    problem((
                        "customer_id",
                        format!("repeats the customer of row {first}; this row was not imported"),
                    )),
                );
                return None;
            }
            seen.insert(customer.id.clone(), (raw.row, raw.line));
            if !warnings.is_empty() {
                report.warned_rows += 1;
            }
            for w in warnings {
                report.list(false, problem(w));
            }
            let mut record = CustomerRecord::new(customer, campaign.timezone);
            record.purge_without_notice = ended;
            Some(record)
        }
    }
}

/// Counts of each field's problems, refused and warned, for a summary.
pub fn summary(report: &ImportReport) -> std::collections::BTreeMap<String, usize> {
    let mut m = std::collections::BTreeMap::new();
    for r in report.rejected.iter().chain(&report.warnings) {
        *m.entry(r.field.clone()).or_default() += 1;
    }
    m
}
