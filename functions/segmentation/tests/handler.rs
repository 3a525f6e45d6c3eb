//! The segmentation handler segments, checks and plans.

use lambda_runtime::{Context, LambdaEvent};
use serde_json::json;

#[tokio::test]
async fn a_segment_job_tiers_every_customer_and_plans_the_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let (emb, _) =
        sunset_e2e::launched_fixture(dir.path(), "2027-01-01T00:00:00Z".parse().unwrap()).await;
    let answer = segmentation::handle(
        &emb.deps,
        LambdaEvent::new(
            json!({"job": "segment", "campaign": "orbit-crm-2027"}),
            Context::default(),
        ),
    )
    .await
    .unwrap();
    assert_eq!(answer["outcome"], "launched", "{answer}");
    let tiers = &answer["tiers"];
    let total = tiers["core"].as_u64().unwrap()
        + tiers["standard"].as_u64().unwrap()
        + tiers["low"].as_u64().unwrap();
    assert_eq!(total, 14);
    // brief + outreach reminder + (announcement + 5 reminders + service
    // ended + deletion warning) × 4 zones (Berlin, London, New York,
    // Shanghai) + purge
    assert_eq!(answer["jobs"], 2 + 8 * 4 + 1);
}
