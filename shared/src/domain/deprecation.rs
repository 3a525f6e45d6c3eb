//! The values the retiring product's API sends with every answer: the
//! `Deprecation` header (RFC 9745: since when the product is deprecated,
//! a structured-field date), the `Sunset` header (RFC 8594: when it stops
//! answering, an HTTP-date) and a `Link` with `rel="sunset"` to the public
//! announcement. `http::SunsetLayer` sets them; the banner hands them to
//! any other service.

use chrono::{DateTime, NaiveTime, Utc};
use serde::Serialize;

use super::milestone::local_instant;
use super::{Campaign, Locale};

/// The three header values for one campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeprecationHeaders {
    /// `Sunset`: when the service has ended (the end of its last day, in
    /// the campaign's zone; from then on it does not answer), as an
    /// IMF-fixdate.
    pub sunset: String,
    /// `Deprecation`: the start of the announcement day, as `@<seconds>`.
    pub deprecation: String,
    /// `Link`: the public announcement, `rel="sunset"`.
    pub link: String,
}

impl DeprecationHeaders {
    /// The values for `campaign`, linking its public page in `locale`.
    pub fn for_campaign(campaign: &Campaign, locale: Locale) -> Self {
        let start = |day| local_instant(day, NaiveTime::MIN, campaign.timezone);
        Self::new(
            start(campaign.dates.announce),
            campaign.service_ended_at(),
            &public_url(campaign, locale),
        )
    }

    pub fn new(deprecated: DateTime<Utc>, sunset: DateTime<Utc>, link: &str) -> Self {
        DeprecationHeaders {
            sunset: http_date(sunset),
            deprecation: format!("@{}", deprecated.timestamp()),
            // A URL (ours, parsed when the campaign was saved) has no `>`;
            // the formatting keeps it that way for any string.
            link: format!(
                "<{}>; rel=\"sunset\"; type=\"text/html\"",
                link.replace(['<', '>', '"'], "")
            ),
        }
    }
}

/// The public announcement page of a campaign in one locale.
pub fn public_url(campaign: &Campaign, locale: Locale) -> String {
    format!(
        "{}/v1/public/{}/{}",
        campaign.delivery.portal_url.as_str().trim_end_matches('/'),
        campaign.id,
        locale.tag()
    )
}

/// RFC 9110's preferred HTTP-date: `Thu, 30 Sep 2027 16:00:00 GMT`.
pub fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}
