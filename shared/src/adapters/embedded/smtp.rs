//! Real e-mail from the embedded runtime: each message, as the outbox
//! would have written it, handed to an SMTP server (a company relay, a
//! provider's submission port). Chosen by configuration (`sunset serve
//! --smtp URL`); the Maildir outbox stays the default.
//!
//! URLs, as lettre reads them: `smtp://host:25` (plain, for a relay on
//! the same host or network), `smtp://user:pass@host:587?tls=required`
//! (STARTTLS), `smtps://user:pass@host:465` (TLS from the start).

use async_trait::async_trait;
use lettre::address::{Address, Envelope};
use lettre::transport::smtp::Error as SmtpError;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::mime;
use crate::ports::{Mailer, OutgoingEmail, PortError, SendError};

pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    /// Where it sends, without the credentials: for logs and errors.
    server: String,
}

impl SmtpMailer {
    pub fn from_url(url: &str) -> anyhow::Result<Self> {
        let server = server_of(url)?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| anyhow::anyhow!("--smtp {server}: {e}"))?
            .timeout(Some(std::time::Duration::from_secs(30)))
            .build();
        Ok(Self { transport, server })
    }
}

/// The URL's scheme, host and port, never its credentials.
fn server_of(url: &str) -> anyhow::Result<String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| anyhow::anyhow!("--smtp: write smtp://host:port or smtps://host:port"))?;
    anyhow::ensure!(
        matches!(scheme, "smtp" | "smtps"),
        "--smtp: the URL must start with smtp:// or smtps://, not {scheme}://"
    );
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    anyhow::ensure!(!host.is_empty(), "--smtp: the URL names no server");
    Ok(format!("{scheme}://{host}"))
}

fn address(a: &str) -> Result<Address, SendError> {
    a.parse().map_err(|e| {
        SendError::Failed(PortError::permanent(anyhow::anyhow!(
            "an address SMTP cannot carry: {e}"
        )))
    })
}

/// A 4xx reply (the server is busy, greylisting, a rate limit) is
/// throttling: slow down and try again. A 5xx is permanent. Anything else
/// (no connection, a time-out) is retried with the job.
fn classify(e: SmtpError, server: &str) -> SendError {
    let (transient, permanent) = (e.is_transient(), e.is_permanent());
    let source = anyhow::Error::new(e).context(format!("SMTP server {server}"));
    if transient {
        SendError::Throttled(source)
    } else if permanent {
        SendError::Failed(PortError::permanent(source))
    } else {
        SendError::Failed(PortError::retryable(source))
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<String, SendError> {
        let envelope = Envelope::new(
            Some(address(email.from.address.as_str())?),
            vec![address(email.to.as_str())?],
        )
        .map_err(|e| SendError::Failed(PortError::permanent(e)))?;
        let bytes = mime::render(email);
        self.transport
            .send_raw(&envelope, &bytes)
            .await
            .map_err(|e| classify(e, &self.server))?;
        // The server's queue id is not kept: the ledger's id is the
        // Message-ID sunset wrote, which any reply or bounce quotes.
        Ok(email.message_id.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_is_named_without_its_credentials() {
        assert_eq!(
            server_of("smtps://ann:s3cret@mail.example.com:465").unwrap(),
            "smtps://mail.example.com:465"
        );
        assert_eq!(
            server_of("smtp://127.0.0.1:2525?tls=required").unwrap(),
            "smtp://127.0.0.1:2525"
        );
        assert!(server_of("http://mail.example.com").is_err());
        assert!(server_of("mail.example.com").is_err());
        assert!(SmtpMailer::from_url("smtp://:25").is_err());
    }
}
