//! The data-safety promises, end to end on the embedded runtime: data goes
//! only to its owner, nobody is deleted unwarned, nothing is silently lost.

use std::io::Read;
use std::path::Path;

use sunset::app::simulate::{self, SimulateArgs};
use sunset::services::jobs::JobOutcome;
use sunset_e2e::{fixture, read_outbox};

/// The customer id inside an export bundle.
fn bundle_owner(path: &Path) -> String {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut json = String::new();
    zip.by_name("sunset/customer.json")
        .unwrap()
        .read_to_string(&mut json)
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["customer"]["id"].as_str().unwrap().to_owned()
}

/// Runs the small fixture with these events; returns the outcome and, for
/// each bundle built, the customer directory it was written under and the
/// customer whose data it holds (read while it lived: the purge deletes it).
fn simulate_with_events(dir: &Path, events: &str) -> (simulate::Outcome, Vec<(String, String)>) {
    let f = fixture("small");
    let events_file = dir.join("events.csv");
    std::fs::write(&events_file, events).unwrap();
    let args = SimulateArgs {
        campaign: f.join("campaign.toml"),
        customers: f.join("customers.csv"),
        events: Some(events_file),
        product_data: None,
        data: dir.join("run"),
    };
    let exports = dir.join("run/blobs/exports/orbit-crm-2027");
    let mut bundles = Vec::new();
    let outcome = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(simulate::simulate(&args, |step| {
            if let JobOutcome::ExportReady { request } = &step.outcome {
                for customer in std::fs::read_dir(&exports).unwrap() {
                    let customer = customer.unwrap().path();
                    let zip = customer.join(format!("{request}.zip"));
                    if zip.exists() {
                        let dir_name = customer.file_name().unwrap().to_string_lossy().into_owned();
                        bundles.push((dir_name, bundle_owner(&zip)));
                    }
                }
            }
        }))
        .expect("simulate runs");
    (outcome, bundles)
}

/// Every customer asks for their data in the same second: each gets one
/// bundle of their own and one mail about it (ids from the time alone lost
/// 23 of 97 such requests and crossed bundles between customers).
#[test]
fn export_requests_in_the_same_instant_each_reach_their_own_customer() {
    let dir = tempfile::tempdir().unwrap();
    let ids = ["c01", "c02", "c03", "c04", "c05", "c08", "c09", "c10"];
    let events: String = std::iter::once("at,customer_id,event,detail\n".to_owned())
        .chain(
            ids.iter()
                .map(|id| format!("2027-03-01T12:00:00Z,{id},export_requested,\n")),
        )
        .collect();
    let (outcome, bundles) = simulate_with_events(dir.path(), &events);
    assert!(
        outcome.event_problems.is_empty(),
        "{:?}",
        outcome.event_problems
    );
    let data = dir.path().join("run");
    let mut owners: Vec<&str> = bundles.iter().map(|(_, owner)| owner.as_str()).collect();
    owners.sort();
    assert_eq!(owners, ids, "one bundle per customer");
    for (dir_name, owner) in &bundles {
        assert_eq!(dir_name, owner, "a bundle holds only its customer's data");
    }
    let outbox = read_outbox(&data);
    let ready: Vec<_> = outbox
        .iter()
        .filter(|m| m.milestone == "export-ready")
        .collect();
    assert_eq!(ready.len(), ids.len(), "one export-ready mail per request");
    let mut recipients: Vec<_> = ready.iter().map(|m| m.to.clone()).collect();
    recipients.sort();
    recipients.dedup();
    assert_eq!(recipients.len(), ids.len(), "each customer mailed once");
    for m in &ready {
        let link = m
            .text
            .split_whitespace()
            .find(|w| w.contains("/export/download?"))
            .expect("a download link");
        let owner = link.split('/').nth_back(2).unwrap().to_owned();
        let owner_mail = outbox
            .iter()
            .find(|o| {
                o.milestone == "announcement" && o.text.contains(&format!("/{owner}/export?"))
            })
            .map(|o| o.to.clone());
        assert_eq!(
            owner_mail.as_deref(),
            Some(m.to.as_str()),
            "the link is the recipient's own"
        );
    }
    assert_eq!(outcome.report.exports.ready, ids.len() as u64);
}

/// Every instant a value holds, if it is one: an RFC 3339 timestamp, or
/// (for the scheduler's `due`) seconds since the epoch in a plausible range.
fn instants_in(value: &rusqlite::types::Value) -> Option<chrono::DateTime<chrono::Utc>> {
    match value {
        rusqlite::types::Value::Text(s) => chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&chrono::Utc)),
        _ => None,
    }
}

/// Walks a JSON value for every string that is an RFC 3339 instant.
fn json_instants(
    v: &serde_json::Value,
    out: &mut Vec<(String, chrono::DateTime<chrono::Utc>)>,
    path: &str,
) {
    match v {
        serde_json::Value::String(s) => {
            if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
                out.push((path.to_owned(), t.with_timezone(&chrono::Utc)));
            }
        }
        serde_json::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                json_instants(x, out, &format!("{path}[{i}]"));
            }
        }
        serde_json::Value::Object(o) => {
            for (k, x) in o {
                json_instants(x, out, &format!("{path}.{k}"));
            }
        }
        _ => {}
    }
}

/// A simulated 2027 run writes 2027 times everywhere: every instant in the
/// store (every column of every table, and inside stored JSON), the audit
/// trail and the outbox lies within the simulated period. (Import,
/// segmentation and late imports read the wall clock before.)
#[test]
fn every_time_a_simulated_run_records_lies_in_the_simulated_period() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture("small");
    let (outcome, _) = simulate_with_events(
        dir.path(),
        &std::fs::read_to_string(f.join("events.csv")).unwrap(),
    );
    let c = &outcome.campaign;
    let start = sunset::domain::milestone::local_instant(
        c.brief_date() - chrono::Days::new(1),
        chrono::NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
        c.timezone,
    );
    let end = outcome.steps.last().expect("the run did something").at;
    let mut found: Vec<(String, chrono::DateTime<chrono::Utc>)> = Vec::new();
    let db = rusqlite::Connection::open(dir.path().join("run/sunset.db")).unwrap();
    let tables: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for table in tables {
        let mut stmt = db.prepare(&format!("SELECT * FROM {table}")).unwrap();
        let columns: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for (i, col) in columns.iter().enumerate() {
                let v: rusqlite::types::Value = row.get(i).unwrap();
                let at = format!("{table}.{col}");
                if let Some(t) = instants_in(&v) {
                    found.push((at.clone(), t));
                }
                if let rusqlite::types::Value::Text(s) = &v
                    && let Ok(json) = serde_json::from_str::<serde_json::Value>(s)
                {
                    json_instants(&json, &mut found, &at);
                }
            }
        }
    }
    let stored = found.len();
    assert!(stored > 100, "the store holds times: {stored}");
    let audit: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("run/audit-trail.json")).unwrap())
            .unwrap();
    json_instants(&audit, &mut found, "audit-trail.json");
    assert!(found.len() > stored, "the audit trail holds times");
    for m in read_outbox(&dir.path().join("run")) {
        found.push((format!("outbox {}", m.milestone), m.date));
    }
    let outside: Vec<_> = found
        .iter()
        .filter(|(_, t)| *t < start || *t > end)
        .collect();
    assert!(
        outside.is_empty(),
        "times outside {start} .. {end}: {:?}",
        &outside[..outside.len().min(10)]
    );
}
