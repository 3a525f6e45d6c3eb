//! The core customers' outreach through the admin API, on any adapter
//! set: a task per core customer at launch; owners move them on (and ten
//! notes written at the same instant are all kept); the brief lists them
//! and the reminder three days before lists the open ones; at the
//! announcement a core customer not yet called is held and escalated,
//! told when the call is recorded or when the hold ends — never left
//! untold — and the report says who heard 1:1 first. Run by
//! `contract_embedded` and `contract_aws` through `contract`.

use std::collections::HashSet;

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde_json::json;
use sunset::domain::{Campaign, CustomerId, EmailAddress, Milestone};
use sunset::ports::Deps;

use crate::operator::{Operator, Runtime};
use crate::plan_check::run_until;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// k1, k2 (owner am1) and k3 (no owner) are core; s1 is not. All in
/// Berlin, where the announcement goes out 2027-02-01 10:00 (09:00 UTC).
async fn launched(op: &Operator) -> Campaign {
    let c = crate::contract::campaign();
    op.create(&c).await;
    let records: Vec<_> = ["k1", "k2", "k3", "s1"]
        .iter()
        .map(|id| {
            let mut r = crate::contract::record(id, chrono_tz::Europe::Berlin);
            let p = r.profile.as_mut().unwrap();
            p.strategic = id.starts_with('k');
            if *id == "k1" || *id == "k2" {
                p.account_manager = Some(EmailAddress::parse("am1@orbit.example").unwrap());
            }
            r
        })
        .collect();
    op.insert(&c.id, &records).await;
    op.launch(&c).await;
    c
}

async fn announced_at(op: &Operator, c: &Campaign, who: &str) -> Option<DateTime<Utc>> {
    op.deps
        .ledger
        .deliveries_to(&c.id, &CustomerId::parse(who).unwrap())
        .await
        .unwrap()
        .into_iter()
        .filter(|d| d.key.milestone == Milestone::Announcement)
        .filter_map(|d| d.sent_at)
        .min()
}

pub async fn a_core_customer_hears_it_one_to_one_first_or_is_held_then_told(
    deps: &Deps,
    runtime: Runtime,
) {
    let op = Operator::new(deps, "2027-01-05T10:00:00Z", runtime);
    let c = launched(&op).await;
    let base = format!("/v1/campaigns/{}/outreach", c.id);

    // A task per core customer, to do, each with its owner.
    let list = op.call("GET", &base, None).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert_eq!(list.body["counts"], json!({ "todo": 3 }), "{}", list.body);
    let ids: Vec<_> = list.body["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["customer"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["k1", "k2", "k3"]);
    let mine = op
        .call("GET", &format!("{base}?owner=AM1@orbit.example"), None)
        .await;
    assert_eq!(
        mine.body["tasks"].as_array().unwrap().len(),
        2,
        "{}",
        mine.body
    );

    // k1's call is set; every refusal names its field and changes nothing.
    let k1 = format!("{base}/k1");
    let set = op
        .call(
            "PATCH",
            &k1,
            Some(json!({ "by": "am1", "scheduled_for": "2027-01-25", "note": "meeting with the CTO" })),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert_eq!(set.body["state"], "scheduled");
    for (uri, body, status, field) in [
        (
            &k1,
            json!({ "by": "am1", "state": "escalated" }),
            422,
            "state",
        ),
        (&k1, json!({ "by": "am1", "state": "called" }), 422, "state"),
        (
            &k1,
            json!({ "by": "am1", "scheduled_for": "next week" }),
            422,
            "scheduled_for",
        ),
        (&k1, json!({ "by": " ", "state": "done" }), 422, "by"),
        (&k1, json!({ "by": "am1" }), 422, "state"),
        (&k1, json!({ "by": "am1", "note": "" }), 422, "note"),
        (
            &format!("{base}/s1"),
            json!({ "by": "am1", "state": "done" }),
            404,
            "",
        ),
    ] {
        let answer = op.call("PATCH", uri, Some(body.clone())).await;
        assert_eq!(answer.status.as_u16(), status, "{body}: {}", answer.body);
        assert_eq!(answer.body["field"].as_str().unwrap_or(""), field, "{body}");
    }
    let k3_scheduled = op
        .call(
            "PATCH",
            &format!("{base}/k3"),
            Some(json!({ "by": "support", "state": "scheduled" })),
        )
        .await;
    assert_eq!(
        k3_scheduled.body["field"], "scheduled_for",
        "{}",
        k3_scheduled.body
    );

    // Ten notes on k2 at the same instant: each write names the revision
    // it read, so none is lost.
    let k2 = format!("{base}/k2");
    let writes = (0..10).map(|i| {
        let (op, k2) = (&op, &k2);
        async move {
            op.call(
                "PATCH",
                k2,
                Some(json!({ "by": format!("am{i}"), "note": format!("tried to call, #{i}") })),
            )
            .await
        }
    });
    for answer in futures::future::join_all(writes).await {
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    }
    let k2_task = op.call("GET", &k2, None).await;
    assert_eq!(
        k2_task.body["notes"].as_array().unwrap().len(),
        10,
        "{}",
        k2_task.body
    );
    assert_eq!(k2_task.body["revision"], 10);
    assert_eq!(k2_task.body["state"], "todo");

    // The brief (22 January) lists every core customer; k1 is then told.
    let mut ran = HashSet::new();
    run_until(&op, &c, t("2027-01-22T08:30:00Z"), &mut ran).await;
    op.clock.advance_to(t("2027-01-27T10:00:00Z"));
    let done = op
        .call(
            "PATCH",
            &k1,
            Some(json!({ "by": "am1", "state": "done", "note": "moving to Suite" })),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    // The reminder (29 January) goes to the owners of k2 and k3 only.
    let reminder = op
        .deps
        .scheduler
        .scheduled(&c.id)
        .await
        .unwrap()
        .into_iter()
        .find(|j| j.name.ends_with("outreach-reminder"))
        .expect("the reminder is planned");
    assert_eq!(reminder.due, t("2027-01-29T08:00:00Z"));
    op.clock.advance_to(reminder.due);
    let reminded = sunset::services::jobs::run(
        &op.deps,
        &reminder.job,
        op.now(),
        &sunset::services::jobs::Budget::unlimited(),
    )
    .await
    .unwrap();
    let reminded = serde_json::to_value(&reminded).unwrap();
    assert_eq!(reminded["core_customers"], 2, "{reminded}");
    assert_eq!(reminded["managers"], 2, "{reminded}");
    assert_eq!(reminded["sent"], 2, "{reminded}");
    ran.insert((reminder.name.clone(), reminder.due));

    // The announcement: k1 (told) and s1 get it; k2 and k3 are held and
    // escalated.
    run_until(&op, &c, t("2027-02-01T09:00:00Z"), &mut ran).await;
    assert!(announced_at(&op, &c, "k1").await.is_some());
    assert!(announced_at(&op, &c, "s1").await.is_some());
    assert_eq!(announced_at(&op, &c, "k2").await, None);
    assert_eq!(announced_at(&op, &c, "k3").await, None);
    let now = op.call("GET", &base, None).await;
    assert_eq!(
        now.body["counts"],
        json!({ "done": 1, "escalated": 2 }),
        "{}",
        now.body
    );
    let audit = op.deps.audit.entries(&c.id).await.unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.entry.action == "outreach-escalated")
            .count(),
        2
    );

    // k2 is called two days later: their announcement goes at once.
    op.clock.advance_to(t("2027-02-03T14:00:00Z"));
    let called = op
        .call("PATCH", &k2, Some(json!({ "by": "am1", "state": "done" })))
        .await;
    assert_eq!(called.status, StatusCode::OK, "{}", called.body);
    run_until(&op, &c, t("2027-02-03T14:00:00Z"), &mut ran).await;
    assert_eq!(
        announced_at(&op, &c, "k2").await,
        Some(t("2027-02-03T14:00:00Z"))
    );
    assert_eq!(announced_at(&op, &c, "k3").await, None);

    // Nobody calls k3: when the hold ends (seven days), it goes anyway.
    run_until(&op, &c, t("2027-02-08T09:00:00Z"), &mut ran).await;
    assert_eq!(
        announced_at(&op, &c, "k3").await,
        Some(t("2027-02-08T09:00:00Z"))
    );

    let report = op
        .call("GET", &format!("/v1/campaigns/{}/report", c.id), None)
        .await;
    assert_eq!(
        report.body["outreach"],
        json!({
            "core_customers": 3, "todo": 0, "scheduled": 0, "done": 2, "escalated": 1,
            "told_one_to_one_first": 2, "told_by_held_notice": 1
        }),
        "{}",
        report.body
    );

    // The purge takes the owners' notes on purged customers with the rest
    // of their data; the states stay for the report.
    run_until(&op, &c, t("2027-12-31T00:00:00Z"), &mut ran).await;
    for who in ["k1", "k2"] {
        let task = op.call("GET", &format!("{base}/{who}"), None).await;
        assert_eq!(task.body["notes"], json!([]), "{}", task.body);
        assert_eq!(task.body["state"], "done");
    }
    let after = op
        .call("GET", &format!("/v1/campaigns/{}/report", c.id), None)
        .await;
    assert_eq!(after.body["outreach"], report.body["outreach"]);
}

/// Core customers imported after the announcement went out are not told
/// by the catch-up mass notice either: they are held and escalated as the
/// wave holds everyone else's, for as long from their import as the hold
/// runs from the announcement; told when the call is recorded, or when
/// their hold ends. A late customer who is not core hears it at once.
pub async fn a_core_customer_imported_late_is_held_like_the_others(deps: &Deps, runtime: Runtime) {
    let op = Operator::new(deps, "2027-01-05T10:00:00Z", runtime);
    let c = launched(&op).await;
    let mut ran = HashSet::new();
    run_until(&op, &c, t("2027-02-10T12:00:00Z"), &mut ran).await;
    op.clock.advance_to(t("2027-02-10T12:00:00Z"));
    let csv = "customer_id,name,email,timezone,strategic,account_manager\n\
               late-k1,Late Core One,late-k1@example.com,Europe/Berlin,true,am2@orbit.example\n\
               late-k2,Late Core Two,late-k2@example.com,Europe/Berlin,true,am2@orbit.example\n\
               late-s1,Late Standard,late-s1@example.com,Europe/Berlin,false,\n";
    let imported = op
        .call_typed(
            crate::operator::Caller::Admin,
            "POST",
            &format!("/v1/campaigns/{}/customers", c.id),
            "text/csv",
            Some(csv),
            &[],
        )
        .await;
    assert_eq!(imported.status, StatusCode::OK, "{}", imported.body);
    assert_eq!(imported.body["imported"], 3, "{}", imported.body);

    // The catch-up runs: the standard customer hears it now, the core
    // ones wait for their manager, whose tasks are escalated.
    run_until(&op, &c, t("2027-02-10T12:00:00Z"), &mut ran).await;
    assert_eq!(
        announced_at(&op, &c, "late-s1").await,
        Some(t("2027-02-10T12:00:00Z"))
    );
    assert_eq!(announced_at(&op, &c, "late-k1").await, None);
    assert_eq!(announced_at(&op, &c, "late-k2").await, None);
    let base = format!("/v1/campaigns/{}/outreach", c.id);
    for who in ["late-k1", "late-k2"] {
        let task = op.call("GET", &format!("{base}/{who}"), None).await;
        assert_eq!(task.status, StatusCode::OK, "{}", task.body);
        assert_eq!(task.body["state"], "escalated", "{who}: {}", task.body);
        assert_eq!(task.body["owner"], "am2@orbit.example", "{}", task.body);
    }

    // late-k1's manager calls two days later: told at once.
    op.clock.advance_to(t("2027-02-12T15:00:00Z"));
    let called = op
        .call(
            "PATCH",
            &format!("{base}/late-k1"),
            Some(json!({ "by": "am2", "state": "done" })),
        )
        .await;
    assert_eq!(called.status, StatusCode::OK, "{}", called.body);
    run_until(&op, &c, t("2027-02-12T15:00:00Z"), &mut ran).await;
    assert_eq!(
        announced_at(&op, &c, "late-k1").await,
        Some(t("2027-02-12T15:00:00Z"))
    );
    // Nobody calls late-k2: seven days after the import, it goes anyway.
    run_until(&op, &c, t("2027-02-17T11:59:00Z"), &mut ran).await;
    assert_eq!(announced_at(&op, &c, "late-k2").await, None);
    run_until(&op, &c, t("2027-02-17T12:00:00Z"), &mut ran).await;
    assert_eq!(
        announced_at(&op, &c, "late-k2").await,
        Some(t("2027-02-17T12:00:00Z"))
    );
}
