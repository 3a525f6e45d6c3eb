//! Texts through Amazon SNS: one `Publish` to the number, as a
//! transactional message (the carriers' priority route), with the sender
//! ID or origination number the campaign sets. A number that answered
//! STOP is on SNS's opted-out list: it is asked first, and a text to it
//! is never published.

use async_trait::async_trait;
use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;

use crate::ports::{OutgoingSms, PortError, SendError, Texter};

pub struct SnsTexter {
    client: Client,
}

impl SnsTexter {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

fn attribute(value: &str) -> Result<MessageAttributeValue, PortError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(PortError::permanent)
}

/// The codes SNS answers "too fast" with (Publish models none of its
/// own): the pacer slows down and tries again.
const THROTTLED: &[&str] = &["Throttling", "ThrottledException", "ThrottlingException"];

#[async_trait]
impl Texter for SnsTexter {
    async fn send(&self, sms: &OutgoingSms) -> Result<String, SendError> {
        let opted_out = self
            .client
            .check_if_phone_number_is_opted_out()
            .phone_number(sms.to.as_str())
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error()
                    .is_some_and(|s| s.is_throttled_exception())
                {
                    return SendError::Throttled(anyhow::Error::new(e));
                }
                SendError::Failed(super::classify(e, "SNS", &["InternalError"]))
            })?;
        if opted_out.is_opted_out() {
            return Err(SendError::OptedOut);
        }
        let mut publish = self
            .client
            .publish()
            .phone_number(sms.to.as_str())
            .message(&sms.text)
            .message_attributes("AWS.SNS.SMS.SMSType", attribute("Transactional")?);
        if let Some(id) = &sms.sender_id {
            publish = publish.message_attributes("AWS.SNS.SMS.SenderID", attribute(id)?);
        }
        if let Some(number) = &sms.origination_number {
            publish = publish
                .message_attributes("AWS.MM.SMS.OriginationNumber", attribute(number.as_str())?);
        }
        let sent = publish.send().await.map_err(|e| {
            use aws_sdk_sns::error::ProvideErrorMetadata;
            let throttled = e
                .as_service_error()
                .is_some_and(|s| THROTTLED.contains(&s.code().unwrap_or_default()));
            if throttled {
                SendError::Throttled(anyhow::Error::new(e))
            } else {
                SendError::Failed(super::classify(e, "SNS", &["InternalError"]))
            }
        })?;
        sent.message_id().map(str::to_owned).ok_or_else(|| {
            SendError::Failed(PortError::retryable(anyhow::anyhow!(
                "SNS Publish returned no message id"
            )))
        })
    }
}
