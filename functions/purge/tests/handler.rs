//! The purge handler deletes only what is due and never what is held.

use lambda_runtime::{Context, LambdaEvent};
use sunset::domain::{CampaignId, CustomerId, Job};

#[tokio::test]
async fn nothing_is_purged_before_the_deadline_and_everything_due_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let (emb, clock) =
        sunset_e2e::launched_fixture(dir.path(), "2027-10-31T12:00:00Z".parse().unwrap()).await;
    let campaign = CampaignId::parse("orbit-crm-2027").unwrap();
    let payload = serde_json::to_value(Job::Purge {
        campaign: campaign.clone(),
    })
    .unwrap();

    let early = purge::handle(
        &emb.deps,
        LambdaEvent::new(payload.clone(), Context::default()),
    )
    .await
    .unwrap();
    assert_eq!(early["purged"], 0, "{early}");
    assert_eq!(early["not_due"], 10);

    clock.advance_to("2027-10-31T23:00:00Z".parse().unwrap());
    let due = purge::handle(&emb.deps, LambdaEvent::new(payload, Context::default()))
        .await
        .unwrap();
    assert_eq!(due["purged"], 10, "{due}");
    let c01 = emb
        .deps
        .customers
        .customer(&campaign, &CustomerId::parse("c01").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(c01.profile.is_none() && c01.purged_at.is_some());
}
