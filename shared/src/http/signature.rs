//! What the retiring product reports about its customers is signed: an
//! HMAC-SHA256 over the request's timestamp and body, with a key only the
//! product and sunset hold. A stolen bearer token alone cannot mark
//! customers as migrated (which would stop their reminders), a body
//! changed on the way fails the check, and a captured request replays
//! only within a short window — where it changes nothing, because every
//! report is idempotent.
//!
//! The product sends:
//!
//! ```text
//! Sunset-Timestamp: 1764590400            (Unix seconds, now)
//! Sunset-Signature: sha256=<hex of HMAC-SHA256(key, "1764590400." + body)>
//! ```

use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

pub const TIMESTAMP_HEADER: &str = "sunset-timestamp";
pub const SIGNATURE_HEADER: &str = "sunset-signature";

/// How far a request's timestamp may be from sunset's clock, either way:
/// room for clock skew and retries, not for a replay days later.
pub const REPLAY_WINDOW_SECS: i64 = 300;

/// The shared key, at least 32 bytes.
#[derive(Clone)]
pub struct SigningKey(Vec<u8>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

impl SigningKey {
    pub fn new(key: Vec<u8>) -> Result<Self, SignatureError> {
        if key.len() < 32 {
            return Err(SignatureError::WeakKey);
        }
        Ok(Self(key))
    }

    fn mac(&self, timestamp: &str, body: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// The `Sunset-Signature` value for a body sent at `timestamp` (what
    /// the product computes; the tests and the README's example use it).
    pub fn sign(&self, timestamp: i64, body: &[u8]) -> String {
        let mac = self.mac(&timestamp.to_string(), body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }

    /// Whether `headers` sign `body`, within the replay window of `now`.
    pub fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), SignatureError> {
        let header = |name: &'static str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .ok_or(SignatureError::Missing(name))
        };
        let timestamp = header(TIMESTAMP_HEADER)?;
        let signature = header(SIGNATURE_HEADER)?;
        let at: i64 = timestamp
            .parse()
            .map_err(|_| SignatureError::BadTimestamp)?;
        let skew = now.timestamp().saturating_sub(at);
        if skew.abs() > REPLAY_WINDOW_SECS {
            return Err(SignatureError::OutsideWindow { skew });
        }
        let digest = signature
            .strip_prefix("sha256=")
            .and_then(|h| hex::decode(h).ok())
            .ok_or(SignatureError::BadSignature)?;
        self.mac(timestamp, body)
            .verify_slice(&digest)
            .map_err(|_| SignatureError::Mismatch)
    }
}

/// Why a signed request was refused: each says what the sender can fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signing key must hold at least 32 bytes")]
    WeakKey,
    #[error("the {0} header is missing")]
    Missing(&'static str),
    #[error("the {TIMESTAMP_HEADER} header is not Unix seconds")]
    BadTimestamp,
    #[error(
        "the {TIMESTAMP_HEADER} is {skew} s from this server's clock; a signed request is \
         accepted within {REPLAY_WINDOW_SECS} s"
    )]
    OutsideWindow { skew: i64 },
    #[error("the {SIGNATURE_HEADER} header is not sha256=<hex>")]
    BadSignature,
    #[error("the signature does not match the timestamp and body")]
    Mismatch,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::new(vec![7; 32]).unwrap()
    }

    fn signed(at: i64, body: &[u8]) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(TIMESTAMP_HEADER, at.to_string().parse().unwrap());
        h.insert(SIGNATURE_HEADER, key().sign(at, body).parse().unwrap());
        h
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    #[test]
    fn a_signed_body_passes_within_the_window_either_way() {
        let body = br#"{"status":"migrated"}"#;
        let h = signed(1_000_000, body);
        for now in [1_000_000, 1_000_300, 999_700] {
            assert_eq!(key().verify(&h, body, at(now)), Ok(()), "{now}");
        }
    }

    /// The README's shell recipe (openssl dgst -mac HMAC) gives the same.
    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body_in_hex() {
        let key = SigningKey::new(vec![0x5a; 32]).unwrap();
        assert_eq!(
            key.sign(1_800_000_000, br#"{"status":"migrated"}"#),
            "sha256=0dd0a8a43cdb5b3d362afc5bce07d9de98364c24c37795846ec1ba80064cc613"
        );
    }

    #[test]
    fn a_replay_after_the_window_is_refused() {
        let body = b"{}";
        let h = signed(1_000_000, body);
        assert_eq!(
            key().verify(&h, body, at(1_000_301)),
            Err(SignatureError::OutsideWindow { skew: 301 })
        );
    }

    #[test]
    fn a_changed_body_or_timestamp_or_key_fails() {
        let body = br#"{"status":"migrated"}"#;
        let h = signed(1_000_000, body);
        assert_eq!(
            key().verify(&h, br#"{"status":"migrated" }"#, at(1_000_000)),
            Err(SignatureError::Mismatch)
        );
        let mut moved = h.clone();
        moved.insert(TIMESTAMP_HEADER, "1000001".parse().unwrap());
        assert_eq!(
            key().verify(&moved, body, at(1_000_000)),
            Err(SignatureError::Mismatch)
        );
        let other = SigningKey::new(vec![8; 32]).unwrap();
        assert_eq!(
            other.verify(&h, body, at(1_000_000)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn each_missing_or_malformed_header_is_named() {
        let body = b"{}";
        let mut h = signed(1_000_000, body);
        h.remove(SIGNATURE_HEADER);
        assert_eq!(
            key().verify(&h, body, at(1_000_000)),
            Err(SignatureError::Missing(SIGNATURE_HEADER))
        );
        let mut h = signed(1_000_000, body);
        h.insert(TIMESTAMP_HEADER, "yesterday".parse().unwrap());
        assert_eq!(
            key().verify(&h, body, at(1_000_000)),
            Err(SignatureError::BadTimestamp)
        );
        let mut h = signed(1_000_000, body);
        h.insert(SIGNATURE_HEADER, "md5=00".parse().unwrap());
        assert_eq!(
            key().verify(&h, body, at(1_000_000)),
            Err(SignatureError::BadSignature)
        );
        assert_eq!(
            SigningKey::new(vec![1; 31]).unwrap_err(),
            SignatureError::WeakKey
        );
    }
}
