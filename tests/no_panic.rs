//! No input makes sunset panic: campaign files and customer rows of any
//! shape, absurd numbers and dates included, are either refused with a
//! reason or planned, scored and rendered (properties, by proptest).

use proptest::prelude::*;
use sunset::domain::link::LinkSigner;
use sunset::domain::milestone;
use sunset::domain::{Campaign, CustomerRecord};
use sunset::services::import;
use sunset::services::notice::{self, Message};
use sunset_e2e::arbitrary::{campaign_table, csv_of, row};

const EXAMPLE: &str = include_str!("../examples/orbit-crm.toml");

/// Everything a campaign that parsed is used for before a customer is
/// involved: the plan and its dates.
fn exercise_campaign(c: &Campaign) {
    let zones = [
        c.timezone,
        chrono_tz::Pacific::Kiritimati,
        chrono_tz::Pacific::Honolulu,
    ];
    let extensions = [c.dates.export_deadline + chrono::Days::new(30)].into();
    let jobs = milestone::plan(c, &zones, &extensions);
    assert!(!jobs.is_empty());
    for n in c.reminder_offsets() {
        assert!(c.reminder_date(n) > c.dates.announce);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// Any campaign file is refused with the field at fault or planned:
    /// never a panic (a 4294967295-day reminder or a year-262142 date did).
    #[test]
    fn any_campaign_file_is_refused_or_planned(table in campaign_table()) {
        let text = toml::to_string(&table).unwrap();
        if let Ok(c) = Campaign::from_toml(&text) {
            exercise_campaign(&c);
        }
        let json = serde_json::to_string(&table).unwrap();
        if let Ok(c) = Campaign::from_json(&json) {
            exercise_campaign(&c);
        }
    }

    /// Any customer row is refused with reasons or scored, refunded and
    /// rendered in every notice: never a panic (a prepaid amount of
    /// 79228162514264337593543950335 made the refund overflow).
    #[test]
    fn any_customer_row_is_refused_or_notified(rows in proptest::collection::vec(row(), 1..4)) {
        let campaign = Campaign::from_toml(EXAMPLE).unwrap();
        let signer = LinkSigner::new(vec![7; 32]);
        let bytes = csv_of(&rows);
        let file = import::parse_csv(&bytes).unwrap();
        for raw in file.rows() {
            let import::RowOutcome::Customer(customer, _) = import::parse_row(&raw, &campaign) else {
                continue;
            };
            let mut record = CustomerRecord::new(customer.clone(), campaign.timezone);
            let decision = campaign.segmentation.decide(&customer, campaign.dates.announce);
            record.tier = Some(decision.clone());
            prop_assert!(decision.score <= 100);
            if let (Some(refund), Some(p)) = (campaign.refund_for(customer.prepaid.as_ref()), &customer.prepaid) {
                prop_assert!(refund <= p.amount.get() && !refund.is_sign_negative());
            }
            let mut request = sunset::domain::export::ExportRequest::new(
                sunset::domain::export::ExportId::generate(),
                campaign.id.clone(),
                customer.id.clone(),
                chrono::Utc::now(),
            );
            request.bundle_files = Some(3);
            request.bundle_bytes = Some(123_456);
            for m in [
                Message::Announcement,
                Message::Reminder(60),
                Message::Reminder(1),
                Message::ServiceEnded,
                Message::DeletionWarning(7),
                Message::Deadline,
                Message::ExportReady(&request),
                Message::DeletionDone(campaign.dates.export_deadline),
            ] {
                notice::render(&campaign, &record, &customer, m, &signer).unwrap();
            }
        }
    }

    /// Any bytes as a customer file: read, or refused as unreadable.
    #[test]
    fn any_bytes_as_a_customer_file_are_read_or_refused(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = import::parse_csv(&bytes);
        let _ = import::parse_json(&bytes);
    }
}

/// One request to the router on the embedded adapters: its status, and
/// whether an error came as a problem body.
async fn call(app: &axum::Router, method: &str, uri: &str, ctype: &str, body: Vec<u8>) -> u16 {
    use tower::ServiceExt;
    let Ok(req) = axum::http::Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", ctype)
        .header("authorization", "Bearer no-panic-admin-token")
        .body(axum::body::Body::from(body))
    else {
        return 400; // not a request a client could send
    };
    let res = app.clone().oneshot(req).await.expect("the router answers");
    res.status().as_u16()
}

fn event() -> impl Strategy<Value = (String, String)> {
    (
        prop_oneof![
            Just("migrated".to_owned()),
            Just("extension".to_owned()),
            Just("approve_purge".to_owned()),
            Just("legal_hold".to_owned()),
            Just("export_requested".to_owned()),
            "\\PC{0,12}",
        ],
        prop_oneof![
            Just(String::new()),
            Just("262142-01-01".to_owned()),
            Just("2027-12-31".to_owned()),
            "\\PC{0,20}",
        ],
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Every route answers every campaign file, customer file, event and
    /// link with a status that is not a 500: no input makes a handler
    /// panic (a panic would answer 500) or fail unexpectedly.
    #[test]
    fn no_input_makes_a_route_fail(
        table in campaign_table(),
        as_json in any::<bool>(),
        rows in proptest::collection::vec(row(), 1..4),
        (kind, detail) in event(),
        exp in prop_oneof![any::<i64>(), 1_800_000_000i64..1_900_000_000],
        sig in "[0-9a-f]{0,70}",
        signed in any::<bool>(),
        valid_customer in any::<bool>(),
    ) {
        let rows = with_a_valid_customer(rows);
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let clock = std::sync::Arc::new(sunset::clock::SimulatedClock::new(
                "2027-01-15T09:00:00Z".parse().unwrap(),
            ));
            let emb = sunset::adapters::embedded::Embedded::open(dir.path(), clock).unwrap();
            // One key for the operator and the product: this is about
            // what a route does with its input, not who may call it.
            let key = || sunset::http::Credential::Token("no-panic-admin-token".into());
            let app = sunset::http::router(
                sunset::http::AppState::new(emb.deps.clone(), key()).with_product(key()),
            );
            let (body, ctype) = if as_json {
                (serde_json::to_vec(&table).unwrap(), "application/json")
            } else {
                (toml::to_string(&table).unwrap().into_bytes(), "application/toml")
            };
            let id = table["id"].as_str().unwrap_or("x").to_owned();
            let mut statuses = vec![("create", call(&app, "POST", "/v1/campaigns", ctype, body).await)];
            let base = format!("/v1/campaigns/{id}");
            statuses.push(("import", call(&app, "POST", &format!("{base}/customers"), "text/csv", csv_of(&rows)).await));
            statuses.push(("launch", call(&app, "POST", &format!("{base}/launch"), "application/json", vec![]).await));
            let customer = if valid_customer { "valid1".to_owned() } else { rows[rows.len() - 1][0].clone() };
            let event = serde_json::json!({ "event": kind, "detail": detail }).to_string().into_bytes();
            let customer_path = utf8_percent_encode(&customer);
            statuses.push(("event", call(&app, "POST", &format!("{base}/customers/{customer_path}/events"), "application/json", event).await));
            statuses.push(("report", call(&app, "GET", &format!("{base}/report"), "application/json", vec![]).await));
            statuses.push(("banner", call(&app, "GET", &format!("{base}/customers/{customer_path}/banner"), "application/json", vec![]).await));
            for doc in ["", "/en", "/zh-CN", "/feed.atom", "/sunset.json", "/dates.ics?lang=zh-CN"] {
                let public = format!("/v1/public/{}{doc}", utf8_percent_encode(&id));
                statuses.push(("public", call(&app, "GET", &public, "text/html", vec![]).await));
            }
            // A link signed with the store's key gets past the signature,
            // into the export services; else a forged one.
            let query = |purpose| {
                let ids = (
                    sunset::domain::CampaignId::parse(&id),
                    sunset::domain::CustomerId::parse(&customer),
                    chrono::DateTime::from_timestamp(exp, 0),
                );
                match ids {
                    (Ok(c), Ok(cu), Some(at)) if signed => emb.deps.signer.query(purpose, &c, &cu, at).unwrap(),
                    _ => format!("exp={exp}&sig={sig}"),
                }
            };
            use sunset::domain::link::LinkPurpose;
            let link = format!("/v1/c/{id}/{customer_path}/export?{}", query(LinkPurpose::RequestExport));
            statuses.push(("export page", call(&app, "GET", &link, "text/html", vec![]).await));
            statuses.push(("export request", call(&app, "POST", &link, "text/plain", vec![]).await));
            let download = format!(
                "/v1/c/{id}/{customer_path}/export/download?{}&request=x1",
                query(LinkPurpose::Download)
            );
            statuses.push(("download", call(&app, "GET", &download, "text/plain", vec![]).await));
            for (route, status) in statuses {
                prop_assert!(status < 500, "{route} answered {status}");
            }
            Ok(())
        })?;
    }
}

/// Where `name` is in a row of `import::COLUMNS`.
fn column(name: &str) -> usize {
    import::COLUMNS.iter().position(|c| *c == name).unwrap()
}

/// A customer every campaign can import, so that a run gets past the
/// preflight's "no customers" and on to planning, sending and purging.
fn with_a_valid_customer(mut rows: Vec<Vec<String>>) -> Vec<Vec<String>> {
    let mut valid = vec![String::new(); import::COLUMNS.len()];
    valid[column("customer_id")] = "valid1".into();
    valid[column("name")] = "Valid One".into();
    valid[column("email")] = "valid1@example.com".into();
    rows.insert(0, valid);
    rows
}

/// Percent-encodes a path segment.
fn utf8_percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// `sunset simulate` on any campaign and customers: a run, or a refusal
    /// with a reason — never a panic, never a half-written directory.
    #[test]
    fn no_input_makes_simulate_panic(
        table in campaign_table(),
        rows in proptest::collection::vec(row(), 1..5),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let campaign = dir.path().join("campaign.toml");
        std::fs::write(&campaign, toml::to_string(&table).unwrap()).unwrap();
        let rows = with_a_valid_customer(rows);
        let customers = dir.path().join("customers.csv");
        std::fs::write(&customers, csv_of(&rows)).unwrap();
        let data = dir.path().join("run");
        let args = sunset::app::simulate::SimulateArgs {
            campaign,
            customers,
            events: None,
            ses_events: None,
            product_data: None,
            data: data.clone(),
        };
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        match rt.block_on(sunset::app::simulate::simulate(&args, |_| {})) {
            Ok(outcome) => prop_assert!(data.join("report.json").exists() && outcome.report.customers <= rows.len() as u64),
            Err(_) => prop_assert!(
                !data.exists() || data.join("incomplete-run.json").exists(),
                "a refused run left {} without a note",
                data.display()
            ),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Any CSV row with a valid id and e-mail is imported, whatever its
    /// other columns hold: a messy field is a warning, never a customer
    /// who is not told. (A decimal usage score or a name with a line break
    /// refused the whole row before.)
    #[test]
    fn any_row_with_a_valid_id_and_address_is_imported(
        rows in proptest::collection::vec(
            (proptest::collection::vec("\\PC{0,24}|[0-9.,-]{0,12}|\"[^\"]{0,10}\n[^\"]{0,10}\"", import::COLUMNS.len()), any::<bool>()),
            1..6,
        ),
    ) {
        let rows: Vec<Vec<String>> = rows
            .into_iter()
            .enumerate()
            .map(|(i, (mut cells, spaced))| {
                cells[column("customer_id")] = if spaced { format!("  id-{i} ") } else { format!("id-{i}") };
                cells[column("email")] = format!("person{i}@example.com");
                cells
            })
            .collect();
        let campaign = Campaign::from_toml(EXAMPLE).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let report = rt.block_on(async {
            let clock = std::sync::Arc::new(sunset::clock::SimulatedClock::new(
                "2027-01-15T09:00:00Z".parse().unwrap(),
            ));
            let emb = sunset::adapters::embedded::Embedded::open(dir.path(), clock).unwrap();
            let bytes = csv_of(&rows);
            let file = import::parse_csv(&bytes).unwrap();
            import::import(
                &campaign,
                file,
                emb.deps.customers.as_ref(),
                emb.deps.audit.as_ref(),
                "2027-01-15T09:00:00Z".parse().unwrap(),
                import::ImportOptions::default(),
            )
            .await
            .unwrap()
        });
        prop_assert_eq!(report.imported, rows.len(), "{:?}", report.rejected);
        prop_assert_eq!(report.rejected_rows, 0);
        for w in &report.warnings {
            // Warnings never repeat a value.
            let row = &rows[w.row - 1];
            for value in row.iter().filter(|v| v.trim().chars().count() > 3) {
                prop_assert!(!w.reason.contains(value.trim()), "{} echoes {}", w.reason, value);
            }
        }
    }
}
