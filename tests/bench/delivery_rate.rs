//! Benchmark (not a test): delivery at a configured rate on the emulator.
//!
//! CUSTOMERS pending customers in two zones (Berlin, Shanghai) whose
//! announcement waves run at the same time, with export-ready mails
//! coming in between, all paced to RATE messages a second through the
//! shared DynamoDB timeline. SES is the emulator's, behind the fault layer
//! of `support/faults.rs`, which here only records when each message left
//! and throttles, as SES would, any send past RATE in a trailing second.
//! Reported: the achieved rate over the whole run, the busiest 1-second
//! window, throttles, duplicates, missed messages, and DynamoDB write
//! units per message (from `capacity_meter.rs`), then with one delivery
//! event per message recorded as well.
//!
//! Usage: tests/bench/delivery.sh [CUSTOMERS, default 10000] [RATE, default 100] [metered|unmetered]

// Shared by two benchmarks, each using part of it.
#[allow(dead_code)]
#[path = "capacity_meter.rs"]
mod capacity_meter;

use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use capacity_meter::Meter;
use futures::StreamExt;
use sunset::domain::delivery_event::{DeliveryEvent, DeliveryOutcome};
use sunset::domain::event::{CustomerEvent, CustomerEventKind};
use sunset::domain::{CustomerId, Job, Milestone};
use sunset::services::jobs::{self, Budget, JobOutcome};
use sunset_e2e::delivery::{Rig, notice};

/// The most sends in any window of one second: two pointers over the
/// sorted send times.
fn busiest_second(times: &[SystemTime]) -> usize {
    let mut best = 0;
    let mut start = 0;
    for (end, t) in times.iter().enumerate() {
        while t
            .duration_since(times[start])
            .is_ok_and(|d| d >= Duration::from_secs(1))
        {
            start += 1;
        }
        best = best.max(end + 1 - start);
    }
    best
}

/// Sends in each whole second counted from the first send (the last,
/// partial second left out).
fn seconds(times: &[SystemTime]) -> Vec<usize> {
    let Some(first) = times.first() else {
        return Vec::new();
    };
    let mut counts = Vec::new();
    for t in times {
        let s = t.duration_since(*first).unwrap_or_default().as_secs() as usize;
        if counts.len() <= s {
            counts.resize(s + 1, 0);
        }
        counts[s] += 1;
    }
    counts.pop();
    counts
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(Ok(10_000), |a| a.parse())?;
    let rate: usize = args.next().map_or(Ok(100), |a| a.parse())?;
    anyhow::ensure!(
        std::env::var_os("AWS_ENDPOINT_URL").is_some(),
        "AWS_ENDPOINT_URL is not set: run tests/bench/delivery.sh, which starts the emulator"
    );
    // The meter learns the table's indexes once the rig has made it. It
    // reads every request and response, which costs this process time:
    // `metered` (the default) or `unmetered` (the rate alone).
    let metered = args.next().is_none_or(|a| a != "unmetered");
    let meter = Meter::new("pk", "sk", Vec::new());
    let rig = Rig::aws_observed(
        metered.then(|| aws_sdk_dynamodb::config::SharedInterceptor::new(meter.clone())),
        rate as f64,
    )
    .await;
    let table = rig.table.clone().context("an AWS rig")?;
    let config = sunset::adapters::aws::sdk_config().await;
    meter.set_indexes(
        capacity_meter::indexes(&aws_sdk_dynamodb::Client::new(&config), &table).await?,
    );
    rig.faults.limit_rate(rate);

    eprintln!("setting up {n} customers on the emulator…");
    let setup = Instant::now();
    let c = rig.campaign(n).await;
    let now = sunset::ports::Clock::now(rig.clock.as_ref());
    // One in two hundred customers asks for their export while the waves
    // run. (Each export appends to the audit chain in a DynamoDB
    // transaction, and the emulator copies the whole table for every
    // transaction: more would measure the emulator, not sunset.)
    let exporters: Vec<CustomerId> = (0..n)
        .step_by(200)
        .map(|i| CustomerId::parse(&format!("c{i:04}")).unwrap())
        .collect();
    for customer in &exporters {
        let event = CustomerEvent {
            at: now,
            customer: customer.clone(),
            kind: CustomerEventKind::ExportRequested,
        };
        sunset::services::events::apply(&rig.deps, &c, &event).await?;
    }
    let builds: Vec<Job> = rig
        .deps
        .scheduler
        .scheduled(&c.id)
        .await?
        .into_iter()
        .filter(|j| matches!(j.job, Job::BuildExport { .. }))
        .map(|j| j.job)
        .collect();
    eprintln!(
        "set up in {:.0} s; sending {} announcements and {} export-ready mails at {rate}/s…",
        setup.elapsed().as_secs_f64(),
        n,
        builds.len()
    );
    meter.take();

    let started = Instant::now();
    let budget = Budget::unlimited();
    let waves = futures::future::join_all(
        [chrono_tz::Europe::Berlin, chrono_tz::Asia::Shanghai]
            .into_iter()
            .map(|zone| {
                let job = notice(&c, Milestone::Announcement, zone);
                let (deps, budget) = (&rig.deps, &budget);
                async move { jobs::run(deps, &job, now, budget).await }
            }),
    );
    // Export bundles are built and mailed in between, spread evenly over
    // the time the waves should take at R (the last comes well before
    // they end), sharing the rate with them.
    let spacing = Duration::from_secs_f64(n as f64 / rate as f64 / (builds.len() + 1) as f64);
    let exports = futures::future::join_all(builds.iter().enumerate().map(|(i, job)| {
        let (deps, budget) = (&rig.deps, &budget);
        async move {
            tokio::time::sleep(spacing * i as u32).await;
            jobs::run(deps, job, now, budget).await
        }
    }));
    let (waves, exports) = tokio::join!(waves, exports);
    let elapsed = started.elapsed();
    for w in waves {
        match w? {
            JobOutcome::Wave(w) => anyhow::ensure!(
                w.state == sunset::services::dispatch::WaveState::Done,
                "a wave ended {:?}",
                w.state
            ),
            other => anyhow::bail!("not a wave: {other:?}"),
        }
    }
    for e in exports {
        e?;
    }
    let sending = meter.take();

    let times = rig.faults.send_times();
    // Sends in each whole second from the first: the pace held, or where
    // it sagged.
    let per_second = seconds(&times);
    eprintln!("sends per second: {per_second:?}");
    let received = rig.faults.received();
    let messages = times.len();
    let span = times
        .last()
        .and_then(|l| l.duration_since(times[0]).ok())
        .unwrap_or_default()
        .as_secs_f64();
    // n messages span n - 1 intervals.
    let achieved = (messages.saturating_sub(1)) as f64 / span.max(f64::EPSILON);
    let duplicates: usize = received.values().map(|k| k - 1).sum();
    let announced = received.keys().filter(|(_, m)| m == "announcement").count();
    let tallies = rig.deps.ledger.tallies(&c.id).await?;
    let missed: u64 = tallies
        .values()
        .flat_map(|m| m.values())
        .map(|t| t.missed)
        .sum();

    let per = |units: f64| units / messages.max(1) as f64;
    println!(
        "Delivery at a configured rate on the emulator: {n} customers in two zones, waves at once, {} export-ready mails in between\n",
        builds.len()
    );
    println!("| figure | value |");
    println!("|---|---|");
    println!("| configured rate R | {rate}/s |");
    println!("| messages sent | {messages} ({announced} announcements) |");
    println!(
        "| run time (first to last send) | {span:.1} s (whole run {:.1} s) |",
        elapsed.as_secs_f64()
    );
    println!(
        "| achieved rate | {achieved:.1}/s ({:.3} R) |",
        achieved / rate as f64
    );
    println!("| busiest 1-second window | {} |", busiest_second(&times));
    println!(
        "| slowest whole second | {} |",
        per_second.iter().min().copied().unwrap_or_default()
    );
    println!(
        "| throttled by the rate-limited SES | {} |",
        rig.faults.throttled()
    );
    println!("| duplicates | {duplicates} |");
    println!(
        "| missed | {missed}; customers without the announcement: {} |",
        n - announced
    );
    if !metered {
        return Ok(());
    }
    println!(
        "| DynamoDB WRU per message, sending | {:.3} |",
        per(sending.write_units)
    );
    println!(
        "| DynamoDB RRU per message, sending | {:.3} |",
        per(sending.read_units)
    );
    eprintln!("sending requests: {:?}", sending.requests);

    // SES's delivery event for a message, recorded as delivery-events
    // records it. It costs the same for every message: a sample of a
    // thousand (the emulator slows down as its table grows).
    let mut events = Vec::new();
    for i in 0..n.min(1000) {
        let id = CustomerId::parse(&format!("c{i:04}"))?;
        for d in rig.deps.ledger.deliveries_to(&c.id, &id).await? {
            if let Some(message_id) = d.message_id {
                events.push(DeliveryEvent {
                    message_id,
                    key: d.key,
                    outcome: DeliveryOutcome::Delivered,
                    at: now,
                    recipients: Vec::new(),
                });
            }
        }
    }
    meter.take();
    let recorded = futures::stream::iter(events.iter())
        .map(|e| sunset::services::delivery_events::record(&rig.deps, e))
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    for r in recorded {
        r?;
    }
    let delivery = meter.take();
    println!(
        "| DynamoDB WRU per message, with its delivery event | {:.3} |",
        per(sending.write_units) + delivery.write_units / events.len().max(1) as f64
    );
    eprintln!("delivery-event requests: {:?}", delivery.requests);
    Ok(())
}
