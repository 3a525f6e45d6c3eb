//! The operator's API at scale: an import of the demo's generated
//! customers through `POST /v1/campaigns/{id}/customers` (bodies of at
//! most 8 MiB, under API Gateway's 10 MB), then every pending customer
//! listed page by page through `GET …/customers?status=pending`. On the
//! embedded store or on DynamoDB (the emulator); DynamoDB requests counted
//! on the wire by `capacity_meter.rs`. A benchmark, not a test: it prints
//! rows for BENCHMARKS.md.
//!
//! Usage: operator_api <embedded|dynamo|dynamo-unmetered> [CUSTOMERS, default 100000] [import-only]
//! (`dynamo` counts requests on the wire; `dynamo-unmetered` leaves the
//! meter out, whose shadow of the table would count in the peak RSS)
//! (`bash tests/bench/operator_api.sh` runs both, starting the emulator).

#[allow(dead_code)]
#[path = "capacity_meter.rs"]
mod capacity_meter;

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use sunset::domain::event::{CustomerEvent, CustomerEventKind};
use sunset::http::{AppState, Credential, router};
use tower::ServiceExt;

const TOKEN: &str = "bench-admin-token-0123456789";
/// API Gateway takes at most 10 MB a request.
const BODY: usize = 8 << 20;
/// Customers who migrated before the listing (not counted): the listing
/// reads past them. `MIGRATED_EVERY=0` migrates none (on the emulator at
/// 100,000, whose transactions copy the whole table, the status changes
/// cannot be set up; the listing itself can be measured).
fn migrated_every() -> usize {
    std::env::var("MIGRATED_EVERY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Starts the peak (`VmHWM`) again from what is resident now, so the
/// import's peak is not the generator's (Linux ≥ 4.0).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    body: Vec<u8>,
    csv: bool,
) -> anyhow::Result<serde_json::Value> {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {TOKEN}"));
    if csv {
        req = req.header("content-type", "text/csv");
    } else if !body.is_empty() {
        req = req.header("content-type", "application/json");
    }
    let res = app.clone().oneshot(req.body(Body::from(body))?).await?;
    let status = res.status();
    let bytes = res.into_body().collect().await?.to_bytes();
    anyhow::ensure!(
        status.is_success(),
        "{method} {uri}: {status} {}",
        String::from_utf8_lossy(&bytes)
    );
    Ok(serde_json::from_slice(&bytes).unwrap_or_default())
}

/// The CSV in bodies of at most `BODY` bytes, each with the header.
fn bodies(csv: &[u8]) -> Vec<Vec<u8>> {
    let text = std::str::from_utf8(csv).expect("the demo writes UTF-8");
    let (header, rows) = text.split_once('\n').expect("a header");
    let mut out = Vec::new();
    let mut body = String::new();
    for line in rows.lines() {
        if body.is_empty() {
            body.push_str(header);
            body.push('\n');
        }
        body.push_str(line);
        body.push('\n');
        if body.len() > BODY - 1024 {
            out.push(std::mem::take(&mut body).into_bytes());
        }
    }
    if !body.is_empty() {
        out.push(body.into_bytes());
    }
    out
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let runtime = args
        .get(1)
        .context("usage: operator_api <embedded|dynamo> [CUSTOMERS]")?
        .clone();
    let n: usize = match args.get(2) {
        Some(a) => a.parse().context("CUSTOMERS must be a number")?,
        None => 100_000,
    };
    let dir = tempfile::tempdir()?;
    let inputs = sunset::app::demo::generate(&dir.path().join("input"), n, 7)?;
    let campaign = inputs.campaign;
    let now = sunset::domain::milestone::local_instant(
        campaign.brief_date() - chrono::Days::new(1),
        chrono::NaiveTime::MIN,
        campaign.timezone,
    );
    let clock = Arc::new(sunset::clock::SimulatedClock::new(now));
    let mut meter = None;
    let deps = match runtime.as_str() {
        "embedded" => {
            sunset::adapters::embedded::Embedded::open(&dir.path().join("data"), clock)?.deps
        }
        // Unmetered: the meter keeps a shadow of the table, which would
        // count in the peak.
        "dynamo" | "dynamo-unmetered" => {
            anyhow::ensure!(
                std::env::var_os("AWS_ENDPOINT_URL").is_some(),
                "AWS_ENDPOINT_URL is not set: run tests/bench/operator_api.sh, which starts the emulator"
            );
            let config = sunset::adapters::aws::sdk_config().await;
            let settings = sunset_e2e::aws_settings(&config).await;
            let plain = aws_sdk_dynamodb::Client::new(&config);
            let m = capacity_meter::Meter::new(
                "pk",
                "sk",
                capacity_meter::indexes(&plain, &settings.table).await?,
            );
            let observer = (runtime == "dynamo").then(|| {
                meter = Some(m.clone());
                aws_sdk_dynamodb::config::SharedInterceptor::new(m)
            });
            settings.deps_observed(&config, observer, clock)
        }
        other => anyhow::bail!("no runtime {other}: embedded, dynamo or dynamo-unmetered"),
    };
    let app = router(AppState::new(deps.clone(), Credential::Token(TOKEN.into())));
    call(
        &app,
        "POST",
        "/v1/campaigns",
        serde_json::to_vec(&campaign)?,
        false,
    )
    .await?;
    let bodies = bodies(&inputs.customers);
    drop(inputs.customers);
    if let Some(m) = &meter {
        m.take();
    }

    // The import, as an operator's script would send it.
    reset_peak();
    let rss_before = status_kib("VmRSS:");
    let started = Instant::now();
    let mut imported = 0u64;
    let uri = format!("/v1/campaigns/{}/customers", campaign.id);
    let count = bodies.len();
    for body in bodies {
        let report = call(&app, "POST", &uri, body, true).await?;
        imported += report["imported"].as_u64().context("an import report")?;
    }
    let secs = started.elapsed().as_secs_f64();
    let rss_after = status_kib("VmHWM:");
    let requests = meter.as_ref().map(|m| m.take().total_requests());
    println!(
        "| import, {runtime} | {n} | {count} | {secs:.1} s | {:.0} | {:.0} MiB | {:.0} MiB | {} |",
        imported as f64 / secs,
        rss_before as f64 / 1024.0,
        rss_after as f64 / 1024.0,
        requests.map_or("—".into(), |r| format!(
            "{:.4}",
            r as f64 / imported as f64
        )),
    );
    anyhow::ensure!(imported as usize == n, "imported {imported} of {n}");
    if args.get(3).is_some_and(|a| a == "import-only") {
        return Ok(());
    }

    // Every tenth customer migrates (not counted): the listing reads past them.
    let every = migrated_every();
    let migrated: Vec<CustomerEvent> = (0..if every == 0 { 0 } else { n })
        .step_by(every.max(1))
        .map(|i| CustomerEvent {
            at: now,
            customer: sunset::domain::CustomerId::parse(&format!("C{:06}", i + 1)).expect("an id"),
            kind: CustomerEventKind::Migrated,
        })
        .collect();
    for chunk in migrated.chunks(500) {
        let failed = sunset::services::events::apply_all(&deps, &campaign, chunk).await?;
        anyhow::ensure!(failed.is_empty(), "events refused: {failed:?}");
    }
    if let Some(m) = &meter {
        m.take();
    }

    // Every pending customer, page by page, as the account team would.
    let started = Instant::now();
    let (mut listed, mut read, mut pages) = (0u64, 0u64, 0u64);
    let mut cursor: Option<String> = None;
    loop {
        let uri = match &cursor {
            Some(c) => format!(
                "/v1/campaigns/{}/customers?status=pending&limit=1000&cursor={c}",
                campaign.id
            ),
            None => format!(
                "/v1/campaigns/{}/customers?status=pending&limit=1000",
                campaign.id
            ),
        };
        let page = call(&app, "GET", &uri, Vec::new(), false).await?;
        pages += 1;
        listed += page["customers"].as_array().map_or(0, |c| c.len() as u64);
        read += page["read"].as_u64().unwrap_or(0);
        match page["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let tally = meter.as_ref().map(|m| m.take());
    let expected = n - migrated.len();
    anyhow::ensure!(
        listed as usize == expected,
        "listed {listed} of {expected} pending"
    );
    println!(
        "| pending listing, {runtime} | {n} | {listed} in {pages} pages | {secs:.1} s | {:.3} items read per customer listed (store) | {} |",
        read as f64 / listed as f64,
        tally.map_or("—".into(), |t| format!(
            "{:.3} items read, {:.4} requests per customer listed (wire)",
            t.items_read as f64 / listed as f64,
            t.total_requests() as f64 / listed as f64
        )),
    );
    Ok(())
}
