//! The handler answers the payloads EventBridge Scheduler delivers.

use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use sunset::domain::{CampaignId, Job};

fn event(payload: Value) -> LambdaEvent<Value> {
    LambdaEvent::new(payload, Context::default())
}

#[tokio::test]
async fn a_reminder_schedule_sends_once_however_often_it_fires() {
    let dir = tempfile::tempdir().unwrap();
    let (emb, clock) =
        sunset_e2e::launched_fixture(dir.path(), "2027-01-01T00:00:00Z".parse().unwrap()).await;
    let campaign = CampaignId::parse("orbit-crm-2027").unwrap();
    let jobs = emb.deps.scheduler.scheduled(&campaign).await.unwrap();
    let wave = jobs
        .iter()
        .find(|j| j.name == "orbit-crm-2027.reminder-30.Asia_Shanghai")
        .expect("planned");
    clock.advance_to(wave.due);
    let payload = serde_json::to_value(&wave.job).unwrap();

    let first = reminder_dispatch::handle(&emb.deps, event(payload.clone()))
        .await
        .unwrap();
    assert_eq!(first["outcome"], "wave");
    assert_eq!(first["sent"], 2, "c02 and c09 live in Shanghai: {first}");
    let again = reminder_dispatch::handle(&emb.deps, event(payload))
        .await
        .unwrap();
    assert_eq!(again["sent"], 0, "{again}");
    let outbox = sunset_e2e::read_outbox(dir.path());
    assert_eq!(
        outbox
            .iter()
            .filter(|m| m.milestone == "reminder-30")
            .count(),
        2
    );
}

#[tokio::test]
async fn payloads_it_cannot_run_are_rejected_without_a_retry() {
    let dir = tempfile::tempdir().unwrap();
    let (emb, _) =
        sunset_e2e::launched_fixture(dir.path(), "2027-01-01T00:00:00Z".parse().unwrap()).await;
    let purge = serde_json::to_value(Job::Purge {
        campaign: CampaignId::parse("orbit-crm-2027").unwrap(),
    })
    .unwrap();
    let answer = reminder_dispatch::handle(&emb.deps, event(purge))
        .await
        .unwrap();
    assert_eq!(answer["status"], "rejected");
    let answer = reminder_dispatch::handle(&emb.deps, event(json!({"hello": "world"})))
        .await
        .unwrap();
    assert_eq!(answer["status"], "rejected");
    let unknown = json!({"job": "outreach-briefs", "campaign": "no-such-campaign"});
    let answer = reminder_dispatch::handle(&emb.deps, event(unknown))
        .await
        .unwrap();
    assert_eq!(answer["status"], "rejected");
}
