//! Faults injected into delivery, the same plan for both runtimes.
//!
//! On AWS the faults sit at the SDK's transport seam: every client's HTTP
//! connector is wrapped, so the real SDK serializes every request and the
//! emulator answers it, except where the plan says otherwise — a crash
//! (the request goes through, then the run dies), a throttled or
//! over-quota `SendEmail` (answered as SES answers, never sent), and SES
//! `GetAccount`, which the emulator lacks (answered with the plan's quota).
//! Embedded, the same plan wraps the ledger and the mailer ports.
//!
//! Either way the plan records every message the provider accepted, by
//! recipient and milestone: what a customer actually received.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use chrono::{DateTime, Utc};
use sunset::domain::delivery_event::DeliveryOutcome;
use sunset::domain::ledger::{Claimed, Delivery, DeliveryKey, Lease};
use sunset::domain::{CampaignId, CustomerId};
use sunset::ports::{DeliveryLedger, Mailer, OutgoingEmail, PortResult, SendError};

/// Where a run can die.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Right after a claim was written.
    Claim,
    /// Right after the provider accepted a message.
    Send,
    /// Right after a message was marked sent.
    Mark,
}

/// The message that a crash panics with, so a test can tell it from a
/// real failure.
pub const CRASH: &str = "injected crash";

#[derive(Debug, Default)]
struct State {
    /// Die after the n-th time this step happens (then the fault is spent).
    crash: Option<(Step, usize)>,
    seen: BTreeMap<&'static str, usize>,
    /// Throttle send attempts whose number modulo 10 is below this.
    throttle_tenths: u64,
    attempts: u64,
    throttled: u64,
    /// Sends the provider still accepts before its quota is used up.
    quota_left: Option<u64>,
    quota_refusals: u64,
    /// (recipient, milestone) of every accepted message, in order, with
    /// the instant the request left.
    accepted: Vec<(String, String, std::time::SystemTime)>,
    /// Addresses put on SES's account-level suppression list.
    suppressed: Vec<String>,
    /// Throttle, as SES does, a send that would make more than this many
    /// in the trailing second.
    max_per_second: Option<usize>,
    recent: std::collections::VecDeque<std::time::Instant>,
}

/// What to break, and what came through.
#[derive(Debug, Clone, Default)]
pub struct Faults(Arc<Mutex<State>>);

/// What a send attempt meets.
enum Verdict {
    Throttle,
    OverQuota,
    Go,
}

impl Faults {
    pub fn crash_after(&self, step: Step, n: usize) {
        let mut s = self.0.lock().unwrap();
        s.crash = Some((step, n));
        s.seen.clear();
    }

    /// Throttles `tenths` of every ten send attempts (3: 30 %), the first
    /// ones of each ten, so several come in a row.
    pub fn throttle(&self, tenths: u64) {
        self.0.lock().unwrap().throttle_tenths = tenths;
    }

    /// Throttles, as SES does, every send that would make more than `n`
    /// in the trailing second.
    pub fn limit_rate(&self, n: usize) {
        self.0.lock().unwrap().max_per_second = Some(n);
    }

    /// The provider accepts `n` more messages today (`None`: no quota).
    pub fn quota(&self, n: Option<u64>) {
        self.0.lock().unwrap().quota_left = n;
    }

    pub fn throttled(&self) -> u64 {
        self.0.lock().unwrap().throttled
    }

    /// Addresses put on the provider's suppression list (AWS only).
    pub fn suppressed(&self) -> Vec<String> {
        self.0.lock().unwrap().suppressed.clone()
    }

    pub fn quota_refusals(&self) -> u64 {
        self.0.lock().unwrap().quota_refusals
    }

    /// How many messages each (recipient, milestone) received.
    pub fn received(&self) -> BTreeMap<(String, String), usize> {
        let mut counts = BTreeMap::new();
        for (to, milestone, _) in &self.0.lock().unwrap().accepted {
            *counts.entry((to.clone(), milestone.clone())).or_default() += 1;
        }
        counts
    }

    /// When each accepted message's request left, in order.
    pub fn send_times(&self) -> Vec<std::time::SystemTime> {
        let mut times: Vec<_> = self
            .0
            .lock()
            .unwrap()
            .accepted
            .iter()
            .map(|(_, _, t)| *t)
            .collect();
        times.sort();
        times
    }

    fn happened(&self, step: Step) {
        let name = match step {
            Step::Claim => "claim",
            Step::Send => "send",
            Step::Mark => "mark",
        };
        let die = {
            let mut s = self.0.lock().unwrap();
            let seen = s.seen.entry(name).or_default();
            *seen += 1;
            let seen = *seen;
            match s.crash {
                Some((at, n)) if at == step && seen >= n => {
                    s.crash = None;
                    true
                }
                _ => false,
            }
        };
        if die {
            // Unwind without the panic hook: the crash is the test's own
            // doing, and its backtrace would bury a real failure's message.
            std::panic::resume_unwind(Box::new(format!("{CRASH} after {name}")));
        }
    }

    fn verdict(&self) -> Verdict {
        let mut s = self.0.lock().unwrap();
        s.attempts += 1;
        if s.attempts % 10 < s.throttle_tenths {
            s.throttled += 1;
            return Verdict::Throttle;
        }
        if let Some(max) = s.max_per_second {
            let now = std::time::Instant::now();
            while s
                .recent
                .front()
                .is_some_and(|t| now.duration_since(*t) >= std::time::Duration::from_secs(1))
            {
                s.recent.pop_front();
            }
            if s.recent.len() >= max {
                s.throttled += 1;
                return Verdict::Throttle;
            }
            s.recent.push_back(now);
        }
        match s.quota_left {
            Some(0) => {
                s.quota_refusals += 1;
                Verdict::OverQuota
            }
            Some(n) => {
                s.quota_left = Some(n - 1);
                Verdict::Go
            }
            None => Verdict::Go,
        }
    }

    fn accepted(&self, to: String, milestone: String, at: std::time::SystemTime) {
        self.0.lock().unwrap().accepted.push((to, milestone, at));
    }

    fn quota_left(&self) -> Option<u64> {
        self.0.lock().unwrap().quota_left
    }
}

// ---------------------------------------------------------------- AWS

/// Wraps the SDK's HTTP client with the plan.
#[derive(Debug, Clone)]
pub struct FaultyHttp {
    inner: SharedHttpClient,
    faults: Faults,
}

impl FaultyHttp {
    /// `config` with every client's HTTP going through `faults`.
    pub fn wrap(config: &aws_config::SdkConfig, faults: &Faults) -> aws_config::SdkConfig {
        let inner = config.http_client().unwrap_or_else(|| {
            aws_smithy_http_client::Builder::new()
                .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                    aws_smithy_http_client::tls::rustls_provider::CryptoMode::AwsLc,
                ))
                .build_https()
        });
        config
            .to_builder()
            .http_client(FaultyHttp {
                inner,
                faults: faults.clone(),
            })
            .build()
    }
}

impl HttpClient for FaultyHttp {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(FaultyConnector {
            inner: self.inner.http_connector(settings, components),
            faults: self.faults.clone(),
        })
    }
}

#[derive(Debug)]
struct FaultyConnector {
    inner: SharedHttpConnector,
    faults: Faults,
}

/// What a request is, for the plan.
#[derive(Debug, PartialEq)]
enum Call {
    Claim,
    Mark,
    SendEmail { to: String, milestone: String },
    GetAccount,
    PutSuppressed { address: String },
    Other,
}

fn classify(request: &HttpRequest) -> Call {
    let target = request.headers().get("x-amz-target").unwrap_or_default();
    let body = request.body().bytes().unwrap_or_default();
    let text = String::from_utf8_lossy(body);
    let path = request.uri().split('?').next().unwrap_or_default();
    if target.ends_with(".PutItem") && text.contains("\"lease_until\"") {
        Call::Claim
    } else if target.ends_with(".UpdateItem") && text.contains("sent_at = :at") {
        Call::Mark
    } else if path.ends_with("/v2/email/outbound-emails") {
        let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let to = json["Destination"]["ToAddresses"][0]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let milestone = json["EmailTags"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["Name"] == "milestone")
            .and_then(|t| t["Value"].as_str())
            .unwrap_or_default()
            .to_owned();
        Call::SendEmail { to, milestone }
    } else if path.ends_with("/v2/email/account") {
        Call::GetAccount
    } else if path.ends_with("/v2/email/suppression/addresses") {
        let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        Call::PutSuppressed {
            address: json["EmailAddress"].as_str().unwrap_or_default().to_owned(),
        }
    } else {
        Call::Other
    }
}

fn json_response(status: u16, error_type: Option<&'static str>, body: String) -> HttpResponse {
    let mut response = HttpResponse::new(
        status.try_into().expect("a valid status"),
        SdkBody::from(body),
    );
    response
        .headers_mut()
        .insert("content-type", "application/json");
    if let Some(kind) = error_type {
        response.headers_mut().insert("x-amzn-errortype", kind);
    }
    response
}

impl HttpConnector for FaultyConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let call = classify(&request);
        let faults = self.faults.clone();
        match &call {
            Call::GetAccount => {
                let (max, sent) = match faults.quota_left() {
                    Some(left) => (1_000_000.0, 1_000_000.0 - left as f64),
                    None => (-1.0, 0.0),
                };
                let body = serde_json::json!({
                    "SendQuota": { "Max24HourSend": max, "MaxSendRate": 1000.0, "SentLast24Hours": sent },
                    "SendingEnabled": true,
                    "ProductionAccessEnabled": true,
                })
                .to_string();
                return HttpConnectorFuture::ready(Ok(json_response(200, None, body)));
            }
            Call::PutSuppressed { address } => {
                // Not in the emulator: answered as SES does, and kept.
                faults.0.lock().unwrap().suppressed.push(address.clone());
                return HttpConnectorFuture::ready(Ok(json_response(200, None, "{}".into())));
            }
            Call::SendEmail { .. } => match faults.verdict() {
                Verdict::Throttle => {
                    let body = r#"{"message":"Maximum sending rate exceeded."}"#.to_owned();
                    return HttpConnectorFuture::ready(Ok(json_response(
                        429,
                        Some("TooManyRequestsException"),
                        body,
                    )));
                }
                Verdict::OverQuota => {
                    let body = r#"{"message":"Daily message quota exceeded."}"#.to_owned();
                    return HttpConnectorFuture::ready(Ok(json_response(
                        400,
                        Some("LimitExceededException"),
                        body,
                    )));
                }
                Verdict::Go => {}
            },
            _ => {}
        }
        let sent_at = std::time::SystemTime::now();
        let forwarded = self.inner.call(request);
        HttpConnectorFuture::new(async move {
            let response = forwarded.await?;
            if response.status().is_success() {
                match call {
                    Call::Claim => faults.happened(Step::Claim),
                    Call::Mark => faults.happened(Step::Mark),
                    Call::SendEmail { to, milestone } => {
                        faults.accepted(to, milestone, sent_at);
                        faults.happened(Step::Send);
                    }
                    _ => {}
                }
            }
            Ok(response)
        })
    }
}

// ----------------------------------------------------------- embedded

/// The embedded mailer and ledger with the plan around them.
pub struct FaultyMailer {
    pub inner: Arc<dyn Mailer>,
    pub faults: Faults,
}

#[async_trait]
impl Mailer for FaultyMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<String, SendError> {
        match self.faults.verdict() {
            Verdict::Throttle => {
                return Err(SendError::Throttled(anyhow::anyhow!(
                    "throttled (injected)"
                )));
            }
            Verdict::OverQuota => {
                return Err(SendError::QuotaExhausted(anyhow::anyhow!(
                    "quota used up (injected)"
                )));
            }
            Verdict::Go => {}
        }
        let at = std::time::SystemTime::now();
        let id = self.inner.send(email).await?;
        self.faults
            .accepted(email.to.as_str().to_owned(), email.key.milestone.name(), at);
        self.faults.happened(Step::Send);
        Ok(id)
    }
}

pub struct FaultyLedger {
    pub inner: Arc<dyn DeliveryLedger>,
    pub faults: Faults,
}

#[async_trait]
impl DeliveryLedger for FaultyLedger {
    async fn claim(&self, keys: &[DeliveryKey], lease: Lease) -> PortResult<Vec<Claimed>> {
        let claimed = self.inner.claim(keys, lease).await?;
        for c in &claimed {
            if c.is_taken() {
                self.faults.happened(Step::Claim);
            }
        }
        Ok(claimed)
    }
    async fn mark_sent(&self, sent: &[(DeliveryKey, String)], at: DateTime<Utc>) -> PortResult<()> {
        self.inner.mark_sent(sent, at).await?;
        for _ in sent {
            self.faults.happened(Step::Mark);
        }
        Ok(())
    }
    async fn release(&self, key: &DeliveryKey) -> PortResult<()> {
        self.inner.release(key).await
    }
    async fn mark_missed(
        &self,
        keys: &[DeliveryKey],
        at: DateTime<Utc>,
    ) -> PortResult<Vec<Claimed>> {
        self.inner.mark_missed(keys, at).await
    }
    async fn record_outcome(
        &self,
        key: &DeliveryKey,
        message_id: &str,
        outcome: DeliveryOutcome,
        at: DateTime<Utc>,
    ) -> PortResult<sunset::ports::OutcomeRecorded> {
        self.inner
            .record_outcome(key, message_id, outcome, at)
            .await
    }
    async fn sent(&self, keys: &[DeliveryKey]) -> PortResult<Vec<bool>> {
        self.inner.sent(keys).await
    }
    async fn tallies(&self, campaign: &CampaignId) -> PortResult<sunset::ports::Tallies> {
        self.inner.tallies(campaign).await
    }
    async fn deliveries_to(
        &self,
        campaign: &CampaignId,
        customer: &CustomerId,
    ) -> PortResult<Vec<Delivery>> {
        self.inner.deliveries_to(campaign, customer).await
    }
}
