//! Every refusal the API makes, in the runtime under test, on any adapter
//! set: each documented operation refuses every caller but its own; then
//! a table of what a route cannot take — a purged customer (410), an
//! unknown campaign, customer or task (404), a cancelled campaign or one
//! created twice (409), a file over the limit (413), a field that does
//! not hold (422, naming it), a body that is not JSON (400), a forged
//! customer link (403) — each a problem (or, for a customer, a page), and
//! none of them changes anything. Run by `contract_embedded` (both
//! runtimes) and `contract_aws` (the gateway's) through `contract`.

use axum::http::StatusCode;
use serde_json::{Value, json};
use sunset::domain::link::LinkPurpose;
use sunset::domain::{Campaign, CampaignId, CustomerId};
use sunset::ports::Deps;

use crate::operator::{Caller, Operator, Runtime, SIGNING_KEY};

/// A launched campaign with r1..r3 (r1 core, owned by am@orbit.example)
/// and `gone`, whose data was purged; and `cancelled`, a campaign the
/// operator cancelled.
async fn seeded(op: &Operator) -> (Campaign, Campaign) {
    let c = crate::contract::campaign();
    op.create(&c).await;
    let records: Vec<_> = ["r1", "r2", "r3", "gone"]
        .iter()
        .map(|id| {
            let mut r = crate::contract::record(id, chrono_tz::Europe::Berlin);
            if *id == "r1" {
                let p = r.profile.as_mut().unwrap();
                p.strategic = true;
                p.account_manager =
                    Some(sunset::domain::EmailAddress::parse("am@orbit.example").unwrap());
            }
            r
        })
        .collect();
    op.insert(&c.id, &records).await;
    op.launch(&c).await;

    let mut cancelled = crate::contract::campaign();
    cancelled.id = CampaignId::parse("cancelled-one").unwrap();
    op.create(&cancelled).await;
    op.insert(
        &cancelled.id,
        &[crate::contract::record("x1", chrono_tz::Europe::Berlin)],
    )
    .await;
    op.launch(&cancelled).await;
    let answer = op
        .call(
            "POST",
            &format!("/v1/campaigns/{}/cancel", cancelled.id),
            Some(json!({ "by": "Mia (ops)", "reason": "the product stays" })),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    (c, cancelled)
}

/// What the refusals must leave as it was: the audit trail, the events,
/// the scheduled jobs and every customer of both campaigns.
async fn state(deps: &Deps, campaigns: [&CampaignId; 2]) -> Vec<String> {
    let mut out = Vec::new();
    for c in campaigns {
        out.push(format!("{:?}", deps.audit.entries(c).await.unwrap().len()));
        out.push(format!("{:?}", deps.events.events(c).await.unwrap()));
        let mut jobs: Vec<String> = deps
            .scheduler
            .scheduled(c)
            .await
            .unwrap()
            .into_iter()
            .map(|j| format!("{} {}", j.name, j.due))
            .collect();
        jobs.sort();
        out.extend(jobs);
        let campaign = deps.campaigns.campaign(c).await.unwrap();
        out.push(format!("{campaign:?}"));
        for id in ["r1", "r2", "r3", "gone", "x1"] {
            let record = deps
                .customers
                .customer(c, &CustomerId::parse(id).unwrap())
                .await
                .unwrap();
            out.push(format!("{record:?}"));
        }
    }
    out
}

/// One refusal: who calls what with which body, and what they must hear.
struct Refusal {
    who: Caller,
    method: &'static str,
    uri: String,
    body: Option<String>,
    status: StatusCode,
    /// The field the problem names, for a 422.
    field: Option<&'static str>,
}

fn admin(method: &'static str, uri: String, body: Option<Value>, status: StatusCode) -> Refusal {
    Refusal {
        who: Caller::Admin,
        method,
        uri,
        body: body.map(|b| b.to_string()),
        status,
        field: None,
    }
}

fn invalid(method: &'static str, uri: String, body: Value, field: &'static str) -> Refusal {
    Refusal {
        field: Some(field),
        ..admin(method, uri, Some(body), StatusCode::UNPROCESSABLE_ENTITY)
    }
}

/// Every documented operation refuses each caller but its own (its
/// security scheme's; an open route has none to refuse), before its
/// handler sees the request.
async fn each_operation_refuses_the_other_callers(op: &Operator, c: &Campaign) {
    let doc = op.call("GET", "/v1/openapi.json", None).await;
    assert_eq!(doc.status, StatusCode::OK);
    let mut secured = 0;
    for (path, item) in doc.body["paths"].as_object().unwrap() {
        let uri = path
            .replace("{campaign}", c.id.as_str())
            .replace("{customer}", "r1");
        for (method, operation) in item.as_object().unwrap() {
            let owner = Caller::of_operation(operation);
            if owner == Caller::Nobody {
                continue;
            }
            secured += 1;
            for who in Caller::ALL.into_iter().filter(|w| *w != owner) {
                let method = method.to_uppercase();
                let answer = op.call_as(who, &method, &uri, Some("{}"), &[]).await;
                assert_eq!(
                    answer.status,
                    op.refuses(who),
                    "{:?}: {who:?} on {method} {path}: {}",
                    op.api.runtime(),
                    answer.body
                );
                assert_eq!(
                    answer.body["status"],
                    op.refuses(who).as_u16(),
                    "{method} {path} answers a problem: {}",
                    answer.body
                );
            }
        }
    }
    // Every operation but the open ones (the health check, the document,
    // the customers' pages).
    assert!(secured >= 29, "{secured} operations behind a credential");
}

/// Every refusal of the API in `runtime`: by caller first, then by what
/// the request asks.
pub async fn every_refusal_says_why_and_changes_nothing(deps: &Deps, runtime: Runtime) {
    let op = Operator::new(deps, "2027-01-05T10:00:00Z", runtime);
    let (c, cancelled) = seeded(&op).await;
    // The customer's link, while there was someone to sign it for.
    let gone_link = crate::link_path(&op.deps, &c, "gone", LinkPurpose::RequestExport).await;
    let r1_link = crate::link_path(&op.deps, &c, "r1", LinkPurpose::RequestExport).await;
    op.deps
        .customers
        .scrub_customers(&c.id, &[CustomerId::parse("gone").unwrap()], op.now())
        .await
        .unwrap();
    let before = state(&op.deps, [&c.id, &cancelled.id]).await;

    each_operation_refuses_the_other_callers(&op, &c).await;

    let base = format!("/v1/campaigns/{}", c.id);
    let x = format!("/v1/campaigns/{}", cancelled.id);
    let none = "/v1/campaigns/no-such-campaign".to_owned();
    let decision = json!({ "by": "Mia (ops)", "reason": "a test" });
    let event = json!({ "event": "declined", "detail": "moving on" });
    let tier = json!({ "tier": "standard", "by": "Mia (ops)", "reason": "a test" });
    let contact = json!({ "email": "new@example.com" });
    let outreach = json!({ "by": "am@orbit.example", "state": "done" });
    let ticket = |customer: &str| {
        Some(json!({ "customer": customer, "action": "opened", "type": "login" }).to_string())
    };
    let preview =
        |customer: &str| format!("{base}/preview?customer={customer}&milestone=announcement");
    use StatusCode as S;
    let mut table = vec![
        // Gone: the customer's data was purged.
        admin(
            "PATCH",
            format!("{base}/customers/gone"),
            Some(contact.clone()),
            S::GONE,
        ),
        admin(
            "PUT",
            format!("{base}/customers/gone/tier"),
            Some(tier.clone()),
            S::GONE,
        ),
        admin(
            "POST",
            format!("{base}/customers/gone/events"),
            Some(event.clone()),
            S::GONE,
        ),
        admin("GET", preview("gone"), None, S::GONE),
        Refusal {
            who: Caller::Product,
            ..admin(
                "GET",
                format!("{base}/customers/gone/banner"),
                None,
                S::GONE,
            )
        },
        Refusal {
            who: Caller::Nobody,
            ..admin("GET", gone_link.clone(), None, S::GONE)
        },
        Refusal {
            who: Caller::Nobody,
            ..admin("POST", gone_link.clone(), None, S::GONE)
        },
        // Not found: no such campaign, customer or task.
        admin("GET", none.clone(), None, S::NOT_FOUND),
        admin(
            "PUT",
            none.clone(),
            Some(json!(Campaign {
                id: CampaignId::parse("no-such-campaign").unwrap(),
                ..c.clone()
            })),
            S::NOT_FOUND,
        ),
        admin("PATCH", none.clone(), Some(json!({})), S::NOT_FOUND),
        admin("GET", format!("{none}/status"), None, S::NOT_FOUND),
        admin(
            "POST",
            format!("{none}/pause"),
            Some(decision.clone()),
            S::NOT_FOUND,
        ),
        admin("POST", format!("{none}/resume"), None, S::NOT_FOUND),
        admin(
            "POST",
            format!("{none}/cancel"),
            Some(decision.clone()),
            S::NOT_FOUND,
        ),
        admin("POST", format!("{none}/launch"), None, S::NOT_FOUND),
        admin("GET", format!("{none}/preflight"), None, S::NOT_FOUND),
        admin("GET", format!("{none}/report"), None, S::NOT_FOUND),
        admin("GET", format!("{none}/plan"), None, S::NOT_FOUND),
        admin("GET", format!("{none}/customers"), None, S::NOT_FOUND),
        admin("GET", format!("{none}/declines"), None, S::NOT_FOUND),
        admin("GET", format!("{none}/outreach"), None, S::NOT_FOUND),
        admin(
            "GET",
            format!("{base}/customers/nobody"),
            None,
            S::NOT_FOUND,
        ),
        admin(
            "PATCH",
            format!("{base}/customers/nobody"),
            Some(contact.clone()),
            S::NOT_FOUND,
        ),
        admin(
            "PUT",
            format!("{base}/customers/nobody/tier"),
            Some(tier.clone()),
            S::NOT_FOUND,
        ),
        admin(
            "POST",
            format!("{base}/customers/nobody/events"),
            Some(event.clone()),
            S::NOT_FOUND,
        ),
        admin("GET", preview("nobody"), None, S::NOT_FOUND),
        admin(
            "GET",
            format!("{base}/plan?customer=nobody"),
            None,
            S::NOT_FOUND,
        ),
        // r2 is not a core customer: no task to read or move.
        admin("GET", format!("{base}/outreach/r2"), None, S::NOT_FOUND),
        admin(
            "PATCH",
            format!("{base}/outreach/r2"),
            Some(outreach.clone()),
            S::NOT_FOUND,
        ),
        Refusal {
            who: Caller::Product,
            ..admin(
                "GET",
                format!("{base}/customers/nobody/banner"),
                None,
                S::NOT_FOUND,
            )
        },
        Refusal {
            who: Caller::HelpDesk,
            body: ticket("nobody"),
            ..admin("POST", format!("{base}/tickets"), None, S::NOT_FOUND)
        },
        // Conflict: a campaign that exists, or was cancelled.
        admin(
            "POST",
            "/v1/campaigns".into(),
            Some(serde_json::to_value(&c).unwrap()),
            S::CONFLICT,
        ),
        admin(
            "POST",
            format!("{x}/pause"),
            Some(decision.clone()),
            S::CONFLICT,
        ),
        admin("POST", format!("{x}/resume"), None, S::CONFLICT),
        admin("POST", format!("{x}/launch"), None, S::CONFLICT),
        // Invalid: each names its field.
        invalid(
            "POST",
            "/v1/campaigns".into(),
            json!({ "id": "bad id!" }),
            "id",
        ),
        invalid("PUT", x.clone(), serde_json::to_value(&c).unwrap(), "id"),
        invalid(
            "POST",
            format!("{base}/pause"),
            json!({ "by": "", "reason": "r" }),
            "by",
        ),
        invalid(
            "POST",
            format!("{base}/cancel"),
            json!({ "by": "Mia", "reason": " " }),
            "reason",
        ),
        invalid(
            "POST",
            format!("{base}/launch"),
            json!({ "override": { "by": "Mia", "reason": "" } }),
            "override.reason",
        ),
        invalid(
            "PATCH",
            base.clone(),
            json!({ "dates": { "export_deadline": "2027-09-01" } }),
            "dates.export_deadline",
        ),
        invalid(
            "PUT",
            format!("{base}/customers/r2/tier"),
            json!({ "tier": "gold", "by": "Mia", "reason": "r" }),
            "tier",
        ),
        invalid(
            "PUT",
            format!("{base}/customers/r2/tier"),
            json!({ "tier": "core", "by": "Mia", "reason": "" }),
            "reason",
        ),
        invalid(
            "PATCH",
            format!("{base}/customers/r2"),
            json!({ "email": "not an address" }),
            "email",
        ),
        invalid(
            "PATCH",
            format!("{base}/customers/r2"),
            json!({ "timezone": "Mars/Olympus" }),
            "timezone",
        ),
        invalid(
            "POST",
            format!("{base}/customers/r2/events"),
            json!({ "event": "vanished" }),
            "event",
        ),
        invalid(
            "PATCH",
            format!("{base}/outreach/r1"),
            json!({ "by": "am@orbit.example", "state": "someday" }),
            "state",
        ),
        admin(
            "GET",
            format!("{base}/customers?tier=gold"),
            None,
            S::UNPROCESSABLE_ENTITY,
        ),
        Refusal {
            who: Caller::HelpDesk,
            body: Some(
                json!({ "customer": "r2", "action": "opened", "type": "NOT A TYPE" }).to_string(),
            ),
            field: Some("type"),
            ..admin(
                "POST",
                format!("{base}/tickets"),
                None,
                S::UNPROCESSABLE_ENTITY,
            )
        },
        // Not JSON at all.
        Refusal {
            body: Some("{\"event\": ".into()),
            ..admin(
                "POST",
                format!("{base}/customers/r2/events"),
                None,
                S::BAD_REQUEST,
            )
        },
        Refusal {
            body: Some("[1, 2]".into()),
            ..admin("PATCH", base.clone(), None, S::BAD_REQUEST)
        },
        // A customer's link that was not signed for them.
        Refusal {
            who: Caller::Nobody,
            ..admin("GET", r1_link.replace("/r1/", "/r2/"), None, S::FORBIDDEN)
        },
    ];
    // The product's reports are signed; for a purged or unknown customer,
    // the signature holds and the customer does not.
    for (customer, status) in [("gone", S::GONE), ("nobody", S::NOT_FOUND)] {
        let answer = op
            .signed(
                &format!("{base}/customers/{customer}/migration"),
                &json!({ "status": "migrated" }),
                &SIGNING_KEY,
            )
            .await;
        assert_eq!(answer.status, status, "{customer}: {}", answer.body);
    }
    // The import: a file over the limit, and one with no header row.
    table.push(Refusal {
        body: Some("x".repeat(33 * 1024 * 1024)),
        ..admin(
            "POST",
            format!("{base}/customers"),
            None,
            S::PAYLOAD_TOO_LARGE,
        )
    });

    for r in &table {
        let answer = op
            .call_as(r.who, r.method, &r.uri, r.body.as_deref(), &[])
            .await;
        let what = format!("{:?}: {:?} {} {}", runtime, r.who, r.method, r.uri);
        assert_eq!(answer.status, r.status, "{what}: {}", answer.body);
        if r.uri.starts_with("/v1/c/") {
            // A customer hears it as a page in their language.
            let page = answer.body.as_str().unwrap_or_default();
            assert!(page.contains("<html"), "{what}: {page}");
        } else {
            assert_eq!(
                answer.body["status"],
                r.status.as_u16(),
                "{what}: {}",
                answer.body
            );
            assert!(
                !answer.body["detail"]
                    .as_str()
                    .unwrap_or_default()
                    .is_empty(),
                "{what} says why: {}",
                answer.body
            );
        }
        if let Some(field) = r.field {
            assert_eq!(answer.body["field"], field, "{what}: {}", answer.body);
        }
    }
    assert_eq!(
        state(&op.deps, [&c.id, &cancelled.id]).await,
        before,
        "{runtime:?}: a refusal changed something"
    );

    // After the service ended, an import needs the operator's choice.
    op.clock.advance_to("2027-10-02T09:00:00Z".parse().unwrap());
    let csv = "customer_id,name,email\nlate1,Late One,late1@example.com\n";
    let late = op
        .call_typed(
            Caller::Admin,
            "POST",
            &format!("{base}/customers"),
            "text/csv",
            Some(csv),
            &[],
        )
        .await;
    assert_eq!(late.status, S::CONFLICT, "{}", late.body);
    assert!(
        op.deps
            .customers
            .customer(&c.id, &CustomerId::parse("late1").unwrap())
            .await
            .unwrap()
            .is_none()
    );
}
