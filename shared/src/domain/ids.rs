//! Identifiers and contact values, parsed once at the edge.
//!
//! Every type here refuses CR and LF (and other control characters), so a
//! value that reaches a mail header can never inject another header.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a value was refused; the caller adds which row and field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

fn invalid(reason: impl Into<String>) -> InvalidValue {
    InvalidValue(reason.into())
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

macro_rules! string_newtype {
    ($(#[$meta:meta])* $name:ident, $parse:path) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
                $parse(raw).map(Self)
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl TryFrom<String> for $name {
            type Error = InvalidValue;
            fn try_from(raw: String) -> Result<Self, InvalidValue> {
                Self::parse(&raw)
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_newtype!(
    /// A campaign's id: lowercase ASCII letters, digits and `-`, at most 64
    /// characters. It names schedules, keys and files, so it stays URL- and
    /// path-safe.
    CampaignId,
    parse_campaign_id
);

fn parse_campaign_id(raw: &str) -> Result<String, InvalidValue> {
    let s = raw.trim();
    if s.is_empty() || s.len() > 64 {
        return Err(invalid("must be 1 to 64 characters"));
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(invalid("may hold only a-z, 0-9 and '-'"));
    }
    Ok(s.to_owned())
}

string_newtype!(
    /// The product's own id for a customer: ASCII letters, digits and
    /// `. _ - :`, at most 128 characters. It names the customer's product-data
    /// directory and export keys, so it never holds `/` or `..` tricks.
    CustomerId,
    parse_customer_id
);

fn parse_customer_id(raw: &str) -> Result<String, InvalidValue> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(invalid("is required"));
    }
    if s.len() > 128 {
        return Err(invalid("is longer than 128 characters"));
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'))
    {
        return Err(invalid("may hold only letters, digits and . _ - :"));
    }
    if s.starts_with('.') {
        return Err(invalid("may not start with '.'"));
    }
    Ok(s.to_owned())
}

string_newtype!(
    /// An e-mail address (`local@domain`), lower-cased in the domain part.
    EmailAddress,
    parse_email
);

fn parse_email(raw: &str) -> Result<String, InvalidValue> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(invalid("is required"));
    }
    if s.len() > 254 {
        return Err(invalid("is longer than 254 characters"));
    }
    if has_control(s)
        || s.chars()
            .any(|c| c.is_whitespace() || "<>()[],;:\"\\".contains(c))
    {
        return Err(invalid(
            "is not an e-mail address (it holds spaces or special characters)",
        ));
    }
    let Some((local, domain)) = s.rsplit_once('@') else {
        return Err(invalid("is not an e-mail address (no '@')"));
    };
    if local.is_empty() || local.contains('@') || local.len() > 64 {
        return Err(invalid("is not an e-mail address (bad local part)"));
    }
    let labels_ok = domain.split('.').all(|l| {
        !l.is_empty()
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
    });
    if !domain.contains('.') || !labels_ok {
        return Err(invalid("is not an e-mail address (bad domain)"));
    }
    Ok(format!("{local}@{}", domain.to_lowercase()))
}

/// A display name + address, as in `Orbit <no-reply@orbit.example>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Mailbox {
    pub name: Option<String>,
    pub address: EmailAddress,
}

impl Mailbox {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let s = raw.trim();
        if has_control(s) {
            return Err(invalid("holds a control character"));
        }
        match (s.find('<'), s.ends_with('>')) {
            (Some(open), true) => {
                let name = s[..open].trim().trim_matches('"').trim();
                let address = EmailAddress::parse(&s[open + 1..s.len() - 1])?;
                Ok(Self {
                    name: (!name.is_empty()).then(|| name.to_owned()),
                    address,
                })
            }
            (None, _) => Ok(Self {
                name: None,
                address: EmailAddress::parse(s)?,
            }),
            _ => Err(invalid("is not a mailbox like `Name <user@example.com>`")),
        }
    }
}

impl TryFrom<String> for Mailbox {
    type Error = InvalidValue;
    fn try_from(raw: String) -> Result<Self, InvalidValue> {
        Self::parse(&raw)
    }
}

impl From<Mailbox> for String {
    fn from(m: Mailbox) -> String {
        m.to_string()
    }
}

impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{name} <{}>", self.address),
            None => write!(f, "{}", self.address),
        }
    }
}

string_newtype!(
    /// A phone number as written for people: digits, spaces and `+ - ( ) .`.
    Phone,
    parse_phone
);

fn parse_phone(raw: &str) -> Result<String, InvalidValue> {
    let s = raw.trim();
    let digits = s.chars().filter(char::is_ascii_digit).count();
    if !(5..=20).contains(&digits)
        || !s
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c))
    {
        return Err(invalid(
            "is not a phone number (5-20 digits, + - ( ) . and spaces)",
        ));
    }
    Ok(s.to_owned())
}

impl Phone {
    /// The number in E.164 form, if it is written internationally (a
    /// `+`, the country code and the number): what an SMS provider
    /// dials. A number without its country code cannot be texted; which
    /// country it is in is not guessed.
    pub fn mobile(&self) -> Option<MobileNumber> {
        MobileNumber::parse(self.as_str()).ok()
    }
}

string_newtype!(
    /// A phone number in E.164 form: `+`, then 8 to 15 digits, the first
    /// not 0 (`+8613800138000`). Spaces and `- ( ) .` are dropped.
    MobileNumber,
    parse_mobile
);

fn parse_mobile(raw: &str) -> Result<String, InvalidValue> {
    let s = raw.trim();
    let Some(rest) = s.strip_prefix('+') else {
        return Err(invalid(
            "is not in international form: write + and the country code (+86 138 0013 8000)",
        ));
    };
    if !rest
        .chars()
        .all(|c| c.is_ascii_digit() || " -().".contains(c))
    {
        return Err(invalid(
            "holds characters other than digits, spaces and - ( ) .",
        ));
    }
    let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
    if !(8..=15).contains(&digits.len()) || digits.starts_with('0') {
        return Err(invalid(
            "is not an international number (a country code, then 8 to 15 digits in all)",
        ));
    }
    Ok(format!("+{digits}"))
}

string_newtype!(
    /// A person's or company's name as shown in a greeting: 1 to 200
    /// characters, no control characters.
    DisplayName,
    parse_display_name
);

fn parse_display_name(raw: &str) -> Result<String, InvalidValue> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(invalid("is required"));
    }
    if s.chars().count() > 200 {
        return Err(invalid("is longer than 200 characters"));
    }
    if has_control(s) {
        return Err(invalid("holds a control character (such as a line break)"));
    }
    Ok(s.to_owned())
}

string_newtype!(
    /// An http(s) URL shown in a notice; no spaces, quotes or angle brackets.
    Url,
    parse_url
);

fn parse_url(raw: &str) -> Result<String, InvalidValue> {
    let s = raw.trim();
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or_else(|| invalid("must start with https:// or http://"))?;
    if s.len() > 2000 {
        return Err(invalid("is longer than 2000 characters"));
    }
    if rest.is_empty()
        || s.chars()
            .any(|c| c.is_whitespace() || c.is_control() || "\"'<>`".contains(c))
    {
        return Err(invalid("is not a URL"));
    }
    Ok(s.to_owned())
}

string_newtype!(
    /// An ISO 4217 currency code such as `EUR`.
    Currency,
    parse_currency
);

fn parse_currency(raw: &str) -> Result<String, InvalidValue> {
    let s = raw.trim().to_ascii_uppercase();
    if s.len() != 3 || !s.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(invalid("is not a 3-letter currency code"));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_refuses_header_injection() {
        assert!(EmailAddress::parse("a@b.example\r\nBcc: x@y.example").is_err());
        assert!(EmailAddress::parse("a b@c.example").is_err());
        assert_eq!(
            EmailAddress::parse(" Li.Wei@Example.COM ")
                .unwrap()
                .as_str(),
            "Li.Wei@example.com"
        );
    }

    #[test]
    fn customer_id_cannot_escape_a_directory() {
        assert!(CustomerId::parse("../etc").is_err());
        assert!(CustomerId::parse("a/b").is_err());
        assert!(CustomerId::parse("..").is_err());
        assert!(CustomerId::parse("C-0001").is_ok());
    }

    #[test]
    fn mailbox_parses_display_name() {
        let m = Mailbox::parse("Orbit <no-reply@orbit.example>").unwrap();
        assert_eq!(m.name.as_deref(), Some("Orbit"));
        assert_eq!(m.address.as_str(), "no-reply@orbit.example");
        assert!(Mailbox::parse("Orbit\n <a@b.example>").is_err());
    }

    #[test]
    fn names_refuse_line_breaks() {
        assert!(DisplayName::parse("Ann\r\nBcc: x").is_err());
        assert!(DisplayName::parse("王小明").is_ok());
    }
}
