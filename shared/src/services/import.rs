//! Import customers from CSV or JSON. Valid rows go in, all in one write;
//! every rejected row is reported with its row, customer id, field and why;
//! a customer id seen twice is reported, never doubled.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::domain::audit::AuditEntry;
use crate::domain::bounds::{self, Amount};
use crate::domain::customer::Prepaid;
use crate::domain::ids::{Currency, DisplayName, InvalidValue, Phone};
use crate::domain::{Campaign, Customer, CustomerId, CustomerRecord, EmailAddress};
use crate::ports::{AuditLog, CustomerStore, PortError};

pub const COLUMNS: [&str; 15] = [
    "customer_id",
    "name",
    "email",
    "locale",
    "timezone",
    "contract_value",
    "currency",
    "customer_since",
    "usage_score",
    "strategic",
    "account_manager",
    "phone",
    "prepaid_from",
    "prepaid_until",
    "prepaid_amount",
];
const REQUIRED: [&str; 3] = ["customer_id", "name", "email"];

/// One input row: its 1-based number among the data rows, the line it
/// starts on (CSV), and its fields by column name.
#[derive(Debug, Clone)]
pub struct RawRow {
    pub row: usize,
    pub line: Option<u64>,
    pub fields: HashMap<String, String>,
}

/// A file read into rows: the rows to check, the rows already refused
/// (wrong field count, bad UTF-8) and the columns sunset does not read.
#[derive(Debug, Clone, Default)]
pub struct ParsedFile {
    pub rows: Vec<RawRow>,
    pub rejections: Vec<Rejection>,
    pub ignored_columns: Vec<String>,
}

/// A problem with one field of one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
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
    pub imported: usize,
    pub rejected_rows: usize,
    /// One entry per problem; a row with two bad fields has two.
    pub rejections: Vec<Rejection>,
    /// Columns the file has that sunset does not read.
    pub ignored_columns: Vec<String>,
    /// The customers this import added, for `late_import::admit_late`; never
    /// serialized, so the report carries no personal data.
    #[serde(skip)]
    pub added: Vec<CustomerRecord>,
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
    #[error("row {row}: `{field}` must be a string, number, boolean or null")]
    JsonValue { row: usize, field: String },
    #[error(transparent)]
    Store(#[from] PortError),
}

/// Reads CSV: UTF-8 with an optional BOM, quoted fields may hold commas and
/// line breaks. A row with the wrong number of fields or bad UTF-8 becomes
/// a rejection; only an unreadable file is an error.
pub fn parse_csv(bytes: &[u8]) -> Result<ParsedFile, ImportError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let header = reader
        .byte_headers()
        .map_err(|e| ImportError::Unreadable {
            line: 1,
            reason: e.to_string(),
        })?
        .clone();
    if header.is_empty() || (header.len() == 1 && header[0].is_empty()) {
        return Err(ImportError::NoHeader);
    }
    let names = header
        .iter()
        .map(|h| {
            std::str::from_utf8(h)
                .map(|s| s.trim().to_ascii_lowercase())
                .map_err(|_| ImportError::Unreadable {
                    line: 1,
                    reason: "the header is not UTF-8".into(),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let ignored = check_header(&names)?;
    let mut rows = Vec::new();
    let mut rejections = Vec::new();
    let mut record = csv::ByteRecord::new();
    let mut row = 0;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                return Err(ImportError::Unreadable {
                    line,
                    reason: e.to_string(),
                });
            }
        }
        let line = record.position().map(|p| p.line());
        if record.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
            continue; // a blank line is not a customer
        }
        row += 1;
        let reject = |field: &str, reason: String| Rejection {
            row,
            line,
            customer_id: None,
            field: field.into(),
            reason,
        };
        if record.len() != names.len() {
            rejections.push(reject(
                "*",
                format!(
                    "has {} fields, the header has {}",
                    record.len(),
                    names.len()
                ),
            ));
            continue;
        }
        let mut fields = HashMap::with_capacity(names.len());
        let mut bad_utf8 = None;
        for (name, value) in names.iter().zip(record.iter()) {
            match std::str::from_utf8(value) {
                Ok(v) => {
                    fields.insert(name.clone(), v.to_owned());
                }
                Err(_) => bad_utf8 = Some(name.clone()),
            }
        }
        if let Some(field) = bad_utf8 {
            rejections.push(reject(&field, "is not valid UTF-8".into()));
            continue;
        }
        rows.push(RawRow { row, line, fields });
    }
    Ok(ParsedFile {
        rows,
        rejections,
        ignored_columns: ignored,
    })
}

fn check_header(names: &[String]) -> Result<Vec<String>, ImportError> {
    for (i, n) in names.iter().enumerate() {
        if names[..i].contains(n) {
            return Err(ImportError::RepeatedColumn(n.clone()));
        }
    }
    for required in REQUIRED {
        if !names.iter().any(|n| n == required) {
            return Err(ImportError::MissingColumn(required));
        }
    }
    Ok(names
        .iter()
        .filter(|n| !COLUMNS.contains(&n.as_str()))
        .cloned()
        .collect())
}

/// Reads JSON: an array of objects with the CSV's column names as keys.
pub fn parse_json(bytes: &[u8]) -> Result<ParsedFile, ImportError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let items: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_slice(bytes).map_err(|e| ImportError::Json(e.to_string()))?;
    let mut ignored = std::collections::BTreeSet::new();
    let mut rows = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let row = i + 1;
        let mut fields = HashMap::new();
        for (key, value) in item {
            let key = key.trim().to_ascii_lowercase();
            if !COLUMNS.contains(&key.as_str()) {
                ignored.insert(key.clone());
            }
            let text = match value {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(s) => s,
                serde_json::Value::Bool(b) => b.to_string(),
                serde_json::Value::Number(n) => n.to_string(),
                _ => return Err(ImportError::JsonValue { row, field: key }),
            };
            fields.insert(key, text);
        }
        rows.push(RawRow {
            row,
            line: None,
            fields,
        });
    }
    Ok(ParsedFile {
        rows,
        rejections: Vec::new(),
        ignored_columns: ignored.into_iter().collect(),
    })
}

/// Turns one raw row into a customer, or every problem it has.
pub fn parse_customer(raw: &RawRow) -> Result<Customer, Vec<(String, String)>> {
    let mut problems: Vec<(String, String)> = Vec::new();
    let get = |name: &str| {
        raw.fields
            .get(name)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    };
    macro_rules! field {
        ($name:literal, $parse:expr) => {
            match get($name).map($parse).transpose() {
                Ok(v) => v,
                Err(reason) => {
                    problems.push(($name.into(), reason));
                    None
                }
            }
        };
    }
    let required = |name: &str, problems: &mut Vec<(String, String)>| {
        if get(name).is_none() {
            problems.push((name.into(), "is required".into()));
        }
    };
    for name in REQUIRED {
        required(name, &mut problems);
    }
    let id = field!("customer_id", |s| CustomerId::parse(s).map_err(|e| e.0));
    let name = field!("name", |s| DisplayName::parse(s).map_err(|e| e.0));
    let email = field!("email", |s| EmailAddress::parse(s).map_err(|e| e.0));
    let locale = field!("locale", |s: &str| {
        let ok = s.len() <= 35
            && s.split(['-', '_'])
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()));
        if ok {
            Ok(s.to_owned())
        } else {
            Err(format!("'{s}' is not a language tag like en or zh-CN"))
        }
    });
    let timezone = field!("timezone", |s: &str| s
        .parse::<Tz>()
        .map_err(|_| format!("'{s}' is not an IANA time zone like Asia/Shanghai")));
    let decimal = |s: &str| -> Result<Amount, String> { s.parse().map_err(|e: InvalidValue| e.0) };
    let date = |s: &str| -> Result<NaiveDate, String> {
        bounds::parse_date(s, bounds::CUSTOMER_YEARS).map_err(|e| e.0)
    };
    let contract_value = field!("contract_value", decimal);
    let currency = field!("currency", |s| Currency::parse(s).map_err(|e| e.0));
    let customer_since = field!("customer_since", date);
    let usage_score = field!("usage_score", |s: &str| match s.parse::<u8>() {
        Ok(v) if v <= 100 => Ok(v),
        _ => Err(format!("'{s}' is not a whole number from 0 to 100")),
    });
    let strategic = field!(
        "strategic",
        |s: &str| match s.to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "1" => Ok(true),
            "false" | "no" | "n" | "0" => Ok(false),
            _ => Err(format!("'{s}' is not true or false")),
        }
    );
    let account_manager = field!("account_manager", |s| EmailAddress::parse(s)
        .map_err(|e| e.0));
    let phone = field!("phone", |s| Phone::parse(s).map_err(|e| e.0));
    let prepaid_from = field!("prepaid_from", date);
    let prepaid_until = field!("prepaid_until", date);
    let prepaid_amount = field!("prepaid_amount", decimal);
    let prepaid = match (prepaid_from, prepaid_until, prepaid_amount) {
        (None, None, None) => None,
        (Some(from), Some(until), Some(amount)) if until > from => Some(Prepaid {
            from,
            until,
            amount,
        }),
        (Some(_), Some(_), Some(_)) => {
            problems.push(("prepaid_until".into(), "must be after prepaid_from".into()));
            None
        }
        _ => {
            let any_bad = problems.iter().any(|(f, _)| f.starts_with("prepaid_"));
            if !any_bad {
                problems.push((
                    "prepaid_amount".into(),
                    "prepaid_from, prepaid_until and prepaid_amount go together".into(),
                ));
            }
            None
        }
    };
    if prepaid.is_some() && currency.is_none() && problems.is_empty() {
        problems.push((
            "currency".into(),
            "is required when the customer has prepaid fees".into(),
        ));
    }
    match (problems.is_empty(), id, name, email) {
        (true, Some(id), Some(name), Some(email)) => Ok(Customer {
            id,
            name,
            email,
            locale,
            timezone,
            contract_value,
            currency,
            customer_since,
            usage_score,
            strategic: strategic.unwrap_or(false),
            account_manager,
            phone,
            prepaid,
        }),
        _ => Err(problems),
    }
}

/// Checks every row, then writes all valid customers in one go; `now` (from
/// the caller's clock) dates the audit entry and says whether the service
/// has ended, when `after_end` decides.
pub async fn import(
    campaign: &Campaign,
    file: ParsedFile,
    customers: &dyn CustomerStore,
    audit: &dyn AuditLog,
    now: DateTime<Utc>,
    after_end: AfterServiceEnd,
) -> Result<ImportReport, ImportError> {
    let ended = now >= campaign.service_ended_at();
    if ended && after_end == AfterServiceEnd::Refuse {
        return Err(ImportError::ServiceEnded(campaign.dates.service_end));
    }
    let ParsedFile {
        rows,
        mut rejections,
        ignored_columns,
    } = file;
    let total = rows.len() + rejections.len();
    let mut first_row: HashMap<CustomerId, usize> = HashMap::with_capacity(rows.len());
    let mut valid: Vec<(usize, Option<u64>, CustomerRecord)> = Vec::with_capacity(rows.len());
    for raw in &rows {
        let id_text = raw
            .fields
            .get("customer_id")
            .map(|s| s.trim())
            .filter(|s| CustomerId::parse(s).is_ok())
            .map(str::to_owned);
        match parse_customer(raw) {
            Ok(customer) => {
                if let Some(first) = first_row.get(&customer.id) {
                    rejections.push(Rejection {
                        row: raw.row,
                        line: raw.line,
                        customer_id: id_text,
                        field: "customer_id".into(),
                        reason: format!(
                            "repeats the customer of row {first}; this row was not imported"
                        ),
                    });
                    continue;
                }
                first_row.insert(customer.id.clone(), raw.row);
                let mut record = CustomerRecord::new(customer, campaign.timezone);
                record.purge_without_notice = ended;
                valid.push((raw.row, raw.line, record));
            }
            Err(problems) => {
                rejections.extend(problems.into_iter().map(|(field, reason)| Rejection {
                    row: raw.row,
                    line: raw.line,
                    customer_id: id_text.clone(),
                    field,
                    reason,
                }))
            }
        }
    }
    let records: Vec<CustomerRecord> = valid.iter().map(|(_, _, r)| r.clone()).collect();
    let existing = customers.insert_customers(&campaign.id, &records).await?;
    let existing: std::collections::HashSet<_> = existing.into_iter().collect();
    for (row, line, r) in &valid {
        if existing.contains(&r.id) {
            rejections.push(Rejection {
                row: *row,
                line: *line,
                customer_id: Some(r.id.to_string()),
                field: "customer_id".into(),
                reason: "is already imported in this campaign; the row was not imported again"
                    .into(),
            });
        }
    }
    rejections.sort_by(|a, b| a.row.cmp(&b.row).then_with(|| a.field.cmp(&b.field)));
    let rejected_rows = {
        let mut r: Vec<usize> = rejections.iter().map(|r| r.row).collect();
        r.dedup();
        r.len()
    };
    let imported = valid.len() - existing.len();
    audit
        .append(AuditEntry {
            at: now,
            campaign: campaign.id.clone(),
            customer: None,
            action: "imported".into(),
            detail: serde_json::json!({
                "rows": total,
                "imported": imported,
                "rejected_rows": rejected_rows,
                "after_service_end": ended.then_some("purge without notice"),
            }),
        })
        .await?;
    tracing::info!(campaign = %campaign.id, rows = total, imported, rejected_rows, "customers imported");
    Ok(ImportReport {
        campaign: campaign.id.to_string(),
        rows: total,
        imported,
        rejected_rows,
        rejections,
        ignored_columns,
        added: valid
            .into_iter()
            .filter(|(_, _, r)| !existing.contains(&r.id))
            .map(|(_, _, r)| r)
            .collect(),
    })
}

/// Counts of each field's problems, for a one-line summary.
pub fn summary(report: &ImportReport) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in &report.rejections {
        *m.entry(r.field.clone()).or_default() += 1;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "customer_id,name,email,locale,timezone,contract_value,currency,customer_since,usage_score,strategic,account_manager,phone,prepaid_from,prepaid_until,prepaid_amount\n";

    #[test]
    fn bom_quotes_and_newlines_are_read() {
        let csv = format!(
            "\u{feff}{HEADER}c1,\"Doe, Jane\",jane@example.com,en,,,,,,,,,,,\nc2,\"Multi\nLine Co\",m@example.com,,,,,,,,,,,,\n"
        );
        let ParsedFile {
            rows,
            rejections,
            ignored_columns,
        } = parse_csv(csv.as_bytes()).unwrap();
        assert!(rejections.is_empty() && ignored_columns.is_empty());
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].fields["name"], "Doe, Jane");
        let c1 = parse_customer(&rows[0]).unwrap();
        assert_eq!(c1.name.as_str(), "Doe, Jane");
        // A name with a line break is refused: it would reach a greeting.
        let problems = parse_customer(&rows[1]).unwrap_err();
        assert_eq!(problems[0].0, "name");
    }

    #[test]
    fn every_bad_field_is_named() {
        let csv = format!(
            "{HEADER}c1,Ann,not-mail,,Mars/Base,-5,EURO,2020-13-01,101,maybe,,,2027-01-01,,\n"
        );
        let rows = parse_csv(csv.as_bytes()).unwrap().rows;
        let problems = parse_customer(&rows[0]).unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|(f, _)| f.as_str()).collect();
        for f in [
            "email",
            "timezone",
            "contract_value",
            "currency",
            "customer_since",
            "usage_score",
            "strategic",
            "prepaid_amount",
        ] {
            assert!(fields.contains(&f), "{f} missing from {fields:?}");
        }
    }

    #[test]
    fn a_missing_required_column_refuses_the_file() {
        let err = parse_csv(b"customer_id,name\nc1,Ann\n").unwrap_err();
        assert!(matches!(err, ImportError::MissingColumn("email")));
    }

    #[test]
    fn a_short_row_is_a_rejection_not_an_error() {
        let csv = format!("{HEADER}c1,Ann\n");
        let file = parse_csv(csv.as_bytes()).unwrap();
        assert!(file.rows.is_empty());
        assert_eq!(file.rejections[0].row, 1);
        assert!(file.rejections[0].reason.contains("fields"));
    }
}
