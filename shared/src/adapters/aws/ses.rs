//! SES v2: each e-mail goes out as the same RFC 5322 message the Maildir
//! outbox stores (so the `X-Sunset-*` headers, the multipart bodies and
//! RFC 2047 subjects are identical), with the campaign's sender, a
//! configuration set for delivery events, and message tags (campaign,
//! milestone) that attribute those events.

use async_trait::async_trait;
use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, MessageTag, RawMessage};

use crate::mime;
use crate::ports::{Mailer, OutgoingEmail, PortError, PortResult};

#[derive(Clone)]
pub struct SesMailer {
    client: Client,
    configuration_set: Option<String>,
}

fn sdk_err<E, R>(e: aws_sdk_dynamodb::error::SdkError<E, R>) -> PortError
where
    E: std::error::Error + aws_sdk_dynamodb::error::ProvideErrorMetadata + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    super::classify(
        e,
        "SES",
        &[
            "TooManyRequestsException",
            "LimitExceededException",
            "SendingPausedException",
            "InternalFailure",
        ],
    )
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
    async fn send(&self, email: &OutgoingEmail) -> PortResult<String> {
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
            .email_tags(tag("campaign", email.campaign.as_str())?)
            .email_tags(tag("milestone", &email.milestone.name())?)
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .map_err(sdk_err)?;
        Ok(out.message_id().unwrap_or_default().to_owned())
    }

    async fn send_all(&self, emails: &[OutgoingEmail]) -> Vec<PortResult<String>> {
        use futures::StreamExt;
        // SES has no idempotency key: the ledger's claims guard against
        // repeats; this only overlaps the round trips.
        let sends: Vec<_> = emails.iter().map(|e| self.send(e)).collect();
        futures::stream::iter(sends).buffered(16).collect().await
    }
}
