//! The port contracts on the AWS adapters, against the local emulator that
//! `tests/run.sh` starts. Each test has its own table, buckets and group.

use sunset_e2e::runtime::Runtime;
use sunset_e2e::{aws_deps, contract};

macro_rules! contracts {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $name() {
            let deps = aws_deps().await;
            contract::$name(&deps).await;
        }
    )*};
}

// Every port but the product's data, whose S3 adapter the end-to-end
// scenario (`aws_lifecycle`) exercises.
contracts!(
    campaigns_round_trip_and_replace,
    a_delivery_is_claimed_once_until_released,
    export_requests_round_trip,
    export_requests_at_the_same_instant_stay_each_customers_own,
    a_late_first_launch_is_refused_and_a_relaunch_is_not,
    a_customer_never_told_is_held_until_the_operator_decides,
    an_import_after_the_service_end_is_refused_or_goes_to_the_purge,
    a_deadline_is_the_whole_last_day_where_the_customer_lives,
    an_extension_is_told_with_links_valid_to_the_new_day,
    the_audit_trail_is_a_chain_per_campaign,
    the_audit_trail_takes_appends_at_the_same_instant,
    the_mailer_answers_each_message_in_order,
    scheduling_a_job_again_moves_it,
    blobs_are_stored_listed_and_deleted_by_prefix,
    inserting_a_known_customer_reports_it_and_keeps_the_first,
    customer_pages_list_everyone_once,
    a_wave_sees_only_who_is_still_due_in_its_zone,
    tiers_and_scrubbing_keep_the_report_figures,
    events_are_kept_in_order_per_customer,
    a_customer_migrates_once_though_two_calls_write_it,
    a_preview_is_what_the_stored_customer_would_get,
    the_banner_rises_toward_the_end_behind_the_products_own_key,
    the_public_announcement_is_a_page_a_feed_a_document_and_a_calendar,
    the_notices_after_the_end_reach_whom_they_should_once,
    upserts_and_cancels_of_one_schedule_at_once_all_succeed,
);

/// The scenarios through the API, as AWS runs it: the Lambda functions'
/// routers behind API Gateway (`sunset serve` runs on the embedded
/// adapters only; `contract_embedded` runs these in both runtimes).
macro_rules! api_contracts {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $name() {
            let deps = aws_deps().await;
            contract::$name(&deps, Runtime::Gateway).await;
        }
    )*};
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

/// The plan, read back from Scheduler: every job at its time, with its
/// own payload, in at() expressions the project itself validated.
#[tokio::test]
async fn a_planned_campaign_reads_back_from_scheduler_as_planned() {
    let deps = aws_deps().await;
    let c = contract::campaign();
    deps.campaigns.put_campaign(&c).await.unwrap();
    let zones = [chrono_tz::Asia::Shanghai, chrono_tz::Europe::Berlin];
    let planned = sunset::domain::milestone::plan(&c, &zones, &Default::default());
    for job in &planned {
        deps.scheduler.upsert(job).await.unwrap();
    }
    // Planning again moves nothing and adds nothing.
    for job in &planned {
        deps.scheduler.upsert(job).await.unwrap();
    }
    let read_back = deps.scheduler.scheduled(&c.id).await.unwrap();
    assert_eq!(read_back, planned);
}

/// An import is all or nothing on DynamoDB too: when a batch fails part
/// way (here DynamoDB refuses an item over 400 KB in the second batch of
/// 25), what the first batch wrote is taken back and the error returned.
#[tokio::test]
async fn an_import_that_fails_part_way_leaves_nothing() {
    let deps = aws_deps().await;
    let c = contract::campaign();
    deps.campaigns.put_campaign(&c).await.unwrap();
    let mut records: Vec<_> = (0..60)
        .map(|n| contract::record(&format!("r{n:02}"), chrono_tz::UTC))
        .collect();
    records[40].profile.as_mut().unwrap().locale = Some("x".repeat(500_000));
    let failed = deps.customers.insert_customers(&c.id, &records).await;
    assert!(failed.is_err(), "DynamoDB refuses an item over 400 KB");
    let left = deps
        .customers
        .customers_page(&c.id, None, 100)
        .await
        .unwrap();
    assert!(
        left.is_empty(),
        "left behind: {:?}",
        left.iter().map(|r| r.id.to_string()).collect::<Vec<_>>()
    );
    // The same import without the bad row then goes through whole.
    records.remove(40);
    let known = deps
        .customers
        .insert_customers(&c.id, &records)
        .await
        .unwrap();
    assert!(known.is_empty(), "{known:?}");
    assert_eq!(
        deps.customers
            .customers_page(&c.id, None, 100)
            .await
            .unwrap()
            .len(),
        59
    );
}

/// A job due now is set a minute ahead of the deps' clock, not the wall
/// clock: a simulated run schedules in simulated time.
#[tokio::test]
async fn a_job_due_now_is_scheduled_by_the_given_clock() {
    let deps = aws_deps().await;
    let c = contract::campaign();
    deps.campaigns.put_campaign(&c).await.unwrap();
    let now = deps.clock.now();
    let job = sunset::domain::ScheduledJob {
        name: format!("{}.purge.now", c.id),
        due: now,
        job: sunset::domain::Job::Purge {
            campaign: c.id.clone(),
        },
    };
    deps.scheduler.upsert(&job).await.unwrap();
    let read_back = deps.scheduler.scheduled(&c.id).await.unwrap();
    assert_eq!(read_back.len(), 1);
    assert_eq!(read_back[0].due, now + chrono::Duration::minutes(1));
}

/// An import handed to DynamoDB in chunks is all or nothing too: when a
/// later chunk fails, what the earlier chunks wrote is taken back.
#[tokio::test]
async fn an_import_in_chunks_that_fails_in_a_later_chunk_leaves_nothing() {
    let deps = aws_deps().await;
    let c = contract::campaign();
    deps.campaigns.put_campaign(&c).await.unwrap();
    let chunk = |from: usize| -> Vec<_> {
        (from..from + 30)
            .map(|n| contract::record(&format!("k{n:03}"), chrono_tz::UTC))
            .collect()
    };
    let mut bad = chunk(60);
    bad[10].profile.as_mut().unwrap().locale = Some("x".repeat(500_000));
    let mut chunks = vec![chunk(0), chunk(30), bad].into_iter();
    let failed = deps
        .customers
        .import_customers(&c.id, 90, &mut chunks)
        .await;
    assert!(failed.is_err(), "DynamoDB refuses an item over 400 KB");
    let left = deps
        .customers
        .customers_page(&c.id, None, 200)
        .await
        .unwrap();
    assert!(left.is_empty(), "left behind: {} customers", left.len());
}

/// Texts through the emulator's SNS: what it recorded as published, to
/// this test's numbers, since the test began.
#[tokio::test]
async fn reminders_follow_the_rules_on_every_channel_once() {
    let deps = aws_deps().await;
    let ours = |data: serde_json::Value| -> Vec<(String, String)> {
        data["sns"]["SMS"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| {
                let (to, text) = (m["phone_number"].as_str()?, m["message"].as_str()?);
                to.starts_with("+49151")
                    .then(|| (to.to_owned(), text.to_owned()))
            })
            .collect()
    };
    let before = ours(sunset_e2e::emulator_data()).len();
    contract::reminders_follow_the_rules_on_every_channel_once(&deps, || {
        ours(sunset_e2e::emulator_data())
            .into_iter()
            .skip(before)
            .collect()
    })
    .await;
}

/// SES's word on the sender, asked by the preflight: the emulator's
/// verified domain passes, a domain SES does not know fails, naming it.
#[tokio::test]
async fn the_preflight_asks_ses_whether_the_sender_may_send() {
    use sunset::services::preflight::{CheckState, preflight};
    let deps = aws_deps().await;
    let mut c = contract::campaign();
    deps.campaigns.put_campaign(&c).await.unwrap();
    let sender = |p: &sunset::services::preflight::Preflight| {
        p.items
            .iter()
            .find(|i| i.item == "sender_identity")
            .cloned()
            .unwrap()
    };
    let now = deps.clock.now();
    let verified = sender(&preflight(&deps, &c, now).await.unwrap());
    assert_eq!(verified.state, CheckState::Pass, "{}", verified.reason);
    assert!(
        verified.reason.contains("orbit.example is verified"),
        "{}",
        verified.reason
    );
    c.sender.from.address =
        sunset::domain::EmailAddress::parse("no-reply@elsewhere.example").unwrap();
    let unknown = sender(&preflight(&deps, &c, now).await.unwrap());
    assert_eq!(unknown.state, CheckState::Fail, "{}", unknown.reason);
    assert!(
        unknown
            .reason
            .contains("elsewhere.example is not an identity of this account"),
        "{}",
        unknown.reason
    );
}

/// Items as the release before record versions wrote them — the campaign,
/// the profile, the event, the export request, a pause, a cancellation, a
/// tier override and an audit entry as bare domain JSON, no `v` — read as
/// they were (the audit chain still verifies); a new write beside them
/// carries version 1.
#[tokio::test]
async fn items_written_before_record_versions_are_read() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use sunset::domain::event::{CustomerEvent, CustomerEventKind};
    use sunset::domain::export::{ExportId, ExportRequest, ExportStatus};
    let config = sunset::adapters::aws::sdk_config().await;
    let settings = sunset_e2e::aws_settings(&config).await;
    let table = settings.table.clone();
    let deps = settings.deps(&config);
    let dynamo = aws_sdk_dynamodb::Client::new(&config);
    let c = contract::campaign();
    let r1 = sunset::domain::CustomerId::parse("r1").unwrap();
    deps.campaigns.put_campaign(&c).await.unwrap();
    deps.customers
        .insert_customers(&c.id, &[contract::record("r1", chrono_tz::Europe::Berlin)])
        .await
        .unwrap();
    let at: chrono::DateTime<chrono::Utc> = "2027-02-03T10:00:00Z".parse().unwrap();
    let declined = CustomerEvent {
        at,
        customer: r1.clone(),
        kind: CustomerEventKind::Declined("too expensive".into()),
    };
    deps.events
        .record_events(&c.id, &[(declined.clone(), None)])
        .await
        .unwrap();
    let mut export =
        ExportRequest::new(ExportId::parse("x1").unwrap(), c.id.clone(), r1.clone(), at);
    export.status = ExportStatus::Ready;
    export.bundle_files = Some(4);
    deps.exports.put_export(&export).await.unwrap();
    // Rewrite both items as the previous release wrote them.
    let events_pk =
        sunset::adapters::aws::customers::customer_pk(&c.id, &r1).replace("CUSTS#", "EVTS#");
    let items = dynamo
        .query()
        .table_name(&table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(events_pk.clone()))
        .send()
        .await
        .unwrap();
    let item = &items.items()[0];
    assert_eq!(
        item["v"],
        AttributeValue::N("1".into()),
        "written as version 1"
    );
    let v0_event = r#"{"at":"2027-02-03T10:00:00Z","customer":"r1","kind":{"event":"declined","detail":"too expensive"}}"#;
    dynamo
        .put_item()
        .table_name(&table)
        .item("pk", item["pk"].clone())
        .item("sk", item["sk"].clone())
        .item("event", AttributeValue::S(v0_event.into()))
        .send()
        .await
        .unwrap();
    let v0_export = format!(
        r#"{{"id":"x1","campaign":"{}","customer":"r1","requested_at":"2027-02-03T10:00:00Z","status":"ready","ready_at":null,"bundle_key":null,"bundle_bytes":null,"bundle_files":4,"bundle_sha256":null}}"#,
        c.id
    );
    dynamo
        .put_item()
        .table_name(&table)
        .item("pk", AttributeValue::S(format!("EXP#{}#r1", c.id)))
        .item("sk", AttributeValue::S("x1".into()))
        .item("request", AttributeValue::S(v0_export))
        .item("gsi1pk", AttributeValue::S(format!("EXPORTS#{}", c.id)))
        .item("gsi1sk", AttributeValue::S("x1".into()))
        .send()
        .await
        .unwrap();
    let profile_v0 = r#"{"id":"r1","name":"Name of r1","contact_name":null,"email":"r1@example.com","locale":null,"timezone":"Europe/Berlin","contract_value":null,"currency":null,"customer_since":null,"usage_score":null,"strategic":false,"account_manager":"am@orbit.example","phone":null,"prepaid":null}"#;
    dynamo
        .update_item()
        .table_name(&table)
        .key(
            "pk",
            AttributeValue::S(sunset::adapters::aws::customers::customer_pk(&c.id, &r1)),
        )
        .key("sk", AttributeValue::S("r1".into()))
        .update_expression("SET profile = :p")
        .expression_attribute_values(":p", AttributeValue::S(profile_v0.into()))
        .send()
        .await
        .unwrap();
    dynamo
        .update_item()
        .table_name(&table)
        .key("pk", AttributeValue::S(format!("CAMPAIGN#{}", c.id)))
        .key("sk", AttributeValue::S("META".into()))
        .update_expression("SET spec = :s REMOVE v")
        .expression_attribute_values(":s", AttributeValue::S(serde_json::to_string(&c).unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        deps.campaigns.campaign(&c.id).await.unwrap().as_ref(),
        Some(&c)
    );
    let profile = deps
        .customers
        .customer(&c.id, &r1)
        .await
        .unwrap()
        .unwrap()
        .profile
        .unwrap();
    assert_eq!(
        profile.account_manager.unwrap().as_str(),
        "am@orbit.example"
    );
    assert_eq!(
        deps.events.events_of(&c.id, &r1).await.unwrap(),
        std::slice::from_ref(&declined)
    );
    assert_eq!(deps.events.events(&c.id).await.unwrap(), [declined]);
    let read = deps
        .exports
        .export(&c.id, &r1, &ExportId::parse("x1").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read, export);
    assert_eq!(deps.exports.all_exports(&c.id).await.unwrap(), [export]);
    // The purge scrubs a decline reason written before versions too.
    deps.customers
        .scrub_customers(&c.id, std::slice::from_ref(&r1), at)
        .await
        .unwrap();
    let scrubbed = deps.events.events_of(&c.id, &r1).await.unwrap();
    assert_eq!(
        scrubbed[0].kind,
        CustomerEventKind::Declined("[purged]".into())
    );

    // A pause, a cancellation, a tier override and an audit entry as that
    // release wrote them.
    let entry = sunset::domain::audit::AuditEntry {
        at,
        campaign: c.id.clone(),
        customer: Some(r1.clone()),
        action: "tier-overridden".into(),
        detail: serde_json::json!({"from": "low", "to": "core"}),
    };
    deps.audit.append(entry.clone()).await.unwrap();
    let audit_pk = AttributeValue::S(format!("AUDIT#{}", c.id));
    let first = format!("{:020}", 1);
    let stored = dynamo
        .get_item()
        .table_name(&table)
        .key("pk", audit_pk.clone())
        .key("sk", AttributeValue::S(first.clone()))
        .send()
        .await
        .unwrap();
    let stored = stored.item().unwrap()["entry"].as_s().unwrap().clone();
    assert!(stored.starts_with(r#"{"v":1,"#), "{stored}");
    dynamo
        .update_item()
        .table_name(&table)
        .key("pk", audit_pk)
        .key("sk", AttributeValue::S(first))
        .update_expression("SET entry = :e")
        .expression_attribute_values(
            ":e",
            AttributeValue::S(serde_json::to_string(&entry).unwrap()),
        )
        .send()
        .await
        .unwrap();
    dynamo
        .update_item()
        .table_name(&table)
        .key("pk", AttributeValue::S(format!("CAMPAIGN#{}", c.id)))
        .key("sk", AttributeValue::S("META".into()))
        .update_expression("SET paused = :p, cancelled = :c")
        .expression_attribute_values(
            ":p",
            AttributeValue::S(r#"{"at":"2027-03-01T08:00:00Z","reason":"hard bounces"}"#.into()),
        )
        .expression_attribute_values(
            ":c",
            AttributeValue::S(r#"{"at":"2027-03-02T08:00:00Z","by":"Ana","reason":"kept"}"#.into()),
        )
        .send()
        .await
        .unwrap();
    dynamo
        .update_item()
        .table_name(&table)
        .key(
            "pk",
            AttributeValue::S(sunset::adapters::aws::customers::customer_pk(&c.id, &r1)),
        )
        .key("sk", AttributeValue::S("r1".into()))
        .update_expression("SET tier_override = :o")
        .expression_attribute_values(
            ":o",
            AttributeValue::S(
                r#"{"tier":"core","by":"Li","reason":"renewed","at":"2027-01-05T10:00:00Z"}"#
                    .into(),
            ),
        )
        .send()
        .await
        .unwrap();
    let status = deps.campaigns.status(&c.id).await.unwrap().unwrap();
    assert_eq!(status.paused.unwrap().reason, "hard bounces");
    assert_eq!(status.cancelled.unwrap().by, "Ana");
    let read = deps.customers.customer(&c.id, &r1).await.unwrap().unwrap();
    assert_eq!(read.tier_override.unwrap().tier, sunset::domain::Tier::Core);
    let chain = deps.audit.entries_after(&c.id, 0, 10).await.unwrap();
    assert_eq!(chain[0].entry, entry);
    sunset::domain::audit::verify_chain(&chain).unwrap();
}
