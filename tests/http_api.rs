//! The HTTP API on the embedded adapters, through the same Router the
//! Lambda functions run: admin auth, problem bodies, the signed export flow.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use sunset::adapters::embedded::Embedded;
use sunset::app::runner;
use sunset::clock::SimulatedClock;
use sunset::http::{AppState, Credential, router};
use sunset_e2e::{contains, fixture, link_path, read_outbox};
use tower::ServiceExt;

const TOKEN: &str = "test-admin-token-0123456789";

struct Api {
    _dir: tempfile::TempDir,
    emb: Embedded,
    app: axum::Router,
    clock: Arc<SimulatedClock>,
}

/// The API on a fresh data directory, on a clock two weeks before the
/// fixture's announcement (a first launch after it is refused).
fn api() -> Api {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(SimulatedClock::new("2027-01-15T09:00:00Z".parse().unwrap()));
    let emb = Embedded::open(dir.path(), clock.clone()).unwrap();
    let app = router(AppState::new(
        emb.deps.clone(),
        Credential::Token(TOKEN.into()),
    ));
    Api {
        _dir: dir,
        emb,
        app,
        clock,
    }
}

impl Api {
    /// An operator's request, with the admin token.
    async fn admin(
        &self,
        method: &str,
        uri: &str,
        content_type: &str,
        body: impl Into<Body>,
    ) -> (StatusCode, Vec<u8>) {
        call(&self.app, method, uri, content_type, body, true).await
    }

    /// A request anyone can make (a customer following a link).
    async fn open(
        &self,
        method: &str,
        uri: &str,
        content_type: &str,
        body: impl Into<Body>,
    ) -> (StatusCode, Vec<u8>) {
        call(&self.app, method, uri, content_type, body, false).await
    }
}

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    content_type: &str,
    body: impl Into<Body>,
    auth: bool,
) -> (StatusCode, Vec<u8>) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, content_type);
    if auth {
        req = req.header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
    }
    let (status, _, body) = raw(app, req.body(body.into()).unwrap()).await;
    (status, body)
}

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(bytes)))
}

/// The example campaign as the store holds it.
async fn stored_campaign(api: &Api) -> sunset::domain::Campaign {
    api.emb
        .deps
        .campaigns
        .campaign(&sunset::domain::CampaignId::parse("orbit-crm-2027").unwrap())
        .await
        .unwrap()
        .expect("created")
}

async fn create_and_import(api: &Api) {
    let toml = std::fs::read_to_string(fixture("small").join("campaign.toml")).unwrap();
    let (s, _) = api
        .admin("POST", "/v1/campaigns", "application/toml", toml)
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let csv = std::fs::read(fixture("small").join("customers.csv")).unwrap();
    let (s, body) = api
        .admin(
            "POST",
            "/v1/campaigns/orbit-crm-2027/customers",
            "text/csv",
            csv,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(json(&body)["imported"], 14);
}

/// Launches the imported campaign, then moves the clock to 2027-03-01
/// 09:00 UTC, a month into the campaign; returns the launch report.
async fn launch(api: &Api) -> serde_json::Value {
    let (s, body) = api
        .admin(
            "POST",
            "/v1/campaigns/orbit-crm-2027/launch",
            "application/json",
            "",
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    api.clock
        .advance_to("2027-03-01T09:00:00Z".parse().unwrap());
    json(&body)
}

#[tokio::test]
async fn admin_routes_need_the_token() {
    let api = api();
    let (s, body) = api
        .open(
            "GET",
            "/v1/campaigns/orbit-crm-2027/report",
            "application/json",
            "",
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(json(&body)["title"], "unauthorized");
}

#[tokio::test]
async fn a_bad_campaign_is_a_422_naming_the_field() {
    let api = api();
    let toml = std::fs::read_to_string(fixture("small").join("campaign.toml"))
        .unwrap()
        .replace(
            "stop_renewals = \"2027-04-01\"",
            "stop_renewals = \"2026-01-01\"",
        );
    let (s, body) = api
        .admin("POST", "/v1/campaigns", "application/toml", toml)
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json(&body)["field"], "dates.stop_renewals");
}

#[tokio::test]
async fn an_unreadable_import_is_a_400_and_imports_nothing() {
    let api = api();
    create_and_import(&api).await;
    let (s, body) = api
        .admin(
            "POST",
            "/v1/campaigns/orbit-crm-2027/customers",
            "text/csv",
            "customer_id,name\nx,y\n",
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(json(&body)["detail"].as_str().unwrap().contains("email"));
}

#[tokio::test]
async fn a_customer_exports_through_their_signed_link_and_nobody_else_can() {
    let api = api();
    create_and_import(&api).await;
    let launched = launch(&api).await;
    assert!(launched["jobs"].as_array().unwrap().len() > 5);

    // The link as a notice would carry it.
    let deps = &api.emb.deps;
    let campaign = stored_campaign(&api).await;
    let c05 = sunset::domain::CustomerId::parse("c05").unwrap();
    let path = &link_path(
        deps,
        &campaign,
        "c05",
        sunset::domain::link::LinkPurpose::RequestExport,
    )
    .await;

    // Opening the link only shows a page; the button posts.
    let (s, page) = api.open("GET", path, "text/html", "").await;
    assert_eq!(s, StatusCode::OK);
    assert!(String::from_utf8_lossy(&page).contains("method=\"post\""));
    assert!(
        deps.exports
            .exports_of(&campaign.id, &c05)
            .await
            .unwrap()
            .is_empty()
    );

    // Another customer's id with c05's signature is refused.
    let forged = path.replace("/c05/", "/c01/");
    let (s, _) = api.open("POST", &forged, "text/plain", "").await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    let (s, body) = api.open("POST", path, "text/plain", "").await;
    assert_eq!(
        s,
        StatusCode::ACCEPTED,
        "{}",
        String::from_utf8_lossy(&body)
    );

    // The scheduler builds it and mails the download link.
    let steps = runner::run_due(&api.emb, deps.clock.now())
        .await
        .unwrap()
        .steps;
    assert!(steps.iter().any(runner::is_export_step));
    let mail = read_outbox(api._dir.path())
        .into_iter()
        .find(|m| m.milestone == "export-ready")
        .unwrap();
    let download = mail
        .text
        .split_whitespace()
        .find(|w| w.contains("/export/download?"))
        .unwrap()
        .trim_start_matches("http://127.0.0.1:8080")
        .to_owned();
    let (s, zip) = api.open("GET", &download, "text/plain", "").await;
    assert_eq!(s, StatusCode::OK);
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    assert!(
        archive.by_name("product-data/notes.json").is_err(),
        "no product data was given to this run"
    );
    assert!(archive.by_name("manifest.json").is_ok());

    // The link names its own bundle; with another customer's request id in
    // its place it downloads nothing.
    assert!(download.contains("&request=x"), "{download}");
    let c01 = sunset::domain::CustomerId::parse("c01").unwrap();
    let theirs = sunset::services::export::request_export(deps, &campaign, &c01, deps.clock.now())
        .await
        .unwrap();
    runner::run_due(&api.emb, deps.clock.now()).await.unwrap();
    let mine = download.split("&request=").nth(1).unwrap().to_owned();
    let (s, body) = api
        .open(
            "GET",
            &download.replace(&mine, theirs.id.as_str()),
            "text/plain",
            "",
        )
        .await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "{}",
        String::from_utf8_lossy(&body)
    );
    assert!(!contains(&body, b"PK\x03\x04"), "no zip in the answer");

    // A request link does not download.
    let request_link_download = path.replace("/export?", "/export/download?");
    let (s, _) = api
        .open("GET", &request_link_download, "text/plain", "")
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn status_updates_flow_into_the_report() {
    let api = api();
    create_and_import(&api).await;
    let (s, _) = api
        .admin(
            "POST",
            "/v1/campaigns/orbit-crm-2027/customers/c03/events",
            "application/json",
            r#"{"event":"migrated"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, body) = api
        .admin(
            "POST",
            "/v1/campaigns/orbit-crm-2027/customers/zz/events",
            "application/json",
            r#"{"event":"migrated"}"#,
        )
        .await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let (s, body) = api
        .admin(
            "POST",
            "/v1/campaigns/orbit-crm-2027/customers/c03/events",
            "application/json",
            r#"{"event":"flew"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json(&body)["field"], "event");
    let (s, body) = api
        .admin(
            "GET",
            "/v1/campaigns/orbit-crm-2027/report",
            "application/json",
            "",
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let report = json(&body);
    let migrated: u64 = report["tiers"]
        .as_object()
        .unwrap()
        .values()
        .map(|t| t["migrated"].as_u64().unwrap())
        .sum();
    assert_eq!(migrated, 1);
}

/// Customers imported after launch join the remaining waves: they are
/// segmented at once, and a zone new to the campaign gets its own jobs.
#[tokio::test]
async fn a_late_import_joins_the_waves_of_a_launched_campaign() {
    let api = api();
    create_and_import(&api).await;
    let launched = launch(&api).await;
    let jobs_before = launched["jobs"].as_array().unwrap().len();

    let late =
        "customer_id,name,email,timezone\nlate1,Late Comer,late@example.com,America/Sao_Paulo\n";
    let (s, body) = api
        .admin(
            "POST",
            "/v1/campaigns/orbit-crm-2027/customers",
            "text/csv",
            late,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let body = json(&body);
    assert_eq!(body["imported"], 1);
    let joined = &body["joined_waves"];
    let tiers = joined["tiers"]["core"].as_u64().unwrap()
        + joined["tiers"]["standard"].as_u64().unwrap()
        + joined["tiers"]["low"].as_u64().unwrap();
    assert_eq!(tiers, 1, "{body}");
    // São Paulo gets the reminders still ahead (2027-03-01 is past the
    // announcement and before the reminders).
    assert!(
        joined["jobs_added"].as_u64().unwrap() > 0,
        "São Paulo gets waves of its own: {body}"
    );
    let jobs_after = api
        .emb
        .deps
        .scheduler
        .scheduled(&sunset::domain::CampaignId::parse("orbit-crm-2027").unwrap())
        .await
        .unwrap()
        .len();
    assert_eq!(
        jobs_after,
        jobs_before + joined["jobs_added"].as_u64().unwrap() as usize + 1,
        "the new zone's waves and one catch-up job: {body}"
    );
    let deps = &api.emb.deps;
    let campaign = sunset::domain::CampaignId::parse("orbit-crm-2027").unwrap();
    let due = deps
        .customers
        .awaiting_notice(
            &campaign,
            sunset::domain::Milestone::Reminder(30),
            chrono_tz::America::Sao_Paulo,
            true,
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].id.as_str(), "late1");

    // The announcement went out on 2027-02-01; it is 2027-03-01: a catch-up
    // job sends it to the newcomer, once however often it runs.
    assert_eq!(joined["catch_up"], 1, "{body}");
    let late_announcements = |api: &Api| {
        read_outbox(api._dir.path())
            .into_iter()
            .filter(|m| m.to == "late@example.com" && m.milestone == "announcement")
            .count()
    };
    assert_eq!(late_announcements(&api), 0);
    let now: chrono::DateTime<chrono::Utc> = "2027-03-01T09:02:00Z".parse().unwrap();
    let steps = runner::run_due(&api.emb, now).await.unwrap().steps;
    assert!(
        steps.iter().any(|s| s.job.contains("catch-up")),
        "{:?}",
        steps.iter().map(|s| &s.job).collect::<Vec<_>>()
    );
    assert_eq!(late_announcements(&api), 1);
    let job = sunset::domain::Job::CatchUp {
        campaign: campaign.clone(),
        customers: vec![sunset::domain::CustomerId::parse("late1").unwrap()],
    };
    let budget = sunset::services::jobs::Budget::unlimited();
    let again = sunset::services::jobs::run(&api.emb.deps, &job, now, &budget)
        .await
        .unwrap();
    assert_eq!(serde_json::to_value(&again).unwrap()["already_sent"], 1);
    assert_eq!(late_announcements(&api), 1);
}

/// Before launch an import only imports: launching segments everyone.
#[tokio::test]
async fn an_import_before_launch_leaves_segmentation_to_the_launch() {
    let api = api();
    create_and_import(&api).await;
    let late = "customer_id,name,email\nearly2,Early Two,early2@example.com\n";
    let (s, body) = api
        .admin(
            "POST",
            "/v1/campaigns/orbit-crm-2027/customers",
            "text/csv",
            late,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(json(&body).get("joined_waves").is_none());
}

/// A campaign store with a bug: it panics when read.
struct PanickingCampaigns;

#[async_trait::async_trait]
impl sunset::ports::CampaignStore for PanickingCampaigns {
    async fn put_campaign(&self, _: &sunset::domain::Campaign) -> sunset::ports::PortResult<()> {
        Ok(())
    }
    async fn campaign(
        &self,
        _: &sunset::domain::CampaignId,
    ) -> sunset::ports::PortResult<Option<sunset::domain::Campaign>> {
        panic!("a bug in the store")
    }
    async fn launched_at(
        &self,
        _: &sunset::domain::CampaignId,
    ) -> sunset::ports::PortResult<Option<chrono::DateTime<chrono::Utc>>> {
        panic!("a bug in the store")
    }
    async fn mark_launched(
        &self,
        _: &sunset::domain::CampaignId,
        _: chrono::DateTime<chrono::Utc>,
    ) -> sunset::ports::PortResult<()> {
        panic!("a bug in the store")
    }
    async fn count_delivery(
        &self,
        _: &sunset::domain::CampaignId,
        _: sunset::domain::reputation::DeliveryCounts,
    ) -> sunset::ports::PortResult<()> {
        panic!("a bug in the store")
    }
    async fn delivery_counts(
        &self,
        _: &sunset::domain::CampaignId,
    ) -> sunset::ports::PortResult<sunset::domain::reputation::DeliveryCounts> {
        panic!("a bug in the store")
    }
    async fn set_paused(
        &self,
        _: &sunset::domain::CampaignId,
        _: Option<&sunset::domain::reputation::Pause>,
    ) -> sunset::ports::PortResult<()> {
        panic!("a bug in the store")
    }
    async fn paused(
        &self,
        _: &sunset::domain::CampaignId,
    ) -> sunset::ports::PortResult<Option<sunset::domain::reputation::Pause>> {
        panic!("a bug in the store")
    }
    async fn cancel(
        &self,
        _: &sunset::domain::CampaignId,
        _: &sunset::domain::lifecycle::Cancellation,
    ) -> sunset::ports::PortResult<()> {
        panic!("a bug in the store")
    }
    async fn status(
        &self,
        _: &sunset::domain::CampaignId,
    ) -> sunset::ports::PortResult<Option<sunset::domain::lifecycle::CampaignStatus>> {
        panic!("a bug in the store")
    }
    async fn campaign_ids(&self) -> sunset::ports::PortResult<Vec<sunset::domain::CampaignId>> {
        panic!("a bug in the store")
    }
}

/// A handler that panics answers 500 with a problem body (no panic text)
/// and the server answers the next request; before, the connection
/// dropped with no answer.
#[tokio::test]
async fn a_panicking_handler_answers_a_500_problem_and_the_server_goes_on() {
    let api = api();
    let mut deps = api.emb.deps.clone();
    deps.campaigns = Arc::new(PanickingCampaigns);
    let app = router(AppState::new(deps, Credential::Token(TOKEN.into())));
    for uri in [
        "/v1/campaigns/orbit-crm-2027/report",
        "/v1/campaigns/orbit-crm-2027",
    ] {
        let req = Request::get(uri)
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .body(Body::empty())
            .unwrap();
        let res = app.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let body = res.into_body().collect().await.unwrap().to_bytes();
        let problem = json(&body);
        assert_eq!(problem["status"], 500);
        assert!(!String::from_utf8_lossy(&body).contains("bug"), "{problem}");
    }
    let res = app
        .oneshot(Request::get("/healthz").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

/// The fixture's campaign with other dates.
fn campaign_dated(announce: &str, renewals: &str, end: &str, deadline: &str) -> String {
    std::fs::read_to_string(fixture("small").join("campaign.toml"))
        .unwrap()
        .replace(
            "announce = \"2027-02-01\"",
            &format!("announce = \"{announce}\""),
        )
        .replace(
            "stop_new_signups = \"2027-02-01\"",
            &format!("stop_new_signups = \"{announce}\""),
        )
        .replace(
            "stop_renewals = \"2027-04-01\"",
            &format!("stop_renewals = \"{renewals}\""),
        )
        .replace(
            "service_end = \"2027-09-30\"",
            &format!("service_end = \"{end}\""),
        )
        .replace(
            "export_deadline = \"2027-10-31\"",
            &format!("export_deadline = \"{deadline}\""),
        )
}

/// A first launch long after the announcement day is refused, naming the
/// field; nothing is planned or sent. The operator moves the dates and
/// launches; the same campaign sent again changes no schedule.
#[tokio::test]
async fn a_late_first_launch_is_refused_until_the_dates_move() {
    let api = api();
    let late = campaign_dated("2026-06-15", "2026-08-01", "2027-03-31", "2027-04-30");
    let (s, _) = api
        .admin("POST", "/v1/campaigns", "application/toml", late)
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let csv = std::fs::read(fixture("small").join("customers.csv")).unwrap();
    let (s, _) = api
        .admin(
            "POST",
            "/v1/campaigns/orbit-crm-2027/customers",
            "text/csv",
            csv,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, body) = api
        .admin(
            "POST",
            "/v1/campaigns/orbit-crm-2027/launch",
            "application/json",
            "",
        )
        .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let problem = json(&body);
    assert_eq!(problem["field"], "dates.announce");
    let id = sunset::domain::CampaignId::parse("orbit-crm-2027").unwrap();
    assert!(
        api.emb
            .deps
            .scheduler
            .scheduled(&id)
            .await
            .unwrap()
            .is_empty()
    );
    let steps = runner::run_due(&api.emb, api.emb.deps.clock.now())
        .await
        .unwrap();
    assert!(steps.steps.is_empty() && read_outbox(api._dir.path()).is_empty());

    // The path and the body must name the same campaign.
    let moved = campaign_dated("2027-01-30", "2027-04-01", "2027-07-31", "2027-08-31");
    let (s, body) = api
        .admin(
            "PUT",
            "/v1/campaigns/another-one",
            "application/toml",
            moved.clone(),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json(&body)["field"], "id");
    let (s, _) = api
        .admin(
            "PUT",
            "/v1/campaigns/orbit-crm-2027",
            "application/toml",
            moved.clone(),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, body) = api
        .admin(
            "POST",
            "/v1/campaigns/orbit-crm-2027/launch",
            "application/json",
            "",
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    // Launched, the same campaign again re-plans nothing.
    let (s, body) = api
        .admin(
            "PUT",
            "/v1/campaigns/orbit-crm-2027",
            "application/toml",
            moved,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let replanned = &json(&body)["replanned"];
    assert_eq!(replanned["added"], 0, "{replanned}");
    assert_eq!(replanned["moved"], 0, "{replanned}");
    assert_eq!(replanned["removed"], 0, "{replanned}");
}

/// After the service ended an import is refused with the reason (a notice
/// would be about a dead service), unless the operator asks for the purge
/// without notice; then those customers are purged, and told nothing.
#[tokio::test]
async fn an_import_after_the_service_end_needs_the_operators_choice() {
    let api = api();
    let ended = campaign_dated("2026-07-01", "2026-09-01", "2027-01-10", "2027-01-31");
    let (s, _) = api
        .admin("POST", "/v1/campaigns", "application/toml", ended)
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let csv = "customer_id,name,email\nz1,Zed One,z1@example.com\nz2,Zed Two,z2@example.com\n";
    let path = "/v1/campaigns/orbit-crm-2027/customers";
    let (s, body) = api.admin("POST", path, "text/csv", csv).await;
    assert_eq!(
        s,
        StatusCode::CONFLICT,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let problem = json(&body);
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("2027-01-10") && detail.contains("after_end=purge"),
        "{detail}"
    );
    let (s, body) = api
        .admin("POST", &format!("{path}?after_end=later"), "text/csv", csv)
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json(&body)["field"], "after_end");

    let (s, body) = api
        .admin("POST", &format!("{path}?after_end=purge"), "text/csv", csv)
        .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let answer = json(&body);
    assert_eq!(answer["imported"], 2);
    // Once 31 January has ended everywhere (UTC-12): where they live is
    // not known to the import.
    assert_eq!(answer["purge_at"], "2027-02-01T12:00:00Z", "{answer}");
    assert!(answer.get("joined_waves").is_none());
    let purge_at: chrono::DateTime<chrono::Utc> = "2027-02-01T12:00:00Z".parse().unwrap();
    api.clock.advance_to(purge_at);
    let tick = runner::run_due(&api.emb, purge_at).await.unwrap();
    assert!(tick.failed.is_empty(), "{:?}", tick.failed);
    let (_, body) = api
        .admin(
            "GET",
            "/v1/campaigns/orbit-crm-2027/report",
            "application/json",
            "",
        )
        .await;
    let report = json(&body);
    assert_eq!(report["purge"]["purged"], 2, "{report}");
    assert_eq!(report["purge"]["held_never_told"], serde_json::json!([]));
    assert!(
        read_outbox(api._dir.path()).is_empty(),
        "nobody was told anything"
    );
}

/// A request's status, content type and body.
async fn raw(app: &axum::Router, req: Request<Body>) -> (StatusCode, String, Vec<u8>) {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let ctype = res
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (
        status,
        ctype,
        res.into_body().collect().await.unwrap().to_bytes().to_vec(),
    )
}

fn admin_req(method: &str, uri: &str, ctype: &str, body: impl Into<Body>) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, ctype)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(body.into())
        .unwrap()
}

/// Every error of every operator route is problem+json with the right
/// status and, for a bad field, the field; every error of a customer route
/// is a page. (Before: 400 without `field` quoting the TOML line for bad
/// values, text/plain for 413, a link missing `sig` and a malformed event,
/// and `event` named for an extension without its day.)
#[tokio::test]
async fn every_error_names_its_field_in_a_problem_or_shows_a_page() {
    let api = api();
    let toml = std::fs::read_to_string(fixture("small").join("campaign.toml")).unwrap();
    let cases: Vec<(String, &str)> = vec![
        (toml.replace("Europe/Berlin", "Europe/Atlantis"), "timezone"),
        (
            toml.replace(
                "https://orbit.example/sunset/faq",
                "ftp://orbit.example/faq",
            ),
            "links.faq",
        ),
        (
            toml.replace("faq = \"https://orbit.example/sunset/faq\"", ""),
            "links.faq",
        ),
        (toml.replace("\"orbit-crm-2027\"", "\"Orbit CRM!\""), "id"),
        (
            toml.replace(
                "from = \"Orbit <no-reply@orbit.example>\"",
                "from = \"Orbit\\r\\nBcc: all@evil.example <no-reply@orbit.example>\"",
            ),
            "sender.from",
        ),
        (
            toml.replace(
                "product = \"Orbit CRM\"",
                &format!("product = \"{}\"", "P".repeat(1 << 20)),
            ),
            "product",
        ),
    ];
    for (body, field) in cases {
        let (s, ctype, body) = raw(
            &api.app,
            admin_req("POST", "/v1/campaigns", "application/toml", body),
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{field}");
        assert_eq!(ctype, "application/problem+json");
        let problem = json(&body);
        assert_eq!(problem["field"], field, "{problem}");
        assert!(
            !problem["detail"].as_str().unwrap().contains(" | "),
            "{problem}"
        );
    }
    create_and_import(&api).await;

    // Framework refusals: too big, unknown route, wrong method.
    let big = vec![b'x'; 33 * 1024 * 1024];
    let (s, ctype, _) = raw(
        &api.app,
        admin_req(
            "POST",
            "/v1/campaigns/orbit-crm-2027/customers",
            "text/csv",
            big,
        ),
    )
    .await;
    assert_eq!(
        (s, ctype.as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "application/problem+json")
    );
    let (s, ctype, _) = raw(&api.app, admin_req("GET", "/v1/nothing", "text/plain", "")).await;
    assert_eq!(
        (s, ctype.as_str()),
        (StatusCode::NOT_FOUND, "application/problem+json")
    );
    let (s, ctype, _) = raw(
        &api.app,
        admin_req(
            "DELETE",
            "/v1/campaigns/orbit-crm-2027/report",
            "text/plain",
            "",
        ),
    )
    .await;
    assert_eq!(
        (s, ctype.as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, "application/problem+json")
    );

    // Events: malformed JSON, a value of the wrong kind, a missing day.
    let events = "/v1/campaigns/orbit-crm-2027/customers/c03/events";
    for (body, status, field) in [
        ("{\"event\": ", StatusCode::BAD_REQUEST, None),
        (
            "{\"event\": 5}",
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("event"),
        ),
        (
            "{\"detail\": \"x\"}",
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("event"),
        ),
        (
            "{\"event\": \"extension\"}",
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("detail"),
        ),
        (
            "{\"event\": \"extension\", \"detail\": \"262142-01-01\"}",
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("detail"),
        ),
    ] {
        let (s, ctype, bytes) = raw(
            &api.app,
            admin_req("POST", events, "application/json", body),
        )
        .await;
        assert_eq!(s, status, "{body}: {}", String::from_utf8_lossy(&bytes));
        assert_eq!(ctype, "application/problem+json");
        assert_eq!(json(&bytes)["field"].as_str(), field, "{body}");
    }

    // A customer's link missing its signature: a page, not text.
    let (s, ctype, page) = raw(
        &api.app,
        Request::get("/v1/c/orbit-crm-2027/c05/export?exp=1")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(ctype.starts_with("text/html"), "{ctype}");
    let page = String::from_utf8(page).unwrap();
    assert!(
        page.contains("<h1>") && page.contains("copy the whole link"),
        "{page}"
    );
    let (s, ctype, _) = raw(
        &api.app,
        Request::get("/v1/c/orbit-crm-2027/c05/export?exp=1&sig=00")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(ctype.starts_with("text/html"), "{ctype}");
}

/// A link a customer already holds keeps working after their old deadline
/// when an extension moved it; without one it stops at the deadline. The
/// extension's own mail carries a link valid to the new day.
#[tokio::test]
async fn links_already_sent_work_until_the_extended_last_day() {
    let api = api();
    create_and_import(&api).await;
    launch(&api).await;
    let deps = &api.emb.deps;
    let campaign = stored_campaign(&api).await;
    use sunset::domain::link::LinkPurpose;
    let old_c01 = link_path(deps, &campaign, "c01", LinkPurpose::RequestExport).await;
    let old_c10 = link_path(deps, &campaign, "c10", LinkPurpose::RequestExport).await;
    let (s, _) = api
        .admin(
            "POST",
            "/v1/campaigns/orbit-crm-2027/customers/c01/events",
            "application/json",
            r#"{"event":"extension","detail":"2027-12-15"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    // The notice goes out from its job, with the new day.
    let tick = runner::run_due(&api.emb, deps.clock.now()).await.unwrap();
    assert!(
        tick.steps.iter().any(|s| s.job.contains(".deadline.c01.")),
        "{:?}",
        tick.steps.iter().map(|s| &s.job).collect::<Vec<_>>()
    );
    let mail = read_outbox(api._dir.path())
        .into_iter()
        .find(|m| m.milestone == "deadline")
        .expect("the extension is told");
    assert_eq!(mail.to, "ada@lovelace.example");
    assert!(
        mail.subject.contains("15 December 2027"),
        "{}",
        mail.subject
    );
    // 2 November: past the campaign's deadline (31 October, Berlin).
    api.clock
        .advance_to("2027-11-02T10:00:00Z".parse().unwrap());
    let (s, _) = api.open("GET", &old_c01, "text/html", "").await;
    assert_eq!(s, StatusCode::OK, "the old link works to the extended day");
    // An expired link is gone (410), with a page that says so.
    let (s, page) = api.open("GET", &old_c10, "text/html", "").await;
    assert_eq!(s, StatusCode::GONE, "{}", String::from_utf8_lossy(&page));
    assert!(String::from_utf8_lossy(&page).contains("This link has expired"));
    // After the extended day, the old link stops too.
    api.clock
        .advance_to("2027-12-16T10:00:00Z".parse().unwrap());
    let (s, _) = api.open("GET", &old_c01, "text/html", "").await;
    assert_eq!(s, StatusCode::GONE);
}

/// SES events posted to the API (how the embedded runtime takes bounces):
/// a batch with one unreadable event is refused whole, naming it; a hard
/// bounce suppresses its customer. A resume answers what it did.
#[tokio::test]
async fn ses_events_posted_to_the_api_suppress_and_a_bad_batch_records_nothing() {
    let api = api();
    create_and_import(&api).await;
    launch(&api).await;
    let now = sunset::ports::Clock::now(api.clock.as_ref());
    runner::run_due(&api.emb, now).await.unwrap();
    let campaign = sunset::domain::CampaignId::parse("orbit-crm-2027").unwrap();
    let c01 = sunset::domain::CustomerId::parse("c01").unwrap();
    let c01_record = || async {
        let found = api.emb.deps.customers.customer(&campaign, &c01).await;
        found.unwrap().expect("c01 is imported")
    };
    let sent = api
        .emb
        .deps
        .ledger
        .deliveries_to(&campaign, &c01)
        .await
        .unwrap();
    let announced = sent
        .iter()
        .find(|d| d.key.milestone == sunset::domain::Milestone::Announcement)
        .expect("c01 was sent the announcement");
    let record = c01_record().await;
    let address = record.profile.unwrap().email.to_string();
    let bounce = sunset_e2e::delivery::ses_event(
        "bounce-permanent",
        &announced.key,
        announced.message_id.as_deref().unwrap(),
        &address,
    );
    let batch =
        serde_json::json!([bounce.clone(), { "detail": { "eventType": "Bounce", "mail": {} } }]);
    let (s, body) = api
        .admin(
            "POST",
            "/v1/delivery-events",
            "application/json",
            batch.to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        String::from_utf8_lossy(&body).contains("[1].mail.messageId"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    let tallies = api.emb.deps.ledger.tallies(&campaign).await.unwrap();
    assert_eq!(
        tallies[&sunset::domain::ledger::Channel::Email]["announcement"].bounced,
        0,
        "nothing recorded"
    );

    let (s, body) = api
        .admin(
            "POST",
            "/v1/delivery-events",
            "application/json",
            bounce.to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let answer = json(&body);
    assert_eq!(answer["results"][0]["recorded"], "first", "{answer}");
    assert_eq!(answer["results"][0]["suppressed"], true, "{answer}");
    let record = c01_record().await;
    assert_eq!(record.suppressed.unwrap().reason, "hard-bounce");

    let (s, body) = api
        .admin(
            "POST",
            "/v1/campaigns/orbit-crm-2027/resume",
            "application/json",
            "",
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(json(&body)["was_paused"], false);
    let (s, _) = api
        .admin(
            "POST",
            "/v1/campaigns/no-such/resume",
            "application/json",
            "",
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// The operator previews exactly what one customer would get, as JSON or
/// as the part itself; the refusals are problems naming the field.
#[tokio::test]
async fn a_preview_shows_what_one_customer_would_get() {
    let api = api();
    create_and_import(&api).await;
    launch(&api).await;
    let base = "/v1/campaigns/orbit-crm-2027/preview";
    let (s, body) = api
        .admin(
            "GET",
            &format!("{base}?customer=c02&milestone=reminder-30"),
            "",
            "",
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let p = json(&body);
    assert_eq!(p["to"], "xiaoming@wang.example");
    assert_eq!(p["locale"], "zh-CN");
    assert_eq!(p["tier"], "core");
    assert_eq!(p["template"], "email/reminder.zh-CN");
    assert!(p["subject"].as_str().unwrap().contains("还剩 30 天"), "{p}");
    // What the customer would be mailed: the same subject and text the
    // wave renders.
    let (s, html) = api
        .admin(
            "GET",
            &format!("{base}?customer=c02&milestone=announcement&format=html"),
            "",
            "",
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let html = String::from_utf8(html).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<html lang=\"zh-CN\">"));
    let (s, text) = api
        .admin(
            "GET",
            &format!("{base}?customer=c01&milestone=export-ready&format=text"),
            "",
            "",
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        String::from_utf8(text)
            .unwrap()
            .starts_with("Subject: Your Orbit CRM data export is ready")
    );
    // The same reminder as the text Ada's mobile would get: from T-30 the
    // default rules send one to those still pending.
    let (s, body) = api
        .admin(
            "GET",
            &format!("{base}?customer=c01&milestone=reminder-30&channel=sms"),
            "",
            "",
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let p = json(&body);
    assert_eq!(p["channel"], "sms");
    assert_eq!(p["to"], "+49305550101");
    assert_eq!(p["template"], "sms/reminder.en");
    assert_eq!(p["sent_by_rules"], true);
    assert!(p["segments"].as_u64().unwrap() <= 2, "{p}");
    assert!(p["text"].as_str().unwrap().contains("in 30 days"), "{p}");
    assert_eq!(p["html"], "");
    for (query, status, field) in [
        ("customer=c02&milestone=reminder-45", 422, "milestone"),
        // Wang has no phone; export-ready is not a text.
        (
            "customer=c02&milestone=announcement&channel=sms",
            422,
            "channel",
        ),
        (
            "customer=c01&milestone=export-ready&channel=sms",
            422,
            "channel",
        ),
        ("customer=c02&milestone=farewell", 422, "milestone"),
        (
            "customer=c02&milestone=announcement&channel=fax",
            422,
            "channel",
        ),
        (
            "customer=c02&milestone=announcement&format=pdf",
            422,
            "format",
        ),
        ("customer=bad%20id&milestone=announcement", 422, "customer"),
        ("customer=nobody&milestone=announcement", 404, ""),
        ("milestone=announcement", 400, ""),
    ] {
        let (s, body) = api.admin("GET", &format!("{base}?{query}"), "", "").await;
        assert_eq!(
            s.as_u16(),
            status,
            "{query}: {}",
            String::from_utf8_lossy(&body)
        );
        let problem = json(&body);
        if !field.is_empty() {
            assert_eq!(problem["field"], field, "{query}: {problem}");
        }
    }
    let (s, _) = api
        .open(
            "GET",
            &format!("{base}?customer=c02&milestone=announcement"),
            "",
            "",
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

/// The customer's page behind their link, in their language, through the
/// life of their copy (none, being built, ready, downloaded), and a page
/// for every way the link can fail: never JSON.
#[tokio::test]
async fn the_customers_page_follows_their_copy_and_every_failure_is_a_page() {
    let api = api();
    create_and_import(&api).await;
    launch(&api).await;
    let deps = &api.emb.deps;
    let campaign = stored_campaign(&api).await;
    let page = |s: StatusCode, body: &[u8], status: u16| {
        let html = String::from_utf8_lossy(body).into_owned();
        assert_eq!(s.as_u16(), status, "{html}");
        assert!(html.starts_with("<!DOCTYPE html>"), "not a page: {html}");
        assert!(html.contains("name=\"viewport\""));
        assert!(
            !html.contains("src=\"http") && !html.contains("href=\"//"),
            "no external asset"
        );
        html
    };
    // c02 reads Chinese.
    let path = link_path(
        deps,
        &campaign,
        "c02",
        sunset::domain::link::LinkPurpose::RequestExport,
    )
    .await;
    let (s, body) = api.open("GET", &path, "text/html", "").await;
    let html = page(s, &body, 200);
    assert!(html.contains("<html lang=\"zh-CN\">"), "{html}");
    assert!(
        html.contains("2027年9月30日") && html.contains("2027年10月31日"),
        "{html}"
    );
    assert!(
        html.contains("尚未申请") && html.contains("申请导出您的全部数据"),
        "{html}"
    );
    let (s, body) = api.open("POST", &path, "text/plain", "").await;
    let html = page(s, &body, 202);
    assert!(
        html.contains("正在生成") && html.contains("感谢您的申请"),
        "{html}"
    );
    runner::run_due(&api.emb, deps.clock.now()).await.unwrap();
    let (s, body) = api.open("GET", &path, "text/html", "").await;
    let html = page(s, &body, 200);
    assert!(
        html.contains("已就绪") && html.contains("/export/download?"),
        "{html}"
    );
    let download = html
        .split("href=\"")
        .find_map(|h| {
            h.split('"')
                .next()
                .filter(|h| h.contains("/export/download?"))
        })
        .unwrap()
        .replace("&amp;", "&")
        .trim_start_matches("http://127.0.0.1:8080")
        .to_owned();
    let (s, _) = api.open("GET", &download, "text/plain", "").await;
    assert_eq!(s, StatusCode::OK);
    let (s, body) = api.open("GET", &path, "text/html", "").await;
    let html = page(s, &body, 200);
    assert!(
        html.contains("已下载") && html.contains("重新生成数据副本"),
        "{html}"
    );

    // Two more copies today, then a page saying when to ask again.
    for _ in 0..2 {
        let (s, _) = api.open("POST", &path, "text/plain", "").await;
        assert_eq!(s, StatusCode::ACCEPTED);
        runner::run_due(&api.emb, deps.clock.now()).await.unwrap();
    }
    let (s, body) = api.open("POST", &path, "text/plain", "").await;
    let html = page(s, &body, 429);
    assert!(
        html.contains("Too many requests") && html.contains("请求过于频繁"),
        "{html}"
    );

    // A changed signature, a link cut short, an address that is none.
    let (s, body) = api
        .open("GET", &path.replace("sig=", "sig=00"), "text/html", "")
        .await;
    let html = page(s, &body, 403);
    assert!(
        html.contains("This link does not work") && html.contains("此链接无法使用"),
        "{html}"
    );
    let cut = path.split("&sig=").next().unwrap();
    let (s, body) = api.open("GET", cut, "text/html", "").await;
    assert!(page(s, &body, 400).contains("This link is incomplete"));
    let (s, body) = api
        .open("GET", "/v1/c/orbit-crm-2027/c02/nothing", "text/html", "")
        .await;
    assert!(page(s, &body, 404).contains("There is no page at this address"));

    // After the purge: the day their data went.
    deps.customers
        .scrub_customers(
            &campaign.id,
            &[sunset::domain::CustomerId::parse("c02").unwrap()],
            deps.clock.now(),
        )
        .await
        .unwrap();
    let (s, body) = api.open("GET", &path, "text/html", "").await;
    let html = page(s, &body, 410);
    assert!(
        html.contains("Your data was deleted on 1 March 2027"),
        "{html}"
    );
    assert!(html.contains("您的数据已于 2027年3月1日 删除"), "{html}");
}

/// Behind API Gateway each route checks the scopes its authorizer passed
/// on: an operator's route takes `sunset/admin` only, the banner and the
/// migration report `sunset/product` only, the ticket webhook
/// `sunset/help-desk` only; no scopes at all is a 401, the wrong ones a
/// 403 naming the scope needed. The right scope gets past the check (a
/// migration report then needs its signature: 401 unsigned).
#[tokio::test]
async fn behind_the_gateway_each_route_takes_its_own_scope_only() {
    use sunset::http::{ADMIN_SCOPE, GrantedScopes, HELP_DESK_SCOPE, PRODUCT_SCOPE, SigningKey};
    let api = api();
    let app = router(
        AppState::new(api.emb.deps.clone(), Credential::Scope(ADMIN_SCOPE))
            .with_product(Credential::Scope(PRODUCT_SCOPE))
            .with_product_signing(SigningKey::new(vec![3; 32]).unwrap())
            .with_help_desk(Credential::Scope(HELP_DESK_SCOPE)),
    );
    let admin = ("GET", "/v1/campaigns");
    let banner = ("GET", "/v1/campaigns/orbit-crm-2027/customers/c1/banner");
    let migration = ("PUT", "/v1/campaigns/orbit-crm-2027/customers/c1/migration");
    let migrations = ("POST", "/v1/campaigns/orbit-crm-2027/migrations");
    let tickets = ("POST", "/v1/campaigns/no%20such/tickets");
    for ((method, uri), scopes, status) in [
        (admin, None, StatusCode::UNAUTHORIZED),
        (admin, Some(vec![]), StatusCode::UNAUTHORIZED),
        (admin, Some(vec![PRODUCT_SCOPE]), StatusCode::FORBIDDEN),
        (admin, Some(vec![HELP_DESK_SCOPE]), StatusCode::FORBIDDEN),
        (admin, Some(vec!["openid", ADMIN_SCOPE]), StatusCode::OK),
        (banner, None, StatusCode::UNAUTHORIZED),
        (banner, Some(vec![ADMIN_SCOPE]), StatusCode::FORBIDDEN),
        (banner, Some(vec![HELP_DESK_SCOPE]), StatusCode::FORBIDDEN),
        (banner, Some(vec![PRODUCT_SCOPE]), StatusCode::NOT_FOUND),
        (migration, None, StatusCode::UNAUTHORIZED),
        (migration, Some(vec![ADMIN_SCOPE]), StatusCode::FORBIDDEN),
        (
            migration,
            Some(vec![HELP_DESK_SCOPE]),
            StatusCode::FORBIDDEN,
        ),
        (
            migration,
            Some(vec![PRODUCT_SCOPE]),
            StatusCode::UNAUTHORIZED,
        ),
        (migrations, Some(vec![ADMIN_SCOPE]), StatusCode::FORBIDDEN),
        (
            migrations,
            Some(vec![PRODUCT_SCOPE]),
            StatusCode::UNAUTHORIZED,
        ),
        (tickets, None, StatusCode::UNAUTHORIZED),
        (tickets, Some(vec![ADMIN_SCOPE]), StatusCode::FORBIDDEN),
        (tickets, Some(vec![PRODUCT_SCOPE]), StatusCode::FORBIDDEN),
        (
            tickets,
            Some(vec![HELP_DESK_SCOPE]),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(scopes) = &scopes {
            req = req.extension(GrantedScopes(
                scopes.iter().map(|s| s.to_string()).collect(),
            ));
        }
        let res = app
            .clone()
            .oneshot(req.body(Body::from("{}")).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), status, "{method} {uri} with {scopes:?}");
        let body = res.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&body);
        if status == StatusCode::FORBIDDEN {
            assert!(text.contains("sunset/"), "{text}");
        }
        if status == StatusCode::UNAUTHORIZED && scopes == Some(vec![PRODUCT_SCOPE]) {
            assert!(text.contains("sunset-timestamp"), "{text}");
        }
    }
}
