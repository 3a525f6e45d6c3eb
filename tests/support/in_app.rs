//! What the retiring product and the public read, on any adapter set: the
//! in-app banner behind the product's own key, with the `Sunset`,
//! `Deprecation` and `Link` values parsed back per RFC 8594, RFC 9745 and
//! RFC 8288; and the public page, feed, JSON and calendar. Run by
//! `contract_embedded` and `contract_aws` through `contract`.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use chrono::{DateTime, NaiveTime, TimeZone, Utc};
use http_body_util::BodyExt;
use sunset::clock::SimulatedClock;
use sunset::domain::ids::{DisplayName, EmailAddress};
use sunset::domain::tier::{Tier, TierDecision};
use sunset::domain::{Campaign, CustomerRecord};
use sunset::http::{AppState, Credential, customer_router};
use sunset::ports::Deps;
use tower::ServiceExt;

const PRODUCT_KEY: &str = "product-key-0123456789abcdef";
const ADMIN_TOKEN: &str = "admin-token-0123456789abcdef";

fn at(deps: &Deps, when: &str) -> axum::Router {
    let mut deps = deps.clone();
    deps.clock = Arc::new(SimulatedClock::new(when.parse().unwrap()));
    customer_router(
        AppState::new(deps, Credential::Token(ADMIN_TOKEN.into()))
            .with_product(Credential::Token(PRODUCT_KEY.into())),
    )
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&self.body)))
    }
    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }
    fn header(&self, name: impl header::AsHeaderName) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }
}

async fn get(app: &axum::Router, uri: &str, headers: &[(&str, &str)]) -> Answer {
    let mut req = Request::get(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    Answer {
        status: res.status(),
        headers: res.headers().clone(),
        body: res.into_body().collect().await.unwrap().to_bytes().to_vec(),
    }
}

fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

async fn seeded(deps: &Deps) -> (Campaign, Vec<CustomerRecord>) {
    let c = super::contract::campaign();
    deps.campaigns.put_campaign(&c).await.unwrap();
    let mut z1 = super::contract::record("z1", chrono_tz::Asia::Shanghai);
    {
        let p = z1.profile.as_mut().unwrap();
        p.locale = Some("zh-CN".into());
        p.name = Some(DisplayName::parse("王小明").unwrap());
        p.account_manager = Some(EmailAddress::parse("am.li@orbit.example").unwrap());
        p.account_manager_name = Some(DisplayName::parse("李经理").unwrap());
    }
    let mut e1 = super::contract::record("e1", chrono_tz::America::New_York);
    e1.profile.as_mut().unwrap().locale = Some("en-US".into());
    let records = vec![z1, e1];
    assert!(
        deps.customers
            .insert_customers(&c.id, &records)
            .await
            .unwrap()
            .is_empty()
    );
    let core = TierDecision {
        tier: Tier::Core,
        score: 90,
        explanation: "strategic".into(),
    };
    deps.customers
        .set_tiers(&c.id, &[(records[0].clone(), core)])
        .await
        .unwrap();
    (c, records)
}

/// RFC 8594 §3: `Sunset: HTTP-date`, and RFC 9110 §5.6.7's preferred form
/// is IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
fn parse_http_date(value: &str) -> DateTime<Utc> {
    let bytes = value.as_bytes();
    assert_eq!(value.len(), 29, "an IMF-fixdate is 29 characters: {value}");
    assert!(value.ends_with(" GMT") && bytes[3] == b',', "{value}");
    DateTime::parse_from_rfc2822(value)
        .unwrap_or_else(|e| panic!("{value}: {e}"))
        .with_timezone(&Utc)
}

/// RFC 9745 §2.1: `Deprecation` is an RFC 9651 Date item, `@` and an
/// integer of seconds since the epoch.
fn parse_sf_date(value: &str) -> DateTime<Utc> {
    let seconds = value
        .strip_prefix('@')
        .unwrap_or_else(|| panic!("an sf-date starts with @: {value}"));
    assert!(
        !seconds.is_empty()
            && seconds.len() <= 15
            && seconds
                .trim_start_matches('-')
                .bytes()
                .all(|b| b.is_ascii_digit()),
        "{value}"
    );
    Utc.timestamp_opt(seconds.parse().unwrap(), 0).unwrap()
}

/// RFC 8288 §3: `<URI-Reference>; param=value...`; returns the target of
/// the link whose `rel` is `sunset`.
fn sunset_link(value: &str) -> String {
    value
        .split(',')
        .find_map(|link| {
            let (target, params) = link.trim().split_once(';')?;
            let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
            params
                .split(';')
                .filter_map(|p| p.trim().split_once('='))
                .any(|(k, v)| k.trim() == "rel" && v.trim().trim_matches('"') == "sunset")
                .then(|| target.to_owned())
        })
        .unwrap_or_else(|| panic!("no rel=\"sunset\" link in {value}"))
}

fn start_of_day(c: &Campaign, day: chrono::NaiveDate) -> DateTime<Utc> {
    sunset::domain::milestone::local_instant(day, NaiveTime::MIN, c.timezone)
}

pub async fn the_banner_rises_toward_the_end_behind_the_products_own_key(deps: &Deps) {
    let (c, _) = seeded(deps).await;
    let uri = format!("/v1/campaigns/{}/customers/z1/banner", c.id);
    let product = bearer(PRODUCT_KEY);
    let key = [("authorization", product.as_str())];

    // Before the public announcement there is nothing to show.
    let before = at(deps, "2027-01-20T09:00:00Z");
    assert_eq!(
        get(&before, &uri, &key).await.status,
        StatusCode::NO_CONTENT
    );
    // The operator's token and no key are refused, as problems.
    let admin = bearer(ADMIN_TOKEN);
    for headers in [&[("authorization", admin.as_str())][..], &[]] {
        let refused = get(&before, &uri, headers).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        assert!(
            refused
                .header(header::CONTENT_TYPE)
                .starts_with("application/problem+json")
        );
    }
    // A router without a product key refuses the product too.
    let keyless = customer_router(AppState::new(
        deps.clone(),
        Credential::Scope(sunset::http::ADMIN_SCOPE),
    ));
    assert_eq!(
        get(&keyless, &uri, &key).await.status,
        StatusCode::UNAUTHORIZED
    );

    // Months ahead: informative, dismissible, in the customer's Chinese.
    let spring = at(deps, "2027-03-01T09:00:00Z");
    let a = get(&spring, &uri, &key).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.header(header::CACHE_CONTROL), "private, max-age=300");
    let b = a.json();
    assert_eq!(b["lang"], "zh-CN");
    assert_eq!(b["severity"], "info");
    assert_eq!(b["dismissible"], true);
    assert_eq!(b["title"], "Orbit CRM将于2027年9月30日停止服务");
    let message = b["message"].as_str().unwrap();
    assert!(
        message.contains("请在2027年10月31日前导出您的数据"),
        "{message}"
    );
    // A core customer hears of their account manager.
    assert!(message.contains("李经理随时为您解答"), "{message}");
    let rels: Vec<&str> = b["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["rel"].as_str().unwrap())
        .collect();
    assert_eq!(rels, ["export", "guide", "announcement"]);
    assert!(
        b["links"][0]["href"]
            .as_str()
            .unwrap()
            .contains(&format!("/v1/c/{}/z1/export?exp=", c.id))
    );
    // The header values, parsed back per their RFCs.
    let h = &b["headers"];
    assert_eq!(
        parse_http_date(h["sunset"].as_str().unwrap()),
        c.service_ended_at()
    );
    assert_eq!(
        parse_sf_date(h["deprecation"].as_str().unwrap()),
        start_of_day(&c, c.dates.announce)
    );
    assert_eq!(
        sunset_link(h["link"].as_str().unwrap()),
        format!("http://127.0.0.1:8080/v1/public/{}/zh-CN", c.id)
    );
    // The same banner again: 304 on its ETag.
    let etag = a.header(header::ETAG).to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    let again = get(&spring, &uri, &[key[0], ("if-none-match", &etag)]).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());

    // The product's UI in US English: its words and dates.
    let en = get(&spring, &format!("{uri}?lang=en-US"), &key)
        .await
        .json();
    assert_eq!(en["title"], "Orbit CRM closes on September 30, 2027");
    assert_ne!(
        get(
            &spring,
            &format!("{uri}?lang=en-US"),
            &[key[0], ("if-none-match", &etag)]
        )
        .await
        .status,
        StatusCode::NOT_MODIFIED,
        "another language is another banner"
    );
    let bad = get(&spring, &format!("{uri}?lang=klingon"), &key).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.json()["field"], "lang");

    // Louder as the end nears; not dismissible in the last week.
    let rising = [
        ("2027-09-10T02:00:00Z", "warning", true),
        ("2027-09-25T02:00:00Z", "critical", false),
        ("2027-09-29T02:00:00Z", "critical", false),
        ("2027-10-05T02:00:00Z", "critical", false),
    ];
    let mut ids = std::collections::BTreeSet::new();
    for (when, severity, dismissible) in rising {
        let b = get(&at(deps, when), &uri, &key).await.json();
        assert_eq!(b["severity"], severity, "{when}");
        assert_eq!(b["dismissible"], dismissible, "{when}");
        ids.insert(b["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 2, "a dismissal is kept per severity: {ids:?}");
    let eve = get(&at(deps, "2027-09-29T02:00:00Z"), &uri, &key)
        .await
        .json();
    assert_eq!(eve["title"], "Orbit CRM将于明天停止服务");
    let last = get(&at(deps, "2027-09-30T02:00:00Z"), &uri, &key)
        .await
        .json();
    assert_eq!(last["title"], "Orbit CRM将于今天停止服务");
    assert_eq!(last["days_left"], 0);
    let ended = get(&at(deps, "2027-10-05T02:00:00Z"), &uri, &key)
        .await
        .json();
    assert_eq!(ended["title"], "Orbit CRM已停止服务");
    assert_eq!(ended["days_left"], serde_json::Value::Null);

    let unknown = get(
        &spring,
        &format!("/v1/campaigns/{}/customers/nobody/banner", c.id),
        &key,
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

/// Unfolds an iCalendar file (RFC 5545 §3.1) into its content lines.
fn unfold(ics: &str) -> Vec<String> {
    assert!(ics.ends_with("\r\n"));
    for line in ics.split("\r\n") {
        assert!(line.len() <= 75, "a line over 75 octets: {line:?}");
    }
    ics.replace("\r\n ", "")
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

pub async fn the_public_announcement_is_a_page_a_feed_a_document_and_a_calendar(deps: &Deps) {
    let (c, _) = seeded(deps).await;
    let base = format!("/v1/public/{}", c.id);
    let docs = [
        "en",
        "zh-CN",
        "en-US",
        "feed.atom",
        "sunset.json",
        "dates.ics",
    ];

    // Nothing is public before the announcement day.
    let before = at(deps, "2027-01-31T12:00:00Z");
    for doc in docs {
        let a = get(&before, &format!("{base}/{doc}"), &[]).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{doc}");
        assert!(
            a.header(header::CONTENT_TYPE).starts_with("text/html"),
            "{doc}"
        );
    }

    let spring = at(deps, "2027-03-01T09:00:00Z");
    let chosen = get(
        &spring,
        &base,
        &[("accept-language", "fr;q=1, zh-CN;q=0.9, en;q=0.8")],
    )
    .await;
    assert_eq!(chosen.status, StatusCode::SEE_OTHER);
    assert_eq!(
        chosen.header(header::LOCATION),
        format!("http://127.0.0.1:8080{base}/zh-CN")
    );
    assert_eq!(chosen.header(header::VARY), "Accept-Language");
    let chosen = get(&spring, &base, &[]).await;
    assert!(chosen.header(header::LOCATION).ends_with("/en"));

    for doc in docs {
        let a = get(&spring, &format!("{base}/{doc}"), &[]).await;
        assert_eq!(a.status, StatusCode::OK, "{doc}: {}", a.text());
        assert_eq!(
            a.header(header::CACHE_CONTROL),
            "public, max-age=300",
            "{doc}"
        );
        let body = a.text();
        // No customer's data, whoever they are.
        for private in [
            "z1",
            "e1",
            "王小明",
            "李经理",
            "am.li@",
            "example.com",
            "sig=",
        ] {
            assert!(!body.contains(private), "{doc} holds {private}");
        }
        let etag = a.header(header::ETAG).to_owned();
        let held = get(
            &spring,
            &format!("{base}/{doc}"),
            &[("if-none-match", &etag)],
        )
        .await;
        assert_eq!(held.status, StatusCode::NOT_MODIFIED, "{doc}");
    }

    let zh = get(&spring, &format!("{base}/zh-CN"), &[]).await.text();
    assert!(zh.contains("<html lang=\"zh-CN\">"));
    assert!(
        zh.contains("关于Orbit CRM将于2027年9月30日停止服务的公告"),
        "{zh}"
    );
    assert!(zh.contains("2027年10月31日"));
    assert!(!zh.contains("noindex"), "the public page may be indexed");
    let us = get(&spring, &format!("{base}/en-US"), &[]).await.text();
    assert!(
        us.contains("Orbit CRM is closing on September 30, 2027"),
        "{us}"
    );
    assert_eq!(
        get(&spring, &format!("{base}/en-us"), &[]).await.status,
        StatusCode::NOT_FOUND,
        "one address per page"
    );

    let feed = get(&spring, &format!("{base}/feed.atom"), &[]).await;
    assert_eq!(
        feed.header(header::CONTENT_TYPE),
        "application/atom+xml; charset=utf-8"
    );
    let feed = feed.text();
    assert!(feed.starts_with(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">"
    ));
    assert_eq!(feed.matches("<entry ").count(), 2, "{feed}");
    assert!(feed.contains("<entry xml:lang=\"zh-CN\">"));
    // After the end, an entry per language says so.
    let autumn = get(
        &at(deps, "2027-10-05T00:00:00Z"),
        &format!("{base}/feed.atom"),
        &[],
    )
    .await;
    assert_eq!(autumn.text().matches("<entry ").count(), 4);
    assert!(
        autumn
            .text()
            .contains("Orbit CRM已停止服务：数据可导出至2027年10月31日")
    );

    let doc = get(&spring, &format!("{base}/sunset.json"), &[])
        .await
        .json();
    assert_eq!(doc["state"], "announced");
    assert_eq!(doc["dates"]["service_end"], "2027-09-30");
    assert_eq!(
        doc["pages"]["zh-CN"],
        format!("http://127.0.0.1:8080{base}/zh-CN")
    );
    assert_eq!(
        parse_http_date(doc["headers"]["sunset"].as_str().unwrap()),
        c.service_ended_at()
    );

    let ics = get(&spring, &format!("{base}/dates.ics?lang=zh-CN"), &[]).await;
    assert_eq!(
        ics.header(header::CONTENT_TYPE),
        "text/calendar; charset=utf-8"
    );
    let lines = unfold(&ics.text());
    assert_eq!(lines.first().unwrap(), "BEGIN:VCALENDAR");
    assert_eq!(lines.last().unwrap(), "END:VCALENDAR");
    assert!(lines.contains(&"VERSION:2.0".to_owned()));
    assert!(lines.iter().any(|l| l.starts_with("PRODID:")));
    assert_eq!(lines.iter().filter(|l| *l == "BEGIN:VEVENT").count(), 4);
    let starts: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("DTSTART;VALUE=DATE:"))
        .collect();
    let d = |day: chrono::NaiveDate| day.format("%Y%m%d").to_string();
    assert_eq!(
        starts,
        [
            d(c.dates.stop_new_signups),
            d(c.dates.stop_renewals),
            d(c.dates.service_end),
            d(c.dates.export_deadline)
        ]
    );
    assert!(
        lines.contains(&"SUMMARY:Orbit CRM停止服务".to_owned()),
        "{lines:?}"
    );
    // Every event has its own UID, and each UID is stable.
    let uids: std::collections::BTreeSet<&String> =
        lines.iter().filter(|l| l.starts_with("UID:")).collect();
    assert_eq!(uids.len(), 4);

    let nothing = get(&spring, "/v1/public/no-such-campaign/en", &[]).await;
    assert_eq!(nothing.status, StatusCode::NOT_FOUND);
}
