//! A campaign: one product's sunset, as the operator describes it in a TOML
//! (or JSON) file. Parsing checks every field; [`Campaign::validate`] checks
//! the rules that span fields (date order, notice period, reminder offsets).

use chrono::{NaiveDate, NaiveTime};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::bounds::{CAMPAIGN_YEARS, check_year};
use super::ids::{CampaignId, EmailAddress, Mailbox, Phone, Url};
use super::locale::{Locale, LocalizedText};
use super::tier::SegmentationPolicy;

/// Whether the product was sold to businesses or consumers; it sets the
/// minimum notice period the seed's FAQ gives (6 and 3 months).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoticeKind {
    B2b,
    B2c,
}

impl NoticeKind {
    /// Minimum days between announcement and service end.
    pub fn minimum_notice_days(self) -> i64 {
        match self {
            NoticeKind::B2b => 180,
            NoticeKind::B2c => 90,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyDates {
    pub announce: NaiveDate,
    pub stop_new_signups: NaiveDate,
    pub stop_renewals: NaiveDate,
    pub service_end: NaiveDate,
    pub export_deadline: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reminders {
    #[serde(default = "default_offsets")]
    pub days_before_end: Vec<u32>,
}

fn default_offsets() -> Vec<u32> {
    vec![60, 30, 15, 7, 1]
}

impl Default for Reminders {
    fn default() -> Self {
        Self {
            days_before_end: default_offsets(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Links {
    pub migration_guide: Url,
    pub faq: Url,
    pub community: Option<Url>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Support {
    pub email: EmailAddress,
    pub phone: Option<Phone>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alternative {
    pub name: String,
    pub url: Url,
    pub discount_code: Option<String>,
    pub offer: Option<LocalizedText>,
}

/// What happens to fees paid for time after the service ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RefundPolicy {
    /// Refund the unused share of the prepaid amount, by days.
    Prorata,
    /// The same share, as credit toward an alternative.
    Credit,
    /// No refund; the notice says so plainly.
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refund {
    pub policy: RefundPolicy,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sender {
    pub from: Mailbox,
    pub reply_to: Option<EmailAddress>,
}

/// When and how customers are contacted; every field has a default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Delivery {
    /// Local hour (in the customer's zone, else the campaign's) at which
    /// announcements and reminders go out.
    pub send_hour: u32,
    /// Days before the announcement that account managers get their 1:1
    /// brief; the seed asks for one to two weeks.
    pub brief_days_before_announce: u32,
    /// Base URL of the customer-facing endpoints the signed links point to.
    pub portal_url: Url,
    /// Accept a notice period shorter than the policy for `notice`.
    pub allow_short_notice: bool,
}

impl Default for Delivery {
    fn default() -> Self {
        Self {
            send_hour: 10,
            brief_days_before_announce: 10,
            portal_url: Url::parse("http://127.0.0.1:8080").expect("valid default URL"),
            allow_short_notice: false,
        }
    }
}

/// One product's sunset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Campaign {
    pub id: CampaignId,
    pub product: String,
    pub reason: LocalizedText,
    pub timezone: Tz,
    pub default_locale: Locale,
    pub notice: NoticeKind,
    pub dates: KeyDates,
    #[serde(default)]
    pub reminders: Reminders,
    pub links: Links,
    pub support: Support,
    #[serde(default)]
    pub alternatives: Vec<Alternative>,
    pub refund: Refund,
    pub sender: Sender,
    #[serde(default)]
    pub delivery: Delivery,
    #[serde(default)]
    pub segmentation: SegmentationPolicy,
}

/// A campaign file that cannot be used, with the field at fault.
#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    #[error("campaign file: {0}")]
    Syntax(String),
    #[error("campaign field `{field}`: {reason}")]
    Field { field: String, reason: String },
}

fn field(field: &str, reason: impl Into<String>) -> CampaignError {
    CampaignError::Field {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

impl Campaign {
    pub fn from_toml(text: &str) -> Result<Campaign, CampaignError> {
        let campaign: Campaign =
            toml::from_str(text).map_err(|e| CampaignError::Syntax(e.to_string()))?;
        campaign.validate()?;
        Ok(campaign)
    }

    pub fn from_json(text: &str) -> Result<Campaign, CampaignError> {
        let campaign: Campaign =
            serde_json::from_str(text).map_err(|e| CampaignError::Syntax(e.to_string()))?;
        campaign.validate()?;
        Ok(campaign)
    }

    /// The rules that span fields.
    pub fn validate(&self) -> Result<(), CampaignError> {
        let d = &self.dates;
        if self.product.trim().is_empty() || self.product.chars().any(char::is_control) {
            return Err(field("product", "must be a non-empty single line"));
        }
        self.reason.validate().map_err(|e| field("reason", e.0))?;
        let order = [
            ("dates.announce", d.announce),
            ("dates.stop_new_signups", d.stop_new_signups),
            ("dates.stop_renewals", d.stop_renewals),
            ("dates.service_end", d.service_end),
            ("dates.export_deadline", d.export_deadline),
        ];
        // First, so that no date step below can leave chrono's range.
        for (name, date) in order {
            check_year(date, CAMPAIGN_YEARS).map_err(|e| field(name, e.0))?;
        }
        for pair in order.windows(2) {
            if pair[1].1 < pair[0].1 {
                return Err(field(
                    pair[1].0,
                    format!("{} is before {} ({})", pair[1].1, pair[0].0, pair[0].1),
                ));
            }
        }
        if d.service_end <= d.announce {
            return Err(field("dates.service_end", "must be after dates.announce"));
        }
        let notice_days = (d.service_end - d.announce).num_days();
        if notice_days < self.notice.minimum_notice_days() && !self.delivery.allow_short_notice {
            return Err(field(
                "dates.service_end",
                format!(
                    "gives {notice_days} days of notice; {} notices need at least {} \
                     (set delivery.allow_short_notice = true to accept it)",
                    match self.notice {
                        NoticeKind::B2b => "b2b",
                        NoticeKind::B2c => "b2c",
                    },
                    self.notice.minimum_notice_days()
                ),
            ));
        }
        let offsets = &self.reminders.days_before_end;
        for (i, &n) in offsets.iter().enumerate() {
            if n == 0 {
                return Err(field(
                    "reminders.days_before_end",
                    "offsets must be at least 1 day",
                ));
            }
            if offsets[..i].contains(&n) {
                return Err(field(
                    "reminders.days_before_end",
                    format!("{n} is listed twice"),
                ));
            }
            if i64::from(n) >= notice_days {
                return Err(field(
                    "reminders.days_before_end",
                    format!(
                        "the {n}-day reminder would fall on or before the announcement \
                         (the notice period is {notice_days} days)"
                    ),
                ));
            }
            if self.reminder_date(n) <= d.announce {
                return Err(field(
                    "reminders.days_before_end",
                    format!("the {n}-day reminder would fall on or before the announcement"),
                ));
            }
        }
        if self.delivery.send_hour > 22 {
            return Err(field("delivery.send_hour", "must be an hour from 0 to 22"));
        }
        if !(7..=14).contains(&self.delivery.brief_days_before_announce) {
            return Err(field(
                "delivery.brief_days_before_announce",
                "must be 7 to 14 days: core customers hear it 1-2 weeks before the announcement",
            ));
        }
        for (i, alt) in self.alternatives.iter().enumerate() {
            if alt.name.trim().is_empty() || alt.name.chars().any(char::is_control) {
                return Err(field(
                    &format!("alternatives[{i}].name"),
                    "must be a non-empty single line",
                ));
            }
            if let Some(offer) = &alt.offer {
                offer
                    .validate()
                    .map_err(|e| field(&format!("alternatives[{i}].offer"), e.0))?;
            }
        }
        Ok(())
    }

    /// The reminder offsets, furthest first.
    pub fn reminder_offsets(&self) -> Vec<u32> {
        let mut offsets = self.reminders.days_before_end.clone();
        offsets.sort_unstable_by(|a, b| b.cmp(a));
        offsets
    }

    pub fn reminder_date(&self, days_before_end: u32) -> NaiveDate {
        self.dates.service_end - chrono::Days::new(u64::from(days_before_end))
    }

    pub fn brief_date(&self) -> NaiveDate {
        self.dates.announce - chrono::Days::new(u64::from(self.delivery.brief_days_before_announce))
    }

    /// The instant the service has ended: the start of the day after
    /// `service_end` in the campaign's zone.
    pub fn service_ended_at(&self) -> chrono::DateTime<chrono::Utc> {
        super::milestone::local_instant(
            self.dates.service_end + chrono::Days::new(1),
            NaiveTime::MIN,
            self.timezone,
        )
    }

    pub fn send_time(&self) -> NaiveTime {
        NaiveTime::from_hms_opt(self.delivery.send_hour, 0, 0).expect("hour checked in validate")
    }

    /// Prorated refund rule, in one place so notices and reports agree.
    /// `None` when there is nothing prepaid or no refund policy.
    pub fn refund_for(&self, prepaid: Option<&super::customer::Prepaid>) -> Option<Decimal> {
        let prepaid = prepaid?;
        match self.refund.policy {
            RefundPolicy::None => None,
            // Bounded amounts and dates cannot overflow; were one to, the
            // customer is promised the whole prepaid amount, never a
            // made-up figure.
            RefundPolicy::Prorata | RefundPolicy::Credit => Some(
                super::refund::prorated(prepaid, self.dates.service_end)
                    .unwrap_or(prepaid.amount.get()),
            ),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub const EXAMPLE: &str = include_str!("../../../examples/orbit-crm.toml");

    /// The campaign exactly as issue 2 gives it: it must parse as it is.
    const ISSUE_EXAMPLE: &str = r#"
id = "orbit-crm-2027"
product = "Orbit CRM"
reason = { en = "We are bringing Orbit CRM's best ideas into Orbit Suite.", "zh-CN" = "我们将把 Orbit CRM 的核心能力整合进 Orbit Suite。" }
timezone = "Europe/Berlin"
default_locale = "en"
notice = "b2b"
[dates]
announce = "2027-02-01"
stop_new_signups = "2027-02-01"
stop_renewals = "2027-04-01"
service_end = "2027-09-30"
export_deadline = "2027-10-31"
[reminders]
days_before_end = [60, 30, 15, 7, 1]
[links]
migration_guide = "https://orbit.example/sunset/guide"
faq = "https://orbit.example/sunset/faq"
community = "https://forum.orbit.example/sunset"
[support]
email = "sunset@orbit.example"
phone = "+49 30 1234567"
[[alternatives]]
name = "Orbit Suite"
url = "https://orbit.example/suite"
discount_code = "CRM2SUITE"
offer = { en = "50% off for 12 months", "zh-CN" = "12 个月五折" }
[refund]
policy = "prorata"
[sender]
from = "Orbit <no-reply@orbit.example>"
reply_to = "sunset@orbit.example"
"#;

    #[test]
    fn the_issue_example_parses_as_it_is_with_defaults() {
        let c = Campaign::from_toml(ISSUE_EXAMPLE).unwrap();
        assert_eq!(
            c,
            Campaign::from_toml(EXAMPLE).unwrap(),
            "examples/orbit-crm.toml only spells out the defaults"
        );
        assert_eq!(c.delivery.send_hour, 10);
    }

    #[test]
    fn the_example_campaign_parses() {
        let c = Campaign::from_toml(EXAMPLE).unwrap();
        assert_eq!(c.id.as_str(), "orbit-crm-2027");
        assert_eq!(c.reminder_offsets(), vec![60, 30, 15, 7, 1]);
        assert_eq!(
            c.reason.get(Locale::ZhCn, Locale::En),
            "我们将把 Orbit CRM 的核心能力整合进 Orbit Suite。"
        );
    }

    #[test]
    fn dates_out_of_order_name_the_field() {
        let bad = EXAMPLE.replace(
            "export_deadline = \"2027-10-31\"",
            "export_deadline = \"2027-09-01\"",
        );
        let err = Campaign::from_toml(&bad).unwrap_err().to_string();
        assert!(err.contains("dates.export_deadline"), "{err}");
    }

    #[test]
    fn short_notice_is_refused_for_b2b() {
        let bad = EXAMPLE.replace(
            "service_end = \"2027-09-30\"",
            "service_end = \"2027-05-01\"",
        );
        let err = Campaign::from_toml(&bad).unwrap_err().to_string();
        assert!(err.contains("days of notice"), "{err}");
    }

    #[test]
    fn absurd_numbers_and_dates_are_refused_naming_the_field() {
        let huge_offset = EXAMPLE.replace(
            "days_before_end = [60, 30, 15, 7, 1]",
            "days_before_end = [4294967295]",
        );
        let err = Campaign::from_toml(&huge_offset).unwrap_err().to_string();
        assert!(err.contains("reminders.days_before_end"), "{err}");
        let far = EXAMPLE
            .replace(
                "service_end = \"2027-09-30\"",
                "service_end = \"262142-09-30\"",
            )
            .replace(
                "export_deadline = \"2027-10-31\"",
                "export_deadline = \"262142-10-31\"",
            );
        match Campaign::from_toml(&far) {
            Err(CampaignError::Field { field, .. }) => assert_eq!(field, "dates.service_end"),
            // chrono may refuse a six-digit year outright: also an error.
            Err(CampaignError::Syntax(_)) => {}
            Ok(_) => panic!("a year 262142 campaign was accepted"),
        }
        let early = EXAMPLE.replace("announce = \"2027-02-01\"", "announce = \"1999-02-01\"");
        let err = Campaign::from_toml(&early).unwrap_err().to_string();
        assert!(err.contains("dates.announce"), "{err}");
    }

    #[test]
    fn bad_email_names_its_key() {
        let bad = EXAMPLE.replace(
            "email = \"sunset@orbit.example\"",
            "email = \"not-an-email\"",
        );
        let err = Campaign::from_toml(&bad).unwrap_err().to_string();
        assert!(err.contains("email"), "{err}");
    }
}
