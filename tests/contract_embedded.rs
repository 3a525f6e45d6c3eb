//! The port contracts, on the embedded adapters (SQLite, Maildir,
//! directories), each in a fresh data directory.

use std::sync::Arc;

use sunset::adapters::embedded::Embedded;
use sunset::clock::SimulatedClock;
use sunset_e2e::contract;
use sunset_e2e::runtime::Runtime;

fn fresh() -> (tempfile::TempDir, Embedded) {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(SimulatedClock::new("2027-01-01T00:00:00Z".parse().unwrap()));
    let emb = Embedded::open(dir.path(), clock).unwrap();
    (dir, emb)
}

macro_rules! contracts {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $name() {
            let (_dir, emb) = fresh();
            contract::$name(&emb.deps).await;
        }
    )*};
}

contracts!(
    campaigns_round_trip_and_replace,
    inserting_a_known_customer_reports_it_and_keeps_the_first,
    customer_pages_list_everyone_once,
    a_wave_sees_only_who_is_still_due_in_its_zone,
    tiers_and_scrubbing_keep_the_report_figures,
    a_delivery_is_claimed_once_until_released,
    events_are_kept_in_order_per_customer,
    a_customer_migrates_once_though_two_calls_write_it,
    export_requests_round_trip,
    export_requests_at_the_same_instant_stay_each_customers_own,
    a_late_first_launch_is_refused_and_a_relaunch_is_not,
    a_customer_never_told_is_held_until_the_operator_decides,
    an_import_after_the_service_end_is_refused_or_goes_to_the_purge,
    a_deadline_is_the_whole_last_day_where_the_customer_lives,
    an_extension_is_told_with_links_valid_to_the_new_day,
    the_audit_trail_is_a_chain_per_campaign,
    the_audit_trail_takes_appends_at_the_same_instant,
    scheduling_a_job_again_moves_it,
    the_mailer_answers_each_message_in_order,
    blobs_are_stored_listed_and_deleted_by_prefix,
    a_preview_is_what_the_stored_customer_would_get,
    the_banner_rises_toward_the_end_behind_the_products_own_key,
    the_public_announcement_is_a_page_a_feed_a_document_and_a_calendar,
    the_notices_after_the_end_reach_whom_they_should_once,
    upserts_and_cancels_of_one_schedule_at_once_all_succeed,
);

/// The scenarios through the API, in both runtimes the router runs in:
/// `serve::…` through `sunset serve`'s router, `gateway::…` through the
/// Lambda functions' behind API Gateway (routed as `infra/template.yaml`
/// routes them).
macro_rules! api_contracts {
    ($($name:ident),* $(,)?) => {
        mod serve {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    let (_dir, emb) = fresh();
                    contract::$name(&emb.deps, Runtime::Serve).await;
                }
            )*
        }
        mod gateway {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    let (_dir, emb) = fresh();
                    contract::$name(&emb.deps, Runtime::Gateway).await;
                }
            )*
        }
    };
}

api_contracts!(
    three_date_changes_leave_exactly_the_planned_schedules,
    pause_resume_and_cancel_lose_nothing_and_stop_every_notice,
    the_plan_preview_is_what_is_then_sent,
    the_operator_lists_filters_and_reads_each_customer,
    a_contact_change_moves_the_customer_to_their_new_zone_and_address,
    the_products_signed_migration_reports_count_once,
    the_help_desks_tickets_feed_the_report_once,
    the_preflight_is_the_guides_checklist,
    a_launch_too_late_for_the_brief_fails_its_lead_time,
    a_core_customer_hears_it_one_to_one_first_or_is_held_then_told,
    a_core_customer_imported_late_is_held_like_the_others,
    a_batch_sent_five_times_at_once_migrates_each_customer_once,
    every_refusal_says_why_and_changes_nothing,
);

#[tokio::test]
async fn product_data_is_read_whole_and_erased() {
    let (dir, emb) = fresh();
    let root = dir.path().join("product-data");
    contract::product_data_is_read_whole_and_erased(&emb.deps, |customer, path, bytes| {
        let file = root.join(customer).join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, bytes).unwrap();
    })
    .await;
}

/// Texts into the SMS outbox, with the opted-out number in the data
/// directory's opt-out list.
#[tokio::test]
async fn reminders_follow_the_rules_on_every_channel_once() {
    let (dir, emb) = fresh();
    std::fs::write(
        dir.path().join("sms-opt-out.txt"),
        format!("# answered STOP\n{}\n", contract::OPTED_OUT),
    )
    .unwrap();
    let outbox = sunset::adapters::embedded::SmsOutbox::open(dir.path()).unwrap();
    contract::reminders_follow_the_rules_on_every_channel_once(&emb.deps, || {
        outbox
            .read()
            .unwrap()
            .into_iter()
            .map(|l| (l.to, l.text))
            .collect()
    })
    .await;
}

/// A customer's profile as the release before record versions stored it
/// (the campaign is stored bare too).
const PROFILE_V0: &str = r#"{"id":"r1","name":"Name of r1","contact_name":null,"email":"r1@example.com","locale":null,"timezone":"Europe/Berlin","contract_value":null,"currency":null,"customer_since":null,"usage_score":null,"strategic":false,"account_manager":"am@orbit.example","phone":null,"prepaid":null}"#;

/// Rows as the release before record versions wrote them — the profile,
/// the event and the export request as bare domain JSON — read as they were, and a
/// decline reason among them scrubbed by the purge; new rows beside them
/// are written as version 1.
#[tokio::test]
async fn rows_written_before_record_versions_are_read() {
    use sunset::domain::event::{CustomerEvent, CustomerEventKind};
    use sunset::domain::export::{ExportId, ExportStatus};
    let (dir, emb) = fresh();
    let c = contract::campaign();
    let r1 = sunset::domain::CustomerId::parse("r1").unwrap();
    emb.deps.campaigns.put_campaign(&c).await.unwrap();
    emb.deps
        .customers
        .insert_customers(&c.id, &[contract::record("r1", chrono_tz::Europe::Berlin)])
        .await
        .unwrap();
    drop(emb);
    // As the previous release wrote them.
    let db = rusqlite::Connection::open(dir.path().join("sunset.db")).unwrap();
    db.execute(
        "INSERT INTO events (campaign_id, customer_id, kind, event) VALUES (?1, 'r1', 'declined', ?2)",
        rusqlite::params![
            c.id.as_str(),
            r#"{"at":"2027-02-03T10:00:00Z","customer":"r1","kind":{"event":"declined","detail":"too expensive"}}"#
        ],
    )
    .unwrap();
    db.execute(
        "INSERT INTO exports (campaign_id, id, customer_id, request) VALUES (?1, 'x1', 'r1', ?2)",
        rusqlite::params![
            c.id.as_str(),
            format!(
                r#"{{"id":"x1","campaign":"{}","customer":"r1","requested_at":"2027-02-03T10:00:00Z","status":"ready","ready_at":null,"bundle_key":null,"bundle_bytes":null,"bundle_files":4,"bundle_sha256":null}}"#,
                c.id
            )
        ],
    )
    .unwrap();
    let stored: String = db
        .query_row(
            "SELECT profile FROM customers WHERE customer_id = 'r1'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(stored.starts_with(r#"{"v":1,"profile":"#), "{stored}");
    db.execute(
        "UPDATE customers SET profile = ?1 WHERE customer_id = 'r1'",
        [PROFILE_V0],
    )
    .unwrap();
    db.execute(
        "UPDATE campaigns SET spec = ?1 WHERE id = ?2",
        [serde_json::to_string(&c).unwrap(), c.id.to_string()],
    )
    .unwrap();
    drop(db);
    let clock = Arc::new(SimulatedClock::new("2027-02-04T00:00:00Z".parse().unwrap()));
    let emb = Embedded::open(dir.path(), clock).unwrap();
    assert_eq!(
        emb.deps.campaigns.campaign(&c.id).await.unwrap().as_ref(),
        Some(&c)
    );
    let at: chrono::DateTime<chrono::Utc> = "2027-02-03T10:00:00Z".parse().unwrap();
    let profile = emb
        .deps
        .customers
        .customer(&c.id, &r1)
        .await
        .unwrap()
        .unwrap()
        .profile
        .unwrap();
    assert_eq!(profile.email.as_str(), "r1@example.com");
    assert_eq!(
        profile.account_manager.unwrap().as_str(),
        "am@orbit.example"
    );
    let events = emb.deps.events.events_of(&c.id, &r1).await.unwrap();
    assert_eq!(
        events,
        [CustomerEvent {
            at,
            customer: r1.clone(),
            kind: CustomerEventKind::Declined("too expensive".into()),
        }]
    );
    let export = emb
        .deps
        .exports
        .export(&c.id, &r1, &ExportId::parse("x1").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (export.status, export.bundle_files),
        (ExportStatus::Ready, Some(4))
    );
    // A new decline beside it, as version 1; the purge scrubs both.
    let again = CustomerEvent {
        at: at + chrono::Duration::hours(1),
        customer: r1.clone(),
        kind: CustomerEventKind::Declined("still too expensive".into()),
    };
    emb.deps
        .events
        .record_events(&c.id, &[(again, None)])
        .await
        .unwrap();
    emb.deps
        .customers
        .scrub_customers(&c.id, std::slice::from_ref(&r1), at)
        .await
        .unwrap();
    let scrubbed = emb.deps.events.events_of(&c.id, &r1).await.unwrap();
    assert_eq!(scrubbed.len(), 2);
    for e in &scrubbed {
        assert_eq!(e.kind, CustomerEventKind::Declined("[purged]".into()));
    }
}
