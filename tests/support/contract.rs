//! The port contracts: what every adapter set must do, written once and run
//! against each (`tests/contract_embedded.rs` today; the AWS adapters run
//! the same functions). Each takes fresh, empty `Deps`.

use chrono::{DateTime, Utc};
use sunset::domain::audit::{AuditEntry, verify_chain};
use sunset::domain::event::{CustomerEvent, CustomerEventKind};
use sunset::domain::export::{ExportId, ExportRequest, ExportStatus};
use sunset::domain::ids::{DisplayName, Mailbox};
use sunset::domain::ledger::{Claimed, DeliveryKey, LEASE, Lease, Recipient};
use sunset::domain::milestone::{Job, ScheduledJob};
use sunset::domain::tier::{Tier, TierDecision};
use sunset::domain::{
    Campaign, CampaignId, Customer, CustomerId, CustomerRecord, EmailAddress, MigrationStatus,
    Milestone,
};
use sunset::ports::{Deps, OutgoingEmail, Tally};

fn t(s: &str) -> DateTime<Utc> {
    s.parse().expect("RFC 3339")
}

pub fn campaign() -> Campaign {
    Campaign::from_toml(
        &std::fs::read_to_string(crate::fixture("small").join("campaign.toml")).unwrap(),
    )
    .unwrap()
}

fn id(s: &str) -> CustomerId {
    CustomerId::parse(s).unwrap()
}

pub fn record(c: &str, zone: chrono_tz::Tz) -> CustomerRecord {
    let mut customer = Customer::new(
        id(c),
        DisplayName::parse(&format!("Name of {c}")).unwrap(),
        EmailAddress::parse(&format!("{c}@example.com")).unwrap(),
    );
    customer.timezone = Some(zone);
    CustomerRecord::new(customer, zone)
}

async fn seeded(deps: &Deps) -> Campaign {
    let c = campaign();
    deps.campaigns.put_campaign(&c).await.unwrap();
    let records: Vec<_> = ["a1", "a2", "a3", "b1"]
        .iter()
        .map(|c| {
            record(
                c,
                if c.starts_with('a') {
                    chrono_tz::Europe::Berlin
                } else {
                    chrono_tz::Asia::Shanghai
                },
            )
        })
        .collect();
    assert!(
        deps.customers
            .insert_customers(&c.id, &records)
            .await
            .unwrap()
            .is_empty()
    );
    c
}

pub async fn campaigns_round_trip_and_replace(deps: &Deps) {
    let mut c = campaign();
    assert!(deps.campaigns.campaign(&c.id).await.unwrap().is_none());
    deps.campaigns.put_campaign(&c).await.unwrap();
    assert_eq!(deps.campaigns.launched_at(&c.id).await.unwrap(), None);
    let first = t("2027-01-10T08:00:00Z");
    deps.campaigns.mark_launched(&c.id, first).await.unwrap();
    deps.campaigns
        .mark_launched(&c.id, t("2027-01-11T08:00:00Z"))
        .await
        .unwrap();
    assert_eq!(
        deps.campaigns.launched_at(&c.id).await.unwrap(),
        Some(first),
        "the first launch is kept"
    );
    assert_eq!(
        deps.campaigns.campaign(&c.id).await.unwrap().as_ref(),
        Some(&c)
    );
    c.product = "Orbit CRM Classic".into();
    deps.campaigns.put_campaign(&c).await.unwrap();
    assert_eq!(
        deps.campaigns.launched_at(&c.id).await.unwrap(),
        Some(first),
        "replacing the campaign keeps its launch"
    );
    assert_eq!(
        deps.campaigns
            .campaign(&c.id)
            .await
            .unwrap()
            .unwrap()
            .product,
        "Orbit CRM Classic"
    );
}

pub async fn inserting_a_known_customer_reports_it_and_keeps_the_first(deps: &Deps) {
    let c = seeded(deps).await;
    let mut again = record("a1", chrono_tz::UTC);
    again.profile.as_mut().unwrap().name = Some(DisplayName::parse("Someone Else").unwrap());
    let dup = deps
        .customers
        .insert_customers(&c.id, &[again, record("c9", chrono_tz::UTC)])
        .await
        .unwrap();
    assert_eq!(dup, vec![id("a1")]);
    let kept = stored(deps, &c.id, "a1").await;
    assert_eq!(kept.profile.unwrap().name.unwrap().as_str(), "Name of a1");
    assert!(
        deps.customers
            .customer(&c.id, &id("c9"))
            .await
            .unwrap()
            .is_some()
    );
    // A small import into a bigger campaign (an adapter may look its ids
    // up one by one instead of reading the campaign's): the same answer.
    let more: Vec<_> = (0..40)
        .map(|n| record(&format!("m{n:02}"), chrono_tz::UTC))
        .collect();
    deps.customers.insert_customers(&c.id, &more).await.unwrap();
    let dup = deps
        .customers
        .insert_customers(
            &c.id,
            &[record("m07", chrono_tz::UTC), record("z1", chrono_tz::UTC)],
        )
        .await
        .unwrap();
    assert_eq!(dup, vec![id("m07")]);
    assert!(
        deps.customers
            .customer(&c.id, &id("z1"))
            .await
            .unwrap()
            .is_some()
    );
}

/// Every id a paged listing returns, each page continuing after the last
/// record of the one before; a short page must be the last.
async fn all_pages<F, Fut>(limit: usize, mut page: F) -> Vec<String>
where
    F: FnMut(Option<CustomerId>) -> Fut,
    Fut: std::future::Future<Output = Vec<CustomerRecord>>,
{
    let mut ids = Vec::new();
    let mut after = None;
    loop {
        let records = page(after.clone()).await;
        assert!(records.len() <= limit, "a page holds at most its limit");
        let Some(last) = records.last() else { break };
        after = Some(last.id.clone());
        ids.extend(records.iter().map(|r| r.id.to_string()));
        if records.len() < limit {
            let next = page(after.clone()).await;
            assert!(next.is_empty(), "a short page is the last: {next:?}");
            break;
        }
    }
    ids
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

/// Pages come in an order of the adapter's choosing (the embedded store's
/// is by id; DynamoDB's by shard, then id), but continuing after each
/// page's last record lists every customer exactly once.
pub async fn customer_pages_list_everyone_once(deps: &Deps) {
    let c = seeded(deps).await;
    let more: Vec<_> = (0..37)
        .map(|n| record(&format!("m{n:02}"), chrono_tz::UTC))
        .collect();
    deps.customers.insert_customers(&c.id, &more).await.unwrap();
    for limit in [1, 3, 10, 100] {
        let ids = all_pages(limit, |after| {
            let c = c.id.clone();
            async move {
                deps.customers
                    .customers_page(&c, after.as_ref(), limit)
                    .await
                    .unwrap()
            }
        })
        .await;
        assert_eq!(ids.len(), 41, "limit {limit}: {ids:?}");
        let mut expected: Vec<String> = ["a1", "a2", "a3", "b1"].map(String::from).to_vec();
        expected.extend((0..37).map(|n| format!("m{n:02}")));
        assert_eq!(sorted(ids), sorted(expected), "limit {limit}");
    }
    let zones: Vec<_> = deps
        .customers
        .zones(&c.id)
        .await
        .unwrap()
        .iter()
        .map(|z| z.name().to_owned())
        .collect();
    assert_eq!(zones, ["Asia/Shanghai", "Europe/Berlin", "UTC"]);
}

fn decision(tier: Tier) -> TierDecision {
    TierDecision {
        tier,
        score: 50,
        explanation: "because".into(),
    }
}

/// A customer as the store holds them (who must be there).
async fn stored(deps: &Deps, c: &CampaignId, customer: &str) -> CustomerRecord {
    deps.customers
        .customer(c, &id(customer))
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{customer} is stored"))
}

/// Sets these customers' tier as segmentation does, from their stored
/// records (read here, possibly before a later change of state).
async fn segment(deps: &Deps, c: &CampaignId, ids: &[&str], tier: Tier) {
    let mut segmented = Vec::new();
    for i in ids {
        let r = stored(deps, c, i).await;
        segmented.push((r, decision(tier)));
    }
    deps.customers.set_tiers(c, &segmented).await.unwrap();
}

/// Two calls that read a1 as pending each write their migration (the
/// product's report sent twice at once, each with its own time): the
/// second finds a1 migrated and is not recorded, and says so; the other
/// events of its write stand.
pub async fn a_customer_migrates_once_though_two_calls_write_it(deps: &Deps) {
    let c = seeded(deps).await;
    let read = stored(deps, &c.id, "a1").await;
    assert_eq!(read.status, MigrationStatus::Pending);
    let migration = |at: &str| {
        let mut state = read.clone();
        state.status = MigrationStatus::Migrated;
        state.status_at = Some(t(at));
        let event = CustomerEvent {
            at: t(at),
            customer: id("a1"),
            kind: CustomerEventKind::Migrated,
        };
        (event, Some(state))
    };
    let first = deps
        .events
        .record_events(&c.id, &[migration("2027-05-01T10:00:00Z")])
        .await
        .unwrap();
    assert_eq!(first, Vec::<usize>::new());
    let ticket = CustomerEvent {
        at: t("2027-05-01T10:00:01Z"),
        customer: id("a2"),
        kind: CustomerEventKind::TicketOpened("login".into()),
    };
    let second = deps
        .events
        .record_events(
            &c.id,
            &[(ticket.clone(), None), migration("2027-05-01T10:00:02Z")],
        )
        .await
        .unwrap();
    assert_eq!(second, vec![1], "the second migration is not recorded");
    let events = deps.events.events(&c.id).await.unwrap();
    let migrations: Vec<_> = events
        .iter()
        .filter(|e| e.kind == CustomerEventKind::Migrated)
        .collect();
    assert_eq!(migrations.len(), 1, "{events:?}");
    assert_eq!(migrations[0].at, t("2027-05-01T10:00:00Z"));
    assert!(events.contains(&ticket), "{events:?}");
    let a1 = stored(deps, &c.id, "a1").await;
    assert_eq!(a1.status, MigrationStatus::Migrated);
    assert_eq!(a1.status_at, Some(t("2027-05-01T10:00:00Z")));
}

pub async fn a_wave_sees_only_who_is_still_due_in_its_zone(deps: &Deps) {
    let c = seeded(deps).await;
    let late = record("a4", chrono_tz::Europe::Berlin);
    deps.customers
        .insert_customers(&c.id, &[late])
        .await
        .unwrap();
    // Segmentation puts customers in the waves; a4 came after it.
    segment(deps, &c.id, &["a1", "a2", "a3", "b1"], Tier::Standard).await;
    let mut a2 = stored(deps, &c.id, "a2").await;
    a2.status = MigrationStatus::Migrated;
    let migrated = CustomerEvent {
        at: t("2027-05-01T10:00:00Z"),
        customer: id("a2"),
        kind: CustomerEventKind::Migrated,
    };
    deps.events
        .record_events(&c.id, &[(migrated, Some(a2))])
        .await
        .unwrap();
    let key = DeliveryKey::once(
        &c.id,
        Recipient::Customer(id("a3")),
        Milestone::Reminder(60),
    );
    assert_eq!(
        deps.ledger
            .claim(&[key], Lease::starting(t("2027-08-01T08:00:00Z")))
            .await
            .unwrap(),
        vec![Claimed::Taken]
    );
    async fn due(deps: &Deps, c: &CampaignId, only_pending: bool, limit: usize) -> Vec<String> {
        let ids = all_pages(limit, |after| async move {
            deps.customers
                .awaiting_notice(
                    c,
                    Milestone::Reminder(60),
                    chrono_tz::Europe::Berlin,
                    only_pending,
                    after.as_ref(),
                    limit,
                )
                .await
                .unwrap()
        })
        .await;
        let once = sorted(ids.clone());
        let mut dedup = once.clone();
        dedup.dedup();
        assert_eq!(once, dedup, "listed twice: {ids:?}");
        ids
    }
    // An adapter may still list a customer already claimed for the
    // milestone (a3): the ledger's claim turns them away. It never lists a
    // migrated customer for a reminder, one from another zone, or one not
    // segmented yet.
    for limit in [1, 100] {
        let pending = due(deps, &c.id, true, limit).await;
        assert!(
            pending.contains(&"a1".to_owned()) && !pending.contains(&"a2".to_owned()),
            "{pending:?}"
        );
        assert!(!pending.contains(&"b1".to_owned()), "b1 is in Shanghai");
        assert!(!pending.contains(&"a4".to_owned()), "a4 has no tier");
        let everyone = due(deps, &c.id, false, limit).await;
        assert!(
            everyone.contains(&"a1".to_owned()) && everyone.contains(&"a2".to_owned()),
            "{everyone:?}"
        );
    }
    // Segmenting again (a late import relaunches) keeps a migrated
    // customer out of the reminders, and brings the late one in.
    segment(deps, &c.id, &["a1", "a2", "a3", "a4", "b1"], Tier::Low).await;
    let pending = due(deps, &c.id, true, 100).await;
    assert!(!pending.contains(&"a2".to_owned()), "{pending:?}");
    assert!(pending.contains(&"a4".to_owned()), "{pending:?}");
    deps.customers
        .scrub_customers(&c.id, &[id("a1")], t("2027-11-01T00:00:00Z"))
        .await
        .unwrap();
    assert!(
        !due(deps, &c.id, false, 100)
            .await
            .contains(&"a1".to_owned()),
        "purged customers get nothing"
    );
}

pub async fn tiers_and_scrubbing_keep_the_report_figures(deps: &Deps) {
    let c = seeded(deps).await;
    segment(deps, &c.id, &["a1"], Tier::Core).await;
    segment(deps, &c.id, &["a2"], Tier::Low).await;
    deps.customers
        .scrub_customers(&c.id, &[id("a1")], t("2027-11-01T00:00:00Z"))
        .await
        .unwrap();
    let a1 = stored(deps, &c.id, "a1").await;
    assert!(a1.profile.is_none() && a1.purged_at.is_some());
    assert_eq!(a1.tier.unwrap().tier, Tier::Core);
    let counts = deps.customers.tier_counts(&c.id).await.unwrap();
    assert_eq!(counts["core"].customers, 1);
    assert_eq!(counts["core"].purged, 1);
    assert_eq!(counts["low"].customers, 1);
}

pub async fn a_delivery_is_claimed_once_until_released(deps: &Deps) {
    let c = seeded(deps).await;
    let key = DeliveryKey::once(
        &c.id,
        Recipient::Customer(id("a1")),
        Milestone::Announcement,
    );
    let now = t("2027-02-01T09:00:00Z");
    let claim = |at: DateTime<Utc>, key: &DeliveryKey| {
        let key = key.clone();
        async move {
            deps.ledger
                .claim(std::slice::from_ref(&key), Lease::starting(at))
                .await
                .unwrap()[0]
        }
    };
    assert_eq!(claim(now, &key).await, Claimed::Taken);
    assert_eq!(claim(now, &key).await, Claimed::Held { until: now + LEASE });
    deps.ledger.release(&key).await.unwrap();
    assert!(claim(now, &key).await.is_taken());
    deps.ledger
        .mark_sent(&[(key.clone(), "m-1".into())], now)
        .await
        .unwrap();
    deps.ledger.release(&key).await.unwrap();
    assert_eq!(
        claim(now, &key).await,
        Claimed::Sent,
        "a sent message stays"
    );
    assert_eq!(
        claim(now + LEASE * 10, &key).await,
        Claimed::Sent,
        "a sent message is never taken again"
    );
    assert_eq!(
        deps.ledger.tallies(&c.id).await.unwrap()[&sunset::domain::ledger::Channel::Email]["announcement"],
        Tally {
            sent: 1,
            ..Tally::default()
        }
    );
    let sent = deps.ledger.deliveries_to(&c.id, &id("a1")).await.unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].message_id.as_deref(), Some("m-1"));
    // Sent, claimed only, and never claimed.
    let a2 = DeliveryKey::once(
        &c.id,
        Recipient::Customer(id("a2")),
        Milestone::Announcement,
    );
    let a3 = DeliveryKey::once(
        &c.id,
        Recipient::Customer(id("a3")),
        Milestone::Announcement,
    );
    assert!(claim(now, &a2).await.is_taken());
    assert_eq!(
        deps.ledger.sent(&[key, a2.clone(), a3]).await.unwrap(),
        vec![true, false, false]
    );
    // A claim left unsent (its run crashed) holds until its lease ends,
    // then the next run takes it; of runs racing for it, one wins.
    assert!(
        !claim(now + LEASE - chrono::Duration::seconds(1), &a2)
            .await
            .is_taken()
    );
    let later = now + LEASE;
    let racing: Vec<Claimed> = futures::future::join_all((0..8).map(|_| claim(later, &a2))).await;
    assert_eq!(
        racing.iter().filter(|c| c.is_taken()).count(),
        1,
        "{racing:?}"
    );
    let held = deps.ledger.deliveries_to(&c.id, &id("a2")).await.unwrap();
    assert_eq!(held[0].lease_until, Some(later + LEASE));
    // A message marked sent by a run whose claim was meanwhile given back
    // is still recorded: it went out.
    let a4 = DeliveryKey::once(
        &c.id,
        Recipient::Customer(id("a4")),
        Milestone::Announcement,
    );
    deps.ledger
        .mark_sent(&[(a4.clone(), "m-4".into())], now)
        .await
        .unwrap();
    assert_eq!(deps.ledger.sent(&[a4]).await.unwrap(), vec![true]);
}

pub async fn events_are_kept_in_order_per_customer(deps: &Deps) {
    let c = seeded(deps).await;
    let ev = |at, who: &str, kind| CustomerEvent {
        at: t(at),
        customer: id(who),
        kind,
    };
    deps.events
        .record_events(
            &c.id,
            &[
                (
                    ev(
                        "2027-03-01T00:00:00Z",
                        "a1",
                        CustomerEventKind::TicketOpened("billing".into()),
                    ),
                    None,
                ),
                (
                    ev("2027-03-02T00:00:00Z", "a2", CustomerEventKind::Migrated),
                    None,
                ),
                (
                    ev(
                        "2027-03-03T00:00:00Z",
                        "a1",
                        CustomerEventKind::TicketResolved("billing".into()),
                    ),
                    None,
                ),
            ],
        )
        .await
        .unwrap();
    assert_eq!(deps.events.events(&c.id).await.unwrap().len(), 3);
    let a1 = deps.events.events_of(&c.id, &id("a1")).await.unwrap();
    assert_eq!(a1.len(), 2);
    assert!(matches!(a1[1].kind, CustomerEventKind::TicketResolved(_)));
}

pub async fn export_requests_round_trip(deps: &Deps) {
    let c = seeded(deps).await;
    let x1 = ExportId::generate();
    let mut r = ExportRequest::new(
        x1.clone(),
        c.id.clone(),
        id("a1"),
        t("2027-03-01T00:00:00Z"),
    );
    deps.exports.put_export(&r).await.unwrap();
    r.status = ExportStatus::Ready;
    deps.exports.put_export(&r).await.unwrap();
    assert_eq!(
        deps.exports.export(&c.id, &id("a1"), &x1).await.unwrap(),
        Some(r.clone())
    );
    // Another customer asking for a1's request id finds nothing.
    assert_eq!(
        deps.exports.export(&c.id, &id("a2"), &x1).await.unwrap(),
        None
    );
    assert_eq!(
        deps.exports.exports_of(&c.id, &id("a1")).await.unwrap(),
        vec![r.clone()]
    );
    assert!(
        deps.exports
            .exports_of(&c.id, &id("a2"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(deps.exports.all_exports(&c.id).await.unwrap().len(), 1);
}

/// The customer id and address inside an export bundle.
fn bundle_owner(zip_bytes: &[u8]) -> (String, String) {
    use std::io::Read;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes)).expect("a zip");
    let mut json = String::new();
    zip.by_name("sunset/customer.json")
        .expect("the bundle has sunset/customer.json")
        .read_to_string(&mut json)
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    (
        v["customer"]["id"].as_str().unwrap().to_owned(),
        v["customer"]["email"].as_str().unwrap().to_owned(),
    )
}

/// Requests made in the same instant — two, then fifty at once — are as
/// many requests; each bundle holds only its customer's data, each link
/// downloads only its own, and another customer's request id is refused.
/// (Ids from the time to the millisecond gave 40 customers 12-15 ids, and
/// several of them another customer's bundle.)
pub async fn export_requests_at_the_same_instant_stay_each_customers_own(deps: &Deps) {
    use sunset::services::export;
    let c = seeded(deps).await;
    let customers: Vec<CustomerRecord> = (0..50)
        .map(|n| record(&format!("x{n:02}"), chrono_tz::Europe::Berlin))
        .collect();
    deps.customers
        .insert_customers(&c.id, &customers)
        .await
        .unwrap();
    let now = t("2027-03-01T13:30:00Z");
    let a1 = export::request_export(deps, &c, &id("a1"), now)
        .await
        .unwrap();
    let b1 = export::request_export(deps, &c, &id("b1"), now)
        .await
        .unwrap();
    assert_ne!(a1.id, b1.id, "two customers in the same instant");
    let at_once = futures::future::join_all(
        customers
            .iter()
            .map(|r| export::request_export(deps, &c, &r.id, now)),
    )
    .await;
    let mut requests = vec![a1, b1];
    for (r, made) in customers.iter().zip(at_once) {
        let made = made.unwrap();
        assert_eq!(made.customer, r.id);
        requests.push(made);
    }
    let ids: std::collections::HashSet<_> = requests.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids.len(), 52, "one request per customer");
    assert_eq!(deps.exports.all_exports(&c.id).await.unwrap().len(), 52);
    for r in &requests {
        let built = export::build_export(deps, &c, &r.customer, &r.id, now)
            .await
            .unwrap();
        assert_eq!(
            (built.id.clone(), built.customer.clone()),
            (r.id.clone(), r.customer.clone())
        );
        let (_, download) = export::download(deps, &c, &r.customer, Some(&r.id), now)
            .await
            .unwrap()
            .expect("the bundle is ready");
        // They hold a copy now: their reminders address them so.
        let record = deps
            .customers
            .customer(&c.id, &r.customer)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            record.status,
            sunset::domain::customer::MigrationStatus::Exported,
            "{} downloaded their bundle",
            r.customer
        );
        let bytes = match download {
            export::Download::Bytes(b) => b,
            // A presigned URL to the object; the object is the request's own.
            export::Download::Redirect(url) => {
                let key = built.bundle_key.clone().unwrap();
                assert!(url.contains(&key), "{url} is not {key}");
                deps.blobs.get(&key).await.unwrap().unwrap()
            }
        };
        assert_eq!(
            bundle_owner(&bytes),
            (
                r.customer.to_string(),
                format!("{}@example.com", r.customer)
            ),
            "the bundle of {} holds only their data",
            r.customer
        );
    }
    // a1's link with b1's request id: refused, not b1's bundle.
    let refused = export::download(deps, &c, &id("a1"), Some(&requests[1].id), now).await;
    assert!(
        matches!(refused, Err(export::ExportError::UnknownRequest(_))),
        "another customer's request id is refused"
    );
    let refused = export::build_export(deps, &c, &id("a1"), &requests[1].id, now).await;
    assert!(matches!(
        refused,
        Err(export::ExportError::UnknownRequest(_))
    ));
    // Every customer was mailed their own export-ready link once.
    for r in &requests {
        let to_them = deps.ledger.deliveries_to(&c.id, &r.customer).await.unwrap();
        let ready: Vec<_> = to_them
            .iter()
            .filter(|d| d.key.milestone == Milestone::ExportReady && d.sent_at.is_some())
            .collect();
        assert_eq!(ready.len(), 1, "{} got their export-ready mail", r.customer);
        assert_eq!(ready[0].key.occurrence, r.id.to_string());
    }
}

/// Twenty writers append to one campaign's chain at the same instant (as
/// export builds running side by side do): every entry lands, once, in
/// one unbroken chain. On DynamoDB the writers race for the chain's head;
/// before, a writer that lost failed its whole job.
pub async fn the_audit_trail_takes_appends_at_the_same_instant(deps: &Deps) {
    let c = campaign();
    let appends = (0..20).map(|n| {
        deps.audit.append(AuditEntry {
            at: t("2027-03-01T10:00:00Z"),
            campaign: c.id.clone(),
            customer: Some(id(&format!("w{n:02}"))),
            action: "export-built".into(),
            detail: serde_json::json!({ "n": n }),
        })
    });
    for appended in futures::future::join_all(appends).await {
        appended.expect("every writer's entry lands");
    }
    let chain = deps.audit.entries(&c.id).await.unwrap();
    assert_eq!(chain.len(), 20);
    assert_eq!(verify_chain(&chain), Ok(()));
    let mut who: Vec<_> = chain
        .iter()
        .filter_map(|e| e.entry.customer.clone())
        .collect();
    who.sort();
    who.dedup();
    assert_eq!(who.len(), 20, "each entry once");
}

pub async fn the_audit_trail_is_a_chain_per_campaign(deps: &Deps) {
    let c = campaign();
    let other = CampaignId::parse("other-campaign").unwrap();
    let entry = |campaign: &CampaignId, action: &str| AuditEntry {
        at: t("2027-11-01T00:00:00Z"),
        campaign: campaign.clone(),
        customer: Some(id("a1")),
        action: action.into(),
        detail: serde_json::json!({ "n": 1 }),
    };
    deps.audit.append(entry(&c.id, "imported")).await.unwrap();
    deps.audit.append(entry(&other, "imported")).await.unwrap();
    deps.audit
        .append_all(vec![entry(&c.id, "purged"), entry(&c.id, "purged")])
        .await
        .unwrap();
    let chain = deps.audit.entries(&c.id).await.unwrap();
    assert_eq!(chain.len(), 3);
    assert_eq!(verify_chain(&chain), Ok(()));
    assert_eq!(
        verify_chain(&deps.audit.entries(&other).await.unwrap()),
        Ok(())
    );
    // Read a page at a time, and counted without reading.
    assert_eq!(deps.audit.count(&c.id).await.unwrap(), 3);
    let first = deps.audit.entries_after(&c.id, 0, 2).await.unwrap();
    assert_eq!(first, chain[..2].to_vec());
    let rest = deps
        .audit
        .entries_after(&c.id, first[1].seq, 2)
        .await
        .unwrap();
    assert_eq!(rest, chain[2..].to_vec());
    assert!(
        deps.audit
            .entries_after(&c.id, chain[2].seq, 2)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn scheduling_a_job_again_moves_it(deps: &Deps) {
    let c = campaign();
    deps.campaigns.put_campaign(&c).await.unwrap();
    let job = |due| ScheduledJob {
        name: format!("{}.purge.x", c.id),
        due: t(due),
        job: Job::Purge {
            campaign: c.id.clone(),
        },
    };
    deps.scheduler
        .upsert(&job("2027-11-01T00:00:00Z"))
        .await
        .unwrap();
    deps.scheduler
        .upsert(&job("2027-12-01T00:00:00Z"))
        .await
        .unwrap();
    let jobs = deps.scheduler.scheduled(&c.id).await.unwrap();
    assert_eq!(jobs, vec![job("2027-12-01T00:00:00Z")]);
}

/// Runs of the same wave upsert and cancel one schedule name at the same
/// instant (two deliveries of one event, each moving and then cancelling
/// its watchdog): every call succeeds, whatever the order.
pub async fn upserts_and_cancels_of_one_schedule_at_once_all_succeed(deps: &Deps) {
    let c = campaign();
    deps.campaigns.put_campaign(&c).await.unwrap();
    let job = ScheduledJob {
        name: format!("{}.announcement.Europe_Berlin.part1", c.id),
        due: t("2027-02-01T09:30:00Z"),
        job: Job::Purge {
            campaign: c.id.clone(),
        },
    };
    let runs = (0..8).map(|_| async {
        deps.scheduler.upsert(&job).await?;
        deps.scheduler.cancel(&c.id, &job.name).await
    });
    for result in futures::future::join_all(runs).await {
        result.unwrap();
    }
    assert!(deps.scheduler.scheduled(&c.id).await.unwrap().is_empty());
}

/// A small e-mail, numbered.
pub fn sample_mail(n: u32) -> OutgoingEmail {
    let c = campaign();
    OutgoingEmail {
        from: Mailbox::parse("Orbit <no-reply@orbit.example>").unwrap(),
        reply_to: None,
        to: EmailAddress::parse(&format!("to{n}@example.com")).unwrap(),
        subject: format!("Message {n}"),
        text: "text".into(),
        html: "<p>html</p>".into(),
        date: t("2027-02-01T09:00:00Z"),
        key: sunset::domain::ledger::DeliveryKey::once(
            &c.id.clone(),
            sunset::domain::ledger::Recipient::Customer(
                sunset::domain::CustomerId::parse("c1").unwrap(),
            ),
            Milestone::Announcement,
        ),
        message_id: format!("announcement.{n}"),
        attachments: Vec::new(),
    }
}

pub async fn the_mailer_answers_each_message_in_order(deps: &Deps) {
    let mut ids = Vec::new();
    for n in 1..=3 {
        ids.push(deps.mailer.send(&sample_mail(n)).await.unwrap());
    }
    assert!(ids.iter().all(|id| !id.is_empty()), "{ids:?}");
    ids.dedup();
    assert_eq!(ids.len(), 3, "one id per message");
}

pub async fn blobs_are_stored_listed_and_deleted_by_prefix(deps: &Deps) {
    let b = &deps.blobs;
    b.put("exports/c/a1/x1.zip", b"one".to_vec()).await.unwrap();
    b.put("exports/c/a1/x2.zip", b"two".to_vec()).await.unwrap();
    b.put("exports/c/a2/x3.zip", b"three".to_vec())
        .await
        .unwrap();
    assert_eq!(
        b.get("exports/c/a1/x2.zip").await.unwrap().as_deref(),
        Some(&b"two"[..])
    );
    assert_eq!(b.get("exports/c/a9/none.zip").await.unwrap(), None);
    assert_eq!(b.list("exports/c/a1/").await.unwrap().len(), 2);
    let prefixes = ["exports/c/a1/".to_owned(), "exports/c/a3/".to_owned()];
    assert_eq!(b.delete_prefixes(&prefixes).await.unwrap(), vec![2, 0]);
    assert_eq!(b.any_under(&prefixes).await.unwrap(), vec![false, false]);
    assert_eq!(
        b.any_under(&["exports/c/a2/".to_owned()]).await.unwrap(),
        vec![true]
    );
}

/// `put(customer, path, bytes)` stores a file of the product's data the way
/// the adapter under test reads it.
pub async fn product_data_is_read_whole_and_erased(deps: &Deps, put: impl Fn(&str, &str, &[u8])) {
    put("a1", "records.json", b"{\"x\":1}");
    put("a1", "files/invoice.csv", b"id\n1\n");
    put("a2", "records.json", b"{}");
    let mut files = deps.product_data.files(&id("a1")).await.unwrap();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let paths: Vec<_> = files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["files/invoice.csv", "records.json"]);
    assert_eq!(files[0].bytes, b"id\n1\n");
    let erased = deps
        .product_data
        .erase(&[id("a1"), id("a3")])
        .await
        .unwrap();
    assert_eq!((erased[0].files, erased[0].bytes), (2, 12));
    assert_eq!(erased[1].files, 0);
    assert!(deps.product_data.files(&id("a1")).await.unwrap().is_empty());
    assert_eq!(
        deps.product_data
            .any_left(&[id("a1"), id("a2")])
            .await
            .unwrap(),
        vec![false, true]
    );
}

/// The fixture campaign moved into the past of the contract's clock
/// (2027-01-01): announced 200 days before, its export deadline a day
/// before, under another id.
pub fn campaign_in_the_past() -> Campaign {
    let mut c = campaign();
    c.id = CampaignId::parse("orbit-crm-2026").unwrap();
    c.dates.announce = "2026-06-15".parse().unwrap();
    c.dates.stop_new_signups = "2026-06-15".parse().unwrap();
    c.dates.stop_renewals = "2026-08-01".parse().unwrap();
    c.dates.service_end = "2026-12-20".parse().unwrap();
    c.dates.export_deadline = "2026-12-31".parse().unwrap();
    c.dates.staff_briefing = Some("2026-06-01".parse().unwrap());
    c.validate().expect("still a valid campaign");
    c
}

/// A first launch long after the announcement day is refused, naming the
/// field, and plans nothing; within a day it is accepted; a campaign
/// launched before is planned again whatever the date. (A campaign
/// launched after its dates purged a customer within one tick, with no
/// announcement ever sent.)
pub async fn a_late_first_launch_is_refused_and_a_relaunch_is_not(deps: &Deps) {
    use sunset::services::launch::{self, LaunchError};
    let late = campaign_in_the_past();
    deps.campaigns.put_campaign(&late).await.unwrap();
    deps.customers
        .insert_customers(&late.id, &[record("p1", chrono_tz::Europe::Berlin)])
        .await
        .unwrap();
    match launch::launch(deps, &late).await {
        Err(LaunchError::TooLate { field, reason }) => {
            assert_eq!(field, "dates.announce");
            assert!(
                reason.contains("2026-06-15") && reason.contains("Move the dates"),
                "{reason}"
            );
        }
        other => panic!("a late launch was not refused: {other:?}"),
    }
    assert!(deps.scheduler.scheduled(&late.id).await.unwrap().is_empty());
    assert_eq!(deps.campaigns.launched_at(&late.id).await.unwrap(), None);

    // Launched before (say, in June): planning again is fine.
    deps.campaigns
        .mark_launched(&late.id, t("2026-06-01T08:00:00Z"))
        .await
        .unwrap();
    assert!(launch::launch(deps, &late).await.is_ok());

    // Announced yesterday: within the grace, the announcement goes now.
    let mut yesterday = campaign();
    yesterday.dates.announce = "2026-12-31".parse().unwrap();
    yesterday.dates.stop_new_signups = yesterday.dates.announce;
    yesterday.dates.staff_briefing = Some("2026-12-20".parse().unwrap());
    yesterday.validate().unwrap();
    deps.campaigns.put_campaign(&yesterday).await.unwrap();
    deps.customers
        .insert_customers(&yesterday.id, &[record("y1", chrono_tz::Europe::Berlin)])
        .await
        .unwrap();
    launch::launch(deps, &yesterday).await.unwrap();
    assert_eq!(
        deps.campaigns.launched_at(&yesterday.id).await.unwrap(),
        Some(deps.clock.now())
    );
}

/// The purge never deletes a customer who was never sent the announcement:
/// it holds them, the report names them, and the operator's decision
/// (`approve_purge`) lets the next purge take them.
pub async fn a_customer_never_told_is_held_until_the_operator_decides(deps: &Deps) {
    use sunset::services::{events, purge, report};
    let c = seeded(deps).await;
    let told: Vec<DeliveryKey> = ["a1", "a2", "b1"]
        .iter()
        .map(|c_id| {
            DeliveryKey::once(
                &c.id,
                Recipient::Customer(id(c_id)),
                Milestone::Announcement,
            )
        })
        .collect();
    let sent_at = t("2027-02-01T09:00:00Z");
    deps.ledger
        .claim(&told, Lease::starting(sent_at))
        .await
        .unwrap();
    let marked: Vec<_> = told.iter().map(|k| (k.clone(), "m".to_owned())).collect();
    deps.ledger.mark_sent(&marked, sent_at).await.unwrap();
    // a3's announcement was claimed but never sent: not told either.
    deps.ledger
        .claim(
            &[DeliveryKey::once(
                &c.id,
                Recipient::Customer(id("a3")),
                Milestone::Announcement,
            )],
            Lease::starting(sent_at),
        )
        .await
        .unwrap();

    let after = t("2027-11-02T00:00:00Z");
    let done = purge::purge_due(deps, &c, after).await.unwrap();
    assert_eq!((done.purged, done.never_told), (3, 1), "{done:?}");
    let a3 = stored(deps, &c.id, "a3").await;
    assert!(
        a3.profile.is_some() && a3.purged_at.is_none(),
        "a3 was never told"
    );
    let figures = report::report(deps, &c, after).await.unwrap().purge;
    assert_eq!(figures.held_never_told, vec![id("a3")]);
    // Before the deadline nobody is held, and nothing is read for it.
    let early = report::report(deps, &c, t("2027-06-01T00:00:00Z"))
        .await
        .unwrap();
    assert!(early.purge.held_never_told.is_empty());

    // The operator decides: the next purge takes a3, and says how.
    let decided = t("2027-11-03T10:00:00Z");
    events::apply(
        deps,
        &c,
        &CustomerEvent {
            at: decided,
            customer: id("a3"),
            kind: CustomerEventKind::ApprovePurge("account closed in 2024, no contact left".into()),
        },
    )
    .await
    .unwrap();
    assert!(stored(deps, &c.id, "a3").await.purge_without_notice);
    assert!(
        deps.scheduler
            .scheduled(&c.id)
            .await
            .unwrap()
            .iter()
            .any(|j| j.name.ends_with("purge.approved.a3")),
        "a purge is scheduled for the decision"
    );
    let done = purge::purge_due(deps, &c, decided).await.unwrap();
    assert_eq!((done.purged, done.never_told), (1, 0), "{done:?}");
    assert!(stored(deps, &c.id, "a3").await.purged_at.is_some());
    let certificate = deps
        .audit
        .entries(&c.id)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.entry.action == "purged" && e.entry.customer == Some(id("a3")))
        .expect("a3's deletion is certified");
    assert_eq!(
        certificate.entry.detail["notice"],
        "none: purged by the operator's decision"
    );
    assert!(
        report::report(deps, &c, decided)
            .await
            .unwrap()
            .purge
            .held_never_told
            .is_empty()
    );
}

/// After the service ended an import is refused with the reason, or, by
/// the operator's explicit choice, goes straight into the purge with no
/// notice — never a notice for a dead service, never a customer no purge
/// will reach.
pub async fn an_import_after_the_service_end_is_refused_or_goes_to_the_purge(deps: &Deps) {
    use sunset::services::{import, late_import, purge};
    let ended = campaign_in_the_past();
    deps.campaigns.put_campaign(&ended).await.unwrap();
    let csv = b"customer_id,name,email\nlate1,Late One,late1@example.com\n";
    let now = deps.clock.now();
    let refused = import::import(
        &ended,
        import::parse_csv(csv).unwrap(),
        deps.customers.as_ref(),
        deps.audit.as_ref(),
        now,
        import::ImportOptions::default(),
    )
    .await;
    match refused {
        Err(e @ import::ImportError::ServiceEnded(_)) => {
            assert!(e.to_string().contains("after_end=purge"), "{e}")
        }
        other => panic!("not refused: {other:?}"),
    }
    assert!(
        deps.customers
            .customer(&ended.id, &id("late1"))
            .await
            .unwrap()
            .is_none()
    );

    let report = import::import(
        &ended,
        import::parse_csv(csv).unwrap(),
        deps.customers.as_ref(),
        deps.audit.as_ref(),
        now,
        import::ImportOptions {
            after_service_end: import::AfterServiceEnd::PurgeWithoutNotice,
            keep_added: false,
        },
    )
    .await
    .unwrap();
    assert_eq!(report.imported, 1);
    assert!(stored(deps, &ended.id, "late1").await.purge_without_notice);
    let purge_at = late_import::purge_without_notice(deps, &ended, report.imported)
        .await
        .unwrap()
        .expect("a purge is scheduled");
    assert_eq!(
        purge_at,
        sunset::domain::milestone::day_ends_everywhere(ended.dates.export_deadline),
        "once the deadline has ended everywhere"
    );
    assert!(
        deps.scheduler
            .scheduled(&ended.id)
            .await
            .unwrap()
            .iter()
            .any(|j| matches!(j.job, Job::Purge { .. })),
    );
    let done = purge::purge_due(deps, &ended, purge_at).await.unwrap();
    assert_eq!((done.purged, done.never_told), (1, 0), "{done:?}");
    assert!(
        deps.ledger
            .deliveries_to(&ended.id, &id("late1"))
            .await
            .unwrap()
            .is_empty(),
        "no notice"
    );
}

/// A deadline is the customer's whole last day where they live: their link
/// works to its end, an export can be asked for until then, and their
/// purge starts only after it — for customers at UTC+14 (Kiritimati),
/// UTC-10 (Honolulu) and in the campaign's zone (Berlin). Before, all of it
/// ran on Berlin's day: Honolulu lost the last 11 hours.
pub async fn a_deadline_is_the_whole_last_day_where_the_customer_lives(deps: &Deps) {
    use sunset::services::{export, notice, purge};
    let c = campaign();
    deps.campaigns.put_campaign(&c).await.unwrap();
    let zones = [
        ("east", chrono_tz::Pacific::Kiritimati),
        ("west", chrono_tz::Pacific::Honolulu),
        ("home", chrono_tz::Europe::Berlin),
    ];
    let records: Vec<CustomerRecord> = zones.iter().map(|(id, z)| record(id, *z)).collect();
    deps.customers
        .insert_customers(&c.id, &records)
        .await
        .unwrap();
    // All three were told.
    let told: Vec<DeliveryKey> = zones
        .iter()
        .map(|(c_id, _)| {
            DeliveryKey::once(
                &c.id,
                Recipient::Customer(id(c_id)),
                Milestone::Announcement,
            )
        })
        .collect();
    deps.ledger
        .claim(&told, Lease::starting(t("2027-02-01T09:00:00Z")))
        .await
        .unwrap();
    let sent: Vec<_> = told.iter().map(|k| (k.clone(), "m".to_owned())).collect();
    deps.ledger
        .mark_sent(&sent, t("2027-02-01T09:00:00Z"))
        .await
        .unwrap();

    // 31 October ends at 10:00 UTC in Kiritimati, 23:00 in Berlin, and
    // 10:00 the next day in Honolulu; each link works to its last second.
    let ends = [
        ("east", t("2027-10-31T10:00:00Z")),
        ("home", t("2027-10-31T23:00:00Z")),
        ("west", t("2027-11-01T10:00:00Z")),
    ];
    for (c_id, end) in ends {
        let r = stored(deps, &c.id, c_id).await;
        assert_eq!(
            notice::link_expiry(&c, &r),
            end - chrono::Duration::seconds(1),
            "{c_id}"
        );
    }
    // The plan's purge waits for the last of them.
    let planned = sunset::domain::milestone::plan(
        &c,
        &[
            chrono_tz::Pacific::Kiritimati,
            chrono_tz::Pacific::Honolulu,
            chrono_tz::Europe::Berlin,
        ],
        &Default::default(),
    );
    let purge_job = planned
        .iter()
        .find(|j| matches!(j.job, Job::Purge { .. }))
        .unwrap();
    assert_eq!(purge_job.due, t("2027-11-01T10:00:00Z"));

    // At 05:00 UTC on 1 November it is still 31 October in Honolulu.
    let early_morning = t("2027-11-01T05:00:00Z");
    assert!(
        export::request_export(deps, &c, &id("west"), early_morning)
            .await
            .is_ok()
    );
    assert!(matches!(
        export::request_export(deps, &c, &id("home"), early_morning).await,
        Err(export::ExportError::PastDeadline)
    ));

    // Each purge run takes only those whose day has ended.
    let runs = [
        (t("2027-10-31T09:59:59Z"), 0, 3),
        (t("2027-10-31T10:00:00Z"), 1, 2),
        (t("2027-10-31T23:00:00Z"), 1, 1),
        (t("2027-11-01T09:59:59Z"), 0, 1),
        (t("2027-11-01T10:00:00Z"), 1, 0),
    ];
    for (at, purged, not_due) in runs {
        let done = purge::purge_due(deps, &c, at).await.unwrap();
        assert_eq!(
            (done.purged, done.not_due),
            (purged, not_due),
            "at {at}: {done:?}"
        );
    }
    // A run that left someone not yet due put a run of its own on the
    // calendar for them.
    assert!(
        deps.scheduler
            .scheduled(&c.id)
            .await
            .unwrap()
            .iter()
            .any(|j| j.name.contains("purge.at.") && j.due == t("2027-11-01T10:00:00Z")),
    );
}

/// An extension is told: a notice with the new last day and fresh links
/// valid to its end, once; a legal hold released after the deadline gives
/// the customer time and tells them so; and the export bundle holds the
/// customer's data, not our bookkeeping. (Before, an extension sent
/// nothing and the links died at the old deadline.)
pub async fn an_extension_is_told_with_links_valid_to_the_new_day(deps: &Deps) {
    use sunset::services::{events, export, jobs, notice, purge};
    let c = seeded(deps).await;
    let event = |customer: &str, at: &str, kind| CustomerEvent {
        at: t(at),
        customer: id(customer),
        kind,
    };
    let day: chrono::NaiveDate = "2027-12-15".parse().unwrap();
    events::apply(
        deps,
        &c,
        &event(
            "a1",
            "2027-10-20T10:00:00Z",
            CustomerEventKind::Extension(day),
        ),
    )
    .await
    .unwrap();
    let scheduled = deps.scheduler.scheduled(&c.id).await.unwrap();
    let notice_job = scheduled
        .iter()
        .find(|j| matches!(&j.job, Job::DeadlineNotice { customer, .. } if *customer == id("a1")))
        .expect("a deadline notice is scheduled")
        .job
        .clone();
    let now = t("2027-10-20T10:01:00Z");
    let budget = jobs::Budget::unlimited();
    let first = jobs::run(deps, &notice_job, now, &budget).await.unwrap();
    let again = jobs::run(deps, &notice_job, now, &budget).await.unwrap();
    assert_eq!(serde_json::to_value(&first).unwrap()["sent"], true);
    assert_eq!(
        serde_json::to_value(&again).unwrap()["sent"],
        false,
        "told once"
    );
    let told = deps.ledger.deliveries_to(&c.id, &id("a1")).await.unwrap();
    assert!(told.iter().any(|d| d.key.milestone == Milestone::Deadline
        && d.key.occurrence == "2027-12-15"
        && d.sent_at.is_some()));
    // Its link is valid to the end of 15 December in Berlin.
    let a1 = stored(deps, &c.id, "a1").await;
    let rendered =
        notice::render_deadline(&c, &a1, a1.profile.as_ref().unwrap(), &deps.signer).unwrap();
    let expiry = notice::link_expiry(&c, &a1);
    assert_eq!(expiry, t("2027-12-15T22:59:59Z"));
    assert!(
        rendered
            .text
            .contains(&format!("exp={}", expiry.timestamp())),
        "{}",
        rendered.text
    );
    assert!(
        rendered.text.contains("15 December 2027"),
        "{}",
        rendered.text
    );
    // ... and the customer can still ask for an export in December.
    assert!(
        export::request_export(deps, &c, &id("a1"), t("2027-12-10T10:00:00Z"))
            .await
            .is_ok()
    );

    // A hold released after the deadline: a month to take the data, told.
    events::apply(
        deps,
        &c,
        &event(
            "a2",
            "2027-06-01T10:00:00Z",
            CustomerEventKind::LegalHold("case 17".into()),
        ),
    )
    .await
    .unwrap();
    events::apply(
        deps,
        &c,
        &event(
            "a2",
            "2027-11-05T10:00:00Z",
            CustomerEventKind::LegalHoldReleased("case closed".into()),
        ),
    )
    .await
    .unwrap();
    let a2 = stored(deps, &c.id, "a2").await;
    assert!(!a2.legal_hold);
    assert_eq!(a2.extended_until, "2027-12-05".parse().ok());
    assert!(
        deps.scheduler.scheduled(&c.id).await.unwrap().iter().any(
            |j| matches!(&j.job, Job::DeadlineNotice { customer, .. } if *customer == id("a2"))
        )
    );
    let done = purge::purge_due(deps, &c, t("2027-11-06T00:00:00Z"))
        .await
        .unwrap();
    assert!(
        stored(deps, &c.id, "a2").await.purged_at.is_none(),
        "{done:?}"
    );

    // The bundle: their data, not our bookkeeping.
    let request = export::request_export(deps, &c, &id("a1"), now)
        .await
        .unwrap();
    let built = export::build_export(deps, &c, &id("a1"), &request.id, now)
        .await
        .unwrap();
    let bytes = deps
        .blobs
        .get(built.bundle_key.as_ref().unwrap())
        .await
        .unwrap()
        .unwrap();
    let json = {
        use std::io::Read;
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let mut s = String::new();
        zip.by_name("sunset/customer.json")
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        s
    };
    for internal in [
        "tier",
        "explanation",
        "claimed_at",
        "message_id",
        "occurrence",
        "recipient",
    ] {
        assert!(
            !json.contains(&format!("\"{internal}\"")),
            "the bundle shows `{internal}`: {json}"
        );
    }
    assert!(
        json.contains("\"deadline\""),
        "the deadline notice is listed as sent: {json}"
    );
}

/// A preview renders what one stored customer would get: their tier,
/// standing and locale, from the store of either runtime; the refusals
/// name what is wrong.
pub async fn a_preview_is_what_the_stored_customer_would_get(deps: &Deps) {
    use sunset::domain::ledger::Channel;
    use sunset::services::preview::{self, PreviewError, Previewed};
    let c = seeded(deps).await;
    segment(deps, &c.id, &["a1"], Tier::Core).await;
    segment(deps, &c.id, &["a2"], Tier::Low).await;
    let now = deps.clock.now();
    let show = |customer: &'static str, message: Previewed| {
        let c = c.clone();
        async move { preview::preview(deps, &c, &id(customer), message, Channel::Email, now).await }
    };
    let core = show("a1", Previewed::Announcement).await.unwrap();
    assert_eq!(
        (core.tier, core.status, core.to.as_str()),
        ("core", "pending", "a1@example.com")
    );
    assert!(core.subject.contains(&c.product), "{}", core.subject);
    assert!(
        core.template.starts_with("email/announcement."),
        "{}",
        core.template
    );
    let low = show("a2", Previewed::Announcement).await.unwrap();
    assert_eq!(low.tier, "low");
    assert!(
        low.text.len() < core.text.len(),
        "a low-tier announcement is the short one"
    );
    let offset = c.reminder_offsets()[0];
    let reminder = show("a1", Previewed::Reminder(offset)).await.unwrap();
    assert!(
        reminder.subject.contains(&format!("{offset} days left")),
        "{}",
        reminder.subject
    );
    assert!(matches!(
        show("a1", Previewed::Reminder(offset + 1)).await,
        Err(PreviewError::NotPlanned { .. })
    ));
    assert!(matches!(
        show("nobody", Previewed::Announcement).await,
        Err(PreviewError::UnknownCustomer(_))
    ));
    deps.customers
        .scrub_customers(&c.id, &[id("a3")], now)
        .await
        .unwrap();
    assert!(matches!(
        show("a3", Previewed::Announcement).await,
        Err(PreviewError::Purged(_))
    ));
}

/// A number in E.164 form that has answered STOP: the emulator's SNS
/// treats every number ending in 99 so, and the embedded runtime's
/// opt-out file lists it (`contract_embedded.rs`).
pub const OPTED_OUT: &str = "+4915100000099";

/// The campaign's rules, applied when a reminder goes out (the status
/// read then): the default rules send the 30-day reminder by e-mail to
/// everyone not migrated and as a text to those still pending with a
/// mobile number, one of each per customer even when two runs of the
/// wave start at the same instant; an opted-out number gets no text.
/// `texts` reads what the texter sent: (number, text) pairs.
pub async fn reminders_follow_the_rules_on_every_channel_once(
    deps: &Deps,
    texts: impl Fn() -> Vec<(String, String)>,
) {
    use sunset::domain::ids::Phone;
    use sunset::domain::ledger::Channel;
    use sunset::domain::milestone::local_instant;
    use sunset::services::dispatch::{Wave, notice_wave};
    use sunset::services::jobs::Budget;
    let c = campaign();
    deps.campaigns.put_campaign(&c).await.unwrap();
    let berlin = chrono_tz::Europe::Berlin;
    let with_phone = |c: &str, phone: &str| {
        let mut r = record(c, berlin);
        if let Some(p) = r.profile.as_mut() {
            p.phone = Some(Phone::parse(phone).unwrap());
        }
        r
    };
    let records = vec![
        with_phone("pending-mobile", "+49 151 12345678"),
        with_phone("pending-local", "0151 12345678"),
        with_phone("declined", "+49 151 22222222"),
        with_phone("migrated", "+49 151 33333333"),
        with_phone("opted-out", OPTED_OUT),
    ];
    deps.customers
        .insert_customers(&c.id, &records)
        .await
        .unwrap();
    let all: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
    segment(deps, &c.id, &all, Tier::Standard).await;
    for (who, status, kind) in [
        (
            "declined",
            MigrationStatus::Declined,
            CustomerEventKind::Declined("too expensive".into()),
        ),
        (
            "migrated",
            MigrationStatus::Migrated,
            CustomerEventKind::Migrated,
        ),
    ] {
        let mut r = stored(deps, &c.id, who).await;
        r.status = status;
        let event = CustomerEvent {
            at: t("2027-06-01T10:00:00Z"),
            customer: id(who),
            kind,
        };
        deps.events
            .record_events(&c.id, &[(event, Some(r))])
            .await
            .unwrap();
    }
    let wave = |milestone: Milestone| {
        let day = c.reminder_date(match milestone {
            Milestone::Reminder(n) => n,
            _ => unreachable!(),
        });
        Wave {
            milestone,
            zone: berlin,
            now: local_instant(day, c.send_time(), berlin),
            resume: None,
        }
    };
    let budget = Budget::unlimited();
    // Before T-30: e-mail only.
    notice_wave(deps, &c, wave(Milestone::Reminder(60)), &budget)
        .await
        .unwrap();
    assert!(texts().is_empty(), "no text before T-30: {:?}", texts());
    // T-30, two runs at the same instant.
    let (a, b) = tokio::join!(
        notice_wave(deps, &c, wave(Milestone::Reminder(30)), &budget),
        notice_wave(deps, &c, wave(Milestone::Reminder(30)), &budget),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    // Four e-mails (not the migrated customer) and one text.
    assert_eq!(a.sent + b.sent, 5, "{a:?} {b:?}");
    let sent = texts();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, "+4915112345678");
    assert!(sent[0].1.contains("Reply STOP"), "{}", sent[0].1);
    assert!(sent[0].1.contains("in 30 days"), "{}", sent[0].1);
    // Everyone's ledger, per channel.
    for (who, email, sms) in [
        ("pending-mobile", true, true),
        ("pending-local", true, false),
        ("declined", true, false),
        ("migrated", false, false),
        ("opted-out", true, false),
    ] {
        let told = deps.ledger.deliveries_to(&c.id, &id(who)).await.unwrap();
        let on = |channel| {
            told.iter().any(|d| {
                d.key.milestone == Milestone::Reminder(30)
                    && d.key.channel == channel
                    && d.sent_at.is_some()
            })
        };
        assert_eq!(on(Channel::Email), email, "{who} by e-mail");
        assert_eq!(on(Channel::Sms), sms, "{who} by text");
    }
    // A run after the fact sends nothing again.
    let again = notice_wave(deps, &c, wave(Milestone::Reminder(30)), &budget)
        .await
        .unwrap();
    assert_eq!(again.sent, 0, "{again:?}");
    assert_eq!(texts().len(), 1);
}

/// Three customers, the announcement wave run twice at the same instant:
/// each is told once. Returns how many were sent.
pub async fn an_announcement_wave_twice_at_once_tells_everyone_once(deps: &Deps) -> u64 {
    use sunset::domain::milestone::local_instant;
    use sunset::services::dispatch::{Wave, notice_wave};
    use sunset::services::jobs::Budget;
    let c = campaign();
    deps.campaigns.put_campaign(&c).await.unwrap();
    let berlin = chrono_tz::Europe::Berlin;
    let records: Vec<_> = ["w1", "w2", "w3"]
        .iter()
        .map(|w| record(w, berlin))
        .collect();
    deps.customers
        .insert_customers(&c.id, &records)
        .await
        .unwrap();
    segment(deps, &c.id, &["w1", "w2", "w3"], Tier::Standard).await;
    let wave = || Wave {
        milestone: Milestone::Announcement,
        zone: berlin,
        now: local_instant(c.dates.announce, c.send_time(), berlin),
        resume: None,
    };
    let budget = Budget::unlimited();
    let (a, b) = tokio::join!(
        notice_wave(deps, &c, wave(), &budget),
        notice_wave(deps, &c, wave(), &budget)
    );
    let sent = a.unwrap().sent + b.unwrap().sent;
    assert_eq!(sent, 3);
    sent
}

pub use crate::customers_view::{
    a_contact_change_moves_the_customer_to_their_new_zone_and_address,
    the_operator_lists_filters_and_reads_each_customer,
};
pub use crate::in_app::{
    the_banner_rises_toward_the_end_behind_the_products_own_key,
    the_public_announcement_is_a_page_a_feed_a_document_and_a_calendar,
};
pub use crate::operator::{
    pause_resume_and_cancel_lose_nothing_and_stop_every_notice,
    three_date_changes_leave_exactly_the_planned_schedules,
};
pub use crate::outreach_gate::{
    a_core_customer_hears_it_one_to_one_first_or_is_held_then_told,
    a_core_customer_imported_late_is_held_like_the_others,
};
pub use crate::plan_check::the_plan_preview_is_what_is_then_sent;
pub use crate::preflight_check::{
    a_launch_too_late_for_the_brief_fails_its_lead_time, the_preflight_is_the_guides_checklist,
};
pub use crate::product_calls::{
    a_batch_sent_five_times_at_once_migrates_each_customer_once,
    the_help_desks_tickets_feed_the_report_once, the_products_signed_migration_reports_count_once,
};
pub use crate::refusals::every_refusal_says_why_and_changes_nothing;

/// After the end: the notice that the service ended goes to everyone who
/// has not migrated, the deletion warning to those whose data is deleted
/// at the campaign's deadline (not the held, not the extended), each once
/// though every wave runs twice at the same instant; at the purge, each
/// told customer whose data is deleted gets the farewell, once.
pub async fn the_notices_after_the_end_reach_whom_they_should_once(deps: &Deps) {
    use sunset::domain::milestone::{day_ends_everywhere, local_instant};
    use sunset::services::dispatch::{Wave, notice_wave};
    use sunset::services::jobs::Budget;
    use sunset::services::purge;
    let c = campaign();
    deps.campaigns.put_campaign(&c).await.unwrap();
    let berlin = chrono_tz::Europe::Berlin;
    let who = ["pending", "exported", "migrated", "held", "extended"];
    let records: Vec<_> = who.iter().map(|w| record(w, berlin)).collect();
    deps.customers
        .insert_customers(&c.id, &records)
        .await
        .unwrap();
    segment(deps, &c.id, &who, Tier::Standard).await;
    let wave = |milestone: Milestone| Wave {
        milestone,
        zone: berlin,
        now: local_instant(
            sunset::domain::milestone::milestone_date(&c, milestone).unwrap(),
            c.send_time(),
            berlin,
        ),
        resume: None,
    };
    let budget = Budget::unlimited();
    notice_wave(deps, &c, wave(Milestone::Announcement), &budget)
        .await
        .unwrap();
    let later = c.dates.export_deadline + chrono::Days::new(30);
    for (w, change) in [
        ("exported", CustomerEventKind::Migrated),
        ("migrated", CustomerEventKind::Migrated),
        ("held", CustomerEventKind::LegalHold("litigation".into())),
        ("extended", CustomerEventKind::Extension(later)),
    ] {
        let mut r = stored(deps, &c.id, w).await;
        match w {
            "exported" => r.status = MigrationStatus::Exported,
            "migrated" => r.status = MigrationStatus::Migrated,
            "held" => r.legal_hold = true,
            _ => r.extended_until = Some(later),
        }
        let event = CustomerEvent {
            at: t("2027-06-01T10:00:00Z"),
            customer: id(w),
            kind: change,
        };
        deps.events
            .record_events(&c.id, &[(event, Some(r))])
            .await
            .unwrap();
    }
    let campaign_id = &c.id;
    let got = |milestone: Milestone| async move {
        let mut got = Vec::new();
        for w in who {
            let told = deps
                .ledger
                .deliveries_to(campaign_id, &id(w))
                .await
                .unwrap();
            if told
                .iter()
                .any(|d| d.key.milestone == milestone && d.sent_at.is_some())
            {
                got.push(w);
            }
        }
        got
    };
    for (milestone, expected) in [
        (
            Milestone::ServiceEnded,
            vec!["pending", "exported", "held", "extended"],
        ),
        (Milestone::DeletionWarning(7), vec!["pending", "exported"]),
    ] {
        let (a, b) = tokio::join!(
            notice_wave(deps, &c, wave(milestone), &budget),
            notice_wave(deps, &c, wave(milestone), &budget),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(
            a.sent + b.sent,
            expected.len() as u64,
            "{milestone}: {a:?} {b:?}"
        );
        assert_eq!(got(milestone).await, expected, "{milestone}");
    }
    // The purge: the held and the extended stay; the others are deleted
    // and told so, once, though the purge runs twice.
    let due = day_ends_everywhere(c.dates.export_deadline) + chrono::Duration::minutes(1);
    let first = purge::purge_due(deps, &c, due).await.unwrap();
    let again = purge::purge_due(deps, &c, due).await.unwrap();
    assert_eq!(first.purged, 3, "{first:?}");
    assert_eq!((first.farewells_sent, first.farewells_missed), (3, 0));
    assert_eq!((again.purged, again.farewells_sent), (0, 0), "{again:?}");
    assert_eq!(
        got(Milestone::DeletionDone).await,
        ["pending", "exported", "migrated"]
    );
    for w in ["pending", "exported", "migrated"] {
        assert!(stored(deps, &c.id, w).await.profile.is_none(), "{w}");
    }
}
