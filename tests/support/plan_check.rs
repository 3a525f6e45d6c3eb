//! The plan preview against what is then sent, on any adapter set: the
//! campaign's plan (per day, notice and channel) and one customer's
//! sequence are read through the admin API, then every job runs at its
//! time to the last purge, and the ledger must hold exactly that. Run by
//! `contract_embedded` and `contract_aws` through `contract`.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use sunset::domain::customer::MigrationStatus;
use sunset::domain::ids::Phone;
use sunset::domain::ledger::Recipient;
use sunset::domain::{Campaign, CustomerId};
use sunset::ports::Deps;
use sunset::services::jobs::{self, Budget};

use crate::operator::{Operator, Runtime};

/// Runs every scheduled job of the campaign due by `until`, in time
/// order, moving the clock to each, as many rounds as jobs schedule
/// others. (Each schedule runs once: EventBridge deletes a one-time
/// schedule that fired, which the emulator does not do.)
pub async fn run_until(
    op: &Operator,
    c: &Campaign,
    until: DateTime<Utc>,
    ran: &mut HashSet<(String, DateTime<Utc>)>,
) {
    for _ in 0..400 {
        let next = op
            .deps
            .scheduler
            .scheduled(&c.id)
            .await
            .unwrap()
            .into_iter()
            .filter(|j| j.due <= until && !ran.contains(&(j.name.clone(), j.due)))
            .min_by_key(|j| j.due);
        let Some(next) = next else {
            return;
        };
        ran.insert((next.name.clone(), next.due));
        if next.due > op.now() {
            op.clock.advance_to(next.due);
        }
        jobs::run(&op.deps, &next.job, op.now(), &Budget::unlimited())
            .await
            .unwrap_or_else(|e| panic!("{} failed: {e:#}", next.name));
    }
    panic!("jobs kept scheduling jobs");
}

async fn seeded(op: &Operator) -> Campaign {
    let c = crate::contract::campaign();
    op.create(&c).await;
    let berlin = crate::contract::record("p1", chrono_tz::Europe::Berlin);
    let mut shanghai = crate::contract::record("p2", chrono_tz::Asia::Shanghai);
    shanghai.profile.as_mut().unwrap().phone = Some(Phone::parse("+86 138 0013 8000").unwrap());
    let mut moved_on = crate::contract::record("p3", chrono_tz::America::New_York);
    moved_on.status = MigrationStatus::Migrated;
    let mut no_mobile = crate::contract::record("p4", chrono_tz::Europe::Berlin);
    no_mobile.profile.as_mut().unwrap().phone = Some(Phone::parse("030 1234567").unwrap());
    op.insert(&c.id, &[berlin, shanghai, moved_on, no_mobile])
        .await;
    op.launch(&c).await;
    c
}

/// (notice, channel) → customers, summed over the plan's days.
fn planned_by_notice(plan: &serde_json::Value) -> BTreeMap<(String, String), u64> {
    let mut out = BTreeMap::new();
    for row in plan["rows"].as_array().unwrap() {
        *out.entry((
            row["notice"].as_str().unwrap().to_owned(),
            row["channel"].as_str().unwrap().to_owned(),
        ))
        .or_default() += row["customers"].as_u64().unwrap();
    }
    out
}

/// The plan read before the campaign runs is what it then sends: per
/// notice and channel, the customers the ledger counts as sent; for one
/// customer, each planned step sent on its planned day where they live;
/// a migrated customer gets no reminder, a number without its country
/// code no text. Read again afterwards, every row is sent.
pub async fn the_plan_preview_is_what_is_then_sent(deps: &Deps, runtime: Runtime) {
    let op = Operator::new(deps, "2027-01-05T10:00:00Z", runtime);
    let c = seeded(&op).await;
    let plan = op
        .call("GET", &format!("/v1/campaigns/{}/plan", c.id), None)
        .await;
    assert_eq!(plan.status, StatusCode::OK, "{}", plan.body);
    assert_eq!(plan.body["customers"], 4);
    assert_eq!(plan.body["phase"], "running");
    let expected = planned_by_notice(&plan.body);
    // The guide's defaults: everyone is announced to by e-mail, the one
    // customer with a mobile number also by text; the migrated customer
    // gets no reminder.
    assert_eq!(expected[&("announcement".into(), "email".into())], 4);
    assert_eq!(expected[&("announcement".into(), "sms".into())], 1);
    assert_eq!(expected[&("reminder-30".into(), "email".into())], 3);
    assert!(
        plan.body["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["sent"] == 0)
    );
    let dates: Vec<NaiveDate> = plan.body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["date"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(dates.windows(2).all(|w| w[0] <= w[1]), "rows in date order");

    let one = op
        .call(
            "GET",
            &format!("/v1/campaigns/{}/plan?customer=p2", c.id),
            None,
        )
        .await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.body);
    assert_eq!(one.body["zone"], "Asia/Shanghai");
    let steps: Vec<(String, String, NaiveDate)> = one.body["steps"]
        .as_array()
        .unwrap()
        .iter()
        .inspect(|s| assert_eq!(s["state"], "planned", "{s}"))
        .map(|s| {
            (
                s["notice"].as_str().unwrap().to_owned(),
                s["channel"].as_str().unwrap().to_owned(),
                s["date"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect();
    assert!(
        steps
            .iter()
            .any(|(n, ch, _)| n == "announcement" && ch == "sms")
    );
    assert!(steps.iter().any(|(n, _, _)| n == "deletion-done"));
    let p4 = op
        .call(
            "GET",
            &format!("/v1/campaigns/{}/plan?customer=p4", c.id),
            None,
        )
        .await;
    assert!(
        p4.body["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["channel"] == "sms" && s["state"] == "skipped"),
        "{}",
        p4.body
    );
    for (uri, status) in [
        (
            format!("/v1/campaigns/{}/plan?customer=nobody", c.id),
            StatusCode::NOT_FOUND,
        ),
        (
            format!("/v1/campaigns/{}/plan?customer=%20", c.id),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/v1/campaigns/no-such/plan".to_owned(),
            StatusCode::NOT_FOUND,
        ),
    ] {
        let refused = op.call("GET", &uri, None).await;
        assert_eq!(refused.status, status, "{uri}: {}", refused.body);
    }

    // The announcement's day has passed everywhere: its rows are sent,
    // the reminders' not yet.
    let mut ran = HashSet::new();
    run_until(&op, &c, "2027-02-02T12:00:00Z".parse().unwrap(), &mut ran).await;
    let mid = op
        .call("GET", &format!("/v1/campaigns/{}/plan", c.id), None)
        .await;
    for row in mid.body["rows"].as_array().unwrap() {
        let expect = if row["notice"] == "announcement" {
            &row["customers"]
        } else {
            &serde_json::Value::from(0)
        };
        assert_eq!(&row["sent"], expect, "{row}");
    }
    let one_mid = op
        .call(
            "GET",
            &format!("/v1/campaigns/{}/plan?customer=p2", c.id),
            None,
        )
        .await;
    for s in one_mid.body["steps"].as_array().unwrap() {
        let state = if s["notice"] == "announcement" {
            "sent"
        } else {
            "planned"
        };
        assert_eq!(s["state"], state, "{s}");
    }

    run_until(&op, &c, "2028-01-01T00:00:00Z".parse().unwrap(), &mut ran).await;

    let tallies = op.deps.ledger.tallies(&c.id).await.unwrap();
    let mut sent = BTreeMap::new();
    for (channel, by_notice) in &tallies {
        for (notice, t) in by_notice {
            if t.sent > 0 && notice != "outreach-brief" {
                sent.insert((notice.clone(), channel.as_str().to_owned()), t.sent);
            }
        }
    }
    assert_eq!(sent, expected, "sent (left) against planned (right)");
    // The Shanghai customer got each step on its day there.
    let zone = chrono_tz::Asia::Shanghai;
    let got: BTreeSet<(String, String, NaiveDate)> = op
        .deps
        .ledger
        .deliveries_to(&c.id, &CustomerId::parse("p2").unwrap())
        .await
        .unwrap()
        .into_iter()
        .filter(|d| matches!(d.key.recipient, Recipient::Customer(_)))
        .filter_map(|d| {
            Some((
                d.key.milestone.name(),
                d.key.channel.as_str().to_owned(),
                d.sent_at?.with_timezone(&zone).date_naive(),
            ))
        })
        .collect();
    assert_eq!(got, steps.into_iter().collect::<BTreeSet<_>>());
}
