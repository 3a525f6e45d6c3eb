//! The operator's view of the customers through the admin API, on any
//! adapter set: a filtered list walked by cursor (every customer once,
//! each read once), the same as CSV for the account team, one customer in
//! full, and each refusal naming its field. Run by `contract_embedded` and
//! `contract_aws` through `contract`.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use sunset::domain::customer::MigrationStatus;
use sunset::domain::ids::{DisplayName, Phone};
use sunset::domain::tier::{Tier, TierDecision};
use sunset::domain::{Campaign, EmailAddress, Milestone};
use sunset::ports::Deps;
use sunset::services::jobs::{self, Budget};

use crate::operator::{Operator, Runtime};

const N: usize = 30;

/// 30 customers: every third in Shanghai (zh-CN), every fifth a core
/// customer of am@orbit.example, every fourth with a phone, every sixth
/// migrated; the first one's name is a spreadsheet formula.
async fn seeded(op: &Operator) -> Campaign {
    let c = crate::contract::campaign();
    op.create(&c).await;
    let records: Vec<_> = (0..N)
        .map(|i| {
            let zone = if i % 3 == 0 {
                chrono_tz::Asia::Shanghai
            } else {
                chrono_tz::Europe::Berlin
            };
            let mut r = crate::contract::record(&format!("v{i:02}"), zone);
            let p = r.profile.as_mut().unwrap();
            if i % 3 == 0 {
                p.locale = Some("zh-CN".into());
            }
            if i % 4 == 0 {
                p.phone = Some(Phone::parse(&format!("+49 151 0000 {i:04}")).unwrap());
            }
            if i % 5 == 0 {
                p.account_manager = Some(EmailAddress::parse("am@orbit.example").unwrap());
            }
            if i == 0 {
                p.name = Some(DisplayName::parse("=HYPERLINK(\"x\")").unwrap());
            }
            if i % 6 == 0 {
                r.status = MigrationStatus::Migrated;
            }
            r
        })
        .collect();
    op.insert(&c.id, &records).await;
    let tiered: Vec<_> = records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let tier = if i % 5 == 0 {
                Tier::Core
            } else {
                Tier::Standard
            };
            (
                r.clone(),
                TierDecision {
                    tier,
                    score: 50,
                    explanation: format!("test tier {}", tier.as_str()),
                },
            )
        })
        .collect();
    op.deps.customers.set_tiers(&c.id, &tiered).await.unwrap();
    c
}

/// Every page of the listing `query`, by cursor: the ids, and how many
/// stored customers were read.
async fn walk(op: &Operator, c: &Campaign, query: &str) -> (Vec<String>, u64) {
    let mut ids = Vec::new();
    let mut read = 0;
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let uri = match &cursor {
            Some(next) => format!("/v1/campaigns/{}/customers?{query}&cursor={next}", c.id),
            None => format!("/v1/campaigns/{}/customers?{query}", c.id),
        };
        let page = op.call("GET", &uri, None).await;
        assert_eq!(page.status, StatusCode::OK, "{uri}: {}", page.body);
        read += page.body["read"].as_u64().unwrap();
        for customer in page.body["customers"].as_array().unwrap() {
            ids.push(customer["id"].as_str().unwrap().to_owned());
        }
        match page.body["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return (ids, read),
        }
    }
    panic!("the listing does not end");
}

fn expected(pick: impl Fn(usize) -> bool) -> BTreeSet<String> {
    (0..N)
        .filter(|&i| pick(i))
        .map(|i| format!("v{i:02}"))
        .collect()
}

pub async fn the_operator_lists_filters_and_reads_each_customer(deps: &Deps, runtime: Runtime) {
    let op = Operator::new(deps, "2027-01-05T10:00:00Z", runtime);
    let c = seeded(&op).await;

    // Everyone once, page by page, each stored customer read once.
    let (all, read) = walk(&op, &c, "limit=7").await;
    assert_eq!(all.len(), N, "{all:?}");
    assert_eq!(all.iter().collect::<BTreeSet<_>>().len(), N);
    assert_eq!(read, N as u64);

    for (query, want) in [
        ("tier=core", expected(|i| i % 5 == 0)),
        ("status=migrated", expected(|i| i % 6 == 0)),
        ("status=pending", expected(|i| i % 6 != 0)),
        ("zone=Asia/Shanghai", expected(|i| i % 3 == 0)),
        ("locale=zh-CN", expected(|i| i % 3 == 0)),
        ("locale=en", expected(|i| i % 3 != 0)),
        ("has_phone=true", expected(|i| i % 4 == 0)),
        ("has_phone=false", expected(|i| i % 4 != 0)),
        ("account_manager=am@orbit.example", expected(|i| i % 5 == 0)),
        (
            "tier=core&status=pending&has_phone=true",
            expected(|i| i % 5 == 0 && i % 6 != 0 && i % 4 == 0),
        ),
    ] {
        let (ids, read) = walk(&op, &c, &format!("{query}&limit=4")).await;
        assert_eq!(
            ids.iter().cloned().collect::<BTreeSet<_>>(),
            want,
            "{query}"
        );
        assert_eq!(ids.len(), want.len(), "{query}: listed twice");
        assert_eq!(read, N as u64, "{query}: each customer read once");
    }

    // The pending ones as CSV, a page at a time by the Link header.
    let mut rows = Vec::new();
    let mut uri = format!(
        "/v1/campaigns/{}/customers?status=pending&format=csv&limit=8",
        c.id
    );
    for _ in 0..10 {
        let (status, headers, body) = op.raw("GET", &uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/csv")
        );
        let text = String::from_utf8(body).unwrap();
        let mut lines = text.lines();
        assert!(
            lines
                .next()
                .unwrap()
                .starts_with("id,name,email,phone,zone,locale,tier,status")
        );
        rows.extend(lines.map(str::to_owned));
        match headers.get("link") {
            Some(link) => {
                let link = link.to_str().unwrap();
                let target = link
                    .strip_prefix('<')
                    .and_then(|l| l.split_once(">; rel=\"next\""))
                    .map(|(t, _)| t)
                    .unwrap_or_else(|| panic!("{link}"));
                assert!(target.contains("status=pending"), "{link}");
                uri = format!("/v1/campaigns/{}/customers{target}", c.id);
            }
            None => break,
        }
    }
    assert_eq!(rows.len(), expected(|i| i % 6 != 0).len(), "{rows:?}");
    // A name a spreadsheet would run as a formula comes out quoted.
    let (_, _, all_csv) = op
        .raw(
            "GET",
            &format!("/v1/campaigns/{}/customers?format=csv&limit=50", c.id),
        )
        .await;
    let all_csv = String::from_utf8(all_csv).unwrap();
    assert!(all_csv.contains("\"'=HYPERLINK(\"\"x\"\")\""), "{all_csv}");

    // One customer in full, before and after their announcement.
    op.clock.advance_to("2027-02-01T09:00:00Z".parse().unwrap());
    let job = sunset::domain::Job::Notice {
        campaign: c.id.clone(),
        milestone: Milestone::Announcement,
        timezone: chrono_tz::Europe::Berlin,
        resume: None,
    };
    jobs::run(&op.deps, &job, op.now(), &Budget::unlimited())
        .await
        .unwrap();
    let event = op
        .call(
            "POST",
            &format!("/v1/campaigns/{}/customers/v01/events", c.id),
            Some(serde_json::json!({ "event": "declined", "detail": "too expensive" })),
        )
        .await;
    assert_eq!(event.status, StatusCode::NO_CONTENT, "{}", event.body);
    for (who, why) in [
        ("v02", "Too expensive "),
        ("v03", "too  expensive"),
        ("v04", "We build our own"),
    ] {
        let declined = op
            .call(
                "POST",
                &format!("/v1/campaigns/{}/customers/{who}/events", c.id),
                Some(serde_json::json!({ "event": "declined", "detail": why })),
            )
            .await;
        assert_eq!(declined.status, StatusCode::NO_CONTENT, "{}", declined.body);
    }
    let declines = op
        .call("GET", &format!("/v1/campaigns/{}/declines", c.id), None)
        .await;
    assert_eq!(declines.status, StatusCode::OK, "{}", declines.body);
    assert_eq!(declines.body["total"], 4, "v01 declined above");
    assert_eq!(
        declines.body["reasons"],
        serde_json::json!([
            // v01's words first, the others' case and spacing folded in.
            { "reason": "too expensive", "customers": 3 },
            { "reason": "We build our own", "customers": 1 },
        ]),
        "{}",
        declines.body
    );
    let one = op
        .call(
            "GET",
            &format!("/v1/campaigns/{}/customers/v01", c.id),
            None,
        )
        .await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.body);
    let b = &one.body;
    assert_eq!(b["zone"], "Europe/Berlin");
    assert_eq!(b["status"], "declined");
    assert_eq!(b["tier_decision"]["explanation"], "test tier standard");
    assert_eq!(b["messages"][0]["notice"], "announcement");
    assert_eq!(b["messages"][0]["channel"], "email");
    assert_eq!(b["messages"][0]["state"], "sent");
    assert_eq!(b["events"].as_array().unwrap().len(), 1, "{b}");
    assert!(b["exports"].as_array().unwrap().is_empty());

    // Refusals, each naming what is wrong.
    let base = format!("/v1/campaigns/{}/customers", c.id);
    for (query, field) in [
        ("tier=gold", "tier"),
        ("status=gone", "status"),
        ("zone=Mars/Base", "zone"),
        ("locale=fr", "locale"),
        ("account_manager=not-an-address", "account_manager"),
        ("limit=0", "limit"),
        ("limit=5000", "limit"),
        ("cursor=%21%21", "cursor"),
        ("format=xml", "format"),
    ] {
        let refused = op.call("GET", &format!("{base}?{query}"), None).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}: {}",
            refused.body
        );
        assert_eq!(refused.body["field"], field, "{query}: {}", refused.body);
    }
    // The operator's tier, with who and why, wins over segmentation run
    // again (the launch segments everyone).
    let tier_uri = format!("{base}/v02/tier");
    let set = op
        .call(
            "PUT",
            &tier_uri,
            Some(serde_json::json!({
                "tier": "core", "by": "Li Wei (AM)", "reason": "renewing a 3-year deal"
            })),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert_eq!(set.body["tier"], "core");
    assert_eq!(set.body["tier_override"]["by"], "Li Wei (AM)");
    assert_eq!(
        set.body["tier_decision"]["explanation"],
        "set by Li Wei (AM): renewing a 3-year deal"
    );
    // On the announcement day: too late for the account managers' brief.
    op.launch_overriding(&c, "re-segmentation must keep the override")
        .await;
    let after = op.call("GET", &format!("{base}/v02"), None).await;
    assert_eq!(after.body["tier"], "core", "{}", after.body);
    let other = op.call("GET", &format!("{base}/v03"), None).await;
    assert_ne!(
        other.body["tier_decision"]["explanation"], "test tier standard",
        "segmentation decided the others again: {}",
        other.body
    );
    let trail = op.deps.audit.entries(&c.id).await.unwrap();
    let entry = trail
        .iter()
        .find(|e| e.entry.action == "tier-overridden")
        .expect("audited");
    assert_eq!(entry.entry.customer.as_ref().unwrap().as_str(), "v02");
    assert_eq!(entry.entry.detail["from"], "standard");
    for (body, field) in [
        (
            serde_json::json!({ "tier": "gold", "by": "x", "reason": "y" }),
            "tier",
        ),
        (
            serde_json::json!({ "tier": "low", "by": "", "reason": "y" }),
            "by",
        ),
        (serde_json::json!({ "tier": "low", "by": "x" }), "reason"),
    ] {
        let refused = op.call("PUT", &tier_uri, Some(body.clone())).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            refused.body
        );
        assert_eq!(refused.body["field"], field, "{body}: {}", refused.body);
    }
    let nobody = op
        .call(
            "PUT",
            &format!("{base}/nobody/tier"),
            Some(serde_json::json!({ "tier": "low", "by": "x", "reason": "y" })),
        )
        .await;
    assert_eq!(nobody.status, StatusCode::NOT_FOUND, "{}", nobody.body);

    let unknown = op.call("GET", &format!("{base}?colour=red"), None).await;
    assert!(unknown.status.is_client_error(), "{}", unknown.body);
    let nobody = op.call("GET", &format!("{base}/nobody"), None).await;
    assert_eq!(nobody.status, StatusCode::NOT_FOUND);
    let no_campaign = op
        .call("GET", "/v1/campaigns/no-such/customers", None)
        .await;
    assert_eq!(no_campaign.status, StatusCode::NOT_FOUND);
}

/// A customer's new address, number, language and zone: their old
/// address's bounce no longer stops mail, they leave their old zone's wave
/// and get the announcement in their new zone's (planned for them, the
/// campaign had none there); the trail names the fields, never the values.
pub async fn a_contact_change_moves_the_customer_to_their_new_zone_and_address(
    deps: &Deps,
    runtime: Runtime,
) {
    let op = Operator::new(deps, "2027-01-05T10:00:00Z", runtime);
    let c = seeded(&op).await;
    op.launch(&c).await;
    let v01 = sunset::domain::CustomerId::parse("v01").unwrap();
    op.deps
        .customers
        .suppress(
            &c.id,
            &v01,
            &sunset::domain::customer::Suppression {
                at: op.now(),
                reason: "hard-bounce".into(),
            },
        )
        .await
        .unwrap();
    let uri = format!("/v1/campaigns/{}/customers/v01", c.id);
    let changed = op
        .call(
            "PATCH",
            &uri,
            Some(serde_json::json!({
                "email": "v01.new@example.com",
                "phone": "+1 212 555 0100",
                "locale": "zh-CN",
                "timezone": "America/New_York"
            })),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    let b = &changed.body;
    assert_eq!(
        b["changed"],
        serde_json::json!(["email", "phone", "locale", "timezone"])
    );
    assert_eq!(b["suppression_lifted"], true);
    assert!(b["replanned"]["added"].as_u64().unwrap() > 0, "{b}");
    assert_eq!(b["customer"]["zone"], "America/New_York");
    assert_eq!(b["customer"]["email"], "v01.new@example.com");
    assert_eq!(b["customer"]["locale"], "zh-CN");
    assert_eq!(b["customer"]["suppressed"], false);
    let scheduled = op.deps.scheduler.scheduled(&c.id).await.unwrap();
    assert!(
        scheduled
            .iter()
            .any(|j| j.name.ends_with("announcement.America_New_York")),
        "{scheduled:?}"
    );
    // The same change again changes nothing.
    let again = op
        .call(
            "PATCH",
            &uri,
            Some(serde_json::json!({ "timezone": "America/New_York" })),
        )
        .await;
    assert_eq!(
        again.body["changed"],
        serde_json::json!([]),
        "{}",
        again.body
    );

    // Berlin's wave no longer has them; New York's does, at the new address.
    let wave = |zone: chrono_tz::Tz| sunset::domain::Job::Notice {
        campaign: c.id.clone(),
        milestone: Milestone::Announcement,
        timezone: zone,
        resume: None,
    };
    op.clock.advance_to("2027-02-01T09:30:00Z".parse().unwrap());
    jobs::run(
        &op.deps,
        &wave(chrono_tz::Europe::Berlin),
        op.now(),
        &Budget::unlimited(),
    )
    .await
    .unwrap();
    let sent_to_v01 = |deps: &Deps| {
        let deps = deps.clone();
        let c = c.id.clone();
        let v01 = v01.clone();
        async move {
            deps.ledger
                .deliveries_to(&c, &v01)
                .await
                .unwrap()
                .into_iter()
                .filter(|d| d.sent_at.is_some())
                .count()
        }
    };
    assert_eq!(sent_to_v01(&op.deps).await, 0, "sent in the old zone");
    op.clock.advance_to("2027-02-01T15:30:00Z".parse().unwrap());
    jobs::run(
        &op.deps,
        &wave(chrono_tz::America::New_York),
        op.now(),
        &Budget::unlimited(),
    )
    .await
    .unwrap();
    // E-mail and, now that they have a mobile number, a text.
    assert_eq!(sent_to_v01(&op.deps).await, 2, "the new zone's wave");

    let removed = op
        .call("PATCH", &uri, Some(serde_json::json!({ "phone": null })))
        .await;
    assert_eq!(
        removed.body["changed"],
        serde_json::json!(["phone"]),
        "{}",
        removed.body
    );
    assert!(removed.body["customer"]["phone"].is_null());
    let trail = op.deps.audit.entries(&c.id).await.unwrap();
    let entries: Vec<_> = trail
        .iter()
        .filter(|e| e.entry.action == "contact-updated")
        .collect();
    assert_eq!(entries.len(), 2);
    let written = serde_json::to_string(&entries).unwrap();
    assert!(
        !written.contains("v01.new@example.com") && !written.contains("212"),
        "{written}"
    );

    for (body, field) in [
        (serde_json::json!({ "email": "not an address" }), "email"),
        (serde_json::json!({ "phone": "call me" }), "phone"),
        (serde_json::json!({ "locale": "fr" }), "locale"),
        (serde_json::json!({ "timezone": "Mars/Base" }), "timezone"),
    ] {
        let refused = op.call("PATCH", &uri, Some(body.clone())).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            refused.body
        );
        assert_eq!(refused.body["field"], field, "{body}: {}", refused.body);
    }
    let unknown = op
        .call("PATCH", &uri, Some(serde_json::json!({ "colour": "red" })))
        .await;
    assert!(unknown.status.is_client_error(), "{}", unknown.body);
    let nobody = op
        .call(
            "PATCH",
            &format!("/v1/campaigns/{}/customers/nobody", c.id),
            Some(serde_json::json!({ "locale": "en" })),
        )
        .await;
    assert_eq!(nobody.status, StatusCode::NOT_FOUND);
}
