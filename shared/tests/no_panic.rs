//! No input makes sunset panic: campaign files and customer rows of any
//! shape, absurd numbers and dates included, are either refused with a
//! reason or planned, scored and rendered (properties, by proptest).

use proptest::prelude::*;
use sunset::domain::link::LinkSigner;
use sunset::domain::milestone::{self, Milestone};
use sunset::domain::{Campaign, CustomerRecord};
use sunset::services::{import, notice};

const EXAMPLE: &str = include_str!("../../examples/orbit-crm.toml");

/// A date as a file might give it: well formed in any year (absurd ones
/// included), or any short text.
fn date() -> impl Strategy<Value = String> {
    prop_oneof![
        (-300_000i32..300_000, 1u32..13, 1u32..29)
            .prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}")),
        (1990i32..2300, 1u32..13, 1u32..32).prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}")),
        "\\PC{0,12}",
    ]
}

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        Just("79228162514264337593543950335".to_owned()),
        Just("-79228162514264337593543950335".to_owned()),
        (any::<u32>(), 0u32..30).prop_map(|(n, s)| format!("{n}.{}", "9".repeat(s as usize))),
        "[0-9eE.+-]{0,40}",
        "\\PC{0,10}",
    ]
}

/// The five key dates: mostly in order (so the checks after the order
/// check are reached) in any year, absurd ones included; else any dates.
fn key_dates() -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        3 => (
            prop_oneof![-300_000i32..300_000, 1990i32..2300],
            1u32..13,
            1u32..29,
            proptest::collection::vec(0u32..400, 4),
        )
            .prop_map(|(y, m, d, gaps)| {
                let Some(mut day) = chrono::NaiveDate::from_ymd_opt(y, m, d) else {
                    return vec![format!("{y}-{m:02}-{d:02}"); 5];
                };
                let mut out = vec![day.to_string()];
                for g in gaps {
                    day = day.checked_add_days(chrono::Days::new(u64::from(g))).unwrap_or(day);
                    out.push(day.to_string());
                }
                out
            }),
        1 => proptest::collection::vec(date(), 5),
    ]
}

/// Reminder offsets: plausible, or any `u32` (4294967295 included).
fn offsets() -> impl Strategy<Value = Vec<u32>> {
    proptest::collection::vec(prop_oneof![2 => 1u32..400, 1 => any::<u32>()], 0..6)
}

/// The example campaign with its values replaced by generated ones.
fn campaign_table() -> impl Strategy<Value = toml::Table> {
    (
        key_dates(),
        offsets(),
        prop_oneof![0u32..24, any::<u32>()],
        prop_oneof![7u32..15, any::<u32>()],
        "\\PC{0,40}",
        number(),
        any::<u32>(),
        prop_oneof![3 => Just(true), 1 => Just(false)],
        prop_oneof![
            Just(String::new()),
            Just("Pacific/Kiritimati".to_owned()),
            "\\PC{0,20}"
        ],
    )
        .prop_map(
            |(dates, offsets, hour, brief, product, full_value, core, short, tz)| {
                let mut t: toml::Table = EXAMPLE.parse().unwrap();
                let d = t["dates"].as_table_mut().unwrap();
                for (key, value) in [
                    "announce",
                    "stop_new_signups",
                    "stop_renewals",
                    "service_end",
                    "export_deadline",
                ]
                .iter()
                .zip(dates)
                {
                    d.insert((*key).into(), value.into());
                }
                t["reminders"].as_table_mut().unwrap().insert(
                    "days_before_end".into(),
                    offsets
                        .into_iter()
                        .map(i64::from)
                        .collect::<Vec<_>>()
                        .into(),
                );
                let delivery = t
                    .entry("delivery")
                    .or_insert(toml::Table::new().into())
                    .as_table_mut()
                    .unwrap();
                delivery.insert("send_hour".into(), i64::from(hour).into());
                delivery.insert("brief_days_before_announce".into(), i64::from(brief).into());
                delivery.insert("allow_short_notice".into(), short.into());
                t.insert("product".into(), product.into());
                if !tz.is_empty() {
                    t.insert("timezone".into(), tz.into());
                }
                let seg = t
                    .entry("segmentation")
                    .or_insert(toml::Table::new().into())
                    .as_table_mut()
                    .unwrap();
                seg.insert("full_value".into(), full_value.into());
                seg.insert("core_score".into(), i64::from(core).into());
                t
            },
        )
}

/// Everything a campaign that parsed is used for before a customer is
/// involved: the plan and its dates.
fn exercise_campaign(c: &Campaign) {
    let zones = [
        c.timezone,
        chrono_tz::Pacific::Kiritimati,
        chrono_tz::Pacific::Honolulu,
    ];
    let extensions = [c.dates.export_deadline + chrono::Days::new(30)].into();
    let jobs = milestone::plan(c, &zones, &extensions);
    assert!(!jobs.is_empty());
    for n in c.reminder_offsets() {
        assert!(c.reminder_date(n) > c.dates.announce);
    }
}

/// A customer row: every column mostly a plausible value (so a row gets
/// past the required fields), else any short text.
fn row() -> impl Strategy<Value = Vec<String>> {
    // Each column mostly empty or plausible, sometimes anything: a row
    // gets past the other columns often enough to reach the absurd one.
    let text = || "\\PC{0,16}";
    let amount = || {
        prop_oneof![
            3 => (0u64..10_000_000, 0u32..100).prop_map(|(a, c)| format!("{a}.{c:02}")),
            1 => Just("79228162514264337593543950335".to_owned()),
            1 => number(),
        ]
    };
    let optional = |valid: BoxedStrategy<String>| prop_oneof![3 => Just(String::new()), 4 => valid, 1 => text().boxed()];
    let prepaid = prop_oneof![
        4 => (1990i32..2200, 0u32..3000, 1u32..4000, amount()).prop_map(|(y, start, len, amount)| {
            let from = chrono::NaiveDate::from_ymd_opt(y, 1, 1).unwrap() + chrono::Days::new(u64::from(start));
            let until = from + chrono::Days::new(u64::from(len));
            (from.to_string(), until.to_string(), amount)
        }),
        1 => (date(), date(), number()),
        1 => Just((String::new(), String::new(), String::new())),
    ];
    (
        (
            prop_oneof![6 => "[a-z0-9]{1,8}", 1 => text()],
            prop_oneof![6 => "[A-Za-z ]{1,12}", 1 => text()],
            prop_oneof![6 => "[a-z]{1,6}@[a-z]{1,6}\\.example", 1 => text()],
        ),
        optional(prop_oneof![Just("en".to_owned()), Just("zh-CN".to_owned())].boxed()),
        optional(
            prop_oneof![
                Just("Asia/Shanghai".to_owned()),
                Just("Pacific/Kiritimati".to_owned())
            ]
            .boxed(),
        ),
        optional(amount().boxed()),
        prop_oneof![6 => Just("EUR".to_owned()), 1 => text()],
        optional(date().boxed()),
        optional((0u32..=100).prop_map(|n| n.to_string()).boxed()),
        optional(Just("true".to_owned()).boxed()),
        optional("[a-z]{1,6}@orbit\\.example".boxed()),
        optional("\\+[0-9 ]{4,14}".boxed()),
        prepaid,
    )
        .prop_map(
            |(
                (id, name, email),
                locale,
                tz,
                value,
                cur,
                since,
                usage,
                strategic,
                am,
                phone,
                (from, until, amount),
            )| {
                vec![
                    id, name, email, locale, tz, value, cur, since, usage, strategic, am, phone,
                    from, until, amount,
                ]
            },
        )
}

fn csv_of(rows: &[Vec<String>]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(import::COLUMNS).unwrap();
    for r in rows {
        w.write_record(r).unwrap();
    }
    w.into_inner().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// Any campaign file is refused with the field at fault or planned:
    /// never a panic (a 4294967295-day reminder or a year-262142 date did).
    #[test]
    fn any_campaign_file_is_refused_or_planned(table in campaign_table()) {
        let text = toml::to_string(&table).unwrap();
        if let Ok(c) = Campaign::from_toml(&text) {
            exercise_campaign(&c);
        }
        let json = serde_json::to_string(&table).unwrap();
        if let Ok(c) = Campaign::from_json(&json) {
            exercise_campaign(&c);
        }
    }

    /// Any customer row is refused with reasons or scored, refunded and
    /// rendered in every notice: never a panic (a prepaid amount of
    /// 79228162514264337593543950335 made the refund overflow).
    #[test]
    fn any_customer_row_is_refused_or_notified(rows in proptest::collection::vec(row(), 1..4)) {
        let campaign = Campaign::from_toml(EXAMPLE).unwrap();
        let signer = LinkSigner::new(vec![7; 32]);
        let file = import::parse_csv(&csv_of(&rows)).unwrap();
        for raw in &file.rows {
            let Ok(customer) = import::parse_customer(raw) else { continue };
            let record = CustomerRecord::new(customer.clone(), campaign.timezone);
            let decision = campaign.segmentation.decide(&customer, campaign.dates.announce);
            prop_assert!(decision.score <= 100);
            if let (Some(refund), Some(p)) = (campaign.refund_for(customer.prepaid.as_ref()), &customer.prepaid) {
                prop_assert!(refund <= p.amount.get() && !refund.is_sign_negative());
            }
            for m in [Milestone::Announcement, Milestone::Reminder(60), Milestone::Reminder(1)] {
                notice::render_notice(&campaign, &record, &customer, m, &signer).unwrap();
            }
            notice::render_export_ready(
                &campaign,
                &record,
                &customer,
                &sunset::domain::export::ExportId::generate(),
                3,
                &signer,
            )
            .unwrap();
        }
    }

    /// Any bytes as a customer file: read, or refused as unreadable.
    #[test]
    fn any_bytes_as_a_customer_file_are_read_or_refused(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = import::parse_csv(&bytes);
        let _ = import::parse_json(&bytes);
    }
}
