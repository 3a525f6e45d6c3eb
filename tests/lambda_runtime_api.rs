//! Each Lambda binary starts, polls a Lambda runtime API and answers one
//! real invocation. The runtime API here is a small loopback server that
//! speaks the same HTTP protocol as Lambda's (`/2018-06-01/runtime/...`).

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::mpsc;

#[derive(Clone)]
struct RuntimeApi {
    /// The one event to hand out.
    event: Arc<Mutex<Option<Value>>>,
    answers: mpsc::UnboundedSender<(String, Value)>,
}

async fn next(State(api): State<RuntimeApi>) -> (HeaderMap, String) {
    let event = loop {
        if let Some(e) = api.event.lock().unwrap().take() {
            break e;
        }
        // Lambda's API long-polls; so do we.
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut h = HeaderMap::new();
    h.insert("lambda-runtime-aws-request-id", "req-1".parse().unwrap());
    h.insert(
        "lambda-runtime-deadline-ms",
        (chrono::Utc::now().timestamp_millis() + 60_000)
            .to_string()
            .parse()
            .unwrap(),
    );
    h.insert(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:eu-central-1:123456789012:function:test"
            .parse()
            .unwrap(),
    );
    h.insert(
        "lambda-runtime-trace-id",
        "Root=1-00000000-000000000000000000000000".parse().unwrap(),
    );
    (h, event.to_string())
}

async fn answer(
    State(api): State<RuntimeApi>,
    Path((_id, kind)): Path<(String, String)>,
    body: String,
) -> &'static str {
    let _ = api.answers.send((
        kind,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    ));
    "{}"
}

async fn init_error(State(api): State<RuntimeApi>, body: String) -> &'static str {
    let _ = api.answers.send(("init-error".into(), Value::String(body)));
    "{}"
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn binary(name: &str) -> std::path::PathBuf {
    // tests run from target/<profile>/deps; the binaries are in target/<profile>.
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|d| d.parent()).unwrap();
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built: tests/run.sh builds the binaries first",
        path.display()
    );
    path
}

/// The key the product signs its migration reports with, in hex.
const PRODUCT_SIGNING_KEY: &str =
    "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd";

/// Starts `name` against a fresh runtime API with `event`; returns what it
/// answered (`response` or `error`, and the body).
async fn invoke(name: &str, event: Value, table: &str) -> (String, Value) {
    invoke_keyed(name, event, table, ("SUNSET_LINK_KEY", &"ab".repeat(32))).await
}

/// `invoke`, with the link key given by this environment variable.
async fn invoke_keyed(
    name: &str,
    event: Value,
    table: &str,
    link_key: (&str, &str),
) -> (String, Value) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let api = RuntimeApi {
        event: Arc::new(Mutex::new(Some(event))),
        answers: tx,
    };
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/{kind}", post(answer))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(api);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let child = Command::new(binary(name))
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/test")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
        .env("SUNSET_TABLE", table)
        .env("SUNSET_EXPORT_BUCKET", "sunset-runtime-test")
        .env("SUNSET_PRODUCT_DATA_BUCKET", "sunset-runtime-test")
        .env("SUNSET_S3_FORCE_PATH_STYLE", "true")
        .env("SUNSET_SCHEDULE_GROUP", "sunset-runtime-test")
        .env(
            "SUNSET_SCHEDULER_ROLE_ARN",
            "arn:aws:iam::123456789012:role/s",
        )
        .env(
            "SUNSET_SEGMENTATION_ARN",
            "arn:aws:lambda:eu-central-1:123456789012:function:segmentation",
        )
        .env(
            "SUNSET_REMINDER_DISPATCH_ARN",
            "arn:aws:lambda:eu-central-1:123456789012:function:reminder-dispatch",
        )
        .env(
            "SUNSET_PURGE_ARN",
            "arn:aws:lambda:eu-central-1:123456789012:function:purge",
        )
        .env(link_key.0, link_key.1)
        .env("SUNSET_PRODUCT_SIGNING_KEY", PRODUCT_SIGNING_KEY)
        // The HTTPS client the functions use on AWS (compiled-in Amazon
        // roots), here speaking plain HTTP to the emulator.
        .env("SUNSET_TLS_ROOTS", "amazon")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _guard = Killed(child);
    let answer = tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .expect("an answer within a minute")
        .unwrap();
    server.abort();
    answer
}

fn http_event(method: &str, path: &str, query: &str) -> Value {
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"host": "api.example"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "api.example", "domainPrefix": "api",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "test"},
            "requestId": "req-1", "routeKey": "$default", "stage": "$default",
            "time": "24/Nov/2026:05:00:00 +0000", "timeEpoch": 0
        },
        "isBase64Encoded": false
    })
}

#[tokio::test]
async fn intake_answers_an_http_api_event() {
    let (kind, body) = invoke("intake", http_event("GET", "/healthz", ""), "unused").await;
    assert_eq!(kind, "response");
    assert_eq!(body["statusCode"], 200, "{body}");
    assert_eq!(body["body"], r#"{"status":"ok"}"#);
}

#[tokio::test]
async fn export_request_refuses_a_forged_link() {
    let (kind, body) = invoke(
        "export-request",
        http_event("GET", "/v1/c/orbit/c1/export", "exp=1&sig=00"),
        "unused",
    )
    .await;
    assert_eq!(kind, "response");
    assert_eq!(body["statusCode"], 403, "{body}");
}

#[tokio::test]
async fn the_event_functions_reject_a_job_for_no_campaign_without_retrying() {
    let table = format!("sunset-runtime-{}", std::process::id());
    let config = sunset::adapters::aws::sdk_config().await;
    sunset::adapters::aws::DynamoStore::create_table(
        &aws_sdk_dynamodb::Client::new(&config),
        &table,
    )
    .await
    .unwrap();
    for (name, job) in [
        (
            "segmentation",
            json!({"job": "segment", "campaign": "no-such-campaign"}),
        ),
        (
            "reminder-dispatch",
            json!({"job": "outreach-briefs", "campaign": "no-such-campaign"}),
        ),
        (
            "purge",
            json!({"job": "purge", "campaign": "no-such-campaign"}),
        ),
    ] {
        let (kind, body) = invoke(name, job, &table).await;
        assert_eq!(kind, "response", "{name}: {body}");
        assert_eq!(body["status"], "rejected", "{name}: {body}");
        assert_eq!(
            body["reason"], "no campaign no-such-campaign",
            "{name}: {body}"
        );
    }
}

/// As deployed: the link key comes from Secrets Manager at cold start. A
/// link signed with the secret's key passes the signature check (the
/// campaign does not exist: 404); one signed with another key does not.
#[tokio::test]
async fn export_request_reads_its_link_key_from_secrets_manager() {
    let config = sunset::adapters::aws::sdk_config().await;
    let key = "5e".repeat(32);
    let secret = aws_sdk_secretsmanager::Client::new(&config)
        .create_secret()
        .name(format!("sunset-link-key-{}", std::process::id()))
        .secret_string(&key)
        .send()
        .await
        .unwrap();
    let arn = secret.arn().unwrap();
    let table = format!("sunset-runtime-secret-{}", std::process::id());
    sunset::adapters::aws::DynamoStore::create_table(
        &aws_sdk_dynamodb::Client::new(&config),
        &table,
    )
    .await
    .unwrap();
    let (campaign, customer) = (
        sunset::domain::CampaignId::parse("gone").unwrap(),
        sunset::domain::CustomerId::parse("c1").unwrap(),
    );
    let expires = chrono::Utc::now() + chrono::Duration::days(1);
    let link = |key: Vec<u8>| {
        sunset::domain::link::LinkSigner::new(key)
            .query(
                sunset::domain::link::LinkPurpose::RequestExport,
                &campaign,
                &customer,
                expires,
            )
            .expect("a key")
    };
    for (signed_with, status) in [(hex::decode(&key).unwrap(), 404), (vec![1; 32], 403)] {
        let (kind, body) = invoke_keyed(
            "export-request",
            http_event("GET", "/v1/c/gone/c1/export", &link(signed_with)),
            &table,
            ("SUNSET_LINK_KEY_SECRET", arn),
        )
        .await;
        assert_eq!(kind, "response", "{body}");
        assert_eq!(body["statusCode"], status, "{body}");
    }
}

/// `http_event` as API Gateway passes it on after its JWT authorizer:
/// the token's scopes in the request context (`scopes`, and the `scope`
/// claim).
fn authorized_event(method: &str, path: &str, scopes: &[&str], claim: &str) -> Value {
    let mut event = http_event(method, path, "");
    event["requestContext"]["authorizer"] = json!({
        "jwt": { "claims": { "sub": "client-1", "scope": claim }, "scopes": scopes }
    });
    event
}

/// `authorized_event` with a body, signed (or not) as the product signs
/// its migration reports.
fn signed_event(path: &str, scopes: &[&str], body: &str, key: Option<&[u8]>) -> Value {
    let mut event = authorized_event("PUT", path, scopes, "");
    event["body"] = json!(body);
    event["headers"]["content-type"] = json!("application/json");
    if let Some(key) = key {
        let now = chrono::Utc::now().timestamp();
        let key = sunset::http::SigningKey::new(key.to_vec()).unwrap();
        event["headers"]["sunset-timestamp"] = json!(now.to_string());
        event["headers"]["sunset-signature"] = json!(key.sign(now, body.as_bytes()));
    }
    event
}

/// Each function checks the token's scope again: the operators' routes
/// refuse the product's and the help desk's tokens and one without an
/// authorizer; the banner and the migration report refuse the operators'
/// and the help desk's, the ticket webhook the operators' and the
/// product's; a migration report needs its signature too. The right scope
/// gets past the check (to a 422 for a campaign id that cannot be one,
/// before any store is read).
#[tokio::test]
async fn each_function_refuses_the_other_scopes() {
    let admin_route = "/v1/campaigns/no%20such/status";
    let banner = "/v1/campaigns/no%20such/customers/c1/banner";
    let migration = "/v1/campaigns/no%20such/customers/c1/migration";
    let tickets = "/v1/campaigns/no%20such/tickets";
    let report = r#"{"status":"migrated"}"#;
    let key = hex::decode(PRODUCT_SIGNING_KEY).unwrap();
    let ticket = |scopes: &[&str]| {
        let mut event = authorized_event("POST", tickets, scopes, "");
        event["body"] = json!(r#"{"customer":"c1","action":"opened","type":"login"}"#);
        event["headers"]["content-type"] = json!("application/json");
        event
    };
    for (function, event, status) in [
        (
            "intake",
            authorized_event("GET", admin_route, &["sunset/help-desk"], ""),
            403,
        ),
        (
            "export-request",
            signed_event(migration, &["sunset/admin"], report, Some(&key)),
            403,
        ),
        (
            "export-request",
            signed_event(migration, &["sunset/help-desk"], report, Some(&key)),
            403,
        ),
        (
            "export-request",
            signed_event(migration, &["sunset/product"], report, None),
            401,
        ),
        (
            "export-request",
            signed_event(migration, &["sunset/product"], report, Some(&[9; 32])),
            401,
        ),
        (
            "export-request",
            signed_event(migration, &["sunset/product"], report, Some(&key)),
            422,
        ),
        ("export-request", ticket(&["sunset/admin"]), 403),
        ("export-request", ticket(&["sunset/product"]), 403),
        ("export-request", ticket(&[]), 401),
        ("export-request", ticket(&["sunset/help-desk"]), 422),
        ("intake", http_event("GET", admin_route, ""), 401),
        (
            "intake",
            authorized_event("GET", admin_route, &["sunset/product"], "sunset/product"),
            403,
        ),
        (
            "intake",
            authorized_event("GET", admin_route, &[], "openid sunset/admin"),
            422,
        ),
        (
            "export-request",
            authorized_event("GET", banner, &["sunset/admin"], "sunset/admin"),
            403,
        ),
        ("export-request", http_event("GET", banner, ""), 401),
        (
            "export-request",
            authorized_event("GET", banner, &["sunset/product"], ""),
            422,
        ),
    ] {
        let (kind, body) = invoke(function, event, "unused").await;
        assert_eq!(kind, "response");
        assert_eq!(body["statusCode"], status, "{function}: {body}");
    }
}
