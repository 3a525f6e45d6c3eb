//! The purge handler deletes only what is due, never what is held, and
//! never a customer who was not told.

use lambda_runtime::{Context, LambdaEvent};
use sunset::domain::ledger::{DeliveryKey, Recipient};
use sunset::domain::{CampaignId, CustomerId, Job, Milestone};

#[tokio::test]
async fn nothing_is_purged_before_the_deadline_and_every_told_customer_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let (emb, clock) =
        sunset_e2e::launched_fixture(dir.path(), "2027-01-01T00:00:00Z".parse().unwrap()).await;
    let campaign = CampaignId::parse("orbit-crm-2027").unwrap();
    // c01-c10 but c04 were sent the announcement.
    let told: Vec<DeliveryKey> = (1..=10)
        .filter(|n| *n != 4)
        .map(|n| {
            DeliveryKey::once(
                &campaign,
                Recipient::Customer(CustomerId::parse(&format!("c{n:02}")).unwrap()),
                Milestone::Announcement,
            )
        })
        .collect();
    let sent_at = "2027-02-01T09:00:00Z".parse().unwrap();
    emb.deps
        .ledger
        .claim(&told, sunset::domain::ledger::Lease::starting(sent_at))
        .await
        .unwrap();
    let sent: Vec<_> = told.iter().map(|k| (k.clone(), "m".to_owned())).collect();
    emb.deps.ledger.mark_sent(&sent, sent_at).await.unwrap();
    let payload = serde_json::to_value(Job::Purge {
        campaign: campaign.clone(),
    })
    .unwrap();

    clock.advance_to("2027-10-31T12:00:00Z".parse().unwrap());
    let early = purge::handle(
        &emb.deps,
        LambdaEvent::new(payload.clone(), Context::default()),
    )
    .await
    .unwrap();
    assert_eq!(early["purged"], 0, "{early}");
    assert_eq!(early["not_due"], 14);

    // Midnight in Berlin: the last day has ended for the customers there
    // and further east, not yet for c03 (New York) and c05 (London).
    clock.advance_to("2027-10-31T23:00:00Z".parse().unwrap());
    let due = purge::handle(
        &emb.deps,
        LambdaEvent::new(payload.clone(), Context::default()),
    )
    .await
    .unwrap();
    assert_eq!(
        (due["purged"].clone(), due["not_due"].clone()),
        (7.into(), 2.into()),
        "{due}"
    );
    // c04, and the four customers the fixture imports with warnings.
    assert_eq!(due["never_told"], 5, "{due}");
    clock.advance_to("2027-11-01T04:00:00Z".parse().unwrap());
    let later = purge::handle(&emb.deps, LambdaEvent::new(payload, Context::default()))
        .await
        .unwrap();
    assert_eq!(later["purged"], 2, "{later}");
    let stored = |id: &str| {
        let id = CustomerId::parse(id).unwrap();
        let deps = emb.deps.clone();
        let campaign = campaign.clone();
        async move {
            deps.customers
                .customer(&campaign, &id)
                .await
                .unwrap()
                .unwrap()
        }
    };
    let c01 = stored("c01").await;
    assert!(c01.profile.is_none() && c01.purged_at.is_some());
    let c04 = stored("c04").await;
    assert!(
        c04.profile.is_some() && c04.purged_at.is_none(),
        "c04 was never told"
    );
}
