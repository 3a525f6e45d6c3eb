//! Peak memory of one import of a CSV of a given size, on the embedded
//! store (SQLite) or on DynamoDB (the emulator): the body, parsed and
//! stored, in one process so its peak is the import's. A benchmark, not a
//! test: `bash tests/bench/import.sh` runs it at 1, 8 and 32 MiB.
//!
//! Usage: import_memory <embedded|dynamo> <MiB>

use std::time::Instant;

use anyhow::Context;
use sunset::services::import;

/// A row with the three required columns only (about 45 bytes: the
/// shape of the 526,077-row file the issue measured).
fn short_row(n: usize) -> String {
    format!("c{n:08},Customer {n},customer{n}@example.com\n")
}

/// A realistic row (the demo's columns, a long-ish name, a prepaid triple),
/// about 175 bytes.
fn row(n: usize) -> String {
    format!(
        "c{n:08},\"Customer {n} Trading, Ltd\",customer{n}@example.com,en,Europe/Berlin,{},EUR,2019-05-01,{},false,am{:02}@orbit.example,+49 30 {n:07},2027-01-01,2028-01-01,{}.00\n",
        1000 + n % 90_000,
        n % 101,
        n % 12,
        100 + n % 5000
    )
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let runtime = args
        .get(1)
        .context("usage: import_memory <embedded|dynamo> <MiB>")?;
    let mib: usize = args
        .get(2)
        .context("usage: import_memory <embedded|dynamo> <MiB>")?
        .parse()?;
    let short = args.get(3).is_some_and(|a| a == "short");
    // Exactly the body's size, as the HTTP route holds it.
    let mut body = String::with_capacity((mib << 20) + 256);
    body.push_str(&if short {
        "customer_id,name,email".to_owned()
    } else {
        import::COLUMNS.join(",")
    });
    body.push('\n');
    let mut n = 0;
    while body.len() < mib << 20 {
        let line = if short { short_row(n) } else { row(n) };
        if body.len() + line.len() > body.capacity() {
            break;
        }
        body.push_str(&line);
        n += 1;
    }
    let campaign = sunset::domain::Campaign::from_toml(sunset::app::demo::CAMPAIGN)?;
    let now = sunset::domain::milestone::local_instant(
        campaign.brief_date() - chrono::Days::new(1),
        chrono::NaiveTime::MIN,
        campaign.timezone,
    );
    let dir = tempfile::tempdir()?;
    let deps = match runtime.as_str() {
        "embedded" => {
            let clock = std::sync::Arc::new(sunset::clock::SimulatedClock::new(now));
            sunset::adapters::embedded::Embedded::open(dir.path(), clock)?.deps
        }
        "dynamo" => {
            let config = sunset::adapters::aws::sdk_config().await;
            let settings = sunset_e2e::aws_settings(&config).await;
            settings.deps_observed(
                &config,
                None,
                std::sync::Arc::new(sunset::clock::SimulatedClock::new(now)),
            )
        }
        other => anyhow::bail!("no runtime {other}: embedded or dynamo"),
    };
    deps.campaigns.put_campaign(&campaign).await?;
    let before = peak_rss_kib();
    let started = Instant::now();
    let file = import::parse_csv(body.as_bytes())?;
    let report = import::import(
        &campaign,
        file,
        deps.customers.as_ref(),
        deps.audit.as_ref(),
        now,
        import::ImportOptions::default(),
    )
    .await?;
    let secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(report.imported == n, "imported {} of {n}", report.imported);
    println!(
        "| {runtime}{} | {mib} MiB | {n} | {secs:.1} s | {:.0} rows/s | {:.0} MiB | {:.0} MiB |",
        if short { ", 3 columns" } else { "" },
        n as f64 / secs,
        before as f64 / 1024.0,
        peak_rss_kib() as f64 / 1024.0
    );
    Ok(())
}
