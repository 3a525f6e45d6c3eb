//! The retiring product and the help desk call in, on any adapter set:
//! signed migration reports (one, and in bulk) that count once however
//! often they arrive, and refuse an unsigned, re-signed, stale or foreign
//! call; the help desk's ticket webhook, counted per type in the report
//! once however often it is retried; each caller's key opens its own
//! routes only. Run by `contract_embedded` and `contract_aws` through
//! `contract`.

use axum::http::StatusCode;
use serde_json::json;
use sunset::domain::Campaign;
use sunset::domain::customer::MigrationStatus;
use sunset::ports::Deps;

use crate::operator::{Caller, Operator, Runtime, SIGNING_KEY};

/// A launched campaign's six customers, p1..p6.
async fn seeded(op: &Operator) -> Campaign {
    let c = crate::contract::campaign();
    op.create(&c).await;
    let records: Vec<_> = (1..=6)
        .map(|i| crate::contract::record(&format!("p{i}"), chrono_tz::Europe::Berlin))
        .collect();
    op.insert(&c.id, &records).await;
    c
}

async fn status_of(op: &Operator, c: &Campaign, who: &str) -> MigrationStatus {
    op.deps
        .customers
        .customer(&c.id, &sunset::domain::CustomerId::parse(who).unwrap())
        .await
        .unwrap()
        .unwrap()
        .status
}

/// Migrated customers as the report counts them, over every tier.
async fn migrated_in_report(op: &Operator, c: &Campaign) -> u64 {
    let report = op
        .call("GET", &format!("/v1/campaigns/{}/report", c.id), None)
        .await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.body);
    report.body["tiers"]
        .as_object()
        .unwrap()
        .values()
        .map(|t| t["migrated"].as_u64().unwrap())
        .sum()
}

async fn migrated_events(op: &Operator, c: &Campaign) -> usize {
    op.deps
        .events
        .events(&c.id)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.kind.name() == "migrated")
        .count()
}

pub async fn the_products_signed_migration_reports_count_once(deps: &Deps, runtime: Runtime) {
    let op = Operator::new(deps, "2027-01-10T09:00:00Z", runtime);
    let c = seeded(&op).await;
    let one = format!("/v1/campaigns/{}/customers/p1/migration", c.id);
    let bulk = format!("/v1/campaigns/{}/migrations", c.id);
    let report = json!({ "status": "migrated", "at": "2027-01-09T15:30:00Z" });

    // One customer, then the same report again: recorded once.
    let first = op.signed(&one, &report, &SIGNING_KEY).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.body["outcome"], "recorded");
    let again = op.signed(&one, &report, &SIGNING_KEY).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body["outcome"], "unchanged");
    assert_eq!(status_of(&op, &c, "p1").await, MigrationStatus::Migrated);
    assert_eq!(migrated_events(&op, &c).await, 1);
    let p1 = op
        .call("GET", &format!("/v1/campaigns/{}/customers/p1", c.id), None)
        .await;
    assert_eq!(p1.body["status_at"], "2027-01-09T15:30:00Z", "{}", p1.body);

    // In bulk: p1 (already), p2 twice, p3; a row that is not a customer of
    // the campaign, one that cannot be an id, one with another status and
    // one from the future are refused each by itself, and the rest stand.
    let rows = json!({ "customers": [
        { "customer": "p1", "status": "migrated" },
        { "customer": "p2", "status": "migrated" },
        { "customer": "p2", "status": "migrated" },
        { "customer": "nobody", "status": "migrated" },
        { "customer": "p 4", "status": "migrated" },
        { "customer": "p4", "status": "churned" },
        { "customer": "p5", "status": "migrated", "at": "2027-02-01T00:00:00Z" },
        { "customer": "p6" },
        { "customer": "p3", "status": "migrated" },
    ]});
    let answer = op.signed(&bulk, &rows, &SIGNING_KEY).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let b = &answer.body;
    assert_eq!(
        (&b["recorded"], &b["unchanged"], &b["refused"]),
        (&json!(2), &json!(2), &json!(5)),
        "{b}"
    );
    let outcome = |i: usize| b["results"][i]["outcome"].as_str().unwrap().to_owned();
    let field = |i: usize| b["results"][i]["field"].as_str().unwrap_or("").to_owned();
    assert_eq!(
        (0..9).map(outcome).collect::<Vec<_>>(),
        [
            "unchanged",
            "recorded",
            "unchanged",
            "refused",
            "refused",
            "refused",
            "refused",
            "refused",
            "recorded"
        ]
    );
    assert_eq!(
        [3, 4, 5, 6, 7].map(field),
        ["customer", "customer", "status", "at", "status"].map(String::from),
        "{b}"
    );
    for who in ["p2", "p3"] {
        assert_eq!(status_of(&op, &c, who).await, MigrationStatus::Migrated);
    }
    for who in ["p4", "p5", "p6"] {
        assert_eq!(status_of(&op, &c, who).await, MigrationStatus::Pending);
    }
    // The whole batch again changes nothing.
    let replay = op.signed(&bulk, &rows, &SIGNING_KEY).await;
    assert_eq!(replay.body["recorded"], 0, "{}", replay.body);
    assert_eq!(migrated_events(&op, &c).await, 3);
    assert_eq!(migrated_in_report(&op, &c).await, 3);

    // Refusals: each says why, and nothing changes.
    let p4 = format!("/v1/campaigns/{}/customers/p4/migration", c.id);
    let body = report_body();
    let unsigned = op
        .call_as(Caller::Product, "PUT", &p4, Some(&body), &[])
        .await;
    assert_eq!(
        unsigned.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        unsigned.body
    );
    assert!(
        unsigned.body["detail"]
            .as_str()
            .unwrap()
            .contains("sunset-timestamp"),
        "{}",
        unsigned.body
    );
    let forged = op
        .signed(&p4, &json!({"status": "migrated"}), &[1; 32])
        .await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED, "{}", forged.body);
    assert_eq!(forged.body["title"], "bad signature");
    // Signed for one body, sent with another.
    let at = op.now().timestamp();
    let key = sunset::http::SigningKey::new(SIGNING_KEY.to_vec()).unwrap();
    let swapped = op
        .call_as(
            Caller::Product,
            "PUT",
            &p4,
            Some(&body),
            &[
                ("sunset-timestamp", at.to_string()),
                (
                    "sunset-signature",
                    key.sign(at, b"{\"status\":\"migrated\"} "),
                ),
            ],
        )
        .await;
    assert_eq!(swapped.status, StatusCode::UNAUTHORIZED, "{}", swapped.body);
    // Signed ten minutes ago: a replay past the window.
    let stale_at = at - 600;
    let stale = op
        .call_as(
            Caller::Product,
            "PUT",
            &p4,
            Some(&body),
            &[
                ("sunset-timestamp", stale_at.to_string()),
                ("sunset-signature", key.sign(stale_at, body.as_bytes())),
            ],
        )
        .await;
    assert_eq!(stale.status, StatusCode::UNAUTHORIZED, "{}", stale.body);
    assert!(
        stale.body["detail"].as_str().unwrap().contains("600 s"),
        "{}",
        stale.body
    );
    // Signed rightly, but with the operator's or the help desk's key, or
    // none: this route is the product's.
    let signed_headers = [
        ("sunset-timestamp", at.to_string()),
        ("sunset-signature", key.sign(at, body.as_bytes())),
    ];
    for who in [Caller::Admin, Caller::HelpDesk, Caller::Nobody] {
        let answer = op
            .call_as(who, "PUT", &p4, Some(&body), &signed_headers)
            .await;
        assert_eq!(answer.status, op.refuses(who), "{who:?}");
    }
    // Signed, but not a report: each names its field.
    for (path, body, status, field) in [
        (
            p4.clone(),
            json!({"status": "migrated", "at": "2027-03-01T00:00:00Z"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "at",
        ),
        (
            p4.clone(),
            json!({"status": "gone"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "status",
        ),
        (
            format!("/v1/campaigns/{}/customers/nobody/migration", c.id),
            json!({"status": "migrated"}),
            StatusCode::NOT_FOUND,
            "",
        ),
        (
            bulk.clone(),
            json!({"customers": []}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "customers",
        ),
        (
            bulk.clone(),
            json!({"customers": vec![json!({"customer": "p4", "status": "migrated"}); 1001]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "customers",
        ),
    ] {
        let answer = op.signed(&path, &body, &SIGNING_KEY).await;
        assert_eq!(answer.status, status, "{path}: {}", answer.body);
        assert_eq!(answer.body["field"].as_str().unwrap_or(""), field);
    }
    assert_eq!(status_of(&op, &c, "p4").await, MigrationStatus::Pending);
    assert_eq!(migrated_events(&op, &c).await, 3);
}

/// The product resends a batch while the first is still in flight: five
/// identical signed batches at the same instant leave each customer
/// migrated once, and the report counts each once.
pub async fn a_batch_sent_five_times_at_once_migrates_each_customer_once(
    deps: &Deps,
    runtime: Runtime,
) {
    let op = Operator::new(deps, "2027-01-10T09:00:00Z", runtime);
    let c = seeded(&op).await;
    let bulk = format!("/v1/campaigns/{}/migrations", c.id);
    let rows = json!({ "customers": [
        { "customer": "p1", "status": "migrated", "at": "2027-01-09T10:00:00Z" },
        { "customer": "p2", "status": "migrated", "at": "2027-01-09T11:00:00Z" },
        { "customer": "p3", "status": "migrated", "at": "2027-01-09T12:00:00Z" },
    ]});
    let sends = (0..5).map(|_| op.signed(&bulk, &rows, &SIGNING_KEY));
    let answers = futures::future::join_all(sends).await;
    for a in &answers {
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        assert_eq!(a.body["refused"], 0, "{}", a.body);
    }
    for who in ["p1", "p2", "p3"] {
        assert_eq!(status_of(&op, &c, who).await, MigrationStatus::Migrated);
    }
    for who in ["p4", "p5", "p6"] {
        assert_eq!(status_of(&op, &c, who).await, MigrationStatus::Pending);
    }
    assert_eq!(migrated_in_report(&op, &c).await, 3);
    // The customer's history holds their migration once: the same report
    // names the same moment, and is recorded as one event.
    let events = op.deps.events.events(&c.id).await.unwrap();
    for who in ["p1", "p2", "p3"] {
        let mine = events
            .iter()
            .filter(|e| e.customer.as_str() == who && e.kind.name() == "migrated")
            .count();
        assert_eq!(mine, 1, "{who}: {events:?}");
    }
    // Five reports of p4's migration at once, each with its own time (a
    // retry stamped afresh): one is recorded, the others find p4
    // migrated.
    let p4 = format!("/v1/campaigns/{}/customers/p4/migration", c.id);
    let reports: Vec<_> = (0..5)
        .map(|i| json!({ "status": "migrated", "at": format!("2027-01-09T13:0{i}:00Z") }))
        .collect();
    let answers =
        futures::future::join_all(reports.iter().map(|r| op.signed(&p4, r, &SIGNING_KEY))).await;
    let mut outcomes: Vec<String> = answers
        .iter()
        .map(|a| {
            assert_eq!(a.status, StatusCode::OK, "{}", a.body);
            a.body["outcome"].as_str().unwrap().to_owned()
        })
        .collect();
    outcomes.sort();
    assert_eq!(
        outcomes,
        [
            "recorded",
            "unchanged",
            "unchanged",
            "unchanged",
            "unchanged"
        ]
    );
    let events = op.deps.events.events(&c.id).await.unwrap();
    let p4_migrations = events
        .iter()
        .filter(|e| e.customer.as_str() == "p4" && e.kind.name() == "migrated")
        .count();
    assert_eq!(p4_migrations, 1, "{events:?}");
    assert_eq!(migrated_in_report(&op, &c).await, 4);
}

fn report_body() -> String {
    json!({"status": "migrated"}).to_string()
}

pub async fn the_help_desks_tickets_feed_the_report_once(deps: &Deps, runtime: Runtime) {
    let op = Operator::new(deps, "2027-01-10T09:00:00Z", runtime);
    let c = seeded(&op).await;
    let uri = format!("/v1/campaigns/{}/tickets", c.id);
    let call = |who: Caller, body: serde_json::Value| {
        let op = &op;
        let uri = uri.clone();
        async move {
            op.call_as(who, "POST", &uri, Some(&body.to_string()), &[])
                .await
        }
    };
    let opened = json!({"customer": "p1", "action": "opened", "type": "Data-Export",
                        "at": "2027-01-10T08:00:00Z"});
    let first = call(Caller::HelpDesk, opened.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    // The help desk retries the same webhook: recorded once.
    let retried = call(Caller::HelpDesk, opened).await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.body);
    assert_eq!(retried.body["outcome"], "already_recorded");
    for body in [
        json!({"customer": "p1", "action": "resolved", "type": "data-export",
               "at": "2027-01-10T08:30:00Z"}),
        json!({"customer": "p2", "action": "opened", "type": "billing"}),
    ] {
        let answer = call(Caller::HelpDesk, body).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    }
    let report = op
        .call("GET", &format!("/v1/campaigns/{}/report", c.id), None)
        .await;
    let tickets = &report.body["tickets"];
    assert_eq!(tickets["data-export"]["opened"], 1, "{tickets}");
    assert_eq!(tickets["data-export"]["resolved"], 1, "{tickets}");
    assert_eq!(tickets["data-export"]["mean_hours_to_resolve"], 0.5);
    assert_eq!(tickets["billing"]["opened"], 1, "{tickets}");

    // Refusals, each naming its field; none is recorded.
    for (body, status, field) in [
        (
            json!({"customer": "p1", "action": "opened", "type": "Max cannot log in"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "type",
        ),
        (
            json!({"customer": "p1", "action": "escalated", "type": "login"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "action",
        ),
        (
            json!({"customer": "p 1", "action": "opened", "type": "login"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "customer",
        ),
        (
            json!({"customer": "nobody", "action": "opened", "type": "login"}),
            StatusCode::NOT_FOUND,
            "",
        ),
        (
            json!({"action": "opened", "type": "login"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "customer",
        ),
    ] {
        let answer = call(Caller::HelpDesk, body.clone()).await;
        assert_eq!(answer.status, status, "{body}: {}", answer.body);
        assert_eq!(answer.body["field"].as_str().unwrap_or(""), field, "{body}");
    }
    // The webhook is the help desk's: the operator's and the product's
    // keys, and none, are refused.
    for who in [Caller::Admin, Caller::Product, Caller::Nobody] {
        let answer = call(
            who,
            json!({"customer": "p3", "action": "opened", "type": "login"}),
        )
        .await;
        assert_eq!(answer.status, op.refuses(who), "{who:?}");
    }
    // And the help desk's key opens no one else's route.
    for (method, path) in [
        ("GET", format!("/v1/campaigns/{}/report", c.id)),
        ("GET", format!("/v1/campaigns/{}/customers/p1/banner", c.id)),
    ] {
        let answer = op.call_as(Caller::HelpDesk, method, &path, None, &[]).await;
        assert_eq!(answer.status, op.refuses(Caller::HelpDesk), "{path}");
    }
    let events = op.deps.events.events(&c.id).await.unwrap();
    assert_eq!(events.len(), 3, "{events:?}");
}
