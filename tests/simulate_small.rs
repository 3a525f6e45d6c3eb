//! `sunset simulate` on a small fixture, checked from what it leaves on disk:
//! the outbox, the reports, the bundles and the store's own files.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use chrono::{NaiveDate, Timelike};
use sha2::{Digest, Sha256};
use sunset::app::runner;
use sunset::app::simulate::{self, SimulateArgs};
use sunset::services::jobs::JobOutcome;
use sunset_e2e::{Mail, contains, files_under, fixture, read_outbox};

struct Run {
    _dir: tempfile::TempDir,
    data: PathBuf,
    outbox: Vec<Mail>,
    /// Bundles copied as they were built (the purge deletes them later).
    bundles: Vec<(sunset::domain::export::ExportId, Vec<u8>)>,
    report: serde_json::Value,
    import: serde_json::Value,
    events: serde_json::Value,
    audit: serde_json::Value,
}

fn run() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("run");
        let f = fixture("small");
        let args = SimulateArgs {
            campaign: f.join("campaign.toml"),
            customers: f.join("customers.csv"),
            events: Some(f.join("events.csv")),
            ses_events: None,
            product_data: Some(f.join("product-data")),
            data: data.clone(),
        };
        let bundles = Mutex::new(Vec::new());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(simulate::simulate(&args, |ran| {
            if let runner::Ran::Done(step) = ran
                && let JobOutcome::ExportReady { request } = &step.outcome
            {
                let path = data.join(format!("blobs/exports/orbit-crm-2027/c05/{request}.zip"));
                bundles.lock().unwrap().push((
                    request.clone(),
                    std::fs::read(&path).expect("bundle written"),
                ));
            }
        }))
        .expect("simulate runs");
        let json = |name: &str| -> serde_json::Value {
            serde_json::from_slice(
                &std::fs::read(data.join(name)).unwrap_or_else(|_| panic!("{name} written")),
            )
            .unwrap()
        };
        Run {
            outbox: read_outbox(&data),
            bundles: bundles.into_inner().unwrap(),
            report: json("report.json"),
            import: json("import-report.json"),
            events: json("events-report.json"),
            audit: json("audit-trail.json"),
            data,
            _dir: dir,
        }
    })
}

/// Every customer the fixture can reach: the four r-rows with messy
/// fields are imported with warnings.
const VALID: [&str; 14] = [
    "c01", "c02", "c03", "c04", "c05", "c06", "c07", "c08", "c09", "c10", "r02", "r04", "r05",
    "r07",
];

fn email_of(id: &str) -> &'static str {
    match id {
        "c01" => "ada@lovelace.example",
        "c02" => "xiaoming@wang.example",
        "c03" => "jane@doe.example",
        "c04" => "grete@gruendlich.example",
        "c05" => "emil@export.example",
        "c06" => "hannah@held.example",
        "c07" => "lars@late.example",
        "c08" => "dora@declines.example",
        "c09" => "tom@tickets.example",
        "c10" => "bertha@big.example",
        "r02" => "nameless@example.com",
        "r04" => "zoned@example.com",
        "r05" => "eve@evil.example",
        "r07" => "rick@example.com",
        _ => unreachable!(),
    }
}

fn mails<'a>(milestone: &'a str) -> impl Iterator<Item = &'static Mail> + 'a {
    run()
        .outbox
        .iter()
        .filter(move |m| m.milestone == milestone)
}

fn customer_mails(id: &str) -> Vec<&'static Mail> {
    run()
        .outbox
        .iter()
        .filter(|m| m.to == email_of(id))
        .collect()
}

#[test]
fn the_announcement_reaches_every_valid_customer_exactly_once() {
    let mut count: HashMap<&str, usize> = HashMap::new();
    for m in mails("announcement") {
        *count.entry(m.to.as_str()).or_default() += 1;
    }
    for id in VALID {
        assert_eq!(count.get(email_of(id)), Some(&1), "{id}");
    }
    assert_eq!(
        count.len(),
        VALID.len(),
        "nobody else was announced to: {count:?}"
    );
}

/// The announcement brings the key dates as a calendar file, in the
/// reader's language, with their own last day; no other notice carries a
/// file.
#[test]
fn the_announcement_carries_the_key_dates_as_a_calendar() {
    for m in &run().outbox {
        if m.milestone != "announcement" {
            assert!(m.attachments.is_empty(), "{} carries a file", m.milestone);
            continue;
        }
        let [(name, bytes)] = m.attachments.as_slice() else {
            panic!(
                "the announcement to {} has {} files",
                m.to,
                m.attachments.len()
            );
        };
        assert_eq!(name, &format!("{}.ics", m.campaign));
        let ics = String::from_utf8(bytes.clone()).unwrap();
        let lines: Vec<String> = ics
            .replace("\r\n ", "")
            .split("\r\n")
            .map(str::to_owned)
            .collect();
        assert_eq!(lines[0], "BEGIN:VCALENDAR");
        assert_eq!(lines.iter().filter(|l| *l == "BEGIN:VEVENT").count(), 4);
        assert!(lines.contains(&"DTSTART;VALUE=DATE:20270930".to_owned()));
        let chinese = m
            .subject
            .chars()
            .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
        let end = if chinese {
            "SUMMARY:Orbit CRM停止服务"
        } else {
            "SUMMARY:Orbit CRM stops working"
        };
        assert!(
            lines.iter().any(|l| l == end),
            "{} lacks {end}: {ics}",
            m.to
        );
    }
}

/// Only an unreachable or ambiguous customer is refused (no address, a
/// repeated id, a row whose fields do not match the header); a messy field
/// is a warning and the customer is imported.
#[test]
fn rows_are_refused_only_when_the_customer_cannot_be_reached() {
    let r = &run().import;
    assert_eq!(r["imported"], 14);
    assert_eq!(r["rows"], 17);
    assert_eq!(r["rejected_rows"], 3);
    assert_eq!(r["warned_rows"], 4);
    let listed = |kind: &str| r[kind].as_array().unwrap().clone();
    let has = |kind: &str, row: u64, field: &str| {
        listed(kind).iter().any(|x| {
            x["row"] == row && x["field"] == field && !x["reason"].as_str().unwrap().is_empty()
        })
    };
    assert!(has("rejected", 11, "email"), "{r:#}");
    assert!(
        has("rejected", 13, "customer_id"),
        "the repeated c01 is reported"
    );
    assert!(has("rejected", 16, "*"), "a short row is reported");
    assert!(
        has("warnings", 12, "name"),
        "a nameless customer is greeted without one"
    );
    assert!(
        has("warnings", 14, "timezone"),
        "an unknown zone falls back"
    );
    assert!(
        has("warnings", 15, "name"),
        "a line break in a name becomes a space"
    );
    assert!(
        has("warnings", 17, "prepaid_until"),
        "an incomplete prepaid triple"
    );
    let zone = listed("warnings")
        .into_iter()
        .find(|x| x["row"] == 14)
        .unwrap();
    assert!(
        zone["reason"].as_str().unwrap().contains("Europe/Berlin"),
        "{zone}"
    );
    let rejections = listed("rejected");
    let repeated = rejections.iter().find(|x| x["row"] == 13).unwrap();
    assert_eq!(repeated["customer_id"], "c01");
    assert!(repeated["reason"].as_str().unwrap().contains("row 1"));
    // The rejected e-mail address is not echoed back.
    assert!(!serde_json::to_string(r).unwrap().contains("not-an-address"));
}

/// The announcement carries the guide's five elements; a reminder says
/// what is left and what to do now (the title, the two dates that still
/// matter, the personal export link, the help channels), not the whole
/// announcement again.
#[test]
fn every_notice_carries_the_five_elements() {
    for m in mails("announcement").chain(
        run()
            .outbox
            .iter()
            .filter(|m| m.milestone.starts_with("reminder-")),
    ) {
        let announcement = m.milestone == "announcement";
        let zh = m.to == email_of("c02") || m.to == email_of("c09");
        let (end, dates, thanks, reason, refund) = if zh {
            (
                "2027年9月30日",
                [
                    "2027年2月1日",
                    "2027年4月1日",
                    "2027年9月30日",
                    "2027年10月31日",
                ],
                "对 Orbit CRM 的信任与支持",
                "我们将把 Orbit CRM 的核心能力整合进 Orbit Suite。",
                "预付费用",
            )
        } else {
            (
                "30 September 2027",
                [
                    "1 February 2027",
                    "1 April 2027",
                    "30 September 2027",
                    "31 October 2027",
                ],
                "Thank you for the trust you have placed in Orbit CRM",
                "We are bringing Orbit CRM's best ideas into Orbit Suite.",
                "Prepaid fees",
            )
        };
        let t = &m.text;
        assert!(
            m.subject.contains("Orbit CRM") && m.subject.contains(end),
            "1. title: {}",
            m.subject
        );
        if !announcement {
            assert!(
                !t.contains(reason),
                "a reminder repeats the reason: {}",
                m.file.display()
            );
            // c07's last day was extended.
            let last_day = m.to == email_of("c07") || t.contains(dates[3]);
            assert!(
                t.contains(dates[2]) && last_day,
                "3. the end and the last day in {}",
                m.file.display()
            );
        }
        if announcement {
            assert!(
                t.contains(thanks) && t.contains(reason),
                "2. thanks and reason in {}",
                m.file.display()
            );
            if m.to != email_of("c07") {
                for d in dates {
                    assert!(t.contains(d), "3. date {d} in {}", m.file.display());
                }
            }
            for needle in [
                "https://orbit.example/sunset/guide",
                "https://orbit.example/suite",
                "CRM2SUITE",
                refund,
            ] {
                assert!(
                    t.contains(needle),
                    "4. next steps: {needle} in {}",
                    m.file.display()
                );
            }
        }
        for needle in [
            "https://orbit.example/sunset/faq",
            "sunset@orbit.example",
            "+49 30 1234567",
            "https://forum.orbit.example/sunset",
        ] {
            assert!(
                t.contains(needle),
                "5. help: {needle} in {}",
                m.file.display()
            );
        }
        assert!(
            t.contains("/v1/c/orbit-crm-2027/") && t.contains("sig="),
            "signed personal link"
        );
    }
}

#[test]
fn the_prorated_refund_and_personal_link_are_the_customers_own() {
    let ann = customer_mails("c01")
        .into_iter()
        .find(|m| m.milestone == "announcement")
        .unwrap();
    // 365.00 × 93 days (2027-09-30 → 2028-01-01) / 365 days
    assert!(ann.text.contains("The €93.00 you paid for"), "{}", ann.text);
    assert!(ann.text.contains("/v1/c/orbit-crm-2027/c01/export?exp="));
    assert!(!ann.text.contains("/c02/"));
}

#[test]
fn each_customer_reads_their_locale_with_fallback_to_the_default() {
    let zh = customer_mails("c02")
        .into_iter()
        .find(|m| m.milestone == "announcement")
        .unwrap();
    // A core customer, told by their account manager first: the mail
    // confirms it in writing.
    assert!(zh.subject.starts_with("【书面确认】"), "{}", zh.subject);
    assert!(zh.text.contains("尊敬的王小明："), "{}", zh.text);
    // `de` has no built-in texts: the campaign's default, English.
    let de = customer_mails("c04")
        .into_iter()
        .find(|m| m.milestone == "announcement")
        .unwrap();
    assert!(
        de.subject
            .starts_with("Action required: Orbit CRM is being retired on"),
        "{}",
        de.subject
    );
}

#[test]
fn html_is_escaped_and_text_is_not() {
    let m = customer_mails("c01")
        .into_iter()
        .find(|m| m.milestone == "announcement")
        .unwrap();
    // What HTML needs escaped, and no more ('/' stays '/').
    assert!(
        m.html.contains("Ada &lt;b&gt;Lovelace&lt;/b&gt; &amp; Co"),
        "{}",
        m.html
    );
    assert!(!m.html.contains("<b>"));
    assert!(m.text.contains("Ada <b>Lovelace</b> & Co"));
}

#[test]
fn no_header_is_ever_injected() {
    let allowed = [
        "Date",
        "From",
        "Reply-To",
        "To",
        "Subject",
        "Message-ID",
        "MIME-Version",
        "Auto-Submitted",
        "X-Sunset-Campaign",
        "X-Sunset-Milestone",
        "Content-Type",
    ];
    for m in &run().outbox {
        for h in &m.header_names {
            assert!(
                allowed.contains(&h.as_str()),
                "unexpected header {h} in {}",
                m.file.display()
            );
        }
        assert!(!contains(&m.raw, b"victim@evil.example"));
        assert_eq!(m.campaign, "orbit-crm-2027");
    }
}

fn reminder_day(n: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2027, 9, 30).unwrap() - chrono::Days::new(u64::from(n))
}

#[test]
fn reminders_go_only_to_pending_customers_at_ten_on_their_day() {
    let zone_of = |to: &str| -> chrono_tz::Tz {
        match to {
            "xiaoming@wang.example" | "tom@tickets.example" => chrono_tz::Asia::Shanghai,
            "jane@doe.example" => chrono_tz::America::New_York,
            "emil@export.example" => chrono_tz::Europe::London,
            _ => chrono_tz::Europe::Berlin,
        }
    };
    let reminders: Vec<&Mail> = run()
        .outbox
        .iter()
        .filter(|m| m.milestone.starts_with("reminder-"))
        .collect();
    assert!(!reminders.is_empty());
    for m in &reminders {
        let n: u32 = m.milestone.trim_start_matches("reminder-").parse().unwrap();
        let local = m.date.with_timezone(&zone_of(&m.to));
        assert_eq!(
            local.date_naive(),
            reminder_day(n),
            "{} {}",
            m.milestone,
            m.to
        );
        assert_eq!(local.hour(), 10, "{} {}", m.milestone, m.to);
    }
    let got = |id: &str| -> Vec<String> {
        let mut v: Vec<String> = customer_mails(id)
            .iter()
            .filter(|m| m.milestone.starts_with("reminder-"))
            .map(|m| m.milestone.clone())
            .collect();
        v.sort();
        v
    };
    // Migrated on 2027-07-15, before the first reminder: none.
    assert!(got("c03").is_empty(), "{:?}", got("c03"));
    // Migrated on 2027-09-05: the 60- and 30-day reminders only.
    assert_eq!(got("c04"), vec!["reminder-30", "reminder-60"]);
    // Declined customers still need their data out: all five.
    assert_eq!(got("c08").len(), 5);
    // Exactly one per customer and milestone.
    let mut seen = std::collections::HashSet::new();
    for m in &reminders {
        assert!(
            seen.insert((m.to.clone(), m.milestone.clone())),
            "twice: {} {}",
            m.to,
            m.milestone
        );
    }
}

#[test]
fn account_managers_are_briefed_at_least_seven_days_before_the_announcement() {
    let (reminders, briefs): (Vec<&Mail>, Vec<&Mail>) =
        mails("outreach-brief").partition(|m| m.subject.starts_with("Reminder:"));
    let announce = NaiveDate::from_ymd_opt(2027, 2, 1).unwrap();
    assert_eq!(
        briefs.len(),
        2,
        "am.li for c02, support for the unassigned c10"
    );
    // Nobody recorded a call in this run: three days before the
    // announcement, both are reminded of every core customer.
    assert_eq!(reminders.len(), 2);
    for r in &reminders {
        assert_eq!((announce - r.date.date_naive()).num_days(), 3, "{}", r.date);
        assert!(r.text.contains("not been told 1:1 yet"), "{}", r.text);
    }
    for b in &briefs {
        assert!(
            (announce - b.date.date_naive()).num_days() >= 7,
            "{}",
            b.date
        );
    }
    let li = briefs
        .iter()
        .find(|b| b.to == "am.li@orbit.example")
        .unwrap();
    assert!(li.text.contains("王小明") && li.text.contains("c02") && li.text.contains("strategic"));
    let support = briefs
        .iter()
        .find(|b| b.to == "sunset@orbit.example")
        .unwrap();
    assert!(support.text.contains("Big Bertha GmbH"));
    // Briefs precede every customer notice.
    let first_notice = run()
        .outbox
        .iter()
        .filter(|m| m.milestone != "outreach-brief")
        .map(|m| m.date)
        .min()
        .unwrap();
    assert!(briefs.iter().all(|b| b.date < first_notice));
}

#[test]
fn the_export_bundle_holds_the_customers_product_data_with_checksums() {
    let (request, bytes) = run().bundles.first().expect("c05's export was built");
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.clone())).unwrap();
    let mut read = |name: &str| {
        let mut s = Vec::new();
        zip.by_name(name)
            .unwrap_or_else(|_| panic!("{name} in bundle"))
            .read_to_end(&mut s)
            .unwrap();
        s
    };
    let manifest: serde_json::Value = serde_json::from_slice(&read("manifest.json")).unwrap();
    assert_eq!(manifest["customer_id"], "c05");
    assert_eq!(manifest["request"], request.as_str());
    let invoices = read("product-data/files/invoices.csv");
    assert_eq!(invoices, b"id,title\n1,First invoice\n");
    for f in manifest["files"].as_array().unwrap() {
        let content = read(f["path"].as_str().unwrap());
        assert_eq!(
            f["sha256"],
            hex::encode(Sha256::digest(&content)),
            "{}",
            f["path"]
        );
    }
    let ours: serde_json::Value = serde_json::from_slice(&read("sunset/customer.json")).unwrap();
    assert_eq!(ours["customer"]["email"], "emil@export.example");
    let csv = String::from_utf8(read("sunset/customer.csv")).unwrap();
    assert!(
        csv.starts_with("customer_id,name,contact_name,email")
            && csv.contains("emil@export.example")
    );
    // And the customer was told, with their own download link.
    let mail = customer_mails("c05")
        .into_iter()
        .find(|m| m.milestone == "export-ready")
        .unwrap();
    assert!(
        mail.text
            .contains("/v1/c/orbit-crm-2027/c05/export/download?exp=")
    );
}

#[test]
fn purge_leaves_no_personal_data_outside_the_outbox_and_keeps_held_customers() {
    let data = &run().data;
    let purged = [
        "c01", "c02", "c03", "c04", "c05", "c07", "c08", "c09", "c10", "r02", "r04", "r05", "r07",
    ];
    let personal: Vec<&[u8]> = purged
        .iter()
        .map(|id| email_of(id).as_bytes())
        .chain([
            "Ada <b>Lovelace".as_bytes(),
            "王小明".as_bytes(),
            b"Doe, Jane",
            b"Export Emil",
            b"Big Bertha",
            b"+49 30 5550101",
            b"staying on our own servers",
            b"Charles Babbage",
            b"Emil keeps everything",
        ])
        .collect();
    let files = files_under(data, &["outbox"]);
    assert!(files.iter().any(|f| f.ends_with("sunset.db")));
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        for p in &personal {
            assert!(
                !contains(&bytes, p),
                "{} still holds {:?}",
                file.display(),
                String::from_utf8_lossy(p)
            );
        }
    }
    // The held customer is kept, data and all.
    assert!(data.join("product-data/c06/records.json").exists());
    let db = std::fs::read(data.join("sunset.db")).unwrap();
    let wal = std::fs::read(data.join("sunset.db-wal")).unwrap_or_default();
    assert!(contains(&db, b"hannah@held.example") || contains(&wal, b"hannah@held.example"));
    assert!(!data.join("product-data/c01").exists());
    assert_eq!(run().report["purge"]["legal_hold"], 1);
    assert_eq!(run().report["purge"]["purged"], 13);
}

#[test]
fn the_extension_is_honoured_and_every_purge_is_certified_in_the_audit_chain() {
    let entries = run().audit.as_array().unwrap();
    let purged_at = |id: &str| {
        entries
            .iter()
            .find(|e| e["entry"]["action"] == "purged" && e["entry"]["customer"] == id)
            .map(|e| e["entry"]["at"].as_str().unwrap().to_owned())
    };
    // Never before the customer's last day has ended where they live
    // (Berlin: 23:00 UTC), and within the next day.
    let lars: chrono::DateTime<chrono::Utc> =
        purged_at("c07").expect("c07 purged").parse().unwrap();
    let lars_ends: chrono::DateTime<chrono::Utc> = "2027-12-15T23:00:00Z".parse().unwrap();
    assert!(
        lars >= lars_ends && lars < lars_ends + chrono::Duration::days(1),
        "{lars}"
    );
    let ada: chrono::DateTime<chrono::Utc> = purged_at("c01").expect("c01 purged").parse().unwrap();
    let ada_ends: chrono::DateTime<chrono::Utc> = "2027-10-31T23:00:00Z".parse().unwrap();
    assert!(
        ada >= ada_ends && ada < ada_ends + chrono::Duration::days(1),
        "{ada}"
    );
    assert!(purged_at("c06").is_none(), "legal hold");
    // The chain verifies link by link.
    let chain: Vec<sunset::domain::audit::ChainedEntry> =
        serde_json::from_value(run().audit.clone()).unwrap();
    assert_eq!(sunset::domain::audit::verify_chain(&chain), Ok(()));
}

#[test]
fn the_report_counts_match_the_outbox() {
    let mut counted: BTreeMap<String, u64> = BTreeMap::new();
    for m in &run().outbox {
        *counted.entry(m.milestone.clone()).or_default() += 1;
    }
    let milestones = run().report["milestones"].as_object().unwrap();
    for (name, n) in &counted {
        assert_eq!(milestones[name]["sent"], *n, "{name}");
    }
    for (name, v) in milestones {
        assert_eq!(
            v["sent"].as_u64().unwrap(),
            counted.get(name).copied().unwrap_or(0),
            "{name}"
        );
    }
    let tiers = run().report["tiers"].as_object().unwrap();
    let customers: u64 = tiers
        .values()
        .map(|t| t["customers"].as_u64().unwrap())
        .sum();
    assert_eq!(customers, 14);
    let migrated: u64 = tiers
        .values()
        .map(|t| t["migrated"].as_u64().unwrap())
        .sum();
    assert_eq!(migrated, 2);
    // c02 strategic; c10 (98), c01 (77) and c05 (70) by score.
    assert_eq!(tiers["core"]["customers"], 4);
    assert_eq!(
        run().report["tickets"]["export-help"]["mean_hours_to_resolve"],
        30.0
    );
}

#[test]
fn events_that_cannot_apply_are_reported_by_row() {
    let problems = run().events.as_array().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p["row"] == 9 && p["customer_id"] == "nobody"),
        "{problems:#?}"
    );
    assert!(problems.iter().any(|p| p["row"] == 10
        && p["field"] == "event"
        && p["reason"].as_str().unwrap().contains("teleported")));
}

/// `simulate --ses-events` replays SES's events at their times: c01's
/// announcement bounces hard the next morning, so c01 gets no reminder;
/// c02's is delivered and opened; a bounce for a message never sent is
/// reported, not applied. The report counts what SES said.
#[test]
fn ses_events_replayed_by_simulate_suppress_and_are_counted() {
    use sunset::domain::ledger::{DeliveryKey, Recipient};
    use sunset::domain::{CampaignId, CustomerId, Milestone};
    let dir = tempfile::tempdir().unwrap();
    let f = fixture("small");
    let campaign = CampaignId::parse("orbit-crm-2027").unwrap();
    let key = |c: &str, m| {
        DeliveryKey::once(
            &campaign,
            Recipient::Customer(CustomerId::parse(c).unwrap()),
            m,
        )
    };
    let event = |name: &str, c: &str, m, addr: &str, at: &str| {
        let k = key(c, m);
        let id = sunset::services::dispatch::message_id(&k);
        let mut e = sunset_e2e::delivery::ses_event(name, &k, &id, addr);
        for path in [
            ["detail", "bounce"],
            ["detail", "delivery"],
            ["detail", "open"],
        ] {
            if let Some(t) = e[path[0]][path[1]].get_mut("timestamp") {
                *t = at.into();
            }
        }
        e
    };
    let events = serde_json::json!([
        event(
            "bounce-permanent",
            "c01",
            Milestone::Announcement,
            "ada@lovelace.example",
            "2027-02-02T08:00:00Z"
        ),
        event(
            "delivery",
            "c02",
            Milestone::Announcement,
            "grete@gruendlich.example",
            "2027-02-01T09:00:05Z"
        ),
        event(
            "open",
            "c02",
            Milestone::Announcement,
            "grete@gruendlich.example",
            "2027-02-01T12:00:00Z"
        ),
        event(
            "bounce-permanent",
            "c02",
            Milestone::Reminder(60),
            "grete@gruendlich.example",
            "2027-02-03T08:00:00Z"
        ),
    ]);
    let ses = dir.path().join("ses-events.json");
    std::fs::write(&ses, events.to_string()).unwrap();
    let data = dir.path().join("run");
    // The events name the announcement's messages as sent on 1 February:
    // no announcement waits for a 1:1 call here.
    let campaign_file = dir.path().join("campaign.toml");
    let toml = std::fs::read_to_string(f.join("campaign.toml"))
        .unwrap()
        .replace("[delivery]\n", "[delivery]\noutreach_hold_days = 0\n");
    assert!(toml.contains("outreach_hold_days = 0"));
    std::fs::write(&campaign_file, toml).unwrap();
    let args = SimulateArgs {
        campaign: campaign_file,
        customers: f.join("customers.csv"),
        events: None,
        ses_events: Some(ses),
        product_data: None,
        data: data.clone(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let outcome = rt
        .block_on(simulate::simulate(&args, |_| {}))
        .expect("simulate runs");
    let mails = read_outbox(&data);
    let to_ada: Vec<&str> = mails
        .iter()
        .filter(|m| m.to == "ada@lovelace.example")
        .map(|m| m.milestone.as_str())
        .collect();
    assert_eq!(to_ada, ["announcement"], "no reminder after the bounce");
    let a = outcome.report.milestones["announcement"];
    assert_eq!((a.bounced, a.delivered, a.opened), (1, 1, 1), "{a:?}");
    let problems = &outcome.event_problems;
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].row, 4);
    assert_eq!(problems[0].field.as_deref(), Some("mail.messageId"));
}
