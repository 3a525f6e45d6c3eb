//! Signed personal links: a customer's export link works for that customer
//! and campaign only, until it expires.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::ids::{CampaignId, CustomerId};

type HmacSha256 = Hmac<Sha256>;

/// What a link lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPurpose {
    /// Ask for a data export.
    RequestExport,
    /// Download a built bundle.
    Download,
}

impl LinkPurpose {
    fn tag(self) -> &'static str {
        match self {
            LinkPurpose::RequestExport => "export",
            LinkPurpose::Download => "download",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the link has expired")]
    Expired,
    #[error("the link is not valid")]
    BadSignature,
    /// This process was wired without the link-signing key.
    #[error("no link-signing key in this function: it cannot sign or check links")]
    NoKey,
}

/// Signs and checks links with a secret key (32 random bytes, kept in the
/// data directory or a secret store; never logged).
#[derive(Clone)]
pub struct LinkSigner {
    /// `None` in a function wired without the key (it writes and checks
    /// no links): every use is an error, never a link signed with a
    /// stand-in key.
    key: Option<Vec<u8>>,
}

impl std::fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkSigner(..)")
    }
}

impl LinkSigner {
    pub fn new(key: Vec<u8>) -> Self {
        Self { key: Some(key) }
    }

    /// For a function that neither writes nor checks links.
    pub fn unwired() -> Self {
        Self { key: None }
    }

    fn mac(
        &self,
        purpose: LinkPurpose,
        campaign: &CampaignId,
        customer: &CustomerId,
        expires: i64,
    ) -> Result<HmacSha256, LinkError> {
        let key = self.key.as_deref().ok_or(LinkError::NoKey)?;
        let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
        mac.update(format!("{}\n{campaign}\n{customer}\n{expires}", purpose.tag()).as_bytes());
        Ok(mac)
    }

    pub fn sign(
        &self,
        purpose: LinkPurpose,
        campaign: &CampaignId,
        customer: &CustomerId,
        expires: DateTime<Utc>,
    ) -> Result<String, LinkError> {
        Ok(hex::encode(
            self.mac(purpose, campaign, customer, expires.timestamp())?
                .finalize()
                .into_bytes(),
        ))
    }

    /// Checks a signature in constant time, then the expiry.
    pub fn verify(
        &self,
        purpose: LinkPurpose,
        campaign: &CampaignId,
        customer: &CustomerId,
        expires: i64,
        signature: &str,
        now: DateTime<Utc>,
    ) -> Result<(), LinkError> {
        let sig = hex::decode(signature).map_err(|_| LinkError::BadSignature)?;
        self.mac(purpose, campaign, customer, expires)?
            .verify_slice(&sig)
            .map_err(|_| LinkError::BadSignature)?;
        if now.timestamp() > expires {
            return Err(LinkError::Expired);
        }
        Ok(())
    }

    /// The query string of a signed link: `exp=...&sig=...`.
    pub fn query(
        &self,
        purpose: LinkPurpose,
        campaign: &CampaignId,
        customer: &CustomerId,
        expires: DateTime<Utc>,
    ) -> Result<String, LinkError> {
        Ok(format!(
            "exp={}&sig={}",
            expires.timestamp(),
            self.sign(purpose, campaign, customer, expires)?
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_works_only_for_its_customer_and_purpose_until_it_expires() {
        let s = LinkSigner::new(b"k".repeat(32));
        let c = CampaignId::parse("c").unwrap();
        let a = CustomerId::parse("a").unwrap();
        let b = CustomerId::parse("b").unwrap();
        let now: DateTime<Utc> = "2027-03-01T10:00:00Z".parse().unwrap();
        let exp = now + chrono::Duration::days(1);
        let sig = s.sign(LinkPurpose::RequestExport, &c, &a, exp).unwrap();
        let t = exp.timestamp();
        assert_eq!(
            s.verify(LinkPurpose::RequestExport, &c, &a, t, &sig, now),
            Ok(())
        );
        assert_eq!(
            s.verify(LinkPurpose::RequestExport, &c, &b, t, &sig, now),
            Err(LinkError::BadSignature)
        );
        assert_eq!(
            s.verify(LinkPurpose::Download, &c, &a, t, &sig, now),
            Err(LinkError::BadSignature)
        );
        assert_eq!(
            s.verify(LinkPurpose::RequestExport, &c, &a, t + 1, &sig, now),
            Err(LinkError::BadSignature)
        );
        let later = exp + chrono::Duration::seconds(1);
        assert_eq!(
            s.verify(LinkPurpose::RequestExport, &c, &a, t, &sig, later),
            Err(LinkError::Expired)
        );
    }
}
