//! The lifecycle on AWS APIs, against the local emulator: the functions'
//! handlers run on the AWS adapters, fed the payloads Scheduler holds.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::json;
use sunset::clock::SimulatedClock;
use sunset::domain::{CampaignId, CustomerId, Job, Milestone};
use sunset::services::{export, import};
use sunset_e2e::iam::{ActionRecorder, assert_granted};
use sunset_e2e::{aws_settings, emulator_data, emulator_s3, fixture, link_path};

/// A plain HTTP/1.0 GET of an emulator URL (no chunking to undo).
fn http_get_bytes(url: &str) -> Vec<u8> {
    use std::io::{Read, Write};
    let rest = url.trim_start_matches("http://");
    let (host, path) = rest.split_once('/').unwrap();
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(s, "GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("headers end")
        + 4;
    assert!(
        raw.starts_with(b"HTTP/1.1 200") || raw.starts_with(b"HTTP/1.0 200"),
        "{}",
        String::from_utf8_lossy(&raw[..split])
    );
    raw[split..].to_vec()
}

fn clock_now(clock: &SimulatedClock) -> DateTime<Utc> {
    sunset::ports::Clock::now(clock)
}

fn sent_to(data: &serde_json::Value, address: &str) -> usize {
    data.to_string().matches(&format!("To: {address}")).count()
}

/// Imports one customer through the intake function's router (operator
/// routes, authorised by API Gateway); returns the reply.
async fn import_through_intake(
    deps: &sunset::ports::Deps,
    campaign: &CampaignId,
    id: &str,
    email: &str,
) -> serde_json::Value {
    let intake = sunset::http::admin_router(sunset::http::AppState::new(
        deps.clone(),
        sunset::http::Credential::Scope(sunset::http::ADMIN_SCOPE),
    ));
    let csv = format!("customer_id,name,email,timezone\n{id},Late Comer,{email},Europe/Berlin\n");
    let response = tower::ServiceExt::oneshot(
        intake,
        axum::http::Request::post(format!("/v1/campaigns/{campaign}/customers"))
            .header("content-type", "text/csv")
            // What API Gateway's authorizer passed on (`http::gateway`).
            .extension(sunset::http::GrantedScopes(vec![
                sunset::http::ADMIN_SCOPE.into(),
            ]))
            .body(axum::body::Body::from(csv))
            .unwrap(),
    )
    .await
    .unwrap();
    let status = response.status();
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(
        status,
        axum::http::StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&body)
    );
    serde_json::from_slice(&body).unwrap()
}

#[tokio::test]
async fn the_functions_run_a_campaign_on_aws_apis_from_import_to_purge() {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL").is_some(),
        "run with tests/run.sh, which starts the AWS emulator"
    );
    let config = sunset::adapters::aws::sdk_config().await;
    let settings = aws_settings(&config).await;
    let s3_settings = settings.s3.clone().expect("S3 wired");
    let (exports, products) = (
        s3_settings.export_bucket.clone(),
        s3_settings.product_data_bucket.clone(),
    );
    let s3 = emulator_s3(&config);
    let clock = Arc::new(SimulatedClock::new("2027-01-01T00:00:00Z".parse().unwrap()));
    // Every client reports the IAM actions it calls, so each function's
    // share of the scenario can be checked against its role.
    let recorder = ActionRecorder::default();
    let mut used: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    // SES's GetAccount and suppression list, which the emulator lacks, are
    // answered at the SDK's HTTP seam (support/faults.rs); nothing else is.
    let faulty = sunset_e2e::faults::FaultyHttp::wrap(&config, &Default::default());
    let deps = settings.deps_observed(&faulty, Some(recorder.interceptor()), clock.clone());

    // The product's data for c05, in the product-data bucket.
    s3.put_object()
        .bucket(&products)
        .key("product-data/c05/files/invoices.csv")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(
            b"id,title\n1,First invoice\n",
        ))
        .send()
        .await
        .unwrap();

    // Create and import through the services the intake function runs.
    recorder.take();
    let f = fixture("small");
    let campaign = sunset::domain::Campaign::from_toml(
        &std::fs::read_to_string(f.join("campaign.toml")).unwrap(),
    )
    .unwrap();
    deps.campaigns.put_campaign(&campaign).await.unwrap();
    let bytes = std::fs::read(f.join("customers.csv")).unwrap();
    let file = import::parse_csv(&bytes).unwrap();
    let report = import::import(
        &campaign,
        file,
        deps.customers.as_ref(),
        deps.audit.as_ref(),
        deps.clock.now(),
        import::ImportOptions::default(),
    )
    .await
    .unwrap();
    used.entry("intake").or_default().extend(recorder.take());
    assert_eq!(report.imported, 14);

    // Segmentation, through its handler.
    let launched = segmentation::handle(
        &deps,
        LambdaEvent::new(
            json!({"job": "segment", "campaign": campaign.id}),
            Context::default(),
        ),
    )
    .await
    .unwrap();
    used.entry("segmentation")
        .or_default()
        .extend(recorder.take());
    assert_eq!(launched["outcome"], "launched", "{launched}");

    // A late import through the intake function's router: the newcomer is
    // segmented at once and joins the waves still to come.
    let body = import_through_intake(&deps, &campaign.id, "late1", "late@comer.example").await;
    assert_eq!(
        body["joined_waves"]["jobs_added"], 0,
        "Berlin has its waves: {body}"
    );
    assert_eq!(
        body["joined_waves"]["catch_up"], 0,
        "before the announcement"
    );
    used.entry("intake").or_default().extend(recorder.take());

    // The account managers record their 1:1 calls through the intake
    // function's router: no core customer's announcement is held.
    let tasks = deps.outreach.tasks(&campaign.id).await.unwrap();
    assert_eq!(tasks.len(), 4, "a task per core customer");
    let intake = sunset::http::admin_router(sunset::http::AppState::new(
        deps.clone(),
        sunset::http::Credential::Scope(sunset::http::ADMIN_SCOPE),
    ));
    recorder.take();
    for task in &tasks {
        let response = tower::ServiceExt::oneshot(
            intake.clone(),
            axum::http::Request::patch(format!(
                "/v1/campaigns/{}/outreach/{}",
                campaign.id, task.customer
            ))
            .header("content-type", "application/json")
            .extension(sunset::http::GrantedScopes(vec![
                sunset::http::ADMIN_SCOPE.into(),
            ]))
            .body(axum::body::Body::from(
                r#"{"by": "account team", "state": "done", "note": "called"}"#,
            ))
            .unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(response.status(), axum::http::StatusCode::OK);
    }
    used.entry("intake").or_default().extend(recorder.take());

    // The schedules as Scheduler holds them: times and payloads as planned.
    let zones = deps.customers.zones(&campaign.id).await.unwrap();
    let planned = sunset::domain::milestone::plan(&campaign, &zones, &Default::default());
    let schedules = deps.scheduler.scheduled(&campaign.id).await.unwrap();
    assert_eq!(schedules, planned);

    // Each briefing/announcement/reminder schedule fires at its time, with its own payload.
    let before = emulator_data();
    recorder.take();
    let after_the_end = |job: &Job| {
        matches!(
            job,
            Job::Notice {
                milestone: Milestone::ServiceEnded | Milestone::DeletionWarning(_),
                ..
            }
        )
    };
    for s in schedules
        .iter()
        .filter(|s| !matches!(s.job, Job::Purge { .. }) && !after_the_end(&s.job))
    {
        clock.advance_to(s.due);
        let payload = serde_json::to_value(&s.job).unwrap();
        let answer =
            reminder_dispatch::handle(&deps, LambdaEvent::new(payload, Context::default()))
                .await
                .unwrap();
        assert_ne!(answer["status"], "rejected", "{} -> {answer}", s.name);
        if let Some(state) = answer.get("state") {
            assert_eq!(state, "done", "{} -> {answer}", s.name);
        }
    }
    used.entry("reminder-dispatch")
        .or_default()
        .extend(recorder.take());
    let after = emulator_data();
    let new_to = |who: &str| sent_to(&after, who) - sent_to(&before, who);
    assert_eq!(
        new_to("ada@lovelace.example"),
        6,
        "announcement and five reminders"
    );
    assert_eq!(
        new_to("grete@gruendlich.example"),
        6,
        "never migrated in this run: all six"
    );
    assert_eq!(
        new_to("late@comer.example"),
        6,
        "imported after launch, before the announcement: all six"
    );
    assert_eq!(
        new_to("am.li@orbit.example"),
        1,
        "the account manager's brief"
    );

    // SES reports that a reminder to ada bounced: delivery-events records
    // it and suppresses her address.
    let ada = sunset::domain::CustomerId::parse("c01").unwrap();
    let reminder = deps
        .ledger
        .deliveries_to(&campaign.id, &ada)
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.key.milestone == sunset::domain::Milestone::Reminder(1))
        .expect("ada's last reminder");
    let bounce = sunset_e2e::delivery::ses_event(
        "bounce-permanent",
        &reminder.key,
        reminder.message_id.as_deref().unwrap(),
        "ada@lovelace.example",
    );
    recorder.take();
    let answer = delivery_events::handle(&deps, LambdaEvent::new(bounce, Context::default()))
        .await
        .unwrap();
    used.entry("delivery-events")
        .or_default()
        .extend(recorder.take());
    assert_eq!(
        (answer["recorded"].as_str(), answer["suppressed"].as_bool()),
        (Some("first"), Some(true)),
        "{answer}"
    );

    // Imported after the announcement: a catch-up schedule, fired with its
    // own payload, sends it to the newcomer.
    recorder.take();
    let body = import_through_intake(&deps, &campaign.id, "late2", "late2@comer.example").await;
    used.entry("intake").or_default().extend(recorder.take());
    assert_eq!(body["joined_waves"]["catch_up"], 1, "{body}");
    let catch_up = deps
        .scheduler
        .scheduled(&campaign.id)
        .await
        .unwrap()
        .into_iter()
        .find(|s| matches!(s.job, Job::CatchUp { .. }))
        .expect("a catch-up schedule");
    let before = emulator_data();
    recorder.take();
    let answer = reminder_dispatch::handle(
        &deps,
        LambdaEvent::new(
            serde_json::to_value(&catch_up.job).unwrap(),
            Context::default(),
        ),
    )
    .await
    .unwrap();
    used.entry("reminder-dispatch")
        .or_default()
        .extend(recorder.take());
    assert_eq!(answer["sent"], 1, "{answer}");
    let after = emulator_data();
    assert_eq!(
        sent_to(&after, "late2@comer.example") - sent_to(&before, "late2@comer.example"),
        1
    );

    // An export, built by the dispatch function from its job.
    let c05 = CustomerId::parse("c05").unwrap();
    let at: DateTime<Utc> = "2027-09-30T12:00:00Z".parse().unwrap();
    clock.advance_to(at);
    recorder.take();
    let request = export::request_export(&deps, &campaign, &c05, at)
        .await
        .unwrap();
    used.entry("export-request")
        .or_default()
        .extend(recorder.take());
    let job = Job::BuildExport {
        campaign: campaign.id.clone(),
        customer: c05.clone(),
        request: request.id.clone(),
    };
    let answer = reminder_dispatch::handle(
        &deps,
        LambdaEvent::new(serde_json::to_value(&job).unwrap(), Context::default()),
    )
    .await
    .unwrap();
    used.entry("reminder-dispatch")
        .or_default()
        .extend(recorder.take());
    assert_eq!(answer["outcome"], "export-ready", "{answer}");
    // The customer's signed download link redirects to a presigned S3 URL
    // valid for minutes; following it yields the bundle.
    let path = &link_path(
        &deps,
        &campaign,
        "c05",
        sunset::domain::link::LinkPurpose::Download,
    )
    .await;
    recorder.take();
    // The export-request function's router: API Gateway has checked the
    // product's scope on the banner route.
    let signing = sunset::http::SigningKey::new(vec![0x42; 32]).unwrap();
    let app = sunset::http::customer_router(
        sunset::http::AppState::new(
            deps.clone(),
            sunset::http::Credential::Scope(sunset::http::ADMIN_SCOPE),
        )
        .with_product(sunset::http::Credential::Scope(sunset::http::PRODUCT_SCOPE))
        .with_product_signing(signing.clone())
        .with_help_desk(sunset::http::Credential::Scope(
            sunset::http::HELP_DESK_SCOPE,
        )),
    );
    let response = tower::ServiceExt::oneshot(
        app.clone(),
        axum::http::Request::get(path)
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await
    .unwrap();
    used.entry("export-request")
        .or_default()
        .extend(recorder.take());
    assert_eq!(response.status(), axum::http::StatusCode::SEE_OTHER);
    let location = response.headers()[axum::http::header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        location.contains("X-Amz-Expires=300") && location.contains("X-Amz-Signature="),
        "{location}"
    );
    let bundle = http_get_bytes(&location);
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bundle)).unwrap();
    assert!(zip.by_name("product-data/files/invoices.csv").is_ok());

    // The retiring product asks for c05's banner, and anyone reads the
    // public announcement, from DynamoDB through the same function.
    for (uri, content_type) in [
        (
            format!("/v1/campaigns/{}/customers/c05/banner", campaign.id),
            "application/json",
        ),
        (
            format!("/v1/public/{}/zh-CN", campaign.id),
            "text/html; charset=utf-8",
        ),
        (
            format!("/v1/public/{}/dates.ics", campaign.id),
            "text/calendar; charset=utf-8",
        ),
    ] {
        let response = tower::ServiceExt::oneshot(
            app.clone(),
            axum::http::Request::get(&uri)
                // The product's token, as API Gateway's authorizer passes
                // it on (`http::gateway`); the public routes ignore it.
                .extension(sunset::http::GrantedScopes(vec![
                    sunset::http::PRODUCT_SCOPE.into(),
                ]))
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(response.status(), axum::http::StatusCode::OK, "{uri}");
        assert_eq!(
            response.headers()[axum::http::header::CONTENT_TYPE],
            content_type
        );
    }
    used.entry("export-request")
        .or_default()
        .extend(recorder.take());

    // The product reports (signed) that c03 migrated, and the help desk
    // that c03 opened a ticket, through the same function.
    let report = br#"{"customers":[{"customer":"c03","status":"migrated"}]}"#;
    let at = clock_now(&clock).timestamp();
    for (uri, scope, body, headers) in [
        (
            format!("/v1/campaigns/{}/migrations", campaign.id),
            sunset::http::PRODUCT_SCOPE,
            report.to_vec(),
            vec![
                ("sunset-timestamp", at.to_string()),
                ("sunset-signature", signing.sign(at, report)),
            ],
        ),
        (
            format!("/v1/campaigns/{}/tickets", campaign.id),
            sunset::http::HELP_DESK_SCOPE,
            br#"{"customer":"c03","action":"opened","type":"data-export"}"#.to_vec(),
            vec![],
        ),
    ] {
        let mut request = axum::http::Request::post(&uri)
            .header("content-type", "application/json")
            .extension(sunset::http::GrantedScopes(vec![scope.into()]));
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = tower::ServiceExt::oneshot(
            app.clone(),
            request.body(axum::body::Body::from(body)).unwrap(),
        )
        .await
        .unwrap();
        let status = response.status();
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        assert!(
            status.is_success(),
            "{uri}: {status} {}",
            String::from_utf8_lossy(&body)
        );
    }
    let c03 = deps
        .customers
        .customer(&campaign.id, &CustomerId::parse("c03").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        c03.status,
        sunset::domain::customer::MigrationStatus::Migrated
    );
    used.entry("export-request")
        .or_default()
        .extend(recorder.take());

    // After the end: that it ended, and the warning before the data goes,
    // each from its own schedule.
    let before = emulator_data();
    for s in schedules.iter().filter(|s| after_the_end(&s.job)) {
        clock.advance_to(s.due);
        let payload = serde_json::to_value(&s.job).unwrap();
        let answer =
            reminder_dispatch::handle(&deps, LambdaEvent::new(payload, Context::default()))
                .await
                .unwrap();
        assert_eq!(answer["state"], "done", "{} -> {answer}", s.name);
    }
    used.entry("reminder-dispatch")
        .or_default()
        .extend(recorder.take());
    let after = emulator_data();
    let new_to = |who: &str| sent_to(&after, who) - sent_to(&before, who);
    assert_eq!(
        new_to("grete@gruendlich.example"),
        2,
        "that the service ended, and the deletion warning"
    );
    assert_eq!(new_to("ada@lovelace.example"), 0, "her address bounced");

    // The purge, after the deadline: nothing of a purged customer remains;
    // each is told so once it is done.
    let before = emulator_data();
    let purge_job = schedules
        .iter()
        .find(|s| matches!(s.job, Job::Purge { .. }))
        .unwrap();
    clock.advance_to(purge_job.due);
    recorder.take();
    let answer = purge::handle(
        &deps,
        LambdaEvent::new(
            serde_json::to_value(&purge_job.job).unwrap(),
            Context::default(),
        ),
    )
    .await
    .unwrap();
    used.entry("purge").or_default().extend(recorder.take());
    assert_eq!(answer["purged"], 16, "{answer}");
    assert_eq!(answer["farewells_missed"], 0, "{answer}");
    let after = emulator_data();
    assert_eq!(
        sent_to(&after, "grete@gruendlich.example") - sent_to(&before, "grete@gruendlich.example"),
        1,
        "the farewell"
    );
    let c05_after = deps
        .customers
        .customer(&campaign.id, &c05)
        .await
        .unwrap()
        .unwrap();
    assert!(c05_after.profile.is_none() && c05_after.purged_at.is_some());
    for bucket in [&exports, &products] {
        let left = s3.list_objects_v2().bucket(bucket).send().await.unwrap();
        assert!(
            left.contents().is_empty(),
            "{bucket} still holds {:?}",
            left.contents()
        );
    }
    let cid: &CampaignId = &campaign.id;
    let audit = deps.audit.entries(cid).await.unwrap();
    assert_eq!(
        audit.iter().filter(|e| e.entry.action == "purged").count(),
        16
    );
    assert_eq!(sunset::domain::audit::verify_chain(&audit), Ok(()));

    // Each function's role grants every action it called here.
    assert_granted(&used);
}
