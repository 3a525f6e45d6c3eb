//! SES v2: each e-mail goes out as the same RFC 5322 message the Maildir
//! outbox stores (so the `X-Sunset-*` headers, the multipart bodies and
//! RFC 2047 subjects are identical), with the campaign's sender, a
//! configuration set for delivery events, and message tags (campaign,
//! milestone) that attribute those events.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::config::http::HttpResponse;
use aws_sdk_sesv2::error::SdkError;
use aws_sdk_sesv2::operation::get_email_identity::GetEmailIdentityError;
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{
    Destination, EmailContent, MessageTag, RawMessage, SuppressionListReason, VerificationStatus,
};

use crate::domain::EmailAddress;
use crate::domain::delivery_event::DeliveryOutcome;
use crate::domain::ledger::Channel;
use crate::mime;
use crate::ports::{
    Mailer, OutgoingEmail, PortError, PortResult, SendError, SendLimits, SendRate, SenderCheck,
};

#[derive(Clone)]
pub struct SesMailer {
    client: Client,
    configuration_set: Option<String>,
}

/// A refused send, by the error's type: throttled (slow down), quota used
/// up (defer), or another failure sorted as every SDK error is.
fn send_err(e: SdkError<SendEmailError, HttpResponse>) -> SendError {
    match e.as_service_error() {
        Some(SendEmailError::TooManyRequestsException(_)) => {
            SendError::Throttled(anyhow::Error::new(e).context("SES throttled the send"))
        }
        Some(SendEmailError::LimitExceededException(_)) => SendError::QuotaExhausted(
            anyhow::Error::new(e).context("SES refused the send for a limit"),
        ),
        _ => SendError::Failed(super::classify(
            e,
            "SES",
            &[
                "SendingPausedException",
                "InternalFailure",
                "ThrottlingException",
            ],
        )),
    }
}

fn tag(name: &str, value: &str) -> PortResult<MessageTag> {
    MessageTag::builder()
        .name(name)
        .value(value)
        .build()
        .map_err(PortError::permanent)
}

impl SesMailer {
    pub fn new(client: Client, configuration_set: Option<String>) -> Self {
        Self {
            client,
            configuration_set,
        }
    }
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<String, SendError> {
        let raw = RawMessage::builder()
            .data(Blob::new(mime::render(email)))
            .build()
            .map_err(PortError::permanent)?;
        let out = self
            .client
            .send_email()
            .from_email_address(email.from.address.as_str())
            .destination(
                Destination::builder()
                    .to_addresses(email.to.as_str())
                    .build(),
            )
            .content(EmailContent::builder().raw(raw).build())
            .set_email_tags(Some(
                email
                    .key
                    .tags()
                    .into_iter()
                    .map(|(name, value)| tag(name, &value))
                    .collect::<PortResult<Vec<_>>>()?,
            ))
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .map_err(send_err)?;
        Ok(out.message_id().unwrap_or_default().to_owned())
    }

    /// The address's own identity, else its domain's (`GetEmailIdentity`);
    /// neither: SES will not send from it.
    async fn sender(&self, from: &EmailAddress) -> PortResult<SenderCheck> {
        let address = from.as_str();
        let domain = address.rsplit_once('@').map_or(address, |(_, d)| d);
        for identity in [address, domain] {
            match self
                .client
                .get_email_identity()
                .email_identity(identity)
                .send()
                .await
            {
                Ok(found) => {
                    let status = found.verification_status();
                    return Ok(
                        if found.verified_for_sending_status()
                            || status == Some(&VerificationStatus::Success)
                        {
                            SenderCheck::Verified(identity.to_owned())
                        } else {
                            SenderCheck::Unverified {
                                identity: identity.to_owned(),
                                status: status.map_or("unknown", |s| s.as_str()).to_lowercase(),
                            }
                        },
                    );
                }
                Err(e)
                    if matches!(
                        e.as_service_error(),
                        Some(GetEmailIdentityError::NotFoundException(_))
                    ) => {}
                Err(e) => return Err(super::classify(e, "SES", &["TooManyRequestsException"])),
            }
        }
        Ok(SenderCheck::Unverified {
            identity: domain.to_owned(),
            status: "not an identity of this account".into(),
        })
    }

    async fn suppress(&self, address: &EmailAddress, outcome: DeliveryOutcome) -> PortResult<()> {
        let reason = match outcome {
            DeliveryOutcome::Complained => SuppressionListReason::Complaint,
            _ => SuppressionListReason::Bounce,
        };
        self.client
            .put_suppressed_destination()
            .email_address(address.as_str())
            .reason(reason)
            .send()
            .await
            .map_err(|e| super::classify(e, "SES", &["TooManyRequestsException"]))?;
        Ok(())
    }
}

/// The account's limits from SES (`GetAccount`: its maximum send rate and
/// what is left of its 24-hour quota), and the shared send timeline in
/// the DynamoDB table.
pub struct SesSendRate {
    client: Client,
    timeline: super::DynamoStore,
    /// The timeline's next free slot as this process last saw it: the
    /// reservation's condition, right unless another process moved it.
    known: std::sync::Mutex<Option<u64>>,
    /// Texts a second (SNS reports no rate); `None`: texts are not wired.
    sms_per_second: Option<f64>,
}

impl SesSendRate {
    pub fn new(client: Client, timeline: super::DynamoStore) -> Self {
        Self {
            client,
            timeline,
            known: std::sync::Mutex::new(None),
            sms_per_second: None,
        }
    }

    /// Paces texts too, at `per_second`, on their own timeline.
    pub fn with_sms_rate(mut self, per_second: Option<f64>) -> Self {
        self.sms_per_second = per_second;
        self
    }
}

#[async_trait]
impl SendRate for SesSendRate {
    async fn limits(&self, channel: Channel) -> PortResult<SendLimits> {
        if channel == Channel::Sms {
            return Ok(SendLimits {
                per_second: self.sms_per_second,
                remaining_today: None,
            });
        }
        let account = self.client.get_account().send().await.map_err(|e| {
            super::classify(e, "SES", &["TooManyRequestsException", "InternalFailure"])
        })?;
        let quota = account.send_quota().ok_or_else(|| {
            PortError::retryable(anyhow::anyhow!("SES GetAccount returned no send quota"))
        })?;
        // SES reports a negative 24-hour maximum for an account without one.
        let remaining_today = (quota.max24_hour_send() >= 0.0)
            .then(|| (quota.max24_hour_send() - quota.sent_last24_hours()).max(0.0) as u64);
        Ok(SendLimits {
            per_second: Some(quota.max_send_rate()).filter(|r| *r > 0.0),
            remaining_today,
        })
    }

    async fn reserve(
        &self,
        channel: Channel,
        count: u32,
        interval: Duration,
        now: SystemTime,
    ) -> PortResult<SystemTime> {
        let known = *self.known.lock().unwrap_or_else(|p| p.into_inner());
        let (first, next) = self
            .timeline
            .reserve_slots(channel, count, interval, now, known)
            .await?;
        *self.known.lock().unwrap_or_else(|p| p.into_inner()) = Some(next);
        Ok(first)
    }
}
