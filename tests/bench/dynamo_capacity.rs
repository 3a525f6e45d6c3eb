//! DynamoDB requests and capacity per customer: an import, segmentation,
//! a later import into the same campaign, and reminder waves with the share
//! of customers still pending varied. A benchmark, not a test: it prints
//! figures for BENCHMARKS.md.
//!
//! Run with `bash tests/bench/dynamo.sh [CUSTOMERS]`, which starts the
//! emulator; capacity comes from `capacity_meter.rs` (DynamoDB's rules
//! applied to the requests on the wire), not from the emulator.

// Shared by two benchmarks, each using part of it.
#[allow(dead_code)]
#[path = "capacity_meter.rs"]
mod capacity_meter;

use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use capacity_meter::{Meter, Tally};
use futures::{StreamExt, TryStreamExt};
use sunset::adapters::aws::DynamoStore;
use sunset::adapters::aws::customers::customer_pk;
use sunset::domain::link::LinkSigner;
use sunset::domain::milestone::{local_instant, milestone_date};
use sunset::domain::{CustomerRecord, MigrationStatus, Milestone};
use sunset::ports::{CampaignStore, CustomerStore, Mailer, OutgoingEmail, SendError};
use sunset::services::dispatch::{self, Wave};
use sunset::services::{import, jobs, segment};

fn s(v: impl Into<String>) -> aws_sdk_dynamodb::types::AttributeValue {
    aws_sdk_dynamodb::types::AttributeValue::S(v.into())
}

/// Sends nothing: the benchmark measures DynamoDB, not SES.
struct Discard;

#[async_trait]
impl Mailer for Discard {
    async fn send(&self, email: &OutgoingEmail) -> Result<String, SendError> {
        Ok(email.message_id.clone())
    }
}

fn row(what: &str, per: &str, n: u64, t: &Tally) {
    let n = n.max(1) as f64;
    let requests = t.total_requests() as f64;
    println!(
        "| {what} | {n} {per} | {} | {:.4} (1/{:.1}) | {:.3} | {:.3} | {:.3} |",
        t.total_requests(),
        requests / n,
        n / requests.max(1.0),
        t.write_units / n,
        t.read_units / n,
        t.items_read as f64 / n,
    );
    eprintln!("    {what}: {:?}", t.requests);
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = match std::env::args().nth(1) {
        Some(a) => a.parse().context("CUSTOMERS must be a number")?,
        None => 10_000,
    };
    anyhow::ensure!(
        std::env::var_os("AWS_ENDPOINT_URL").is_some(),
        "AWS_ENDPOINT_URL is not set: run tests/bench/dynamo.sh, which starts the emulator"
    );
    let config = sunset::adapters::aws::sdk_config().await;
    let plain = aws_sdk_dynamodb::Client::new(&config);
    let table = format!("sunset-bench-{}", std::process::id());
    DynamoStore::create_table(&plain, &table).await?;
    let meter = Meter::new("pk", "sk", capacity_meter::indexes(&plain, &table).await?);
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&config)
            .interceptor(meter.clone())
            .build(),
    );
    let store = Arc::new(DynamoStore::new(client.clone(), table.clone()));

    let dir = tempfile::tempdir()?;
    let inputs = sunset::app::demo::generate(dir.path(), n, 7)?;
    let campaign = inputs.campaign;
    store.put_campaign(&campaign).await?;
    // The work happens before the brief, as a real campaign's would.
    let start = sunset::domain::milestone::local_instant(
        campaign.brief_date() - chrono::Days::new(1),
        chrono::NaiveTime::MIN,
        campaign.timezone,
    );
    meter.take();

    println!("DynamoDB cost of sunset's work, {n} customers (the demo's generated data)\n");
    println!("| work | per | requests | requests each | WRU each | RRU each | items read each |");
    println!("|---|---|---|---|---|---|---|");

    let file = import::parse_csv(&inputs.customers)?;
    let imported = import::import(
        &campaign,
        file,
        store.as_ref(),
        store.as_ref(),
        start,
        import::ImportOptions::default(),
    )
    .await?;
    row(
        "import",
        "customers",
        imported.imported as u64,
        &meter.take(),
    );
    let mut sizes = meter.sizes(&format!("CUSTS#{}#", campaign.id));
    sizes.sort_unstable();

    let tiers = segment::segment(&campaign, store.as_ref(), store.as_ref(), start).await?;
    row(
        "segmentation (adds the wave-index keys)",
        "customers",
        tiers.core + tiers.standard + tiers.low,
        &meter.take(),
    );

    // A later import of 1% more into the same campaign: the known-id check
    // now reads the campaign's keys.
    let text = String::from_utf8(inputs.customers.clone())?;
    let mut lines = text.lines();
    let mut late = format!("{}\n", lines.next().context("header")?);
    for line in lines.take((n / 100).max(1)) {
        late.push_str(&line.replacen('C', "L", 1));
        late.push('\n');
    }
    let file = import::parse_csv(late.as_bytes())?;
    let again = import::import(
        &campaign,
        file,
        store.as_ref(),
        store.as_ref(),
        start,
        import::ImportOptions::default(),
    )
    .await?;
    row(
        "later import into the same campaign (1 %)",
        "customers",
        again.imported as u64,
        &meter.take(),
    );

    // The waves: Shanghai, the largest zone, one reminder per pending share.
    let zone = chrono_tz::Asia::Shanghai;
    let mut in_zone: Vec<CustomerRecord> = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .customers_page(&campaign.id, after.as_ref(), 1000)
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        in_zone.extend(
            page.into_iter()
                .filter(|r| r.zone == zone && r.tier.is_some()),
        );
    }
    // The waves' own ports on DynamoDB; their continuations go to an
    // embedded scheduler (Scheduler is not what is measured), their mail
    // nowhere.
    let jobs_dir = tempfile::tempdir()?;
    let mut deps = sunset::adapters::embedded::Embedded::open(
        jobs_dir.path(),
        Arc::new(sunset::clock::SystemClock),
    )?
    .deps;
    deps.campaigns = store.clone();
    deps.customers = store.clone();
    deps.ledger = store.clone();
    deps.mailer = Arc::new(Discard);
    deps.signer = LinkSigner::new(vec![7; 32]);
    let offsets = campaign.reminder_offsets();
    let mut pending = in_zone.len();
    println!();
    println!(
        "Reminder waves in {} ({} customers in the zone, {} in the campaign):\n",
        zone.name(),
        in_zone.len(),
        imported.imported + again.imported
    );
    println!(
        "| pending share | pending | sent | requests | requests per message | WRU per message | RRU per pending | items read per pending |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (share, offset) in [1.0, 0.5, 0.1].into_iter().zip(offsets) {
        let keep = (in_zone.len() as f64 * share).round() as usize;
        // Setup, not measured: these customers migrate. The emulator copies
        // every table for each transaction, so instead of the event log's
        // transactions the bench writes the state change alone, as
        // `record_events` does for a migration.
        let updates = in_zone[keep..pending].iter().map(|r| {
            client
                .update_item()
                .table_name(&table)
                .key("pk", s(customer_pk(&campaign.id, &r.id)))
                .key("sk", s(r.id.to_string()))
                .update_expression("SET #st = :m REMOVE gsi3pk, gsi3sk")
                .expression_attribute_names("#st", "status")
                .expression_attribute_values(":m", s(MigrationStatus::Migrated.as_str()))
                .send()
        });
        futures::stream::iter(updates)
            .buffer_unordered(32)
            .try_collect::<Vec<_>>()
            .await?;
        pending = keep;
        meter.take();

        let milestone = Milestone::Reminder(offset);
        let day = milestone_date(&campaign, milestone).context("a reminder has a date")?;
        let wave = Wave {
            milestone,
            zone,
            now: local_instant(day, campaign.send_time(), zone),
            resume: None,
        };
        let report =
            dispatch::notice_wave(&deps, &campaign, wave, &jobs::Budget::unlimited()).await?;
        let t = meter.take();
        anyhow::ensure!(
            report.sent as usize == pending,
            "sent {} of {pending}",
            report.sent
        );
        let msgs = report.sent.max(1) as f64;
        let pend = pending.max(1) as f64;
        println!(
            "| {share} | {pending} | {} | {} | {:.3} | {:.3} | {:.4} | {:.4} |",
            report.sent,
            t.total_requests(),
            t.total_requests() as f64 / msgs,
            t.write_units / msgs,
            t.read_units / pend,
            t.items_read as f64 / pend,
        );
        eprintln!("    wave {share}: {:?}", t.requests);
    }
    println!();
    let over = sizes.iter().filter(|&&s| s > 1024).count();
    println!(
        "Customer items as imported: median {} B, largest {} B, {over} of {} over 1 KB.",
        sizes.get(sizes.len() / 2).copied().unwrap_or(0),
        sizes.last().copied().unwrap_or(0),
        sizes.len()
    );
    Ok(())
}
