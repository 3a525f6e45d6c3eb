//! Helpers for the end-to-end scenarios: read what a run left on disk,
//! and the port contracts every adapter set must meet.

pub mod arbitrary;
pub mod contract;
pub mod customers_view;
pub mod delivery;
pub mod faults;
pub mod iam;
pub mod in_app;
pub mod operator;
pub mod outreach_gate;
pub mod plan_check;
pub mod preflight_check;
pub mod product_calls;
pub mod refusals;
pub mod runtime;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

/// One e-mail from the Maildir outbox, parsed back with an independent
/// MIME parser.
#[derive(Debug, Clone)]
pub struct Mail {
    pub file: PathBuf,
    pub raw: Vec<u8>,
    pub to: String,
    pub date: DateTime<Utc>,
    pub subject: String,
    pub milestone: String,
    pub campaign: String,
    pub text: String,
    pub html: String,
    pub header_names: Vec<String>,
    /// Each attached file: its name and its bytes.
    pub attachments: Vec<(String, Vec<u8>)>,
}

pub fn read_outbox(data: &Path) -> Vec<Mail> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data.join("outbox/new"))
        .expect("outbox/new exists")
        .map(|e| e.expect("readable entry").path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|file| {
            let raw = std::fs::read(&file).expect("readable message");
            let msg = mail_parser::MessageParser::default()
                .parse(&raw)
                .unwrap_or_else(|| panic!("{} is not a parseable message", file.display()));
            let header = |name: &str| {
                msg.header_raw(name)
                    .unwrap_or_else(|| panic!("{} lacks {name}", file.display()))
                    .trim()
                    .to_owned()
            };
            let date = DateTime::parse_from_rfc2822(&header("Date"))
                .expect("RFC 2822 date")
                .with_timezone(&Utc);
            Mail {
                to: msg
                    .to()
                    .and_then(|a| a.first())
                    .and_then(|a| a.address())
                    .expect("a To address")
                    .to_owned(),
                date,
                subject: msg.subject().expect("a subject").to_owned(),
                milestone: header("X-Sunset-Milestone"),
                campaign: header("X-Sunset-Campaign"),
                text: msg.body_text(0).expect("a text part").into_owned(),
                html: msg.body_html(0).expect("an HTML part").into_owned(),
                header_names: msg.headers().iter().map(|h| h.name().to_owned()).collect(),
                attachments: msg
                    .attachments()
                    .map(|a| {
                        use mail_parser::MimeHeaders;
                        (
                            a.attachment_name().unwrap_or_default().to_owned(),
                            a.contents().to_vec(),
                        )
                    })
                    .collect(),
                raw,
                file,
            }
        })
        .collect()
}

/// Every file under `dir`, skipping `skip` (relative top-level names).
pub fn files_under(dir: &Path, skip: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("readable dir") {
            let path = entry.expect("entry").path();
            let rel = path.strip_prefix(dir).expect("under dir");
            if skip.iter().any(|s| rel.starts_with(s)) {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// Where the fixture of this name lives.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// The deployment template, `infra/template.yaml`, as text: what it
/// grants each role (`iam`) and routes to each function (`runtime`).
pub fn template() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/template.yaml"))
        .expect("infra/template.yaml")
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// A data directory with the small fixture's campaign and customers
/// imported and launched, on a simulated clock at `start`.
pub async fn launched_fixture(
    dir: &Path,
    start: DateTime<Utc>,
) -> (
    sunset::adapters::embedded::Embedded,
    std::sync::Arc<sunset::clock::SimulatedClock>,
) {
    use sunset::services::{import, launch};
    let clock = std::sync::Arc::new(sunset::clock::SimulatedClock::new(start));
    let emb = sunset::adapters::embedded::Embedded::open(dir, clock.clone()).expect("store opens");
    let f = fixture("small");
    let campaign = sunset::domain::Campaign::from_toml(
        &std::fs::read_to_string(f.join("campaign.toml")).unwrap(),
    )
    .unwrap();
    emb.deps.campaigns.put_campaign(&campaign).await.unwrap();
    let bytes = std::fs::read(f.join("customers.csv")).unwrap();
    let file = import::parse_csv(&bytes).unwrap();
    import::import(
        &campaign,
        file,
        emb.deps.customers.as_ref(),
        emb.deps.audit.as_ref(),
        emb.deps.clock.now(),
        import::ImportOptions::default(),
    )
    .await
    .unwrap();
    launch::launch(&emb.deps, &campaign).await.unwrap();
    (emb, clock)
}

/// The path (after the portal's origin) of the signed link a notice gives
/// this customer for `purpose`.
pub async fn link_path(
    deps: &sunset::ports::Deps,
    campaign: &sunset::domain::Campaign,
    customer: &str,
    purpose: sunset::domain::link::LinkPurpose,
) -> String {
    let id = sunset::domain::CustomerId::parse(customer).unwrap();
    let record = deps
        .customers
        .customer(&campaign.id, &id)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{customer} is stored"));
    sunset::services::notice::signed_url(campaign, &record, &deps.signer, purpose)
        .expect("a signing key")
        .trim_start_matches(campaign.delivery.portal_url.as_str())
        .to_owned()
}

/// A name no other test uses, for an emulator resource.
pub fn unique(what: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    format!("sunset-test-{what}-{:012x}", h.finish() >> 16)
}

/// Everything the emulator holds (`/moto-api/data.json`): what its SES
/// recorded as sent, among the rest.
pub fn emulator_data() -> serde_json::Value {
    // The emulator serialises its whole state while other tests change
    // it; a dump that meets a change fails with a 500. Ask again.
    let mut last = String::new();
    for attempt in 0..10 {
        match emulator_data_once() {
            Ok(data) => return data,
            Err(why) => last = why,
        }
        std::thread::sleep(std::time::Duration::from_millis(50 * (attempt + 1)));
    }
    panic!("the emulator's state could not be read: {last}")
}

fn emulator_data_once() -> Result<serde_json::Value, String> {
    use std::io::{Read, Write};
    let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("set by tests/run.sh");
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut s = std::net::TcpStream::connect(host).map_err(|e| e.to_string())?;
    write!(
        s,
        "GET /moto-api/data.json HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).map_err(|e| e.to_string())?;
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.lines().next().unwrap_or_default();
    if !status.contains(" 200") {
        return Err(status.to_owned());
    }
    // Chunked or not, the JSON object is the outermost braces.
    let start = body.find('{').ok_or("no JSON in the dump")?;
    let end = body.rfind('}').ok_or("no JSON in the dump")? + 1;
    serde_json::from_str(&body[start..end]).map_err(|e| e.to_string())
}

/// S3 on the emulator, which serves every bucket on one host (path style).
pub fn emulator_s3(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build(),
    )
}

/// Fresh AWS resources on the emulator for one test — a table, an export
/// bucket, a product-data bucket, a schedule group, the verified SES
/// identity campaigns send from — and the settings that point the
/// functions' adapters at them. Needs `AWS_ENDPOINT_URL`, set by
/// `tests/run.sh`.
pub async fn aws_settings(config: &aws_config::SdkConfig) -> sunset::adapters::aws::AwsSettings {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL").is_some(),
        "AWS_ENDPOINT_URL is not set: run the tests with tests/run.sh, which starts the AWS emulator"
    );
    let (table, exports, products, group) = (unique("t"), unique("x"), unique("p"), unique("g"));
    sunset::adapters::aws::DynamoStore::create_table(
        &aws_sdk_dynamodb::Client::new(config),
        &table,
    )
    .await
    .expect("table created on the emulator");
    let s3 = emulator_s3(config);
    for bucket in [&exports, &products] {
        s3.create_bucket()
            .bucket(bucket)
            .create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuCentral1)
                    .build(),
            )
            .send()
            .await
            .expect("bucket on the emulator");
    }
    aws_sdk_scheduler::Client::new(config)
        .create_schedule_group()
        .name(&group)
        .send()
        .await
        .expect("schedule group on the emulator");
    // The emulator, like SES in its sandbox, sends only from a verified identity.
    aws_sdk_sesv2::Client::new(config)
        .create_email_identity()
        .email_identity("orbit.example")
        .send()
        .await
        .expect("identity on the emulator");
    let lambda = |name: &str| format!("arn:aws:lambda:eu-central-1:123456789012:function:{name}");
    sunset::adapters::aws::AwsSettings {
        table,
        s3: Some(sunset::adapters::aws::S3Settings {
            export_bucket: exports,
            product_data_bucket: products,
            product_data_prefix: "product-data/".into(),
            force_path_style: true,
        }),
        ses: Some(sunset::adapters::aws::SesSettings {
            configuration_set: None,
            // The emulator has no SES GetAccount: the cap is the rate.
            pacing: sunset::services::pacing::PacingSettings {
                cap: Some(200.0),
                ..Default::default()
            },
        }),
        sns: Some(sunset::adapters::aws::SnsSettings { per_second: 100.0 }),
        scheduler: Some(sunset::adapters::aws::ScheduleTargets {
            group,
            role_arn: "arn:aws:iam::123456789012:role/sunset-scheduler".into(),
            segmentation_arn: lambda("segmentation"),
            reminder_dispatch_arn: lambda("reminder-dispatch"),
            purge_arn: lambda("purge"),
            dead_letter_arn: Some(
                "arn:aws:sqs:eu-central-1:123456789012:sunset-schedules-dlq".into(),
            ),
        }),
        link_key: Some(vec![7; 32]),
    }
}

/// Every port on the emulator's AWS APIs, wired as the functions wire
/// them, on a simulated clock; each call makes its own resources.
pub async fn aws_deps() -> sunset::ports::Deps {
    let config = sunset::adapters::aws::sdk_config().await;
    aws_settings(&config).await.deps_observed(
        &config,
        None,
        std::sync::Arc::new(sunset::clock::SimulatedClock::new(
            "2027-01-01T00:00:00Z".parse().unwrap(),
        )),
    )
}
