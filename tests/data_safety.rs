//! The data-safety promises, end to end on the embedded runtime: data goes
//! only to its owner, nobody is deleted unwarned, nothing is silently lost.

use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use http_body_util::BodyExt;
use sunset::app::serve::{SchedulerHealth, spawn_scheduler};
use sunset::domain::CampaignId;
use sunset::http::{AppState, Credential, HealthCheck, router};
use sunset::ports::{Mailer, OutgoingEmail, PortError, SendError};
use tower::ServiceExt;

use sunset::app::runner;
use sunset::app::simulate::{self, SimulateArgs};
use sunset::services::jobs::JobOutcome;
use sunset_e2e::{fixture, launched_fixture, read_outbox};

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
        ses_events: None,
        product_data: None,
        data: dir.join("run"),
    };
    let exports = dir.join("run/blobs/exports/orbit-crm-2027");
    let mut bundles = Vec::new();
    let outcome = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(simulate::simulate(&args, |ran| {
            if let runner::Ran::Done(step) = ran
                && let JobOutcome::ExportReady { request } = &step.outcome
            {
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

/// A mailer that panics for one address and fails (retryably) for
/// another, as a bug or a throttled provider would.
struct FaultyMailer {
    inner: Arc<dyn Mailer>,
    panic_for: Mutex<Option<String>>,
    fail_for: Mutex<Option<String>>,
}

#[async_trait::async_trait]
impl Mailer for FaultyMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<String, SendError> {
        let to = email.to.as_str().to_owned();
        if self.panic_for.lock().unwrap().as_deref() == Some(&to) {
            panic!("the mailer fell over");
        }
        if self.fail_for.lock().unwrap().as_deref() == Some(&to) {
            return Err(PortError::retryable(anyhow::anyhow!("connection reset")).into());
        }
        self.inner.send(email).await
    }
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// A job that panics is given up and one that fails is retried after a
/// back-off — each on its own: the jobs after them still run, the next
/// pass does not retry them first, and the failures show in the report
/// and in `/healthz`. (Before, the first failing job stopped the pass and
/// was retried first on every tick; a panic killed `serve`'s scheduler
/// while `/healthz` answered 200.)
#[tokio::test]
async fn a_failing_or_panicking_job_is_held_back_alone_and_shows() {
    let dir = tempfile::tempdir().unwrap();
    let (mut emb, clock) = launched_fixture(dir.path(), at("2027-01-20T00:00:00Z")).await;
    let mailer = Arc::new(FaultyMailer {
        inner: emb.deps.mailer.clone(),
        panic_for: Mutex::new(Some("xiaoming@wang.example".into())),
        fail_for: Mutex::new(Some("jane@doe.example".into())),
    });
    emb.deps.mailer = mailer.clone();
    let emb = Arc::new(emb);
    let campaign = emb
        .deps
        .campaigns
        .campaign(&CampaignId::parse("orbit-crm-2027").unwrap())
        .await
        .unwrap()
        .unwrap();
    // The core customers (c02 among them) were called 1:1: no
    // announcement is held.
    for task in emb.deps.outreach.tasks(&campaign.id).await.unwrap() {
        sunset::services::outreach::update(
            &emb.deps,
            &campaign,
            &task.customer,
            &sunset::domain::outreach::OutreachChange {
                state: Some(sunset::domain::outreach::OutreachState::Done),
                ..Default::default()
            },
            "account team",
            at("2027-01-25T00:00:00Z"),
        )
        .await
        .unwrap();
    }
    // The announcement is due in Shanghai (c02), New York (c03), Berlin
    // and London; it is still 1 February in all four.
    let now = at("2027-02-01T15:30:00Z");
    clock.advance_to(now);
    let tick = runner::run_due(&emb, now).await.unwrap();
    let failed = |tick: &runner::Tick, zone: &str| {
        tick.failed
            .iter()
            .find(|f| f.failure.job.ends_with(&format!("announcement.{zone}")))
            .map(|f| f.failure.clone())
    };
    let shanghai = failed(&tick, "Asia_Shanghai").expect("the Shanghai wave failed");
    assert_eq!(shanghai.next_attempt, None, "a panic is given up");
    assert!(
        shanghai.last_error.contains("panicked"),
        "{}",
        shanghai.last_error
    );
    let new_york = failed(&tick, "America_New_York").expect("the New York wave failed");
    assert_eq!(
        new_york.next_attempt,
        Some(now + chrono::Duration::minutes(1))
    );
    let done: Vec<&str> = tick.steps.iter().map(|s| s.job.as_str()).collect();
    for zone in ["Europe_Berlin", "Europe_London"] {
        assert!(
            done.iter()
                .any(|j| j.ends_with(&format!("announcement.{zone}"))),
            "the {zone} wave ran after the failures: {done:?}"
        );
    }
    assert!(
        read_outbox(dir.path())
            .iter()
            .any(|m| m.to == "ada@lovelace.example")
    );

    // The next pass at the same instant retries nothing: the failing job
    // waits for its back-off.
    let again = runner::run_due(&emb, now).await.unwrap();
    assert!(again.steps.is_empty() && again.failed.is_empty());

    // The report lists both; /healthz says the service is degraded.
    let report = sunset::services::report::report(&emb.deps, &campaign, now)
        .await
        .unwrap();
    assert_eq!(report.failing_jobs.len(), 2, "{:?}", report.failing_jobs);
    let health = Arc::new(SchedulerHealth::new(emb.store.clone()));
    let scheduler = spawn_scheduler(
        emb.clone(),
        health.clone(),
        std::time::Duration::from_secs(3600),
    );
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let mut state = AppState::new(emb.deps.clone(), Credential::Token("t".repeat(20)));
    state.health = health.clone();
    let res = router(state.clone())
        .oneshot(
            axum::http::Request::get("/healthz")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), axum::http::StatusCode::SERVICE_UNAVAILABLE);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let health_json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(health_json["status"], "degraded");
    assert!(
        health_json["problems"][0]
            .as_str()
            .unwrap()
            .contains("2 scheduled jobs are failing (1 given up)"),
        "{health_json}"
    );
    assert!(
        !String::from_utf8_lossy(&body).contains("Shanghai"),
        "no job names in public"
    );
    // A scheduler that stopped is a problem of its own.
    scheduler.abort();
    let _ = scheduler.await;
    assert!(
        health
            .health()
            .problems
            .iter()
            .any(|p| p.contains("not running")),
        "{:?}",
        health.health()
    );

    // The provider recovers: the retry sends New York's announcement.
    *mailer.fail_for.lock().unwrap() = None;
    *mailer.panic_for.lock().unwrap() = None;
    let later = now + chrono::Duration::seconds(61);
    clock.advance_to(later);
    let retried = runner::run_due(&emb, later).await.unwrap();
    assert!(retried.failed.is_empty(), "{:?}", retried.failed);
    assert!(
        retried
            .steps
            .iter()
            .any(|s| s.job.ends_with("announcement.America_New_York"))
    );
    assert!(
        read_outbox(dir.path())
            .iter()
            .any(|m| m.to == "jane@doe.example")
    );
    // The given-up job waits for the operator: planning again revives it.
    assert!(runner::run_due(&emb, later).await.unwrap().steps.is_empty());
    sunset::services::plan::replan(
        &emb.deps,
        sunset::services::plan::PlanFor {
            campaign: &campaign,
            before: None,
            notices: true,
            revive: true,
            now: later,
        },
    )
    .await
    .unwrap();
    let revived = runner::run_due(&emb, later).await.unwrap();
    assert!(
        revived
            .steps
            .iter()
            .any(|s| s.job.ends_with("announcement.Asia_Shanghai"))
    );
    assert!(emb.store.job_failures().unwrap().is_empty());
}

/// A customers file that cannot be read stops `simulate` before it writes
/// anything; a run refused later (here by the preflight: no customer could
/// be imported) leaves a note saying how far it got.
#[test]
fn simulate_fails_before_writing_or_says_what_it_did() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture("small");
    let unreadable = dir.path().join("unreadable.csv");
    std::fs::write(&unreadable, "customer_id,name\nc1,Ann\n").unwrap();
    let run = |customers: &Path, data: &Path| {
        let args = SimulateArgs {
            campaign: f.join("campaign.toml"),
            customers: customers.to_owned(),
            events: None,
            ses_events: None,
            product_data: None,
            data: data.to_owned(),
        };
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(simulate::simulate(&args, |_| {}))
    };
    let data = dir.path().join("run-1");
    let err = run(&unreadable, &data).err().expect("refused");
    assert!(format!("{err:#}").contains("email"), "{err:#}");
    assert!(!data.exists(), "nothing written");

    let nobody = dir.path().join("nobody.csv");
    std::fs::write(&nobody, "customer_id,name,email\nc1,Ann,not-an-address\n").unwrap();
    let data = dir.path().join("run-2");
    let err = run(&nobody, &data).err().expect("refused by the preflight");
    let text = format!("{err:#}");
    assert!(
        text.contains("launching the campaign") && text.contains("incomplete-run.json"),
        "{text}"
    );
    let note: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("incomplete-run.json")).unwrap()).unwrap();
    assert_eq!(note["progress"]["stage"], "launching the campaign");
    assert!(
        note["error"].as_str().unwrap().contains("no customers"),
        "{note}"
    );
    assert!(data.join("import-report.json").exists());
}
