//! `sunset demo`: a realistic sample company (zh-CN and en customers,
//! tiers, prepaid contracts, product data, migrations, tickets, a legal
//! hold, extensions) run through the whole lifecycle on a simulated clock.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use anyhow::Context;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::domain::ledger::{DeliveryKey, Recipient};
use crate::domain::milestone::local_instant;
use crate::domain::{Campaign, CustomerId, Milestone};

use super::simulate::{self, Inputs};

/// Account managers: address, name. The first half speak Chinese.
const MANAGERS: [(&str, &str); 8] = [
    ("li.wei", "李伟"),
    ("zhang.min", "张敏"),
    ("chen.jing", "陈静"),
    ("wang.fang", "王芳"),
    ("sofia.fischer", "Sofia Fischer"),
    ("james.carter", "James Carter"),
    ("emma.wright", "Emma Wright"),
    ("lukas.weber", "Lukas Weber"),
];

pub const CAMPAIGN: &str = include_str!("../../../examples/orbit-crm.toml");
const MARKER: &str = ".sunset-demo";

const EN_FIRST: [&str; 16] = [
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Lucas", "Mia", "Ethan", "Sofia", "Mason", "Amelia",
    "Leo", "Chloe", "Owen", "Grace", "Felix",
];
const EN_LAST: [&str; 12] = [
    "Smith", "Müller", "Johnson", "O'Brien", "Garcia", "Schmidt", "Brown", "Nguyen", "Fischer",
    "Taylor", "Rossi", "Dubois",
];
const ZH_SURNAME: [&str; 12] = [
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙",
];
const ZH_GIVEN: [&str; 12] = [
    "伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "杰", "娟", "涛",
];
const ZH_PINYIN: [&str; 12] = [
    "wang", "li", "zhang", "liu", "chen", "yang", "huang", "zhao", "wu", "zhou", "xu", "sun",
];
const COMPANY: [&str; 8] = [
    "Trading",
    "Logistics",
    "Studio",
    "Labs",
    "& Partners",
    "Consulting",
    "GmbH",
    "Ltd",
];
const EN_ZONES: [&str; 6] = [
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "Asia/Singapore",
    "",
];
const TICKETS: [&str; 4] = [
    "export-help",
    "refund",
    "migration-question",
    "account-access",
];

/// Writes the sample inputs (`DIR/input/`) and product data
/// (`DIR/product-data/`).
pub fn generate(dir: &Path, customers: usize, seed: u64) -> anyhow::Result<Inputs> {
    let campaign = Campaign::from_toml(CAMPAIGN).context("the built-in demo campaign")?;
    let mut rng = StdRng::seed_from_u64(seed);
    let input = dir.join("input");
    let product = dir.join("product-data");
    std::fs::create_dir_all(&input)?;
    std::fs::create_dir_all(&product)?;
    std::fs::write(input.join("campaign.toml"), CAMPAIGN)?;

    let announce = campaign.dates.announce;
    let end = campaign.dates.service_end;
    let deadline = campaign.dates.export_deadline;
    let at = |d: NaiveDate, minutes: i64| {
        local_instant(d, NaiveTime::MIN, campaign.timezone) + Duration::minutes(minutes)
    };
    let mut csv = String::with_capacity(customers * 200);
    csv.push_str(&crate::services::import::COLUMNS.join(","));
    csv.push('\n');
    let mut events = String::from("at,customer_id,event,detail\n");
    // What SES would report of the announcements, a day later: a hard
    // bounce for about 1 % of addresses, a rare complaint (under the
    // 0.1 % that would pause the campaign), deliveries, opens and clicks.
    let mut ses_events = Vec::new();
    let reported = local_instant(
        announce + chrono::Days::new(1),
        NaiveTime::from_hms_opt(12, 0, 0).expect("valid"),
        campaign.timezone,
    );
    let mut records: Vec<(String, Vec<u8>)> = Vec::with_capacity(customers);
    for i in 1..=customers {
        let id = format!("C{i:06}");
        let chinese = rng.random_bool(0.4);
        // Three customers in four name a contact person the notices greet.
        let named_contact = i % 4 != 0;
        let (name, contact, email, locale, zone) = if chinese {
            let s = rng.random_range(0..ZH_SURNAME.len());
            let g = rng.random_range(0..ZH_GIVEN.len());
            (
                format!("{}{}科技有限公司", ZH_SURNAME[s], ZH_GIVEN[g]),
                format!("{}经理", ZH_SURNAME[s]),
                format!("{}.{i:06}@example.cn", ZH_PINYIN[s]),
                "zh-CN",
                "Asia/Shanghai",
            )
        } else {
            let f = EN_FIRST[rng.random_range(0..EN_FIRST.len())];
            let l = EN_LAST[rng.random_range(0..EN_LAST.len())];
            let company = COMPANY[rng.random_range(0..COMPANY.len())];
            let locale = if rng.random_bool(0.08) { "de" } else { "en" };
            (
                format!("\"{l} {company}\""),
                format!("{f} {l}"),
                format!("{}.{i:06}@example.com", f.to_lowercase()),
                locale,
                EN_ZONES[rng.random_range(0..EN_ZONES.len())],
            )
        };
        let contact = if named_contact {
            contact
        } else {
            String::new()
        };
        // English readers in the US and the UK write dates their own way.
        let locale = match (locale, zone) {
            ("en", z) if z.starts_with("America/") => "en-US",
            ("en", "Europe/London") => "en-GB",
            (l, _) => l,
        };
        // Contract values spread over four orders of magnitude.
        let value = (10f64.powf(rng.random_range(2.0..5.3)) * 100.0).round() / 100.0;
        let currency = if chinese {
            "CNY"
        } else if zone.starts_with("America") {
            "USD"
        } else {
            "EUR"
        };
        let since =
            NaiveDate::from_ymd_opt(rng.random_range(2017..2027), rng.random_range(1..=12), 1)
                .expect("valid");
        // Most accounts use a little of the product, a few use it deeply.
        let usage = (rng.random::<f64>().powf(2.0) * 100.0).round() as u8;
        let strategic = rng.random_bool(0.01);
        // Chinese customers have a Chinese-speaking account manager.
        let (manager, manager_name) = if value > 20_000.0 || strategic {
            let half = MANAGERS.len() / 2;
            let m = rng.random_range(0..half) + if chinese { 0 } else { half };
            (format!("{}@orbit.example", MANAGERS[m].0), MANAGERS[m].1)
        } else {
            (String::new(), "")
        };
        // Half give a mobile number; one in ten of those writes it the
        // local way, without the country code (imported with a warning:
        // no text can reach it).
        let phone = match (rng.random_bool(0.5), rng.random_bool(0.1), chinese) {
            (false, _, _) => String::new(),
            (true, false, true) => format!(
                "+86 13{} {:04} {:04}",
                rng.random_range(0..10),
                rng.random_range(0..10_000),
                rng.random_range(0..10_000)
            ),
            (true, true, true) => format!(
                "13{} {:04} {:04}",
                rng.random_range(0..10),
                rng.random_range(0..10_000),
                rng.random_range(0..10_000)
            ),
            (true, false, false) => format!("+49 151 {:08}", rng.random_range(0..100_000_000)),
            (true, true, false) => format!("0151 {:08}", rng.random_range(0..100_000_000)),
        };
        let (p_from, p_until, p_amount) = if rng.random_bool(0.3) {
            let from = end - chrono::Days::new(rng.random_range(30..330));
            let until = from + chrono::Days::new(365);
            (
                from.to_string(),
                until.to_string(),
                format!("{:.2}", value / 4.0),
            )
        } else {
            Default::default()
        };
        writeln!(
            csv,
            "{id},{name},{contact},{email},{locale},{zone},{value:.2},{currency},{since},{usage},{strategic},{manager},{manager_name},{phone},{p_from},{p_until},{p_amount}"
        )?;

        // Their account manager's 1:1 call, as the account team records
        // it: most core customers are told between the brief and the
        // announcement, some after it (their announcement waits for the
        // call), a few never (it goes when the hold ends).
        let core = is_core(&campaign, &id, &email, value, since, usage, strategic)?;
        // 0: never called; 1-2: called after the announcement; else before.
        let call = rng.random_range(0..20);
        if core {
            let brief = campaign.brief_date();
            let lead = (announce - brief).num_minutes();
            match call {
                0 => {}
                1..=2 => {
                    let day = announce + chrono::Days::new(rng.random_range(1..5));
                    writeln!(
                        events,
                        "{},{id},outreach_scheduled,{day}",
                        at(brief, 600).to_rfc3339()
                    )?;
                    writeln!(
                        events,
                        "{},{id},outreach_done,called after the announcement",
                        at(day, 660).to_rfc3339()
                    )?;
                }
                _ => writeln!(
                    events,
                    "{},{id},outreach_done,told 1:1; offered the migration path",
                    at(brief, rng.random_range(24 * 60..lead - 60)).to_rfc3339()
                )?,
            }
        }

        // One complaint in 2,000 (SES reviews an account past one in
        // 1,000, and so does the campaign's guard), a bounce in 97 — of
        // the announcements sent on the day (not one held for a call).
        let held = core && call <= 2;
        if let Some(kind) = match i % 2000 {
            _ if held => None,
            1999 => Some("Complaint"),
            _ if i % 97 == 5 => Some("Bounce"),
            _ if i % 10 == 3 => Some("Delivery"),
            _ => None,
        } {
            ses_events.push(ses_event(&campaign, &id, &email, kind, reported)?);
            if kind == "Delivery" {
                ses_events.push(ses_event(&campaign, &id, &email, "Open", reported)?);
                if i % 30 == 3 {
                    ses_events.push(ses_event(&campaign, &id, &email, "Click", reported)?);
                }
            }
        }

        // Their data in the product: a few records, more for bigger accounts.
        let mut record = Vec::with_capacity(256);
        write!(record, "{{\"customer_id\":\"{id}\",\"contacts\":[")?;
        for n in 0..(1 + (value.log10() as usize)) {
            if n > 0 {
                record.push(b',');
            }
            write!(
                record,
                "{{\"id\":{n},\"note\":\"contact {n} of {id}\",\"created\":\"{since}\"}}"
            )?;
        }
        record.extend_from_slice(b"]}\n");
        records.push((id.clone(), record));

        // What happens to them over the sunset.
        let span = (end - announce).num_minutes();
        let migrate_chance =
            0.35 + f64::from(usage) / 400.0 + if manager.is_empty() { 0.0 } else { 0.15 };
        if rng.random_bool(migrate_chance.min(0.95)) {
            let when = at(announce, rng.random_range(60 * 24..span));
            writeln!(events, "{},{id},migrated,", when.to_rfc3339())?;
        } else if rng.random_bool(0.08) {
            let when = at(announce, rng.random_range(60 * 24..span));
            writeln!(
                events,
                "{},{id},declined,prefers to stay on premises",
                when.to_rfc3339()
            )?;
        }
        if rng.random_bool(0.1) {
            let when = at(
                announce,
                rng.random_range(60..(deadline - announce).num_minutes()),
            );
            writeln!(events, "{},{id},export_requested,", when.to_rfc3339())?;
        }
        if rng.random_bool(0.06) {
            let kind = TICKETS[rng.random_range(0..TICKETS.len())];
            let opened = at(announce, rng.random_range(60..span));
            writeln!(events, "{},{id},ticket_opened,{kind}", opened.to_rfc3339())?;
            let resolved = opened + Duration::minutes(rng.random_range(30..72 * 60));
            writeln!(
                events,
                "{},{id},ticket_resolved,{kind}",
                resolved.to_rfc3339()
            )?;
        }
        if i % 200 == 17 {
            writeln!(
                events,
                "{},{id},legal_hold,litigation hold 2027-17",
                at(announce, 600).to_rfc3339()
            )?;
        } else if i % 100 == 42 {
            writeln!(
                events,
                "{},{id},extension,{}",
                at(end, 600).to_rfc3339(),
                deadline + chrono::Days::new(30)
            )?;
        }
    }
    crate::parallel::map(&records, |(id, record)| {
        let dir = product.join(id);
        std::fs::create_dir(&dir).and_then(|()| std::fs::write(dir.join("records.json"), record))
    })
    .into_iter()
    .collect::<std::io::Result<()>>()
    .context("cannot write the sample product data")?;
    std::fs::write(input.join("customers.csv"), &csv)?;
    std::fs::write(input.join("events.csv"), &events)?;
    let ses_json = serde_json::to_vec_pretty(&ses_events)?;
    std::fs::write(input.join("ses-events.json"), &ses_json)?;
    let ses_events = simulate::parse_ses_events(&ses_json)?;
    let simulate::ParsedEvents {
        events,
        rejections: event_rejections,
    } = simulate::parse_events(events.as_bytes(), &campaign)?;
    Ok(Inputs {
        campaign,
        customers: csv.into_bytes(),
        customers_are_json: false,
        events,
        event_rejections,
        ses_events,
    })
}

/// Whether the campaign's rules make this generated customer core (what
/// the launch will decide), so the account team's calls are theirs.
fn is_core(
    campaign: &Campaign,
    id: &str,
    email: &str,
    value: f64,
    since: NaiveDate,
    usage: u8,
    strategic: bool,
) -> anyhow::Result<bool> {
    let mut c = crate::domain::Customer::new(
        CustomerId::parse(id)?,
        crate::domain::ids::DisplayName::parse(id)?,
        crate::domain::EmailAddress::parse(email)?,
    );
    c.contract_value = Some(crate::domain::bounds::Amount::new(
        // As the customers file writes it.
        format!("{value:.2}").parse::<rust_decimal::Decimal>()?,
    )?);
    c.customer_since = Some(since);
    c.usage_score = Some(f64::from(usage));
    c.strategic = strategic;
    Ok(campaign
        .segmentation
        .decide(&c, campaign.dates.announce)
        .tier
        == crate::domain::Tier::Core)
}

/// An SES event (as the configuration set publishes it) about the
/// announcement sent to `id`: the message id is the one the outbox gave
/// it, derived from its ledger key.
fn ses_event(
    campaign: &Campaign,
    id: &str,
    email: &str,
    kind: &str,
    at: DateTime<Utc>,
) -> anyhow::Result<serde_json::Value> {
    let key = DeliveryKey::once(
        &campaign.id,
        Recipient::Customer(CustomerId::parse(id)?),
        Milestone::Announcement,
    );
    let tags: serde_json::Map<String, serde_json::Value> = key
        .tags()
        .into_iter()
        .map(|(n, v)| (n.to_owned(), serde_json::json!([v])))
        .collect();
    let ts = at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut detail = serde_json::json!({
        "eventType": kind,
        "mail": {
            "timestamp": ts,
            "source": campaign.sender.from.address.as_str(),
            "messageId": crate::services::dispatch::message_id(&key),
            "destination": [email],
            "tags": tags,
        },
    });
    let recipient = serde_json::json!([{ "emailAddress": email }]);
    match kind {
        "Bounce" => {
            detail["bounce"] = serde_json::json!({
                "bounceType": "Permanent", "bounceSubType": "General",
                "bouncedRecipients": recipient, "timestamp": ts,
            })
        }
        "Complaint" => {
            detail["complaint"] =
                serde_json::json!({ "complainedRecipients": recipient, "timestamp": ts })
        }
        "Delivery" => {
            detail["delivery"] = serde_json::json!({ "timestamp": ts, "recipients": [email] })
        }
        "Open" => detail["open"] = serde_json::json!({ "timestamp": ts }),
        _ => {
            detail["click"] = serde_json::json!({ "timestamp": ts, "link": campaign.links.migration_guide.as_str() })
        }
    }
    Ok(serde_json::json!({
        "version": "0",
        "detail-type": format!("Email {kind}"),
        "source": "aws.ses",
        "time": ts,
        "detail": detail,
    }))
}

/// Makes `dir` ready for a demo: a directory the demo made before is
/// replaced; any other non-empty directory is refused.
pub fn prepare(dir: &Path) -> anyhow::Result<()> {
    if dir.join(MARKER).exists() {
        std::fs::remove_dir_all(dir)
            .with_context(|| format!("cannot clear the previous demo in {}", dir.display()))?;
    } else if dir.read_dir().is_ok_and(|mut d| d.next().is_some()) {
        anyhow::bail!(
            "{} is not empty and not an earlier demo; choose another --data directory",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir)?;
    std::fs::File::create(dir.join(MARKER))?
        .write_all(b"made by `sunset demo`; the next demo run replaces this directory\n")?;
    Ok(())
}
