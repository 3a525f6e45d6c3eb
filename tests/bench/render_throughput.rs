//! Benchmark (not a test): how fast notices are written, per channel, for
//! CUSTOMERS customers (default 100,000) of every tier, language and
//! standing, from the example campaign with its built-in templates.
//!
//! Per channel, each customer's message is rendered once on one core
//! (µs per message) and once over all cores as a wave does
//! (`sunset::parallel::map`, messages a second):
//! - e-mail: the announcement (subject, HTML and text parts, and its
//!   calendar attachment) and the 30-day reminder;
//! - text: the 30-day reminder as an SMS (segments counted);
//! - in-app: the banner's words.
//!
//! Usage: tests/bench/render.sh [CUSTOMERS]

use std::time::Instant;

use sunset::domain::customer::MigrationStatus;
use sunset::domain::ids::{Currency, DisplayName, EmailAddress, Phone};
use sunset::domain::link::LinkSigner;
use sunset::domain::tier::{Tier, TierDecision};
use sunset::domain::{Campaign, Customer, CustomerId, CustomerRecord, Milestone};
use sunset::services::notice;

fn customers(n: usize) -> Vec<CustomerRecord> {
    let tiers = [
        Tier::Core,
        Tier::Standard,
        Tier::Standard,
        Tier::Low,
        Tier::Low,
    ];
    let statuses = [
        MigrationStatus::Pending,
        MigrationStatus::Pending,
        MigrationStatus::Exported,
        MigrationStatus::Declined,
        MigrationStatus::Migrated,
    ];
    (0..n)
        .map(|i| {
            let chinese = i % 5 < 2;
            let id = CustomerId::parse(&format!("C{i:06}")).unwrap();
            let (name, email, locale, zone, phone) = if chinese {
                (
                    format!("王{i}科技有限公司"),
                    format!("wang.{i:06}@example.cn"),
                    "zh-CN",
                    chrono_tz::Asia::Shanghai,
                    format!("+86 138 {:04} {:04}", i % 10_000, (i * 7) % 10_000),
                )
            } else {
                (
                    format!("Smith {i} Ltd"),
                    format!("olivia.{i:06}@example.com"),
                    ["en", "en-US", "en-GB"][i % 3],
                    chrono_tz::Europe::Berlin,
                    format!("+49 151 {:08}", i),
                )
            };
            let mut c = Customer::new(
                id,
                DisplayName::parse(&name).unwrap(),
                EmailAddress::parse(&email).unwrap(),
            );
            c.locale = Some(locale.into());
            c.timezone = Some(zone);
            c.contact_name = (i % 4 != 0).then(|| DisplayName::parse("Olivia Smith").unwrap());
            c.currency = Some(Currency::parse(if chinese { "CNY" } else { "EUR" }).unwrap());
            c.phone = Some(Phone::parse(&phone).unwrap());
            let tier = tiers[i % tiers.len()];
            if tier == Tier::Core {
                c.account_manager = Some(EmailAddress::parse("li.wei@orbit.example").unwrap());
                c.account_manager_name = Some(DisplayName::parse("李伟").unwrap());
            }
            let mut r = CustomerRecord::new(c, zone);
            r.tier = Some(TierDecision {
                tier,
                score: 50,
                explanation: "bench".into(),
            });
            r.status = statuses[(i / 5) % statuses.len()];
            r
        })
        .collect()
}

struct Figures {
    channel: &'static str,
    messages: usize,
    bytes: usize,
    one_core_us: f64,
    all_cores_per_s: f64,
}

fn measure<F>(channel: &'static str, records: &[CustomerRecord], render: F) -> Figures
where
    F: Fn(&CustomerRecord) -> usize + Sync,
{
    // Warm the template cache and the allocator.
    for r in records.iter().take(100) {
        render(r);
    }
    let started = Instant::now();
    let bytes: usize = records.iter().map(&render).sum();
    let one_core = started.elapsed();
    let started = Instant::now();
    let parallel: usize = sunset::parallel::map(records, |r| render(r))
        .into_iter()
        .sum();
    let all_cores = started.elapsed();
    assert_eq!(bytes, parallel);
    Figures {
        channel,
        messages: records.len(),
        bytes,
        one_core_us: one_core.as_secs_f64() * 1e6 / records.len() as f64,
        all_cores_per_s: records.len() as f64 / all_cores.as_secs_f64(),
    }
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("CUSTOMERS is a number"))
        .unwrap_or(100_000);
    let campaign =
        Campaign::from_toml(include_str!("../../examples/orbit-crm.toml")).expect("example");
    let signer = LinkSigner::new(vec![7; 32]);
    let records = customers(n);
    let profile = |r: &CustomerRecord| r.profile.clone().expect("a profile");
    let figures = [
        measure("e-mail: announcement (+ .ics)", &records, |r| {
            let m =
                notice::render_notice(&campaign, r, &profile(r), Milestone::Announcement, &signer)
                    .expect("renders");
            m.html.len() + m.text.len() + m.attachments.iter().map(|a| a.bytes.len()).sum::<usize>()
        }),
        measure("e-mail: reminder-30", &records, |r| {
            let m =
                notice::render_notice(&campaign, r, &profile(r), Milestone::Reminder(30), &signer)
                    .expect("renders");
            m.html.len() + m.text.len()
        }),
        measure("sms: reminder-30", &records, |r| {
            notice::render_sms(&campaign, r, &profile(r), Milestone::Reminder(30), &signer)
                .expect("renders")
                .text
                .len()
        }),
        measure("in-app: banner", &records, |r| {
            let b = notice::render_banner(&campaign, r, &profile(r), Some(30), &signer)
                .expect("renders");
            b.title.len() + b.message.len()
        }),
    ];
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("render throughput, {n} customers, {cores} cores");
    println!(
        "| channel | messages | µs each (1 core) | messages/s (1 core) | messages/s ({cores} cores) | avg bytes |"
    );
    println!("|---|---|---|---|---|---|");
    for f in figures {
        println!(
            "| {} | {} | {:.1} | {:.0} | {:.0} | {} |",
            f.channel,
            f.messages,
            f.one_core_us,
            1e6 / f.one_core_us,
            f.all_cores_per_s,
            f.bytes / f.messages
        );
    }
}
