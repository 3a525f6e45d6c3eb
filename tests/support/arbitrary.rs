//! Generated inputs for the property tests: campaign files and customer
//! rows of any shape, absurd numbers and dates included, mostly plausible
//! so that the checks after the first ones are reached.

use proptest::prelude::*;
use sunset::services::import;

const EXAMPLE: &str = include_str!("../../examples/orbit-crm.toml");

/// A date as a file might give it: well formed in any year (absurd ones
/// included), or any short text.
pub fn date() -> impl Strategy<Value = String> {
    prop_oneof![
        (-300_000i32..300_000, 1u32..13, 1u32..29)
            .prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}")),
        (1990i32..2300, 1u32..13, 1u32..32).prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}")),
        "\\PC{0,12}",
    ]
}

pub fn number() -> impl Strategy<Value = String> {
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

/// The five key dates: mostly plausible (in order, around 2027, so a
/// campaign gets past its checks and launches), else in order in any year
/// (absurd ones included), else any five dates.
pub fn key_dates() -> impl Strategy<Value = Vec<String>> {
    let in_order = |years: BoxedStrategy<i32>, gaps: BoxedStrategy<Vec<u32>>| {
        (years, 1u32..13, 1u32..29, gaps).prop_map(|(y, m, d, gaps)| {
            let Some(mut day) = chrono::NaiveDate::from_ymd_opt(y, m, d) else {
                return vec![format!("{y}-{m:02}-{d:02}"); 5];
            };
            let mut out = vec![day.to_string()];
            for g in gaps {
                day = day
                    .checked_add_days(chrono::Days::new(u64::from(g)))
                    .unwrap_or(day);
                out.push(day.to_string());
            }
            out
        })
    };
    let plausible_gaps = (0u32..30, 30u32..90, 120u32..250, 0u32..60)
        .prop_map(|(a, b, c, d)| vec![a, b, c, d])
        .boxed();
    prop_oneof![
        6 => in_order(Just(2027).boxed(), plausible_gaps),
        2 => in_order(
            prop_oneof![-300_000i32..300_000, 1990i32..2300].boxed(),
            proptest::collection::vec(0u32..400, 4).boxed(),
        ),
        1 => proptest::collection::vec(date(), 5),
    ]
}

/// Reminder offsets: plausible, or any `u32` (4294967295 included).
pub fn offsets() -> impl Strategy<Value = Vec<u32>> {
    prop_oneof![
        6 => proptest::collection::vec(1u32..150, 0..6),
        1 => proptest::collection::vec(prop_oneof![2 => 1u32..400, 1 => any::<u32>()], 0..6),
    ]
}

/// Mostly `valid`, sometimes `wild`: with nine fields, about a third of
/// the campaigns have every field valid and go on to be planned.
fn mostly<T: std::fmt::Debug + Clone + 'static>(
    valid: impl Strategy<Value = T> + 'static,
    wild: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<T> {
    prop_oneof![8 => valid.boxed(), 1 => wild.boxed()].boxed()
}

/// The example campaign with its values replaced by generated ones.
pub fn campaign_table() -> impl Strategy<Value = toml::Table> {
    (
        key_dates(),
        offsets(),
        mostly(0u32..23, any::<u32>()),
        mostly(7u32..15, any::<u32>()),
        mostly("[A-Za-z][A-Za-z ]{0,20}", "\\PC{0,40}"),
        mostly("[1-9][0-9]{0,6}", number()),
        mostly(0u32..100, any::<u32>()),
        any::<bool>(),
        mostly(
            prop_oneof![
                Just("Europe/Berlin".to_owned()),
                Just("Pacific/Kiritimati".to_owned()),
                Just("Pacific/Honolulu".to_owned()),
            ],
            "\\PC{0,20}",
        ),
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

/// A customer row: every column mostly a plausible value (so a row gets
/// past the required fields), else any short text.
pub fn row() -> impl Strategy<Value = Vec<String>> {
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
            optional("[A-Za-z ]{1,12}".boxed()),
            prop_oneof![6 => "[a-z]{1,6}@[a-z]{1,6}\\.example", 1 => text()],
        ),
        optional(
            prop_oneof![
                Just("en".to_owned()),
                Just("en-US".to_owned()),
                Just("en-GB".to_owned()),
                Just("zh-CN".to_owned())
            ]
            .boxed(),
        ),
        optional(
            prop_oneof![
                Just("Asia/Shanghai".to_owned()),
                Just("Pacific/Kiritimati".to_owned())
            ]
            .boxed(),
        ),
        optional(amount().boxed()),
        prop_oneof![
            6 => prop_oneof![
                Just("EUR".to_owned()),
                Just("CNY".to_owned()),
                Just("USD".to_owned()),
                Just("JPY".to_owned()),
                Just("CHF".to_owned())
            ],
            1 => text()
        ],
        optional(date().boxed()),
        optional((0u32..=100).prop_map(|n| n.to_string()).boxed()),
        optional(Just("true".to_owned()).boxed()),
        (
            optional("[a-z]{1,6}@orbit\\.example".boxed()),
            optional("[A-Za-z ]{1,12}".boxed()),
        ),
        optional("\\+[0-9 ]{4,14}".boxed()),
        prepaid,
    )
        .prop_map(
            |(
                (id, name, contact, email),
                locale,
                tz,
                value,
                cur,
                since,
                usage,
                strategic,
                (am, am_name),
                phone,
                (from, until, amount),
            )| {
                vec![
                    id, name, contact, email, locale, tz, value, cur, since, usage, strategic, am,
                    am_name, phone, from, until, amount,
                ]
            },
        )
}

pub fn csv_of(rows: &[Vec<String>]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(import::COLUMNS).unwrap();
    for r in rows {
        w.write_record(r).unwrap();
    }
    w.into_inner().unwrap()
}
