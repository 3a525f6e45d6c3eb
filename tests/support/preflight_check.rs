//! The preflight as the guide's checklist, through the admin API on any
//! adapter set: every item with its state and reason; a launch refused
//! while an item fails, with the checklist in the answer; an override
//! that must name who and why, and is audited; launching on the
//! announcement's eve fails the brief's lead time. Run by
//! `contract_embedded` and `contract_aws` through `contract`.

use axum::http::StatusCode;
use serde_json::json;
use sunset::domain::{Campaign, EmailAddress};
use sunset::ports::Deps;

use crate::operator::{Operator, Runtime};

/// p1 and p2 are core (strategic), p1 with an account manager; p3 is not.
async fn seeded(op: &Operator, c: &Campaign) {
    op.create(c).await;
    let records: Vec<_> = ["p1", "p2", "p3"]
        .iter()
        .map(|id| {
            let mut r = crate::contract::record(id, chrono_tz::Europe::Berlin);
            let p = r.profile.as_mut().unwrap();
            p.strategic = *id != "p3";
            if *id == "p1" {
                p.account_manager = Some(EmailAddress::parse("am@orbit.example").unwrap());
            }
            r
        })
        .collect();
    op.insert(&c.id, &records).await;
}

fn states(body: &serde_json::Value) -> Vec<(String, String)> {
    body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items: {body}"))
        .iter()
        .map(|i| {
            (
                i["item"].as_str().unwrap().to_owned(),
                i["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn expect(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

pub async fn the_preflight_is_the_guides_checklist(deps: &Deps, runtime: Runtime) {
    let op = Operator::new(deps, "2027-01-05T10:00:00Z", runtime);
    let c = crate::contract::campaign();
    seeded(&op, &c).await;
    let uri = format!("/v1/campaigns/{}/preflight", c.id);

    // Ready, with one warning: p2, a core customer, has no owner.
    let ready = op.call("GET", &uri, None).await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
    assert_eq!(
        states(&ready.body),
        expect(&[
            ("tiers", "pass"),
            ("notices", "pass"),
            ("test_export", "pass"),
            ("materials", "pass"),
            ("notice_period", "pass"),
            ("core_owners", "warn"),
            ("brief_lead_time", "pass"),
            ("sender_identity", "pass"),
            ("staff_briefing", "pass"),
        ]),
        "{}",
        ready.body
    );
    assert_eq!(ready.body["result"], "warn");
    let item = |body: &serde_json::Value, name: &str| {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["item"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(item(&ready.body, "core_owners")["details"], json!(["p2"]));
    assert!(
        item(&ready.body, "tiers")["reason"]
            .as_str()
            .unwrap()
            .contains("3 not tiered yet, whom the saved rules"),
        "{}",
        ready.body
    );
    assert!(
        item(&ready.body, "test_export")["reason"]
            .as_str()
            .unwrap()
            .contains("was built and read back"),
        "{}",
        ready.body
    );
    // A GET changes nothing: no tier was written, nothing was stored.
    let p1 = op
        .call("GET", &format!("/v1/campaigns/{}/customers/p1", c.id), None)
        .await;
    assert_eq!(p1.body["tier"], serde_json::Value::Null, "{}", p1.body);
    assert!(op.deps.exports.all_exports(&c.id).await.unwrap().is_empty());

    // No alternative, and the staff briefed after the announcement: both
    // fail, and the launch is refused with the checklist.
    let patched = op
        .call(
            "PATCH",
            &format!("/v1/campaigns/{}", c.id),
            Some(json!({ "alternatives": [], "dates": { "staff_briefing": "2027-02-03" } })),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let failing = op.call("GET", &uri, None).await;
    assert_eq!(failing.body["result"], "fail", "{}", failing.body);
    for (name, state) in [("materials", "fail"), ("staff_briefing", "fail")] {
        assert_eq!(item(&failing.body, name)["state"], state, "{name}");
    }
    let launch = format!("/v1/campaigns/{}/launch", c.id);
    let refused = op.call("POST", &launch, None).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert_eq!(refused.body["title"], "preflight failed");
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap()
            .contains("staff_briefing: 2027-02-03 is after the announcement"),
        "{}",
        refused.body
    );
    assert_eq!(refused.body["preflight"]["result"], "fail");
    assert!(op.deps.scheduler.scheduled(&c.id).await.unwrap().is_empty());
    assert_eq!(op.deps.campaigns.launched_at(&c.id).await.unwrap(), None);

    // An override must say who and why.
    for (body, field) in [
        (
            json!({ "override": { "by": "", "reason": "board decision" } }),
            "override.by",
        ),
        (
            json!({ "override": { "by": "Mia", "reason": "  " } }),
            "override.reason",
        ),
        (json!({ "override": { "by": "Mia" } }), "reason"),
        (
            json!({ "overide": { "by": "Mia", "reason": "x" } }),
            "overide",
        ),
    ] {
        let answer = op.call("POST", &launch, Some(body.clone())).await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            answer.body
        );
        assert_eq!(answer.body["field"], field, "{body}: {}", answer.body);
    }
    assert_eq!(op.deps.campaigns.launched_at(&c.id).await.unwrap(), None);

    // With who and why it launches, and the audit trail keeps both and the
    // items overridden.
    let launched = op
        .call(
            "POST",
            &launch,
            Some(json!({ "override": {
                "by": "Mia Chen (COO)",
                "reason": "alternatives announced separately by the partner"
            }})),
        )
        .await;
    assert_eq!(launched.status, StatusCode::OK, "{}", launched.body);
    assert_eq!(launched.body["overridden"]["by"], "Mia Chen (COO)");
    assert!(!op.deps.scheduler.scheduled(&c.id).await.unwrap().is_empty());
    let audit = op.deps.audit.entries(&c.id).await.unwrap();
    let overridden: Vec<_> = audit
        .iter()
        .filter(|e| e.entry.action == "preflight-overridden")
        .collect();
    assert_eq!(overridden.len(), 1);
    let detail = &overridden[0].entry.detail;
    assert_eq!(detail["by"], "Mia Chen (COO)");
    assert_eq!(
        detail["reason"],
        "alternatives announced separately by the partner"
    );
    assert_eq!(
        detail["items"],
        json!(["materials", "staff_briefing"]),
        "{detail}"
    );
    // Launched, every customer is tiered and the brief stands as planned.
    let after = op.call("GET", &uri, None).await;
    assert_eq!(item(&after.body, "tiers")["state"], "pass");
    assert!(
        item(&after.body, "tiers")["reason"]
            .as_str()
            .unwrap()
            .starts_with("3 customers: core 2"),
        "{}",
        after.body
    );
    assert_eq!(item(&after.body, "brief_lead_time")["state"], "pass");
}

/// Launching the day before the announcement leaves the account managers
/// hours, not the ten days planned: the brief's lead time fails, naming
/// how long is left.
pub async fn a_launch_too_late_for_the_brief_fails_its_lead_time(deps: &Deps, runtime: Runtime) {
    let op = Operator::new(deps, "2027-01-31T12:00:00Z", runtime);
    let c = crate::contract::campaign();
    seeded(&op, &c).await;
    let refused = op
        .call("POST", &format!("/v1/campaigns/{}/launch", c.id), None)
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    let items = refused.body["preflight"]["items"].as_array().unwrap();
    let brief = items
        .iter()
        .find(|i| i["item"] == "brief_lead_time")
        .unwrap();
    assert_eq!(brief["state"], "fail");
    let reason = brief["reason"].as_str().unwrap();
    assert!(
        reason.contains("the brief was due 2027-01-22 09:00")
            && reason.contains("21 hours instead of 10 days")
            && reason.contains("2 core customers"),
        "{reason}"
    );
    // The only failing item: everything else is ready.
    assert_eq!(
        items.iter().filter(|i| i["state"] == "fail").count(),
        1,
        "{}",
        refused.body
    );
}
