//! Delivery under faults on the embedded adapters (SQLite ledger, Maildir
//! outbox): the scenarios of `support/delivery.rs`.

use sunset_e2e::delivery::{self, Rig};
use sunset_e2e::faults::Step;

const CUSTOMERS: usize = 300;

#[tokio::test]
async fn every_event_three_times_at_once_sends_each_notice_once() {
    delivery::every_event_three_times_at_once_sends_each_notice_once(&Rig::embedded(), CUSTOMERS)
        .await;
}

#[tokio::test]
async fn a_crash_after_a_claim_loses_no_notice() {
    delivery::a_crash_at_any_step_loses_no_notice(&Rig::embedded(), CUSTOMERS, Step::Claim, 30)
        .await;
}

#[tokio::test]
async fn a_crash_after_a_send_loses_no_notice() {
    delivery::a_crash_at_any_step_loses_no_notice(&Rig::embedded(), CUSTOMERS, Step::Send, 30)
        .await;
}

#[tokio::test]
async fn a_crash_after_a_mark_loses_no_notice() {
    delivery::a_crash_at_any_step_loses_no_notice(&Rig::embedded(), CUSTOMERS, Step::Mark, 30)
        .await;
}

#[tokio::test]
async fn throttling_and_a_used_up_quota_defer_and_lose_nothing() {
    delivery::throttling_and_a_used_up_quota_defer_and_lose_nothing(&Rig::embedded(), CUSTOMERS)
        .await;
}

#[tokio::test]
async fn a_deadline_mid_wave_is_continued_to_the_end() {
    delivery::a_deadline_mid_wave_is_continued_to_the_end(&Rig::embedded(), CUSTOMERS).await;
}

#[tokio::test]
async fn late_waves_send_within_grace_and_record_misses_past_it() {
    delivery::late_waves_send_within_grace_and_record_misses_past_it(&Rig::embedded(), CUSTOMERS)
        .await;
}

#[tokio::test]
async fn delivery_events_are_counted_and_suppress_what_bounced() {
    delivery::delivery_events_are_counted_and_suppress_what_bounced(&Rig::embedded()).await;
}

#[tokio::test]
async fn a_bounce_rate_past_its_limit_pauses_the_waves_until_resumed() {
    delivery::a_bounce_rate_past_its_limit_pauses_the_waves_until_resumed(&Rig::embedded()).await;
}

/// Complaints past the guard's limit pause the campaign mid-simulation:
/// the run stops there, with the pause in its report, rather than let its
/// waiting waves check back every hour for ever on the simulated clock.
#[tokio::test]
async fn a_paused_campaign_ends_a_simulation_for_the_operator() {
    use sunset::app::{demo, simulate};
    use sunset::domain::delivery_event::DeliveryOutcome;
    let dir = tempfile::tempdir().unwrap();
    let mut inputs = demo::generate(dir.path(), CUSTOMERS, 2027).unwrap();
    // Three complaints in 300 mails: 1 %, past the 0.1 % limit.
    for (_, e) in inputs.ses_events.iter_mut().take(3) {
        e.outcome = DeliveryOutcome::Complained;
    }
    let outcome = tokio::time::timeout(
        std::time::Duration::from_secs(120),
        simulate::run(inputs, None, dir.path(), |_| {}),
    )
    .await
    .expect("the run ended")
    .unwrap();
    let pause = outcome.report.paused.expect("the campaign paused");
    assert!(
        pause.reason.starts_with("complaint rate"),
        "{}",
        pause.reason
    );
    // No wave sent anything after the pause; everything else (exports,
    // the purge) ran, and then the run ended rather than let the waiting
    // waves check back for ever.
    let mut shown = 0;
    for step in outcome.steps.iter().filter(|s| s.at > pause.at) {
        if let sunset::services::jobs::JobOutcome::Wave(w) = &step.outcome {
            assert_eq!(w.sent, 0, "{step:?}");
        }
        shown += 1;
    }
    assert!(shown > 0);
    let purged = outcome
        .steps
        .iter()
        .any(|s| matches!(s.outcome, sunset::services::jobs::JobOutcome::Purge(_)));
    assert!(purged, "the purge still ran");
}

#[tokio::test]
async fn a_used_up_quota_at_the_purge_costs_farewells_not_deletions() {
    delivery::a_used_up_quota_at_the_purge_costs_farewells_not_deletions(
        &Rig::embedded(),
        CUSTOMERS,
    )
    .await;
}
