//! The operator's hand on a running campaign, through the admin API on any
//! adapter set and in either runtime (`Operator` is the API as a test
//! calls it, `crate::runtime` the runtimes): dates changed three times
//! with the schedules following exactly, a pause that loses nothing, a
//! cancellation that stops every notice and keeps the purge, and each
//! refusal naming its field. Run by `contract_embedded` and
//! `contract_aws` through `contract`.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, Utc};
use http_body_util::BodyExt;
use sunset::clock::SimulatedClock;
use sunset::domain::milestone::{self, Job};
use sunset::domain::schedule::schedule_name;
use sunset::domain::{Campaign, Milestone};
use sunset::http::SigningKey;
use sunset::ports::Deps;
use sunset::services::jobs::{self, Budget, JobOutcome};

use crate::runtime::Api;

pub use crate::runtime::{Caller, Runtime, SIGNING_KEY};

/// The API on these adapters, in one runtime, at a time the test moves.
pub struct Operator {
    pub deps: Deps,
    pub clock: Arc<SimulatedClock>,
    pub api: Api,
}

pub struct Answer {
    pub status: StatusCode,
    pub body: serde_json::Value,
}

impl Operator {
    pub fn new(deps: &Deps, now: &str, runtime: Runtime) -> Self {
        let clock = Arc::new(SimulatedClock::new(now.parse().unwrap()));
        let mut deps = deps.clone();
        deps.clock = clock.clone();
        let api = Api::new(runtime, &deps);
        Self { deps, clock, api }
    }

    /// What a route answers `who` when it is not theirs.
    pub fn refuses(&self, who: Caller) -> StatusCode {
        self.api.refuses(who)
    }

    /// The operator's call.
    pub async fn call(&self, method: &str, uri: &str, body: Option<serde_json::Value>) -> Answer {
        let body = body.map(|b| b.to_string());
        self.call_as(Caller::Admin, method, uri, body.as_deref(), &[])
            .await
    }

    /// The product's migration report, signed now with `key`.
    pub async fn signed(&self, uri: &str, body: &serde_json::Value, key: &[u8]) -> Answer {
        let method = if uri.ends_with("/migration") {
            "PUT"
        } else {
            "POST"
        };
        let body = body.to_string();
        let at = self.now().timestamp();
        let signature = SigningKey::new(key.to_vec())
            .unwrap()
            .sign(at, body.as_bytes());
        let headers = [
            ("sunset-timestamp", at.to_string()),
            ("sunset-signature", signature),
        ];
        self.call_as(Caller::Product, method, uri, Some(&body), &headers)
            .await
    }

    /// A call by `who`, with a JSON body (as given) and more headers.
    pub async fn call_as(
        &self,
        who: Caller,
        method: &str,
        uri: &str,
        body: Option<&str>,
        headers: &[(&str, String)],
    ) -> Answer {
        self.call_typed(who, method, uri, "application/json", body, headers)
            .await
    }

    /// A call by `who` with a body of this content type (none without a
    /// body) and more headers.
    pub async fn call_typed(
        &self,
        who: Caller,
        method: &str,
        uri: &str,
        content_type: &str,
        body: Option<&str>,
        headers: &[(&str, String)],
    ) -> Answer {
        let mut req = Request::builder().method(method).uri(uri);
        if body.is_some() {
            req = req.header("content-type", content_type);
        }
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        let body = body.map_or(Body::empty(), |b| Body::from(b.to_owned()));
        let res = self.api.send(who, req.body(body).unwrap()).await;
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned())
            }),
        }
    }

    /// Stores these customers as an import would, none of them known yet.
    pub async fn insert(
        &self,
        campaign: &sunset::domain::CampaignId,
        records: &[sunset::domain::CustomerRecord],
    ) {
        let known = self
            .deps
            .customers
            .insert_customers(campaign, records)
            .await
            .unwrap();
        assert!(known.is_empty(), "already stored: {known:?}");
    }

    /// Creates the campaign through the API.
    pub async fn create(&self, c: &Campaign) {
        let created = self
            .call(
                "POST",
                "/v1/campaigns",
                Some(serde_json::to_value(c).unwrap()),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    }

    /// Launches the campaign through the API.
    pub async fn launch(&self, c: &Campaign) {
        let launched = self
            .call("POST", &format!("/v1/campaigns/{}/launch", c.id), None)
            .await;
        assert_eq!(launched.status, StatusCode::OK, "{}", launched.body);
    }

    /// Launches though preflight items fail (a test that launches late on
    /// purpose), as the operator who decides so.
    pub async fn launch_overriding(&self, c: &Campaign, reason: &str) {
        let launched = self
            .call(
                "POST",
                &format!("/v1/campaigns/{}/launch", c.id),
                Some(
                    serde_json::json!({ "override": { "by": "test operator", "reason": reason } }),
                ),
            )
            .await;
        assert_eq!(launched.status, StatusCode::OK, "{}", launched.body);
    }

    /// A call without a body, its answer as it came.
    pub async fn raw(
        &self,
        method: &str,
        uri: &str,
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .unwrap();
        let res = self.api.send(Caller::Admin, req).await;
        let (parts, body) = res.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes().to_vec();
        (parts.status, parts.headers, bytes)
    }

    pub fn now(&self) -> DateTime<Utc> {
        sunset::ports::Clock::now(self.clock.as_ref())
    }
}

/// A campaign with customers in two zones, launched on 2027-01-05.
async fn launched(op: &Operator) -> Campaign {
    let c = super::contract::campaign();
    op.create(&c).await;
    let records = [
        super::contract::record("o1", chrono_tz::Europe::Berlin),
        super::contract::record("o2", chrono_tz::Asia::Shanghai),
    ];
    op.insert(&c.id, &records).await;
    op.launch(&c).await;
    c
}

/// What the scheduler holds for the campaign: (schedule name, due).
async fn schedules(deps: &Deps, c: &Campaign) -> BTreeSet<(String, DateTime<Utc>)> {
    deps.scheduler
        .scheduled(&c.id)
        .await
        .unwrap()
        .into_iter()
        .map(|j| (schedule_name(&j.name), j.due))
        .collect()
}

/// What the plan of `c` says the scheduler should hold.
async fn expected(deps: &Deps, c: &Campaign) -> BTreeSet<(String, DateTime<Utc>)> {
    let zones = deps.customers.zones(&c.id).await.unwrap();
    milestone::plan(c, &zones, &Default::default())
        .into_iter()
        .map(|j| (schedule_name(&j.name), j.due))
        .collect()
}

/// Three date changes in a row, by `PATCH` and `PUT`: after each, the
/// schedules are exactly the new plan's (moved, the ones no longer needed
/// deleted, none doubled); the same change again moves nothing; and a
/// change the running campaign cannot take is refused naming its field.
pub async fn three_date_changes_leave_exactly_the_planned_schedules(deps: &Deps, runtime: Runtime) {
    let op = Operator::new(deps, "2027-01-05T10:00:00Z", runtime);
    let c = launched(&op).await;
    let uri = format!("/v1/campaigns/{}", c.id);
    assert_eq!(schedules(&op.deps, &c).await, expected(&op.deps, &c).await);

    // 1: the end slips a month (PATCH, a merge patch).
    let first = op
        .call(
            "PATCH",
            &uri,
            Some(serde_json::json!({
                "dates": { "service_end": "2027-10-31", "export_deadline": "2027-11-30" }
            })),
        )
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(
        first.body["dates_changed"]["dates.service_end"][1],
        "2027-10-31"
    );
    let r = &first.body["replanned"];
    assert!(r["moved"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(r["removed"], 1, "the old deadline's purge: {r}");
    let now = op.deps.campaigns.campaign(&c.id).await.unwrap().unwrap();
    assert_eq!(now.dates.service_end.to_string(), "2027-10-31");
    assert_eq!(
        schedules(&op.deps, &now).await,
        expected(&op.deps, &now).await
    );

    // 2: fewer reminders, and the announcement a week later (PUT, whole).
    let mut second = now.clone();
    second.dates.announce = "2027-02-08".parse().unwrap();
    second.dates.stop_new_signups = second.dates.announce;
    second.reminders.days_before_end = vec![30, 7];
    let put = op
        .call("PUT", &uri, Some(serde_json::to_value(&second).unwrap()))
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    assert!(
        put.body["replanned"]["removed"].as_u64().unwrap() >= 6,
        "{}",
        put.body
    );
    assert_eq!(
        schedules(&op.deps, &second).await,
        expected(&op.deps, &second).await
    );

    // 3: the end comes back a fortnight; the same change sent twice.
    let patch = serde_json::json!({
        "dates": { "service_end": "2027-10-15", "export_deadline": "2027-11-15" }
    });
    let third = op.call("PATCH", &uri, Some(patch.clone())).await;
    assert_eq!(third.status, StatusCode::OK, "{}", third.body);
    let again = op.call("PATCH", &uri, Some(patch)).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    let r = &again.body["replanned"];
    assert_eq!(
        (&r["added"], &r["moved"], &r["removed"]),
        (&0.into(), &0.into(), &0.into()),
        "{r}"
    );
    let last = op.deps.campaigns.campaign(&c.id).await.unwrap().unwrap();
    assert_eq!(
        schedules(&op.deps, &last).await,
        expected(&op.deps, &last).await
    );
    let plan_len = expected(&op.deps, &last).await.len();
    assert_eq!(r["unchanged"].as_u64().unwrap() as usize, plan_len);

    // Refusals, each naming the field; none changes anything.
    let before = schedules(&op.deps, &last).await;
    let refusals = [
        (
            serde_json::json!({ "dates": { "service_end": "2026-12-01" } }),
            "dates.service_end",
        ),
        (
            serde_json::json!({ "dates": { "export_deadline": "2027-10-01" } }),
            "dates.export_deadline",
        ),
        (serde_json::json!({ "id": "another-one" }), "id"),
        (serde_json::json!({ "product": "" }), "product"),
    ];
    for (patch, field) in refusals {
        let refused = op.call("PATCH", &uri, Some(patch.clone())).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{patch}: {}",
            refused.body
        );
        assert_eq!(refused.body["field"], field, "{patch}: {}", refused.body);
    }
    // Once the announcement has come, it stays.
    op.clock.advance_to("2027-02-09T12:00:00Z".parse().unwrap());
    let moved = op
        .call(
            "PATCH",
            &uri,
            Some(serde_json::json!({ "dates": { "announce": "2027-02-10", "stop_new_signups": "2027-02-10" } })),
        )
        .await;
    assert_eq!(
        moved.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        moved.body
    );
    assert_eq!(moved.body["field"], "dates.announce");
    assert!(
        moved.body["detail"].as_str().unwrap().contains("has come"),
        "{}",
        moved.body
    );
    let not_json = op
        .call("PATCH", &uri, Some(serde_json::json!([1, 2])))
        .await;
    assert_eq!(
        not_json.status,
        StatusCode::BAD_REQUEST,
        "{}",
        not_json.body
    );
    let unknown = op
        .call(
            "PATCH",
            "/v1/campaigns/no-such",
            Some(serde_json::json!({})),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.body);
    assert_eq!(schedules(&op.deps, &last).await, before);
    // The trail has each change with its dates.
    let updates = op
        .deps
        .audit
        .entries(&c.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.entry.action == "campaign-updated")
        .count();
    assert_eq!(updates, 4);
}

fn announcement(c: &Campaign, zone: chrono_tz::Tz) -> Job {
    Job::Notice {
        campaign: c.id.clone(),
        milestone: Milestone::Announcement,
        timezone: zone,
        resume: None,
    }
}

async fn sent(deps: &Deps, c: &Campaign) -> u64 {
    let tallies = deps.ledger.tallies(&c.id).await.unwrap();
    tallies
        .values()
        .flat_map(|by_notice| by_notice.values())
        .map(|t| t.sent)
        .sum()
}

/// The operator pauses: the due wave waits and sends nothing; a resume
/// sends it at once. Then a cancellation: no job that tells anyone is
/// left, one that fires anyway sends nothing, the purge stays; a
/// cancelled campaign is not paused, resumed or launched again; the list
/// shows each phase. Every body without `by` or `reason` is refused.
pub async fn pause_resume_and_cancel_lose_nothing_and_stop_every_notice(
    deps: &Deps,
    runtime: Runtime,
) {
    let op = Operator::new(deps, "2027-01-05T10:00:00Z", runtime);
    let c = launched(&op).await;
    let base = format!("/v1/campaigns/{}", c.id);
    let listed = op.call("GET", "/v1/campaigns", None).await;
    assert_eq!(listed.status, StatusCode::OK);
    let phase = |list: &serde_json::Value| {
        list["campaigns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["id"] == c.id.as_str())
            .map(|l| l["phase"].clone())
    };
    assert_eq!(
        phase(&listed.body),
        Some("running".into()),
        "{}",
        listed.body
    );

    for body in [
        serde_json::json!({ "reason": "x" }),
        serde_json::json!({ "by": "ops", "reason": " " }),
    ] {
        let refused = op.call("POST", &format!("{base}/pause"), Some(body)).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            refused.body
        );
        assert!(refused.body["field"] == "by" || refused.body["field"] == "reason");
    }
    let paused = op
        .call(
            "POST",
            &format!("{base}/pause"),
            Some(serde_json::json!({ "by": "Mia (ops)", "reason": "legal review of the wording" })),
        )
        .await;
    assert_eq!(paused.status, StatusCode::OK, "{}", paused.body);
    let status = op.call("GET", &format!("{base}/status"), None).await;
    assert_eq!(status.body["phase"], "paused", "{}", status.body);

    // The announcement's day in Berlin: the wave waits.
    op.clock.advance_to("2027-02-01T09:00:00Z".parse().unwrap());
    let berlin = announcement(&c, chrono_tz::Europe::Berlin);
    let run = jobs::run(&op.deps, &berlin, op.now(), &Budget::unlimited())
        .await
        .unwrap();
    let JobOutcome::Wave(w) = run else {
        panic!("{run:?}")
    };
    assert_eq!(w.state, sunset::services::dispatch::WaveState::Paused);
    assert_eq!(sent(&op.deps, &c).await, 0);
    let resumed = op.call("POST", &format!("{base}/resume"), None).await;
    assert_eq!(resumed.status, StatusCode::OK, "{}", resumed.body);
    assert_eq!(resumed.body["waves"], 1, "{}", resumed.body);
    let part = op
        .deps
        .scheduler
        .scheduled(&c.id)
        .await
        .unwrap()
        .into_iter()
        .find(|j| {
            matches!(
                &j.job,
                Job::Notice {
                    resume: Some(_),
                    ..
                }
            )
        })
        .expect("the paused wave's next part");
    assert!(part.due <= op.now());
    jobs::run(&op.deps, &part.job, op.now(), &Budget::unlimited())
        .await
        .unwrap();
    assert_eq!(sent(&op.deps, &c).await, 1, "the Berlin customer was told");

    // Cancelled: nothing that tells anyone is left; the purge stays.
    let cancel =
        serde_json::json!({ "by": "Mia (ops)", "reason": "the product is sold, not retired" });
    let cancelled = op
        .call("POST", &format!("{base}/cancel"), Some(cancel.clone()))
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
    assert!(cancelled.body["schedules_removed"].as_u64().unwrap() > 0);
    assert!(cancelled.body["purges_kept"].as_u64().unwrap() >= 1);
    let left = op.deps.scheduler.scheduled(&c.id).await.unwrap();
    assert!(left.iter().all(|j| !j.job.tells()), "{left:?}");
    assert!(left.iter().any(|j| matches!(j.job, Job::Purge { .. })));
    // A schedule that fires anyway (a delivery already on its way) sends
    // nothing.
    let shanghai = announcement(&c, chrono_tz::Asia::Shanghai);
    let run = jobs::run(&op.deps, &shanghai, op.now(), &Budget::unlimited())
        .await
        .unwrap();
    assert!(matches!(run, JobOutcome::Cancelled { .. }), "{run:?}");
    assert_eq!(sent(&op.deps, &c).await, 1);
    // Again: the first cancellation stands, recorded once.
    let twice = op
        .call(
            "POST",
            &format!("{base}/cancel"),
            Some(serde_json::json!({ "by": "someone else", "reason": "again" })),
        )
        .await;
    assert_eq!(twice.status, StatusCode::OK);
    assert_eq!(twice.body["cancellation"]["by"], "Mia (ops)");
    for (uri, body) in [
        (format!("{base}/pause"), Some(cancel.clone())),
        (format!("{base}/resume"), None),
        (format!("{base}/launch"), None),
    ] {
        let refused = op.call("POST", &uri, body).await;
        assert_eq!(
            refused.status,
            StatusCode::CONFLICT,
            "{uri}: {}",
            refused.body
        );
    }
    // A date change re-plans the purge only.
    let moved = op
        .call(
            "PATCH",
            &base,
            Some(serde_json::json!({ "dates": { "export_deadline": "2027-11-30" } })),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    let left = op.deps.scheduler.scheduled(&c.id).await.unwrap();
    assert!(left.iter().all(|j| !j.job.tells()), "{left:?}");
    assert!(
        left.iter().any(|j| j.name.ends_with("purge.2027-11-30")),
        "{left:?}"
    );
    let listed = op.call("GET", "/v1/campaigns", None).await;
    assert_eq!(
        phase(&listed.body),
        Some("cancelled".into()),
        "{}",
        listed.body
    );
    let actions: Vec<String> = op
        .deps
        .audit
        .entries(&c.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.entry.action)
        .collect();
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "campaign-cancelled")
            .count(),
        1
    );
    assert!(actions.iter().any(|a| a == "campaign-paused"));
    for (method, uri) in [
        ("POST", "/v1/campaigns/no-such/cancel"),
        ("GET", "/v1/campaigns/no-such/status"),
    ] {
        let missing = op.call(method, uri, Some(cancel.clone())).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND, "{uri}");
    }
}
