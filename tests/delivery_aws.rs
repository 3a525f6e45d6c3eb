//! Delivery under faults on the AWS adapters against the emulator, faults
//! injected at the SDK's HTTP seam: the scenarios of `support/delivery.rs`.

use sunset_e2e::delivery::{self, Rig};
use sunset_e2e::faults::Step;

const CUSTOMERS: usize = 200;

#[tokio::test]
async fn every_event_three_times_at_once_sends_each_notice_once() {
    delivery::every_event_three_times_at_once_sends_each_notice_once(&Rig::aws().await, CUSTOMERS)
        .await;
}

#[tokio::test]
async fn a_crash_after_a_claim_loses_no_notice() {
    delivery::a_crash_at_any_step_loses_no_notice(&Rig::aws().await, CUSTOMERS, Step::Claim, 30)
        .await;
}

#[tokio::test]
async fn a_crash_after_a_send_loses_no_notice() {
    delivery::a_crash_at_any_step_loses_no_notice(&Rig::aws().await, CUSTOMERS, Step::Send, 30)
        .await;
}

#[tokio::test]
async fn a_crash_after_a_mark_loses_no_notice() {
    delivery::a_crash_at_any_step_loses_no_notice(&Rig::aws().await, CUSTOMERS, Step::Mark, 30)
        .await;
}

#[tokio::test]
async fn throttling_and_a_used_up_quota_defer_and_lose_nothing() {
    delivery::throttling_and_a_used_up_quota_defer_and_lose_nothing(&Rig::aws().await, CUSTOMERS)
        .await;
}

#[tokio::test]
async fn a_deadline_mid_wave_is_continued_to_the_end() {
    delivery::a_deadline_mid_wave_is_continued_to_the_end(&Rig::aws().await, CUSTOMERS).await;
}

#[tokio::test]
async fn late_waves_send_within_grace_and_record_misses_past_it() {
    delivery::late_waves_send_within_grace_and_record_misses_past_it(&Rig::aws().await, CUSTOMERS)
        .await;
}

#[tokio::test]
async fn delivery_events_are_counted_and_suppress_what_bounced() {
    delivery::delivery_events_are_counted_and_suppress_what_bounced(&Rig::aws().await).await;
}

#[tokio::test]
async fn a_bounce_rate_past_its_limit_pauses_the_waves_until_resumed() {
    delivery::a_bounce_rate_past_its_limit_pauses_the_waves_until_resumed(&Rig::aws().await).await;
}

#[tokio::test]
async fn a_used_up_quota_at_the_purge_costs_farewells_not_deletions() {
    // Fewer customers: each purge batch is a DynamoDB write per customer
    // on the emulator's one-at-a-time store.
    delivery::a_used_up_quota_at_the_purge_costs_farewells_not_deletions(&Rig::aws().await, 40)
        .await;
}
