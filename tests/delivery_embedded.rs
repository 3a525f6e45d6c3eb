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
