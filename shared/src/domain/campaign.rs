//! A campaign: one product's sunset, as the operator describes it in a TOML
//! (or JSON) file. Parsing checks every field; [`Campaign::validate`] checks
//! the rules that span fields (date order, notice period, reminder offsets).

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveTime};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::audience::Rules;
use super::bounds::{CAMPAIGN_YEARS, check_year};
use super::ids::{CampaignId, EmailAddress, Mailbox, MobileNumber, Phone, Url};
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
    /// The notice period the policy asks for, in calendar months: at
    /// least the first, at most the second (b2b 6–12, b2c 3–6). Shorter
    /// leaves customers too little time; longer is allowed, but a date so
    /// far off is easily forgotten.
    pub fn notice_months(self) -> (u32, u32) {
        match self {
            NoticeKind::B2b => (6, 12),
            NoticeKind::B2c => (3, 6),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::B2b => "b2b",
            NoticeKind::B2c => "b2c",
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
    /// The internal briefing of sales, support and success (the guide's
    /// first step): everyone who will be asked learns the reasons, dates
    /// and answers before any customer hears. The preflight asks for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff_briefing: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reminders {
    #[serde(default = "default_offsets")]
    pub days_before_end: Vec<u32>,
    /// Warnings before the export deadline that the data is about to be
    /// deleted (the day after the service ended, a notice says so too).
    /// Unset: a week before, when the export window is longer than that.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days_before_deletion: Option<Vec<u32>>,
}

fn default_offsets() -> Vec<u32> {
    vec![60, 30, 15, 7, 1]
}

impl Default for Reminders {
    fn default() -> Self {
        Self {
            days_before_end: default_offsets(),
            days_before_deletion: None,
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
    /// When the phone is answered, in the reader's words
    /// (`{ en = "Mon-Fri 9:00-18:00 CET", "zh-CN" = "工作日 9:00–18:00" }`).
    pub hours: Option<LocalizedText>,
    /// Help channels for the readers of one locale (a Chinese hotline for
    /// Chinese readers): each field given here replaces the one above.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub local: BTreeMap<String, LocalSupport>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalSupport {
    pub email: Option<EmailAddress>,
    pub phone: Option<Phone>,
    pub hours: Option<String>,
}

/// The help channels one reader is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelpChannels<'a> {
    pub email: &'a EmailAddress,
    pub phone: Option<&'a Phone>,
    pub hours: Option<&'a str>,
}

impl Support {
    /// The channels for a reader of `locale`: those given for their locale,
    /// else for their language, else the campaign's.
    pub fn for_locale(&self, locale: Locale, fallback: Locale) -> HelpChannels<'_> {
        let exact = self
            .local
            .iter()
            .find(|(k, _)| Locale::from_tag(k) == Some(locale));
        let local = exact.or_else(|| {
            self.local
                .iter()
                .find(|(k, _)| Locale::from_tag(k).map(Locale::language) == Some(locale.language()))
        });
        let local = local.map(|(_, l)| l);
        HelpChannels {
            email: local.and_then(|l| l.email.as_ref()).unwrap_or(&self.email),
            phone: local.and_then(|l| l.phone.as_ref()).or(self.phone.as_ref()),
            hours: local
                .and_then(|l| l.hours.as_deref())
                .or_else(|| self.hours.as_ref().map(|h| h.get(locale, fallback))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alternative {
    pub name: String,
    pub url: Url,
    pub discount_code: Option<String>,
    pub offer: Option<LocalizedText>,
    /// What core customers were offered 1:1 (a migration engineer, a
    /// longer discount): their announcement names it.
    pub core_offer: Option<LocalizedText>,
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

/// How texts are sent; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmsSettings {
    /// The name texts show as from, where the country allows one: 3 to 11
    /// letters and digits, at least one letter (`ORBIT`).
    pub sender_id: Option<String>,
    /// The number texts are sent from, where the country needs one
    /// (E.164: `+4930123456`).
    pub origination_number: Option<MobileNumber>,
}

/// When and how customers are contacted; every field has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// Hours after its local day that a reminder run late (a retried or
    /// delayed wave) still goes out; past them it is recorded as missed.
    /// The announcement and the last reminder have no such limit: for a
    /// legal notice, late is better than never.
    pub late_grace_hours: u32,
    /// Hard bounces per message sent past which the remaining waves pause
    /// (SES reviews an account at 5 %).
    pub max_bounce_rate: f64,
    /// Complaints per message sent past which the remaining waves pause
    /// (SES reviews an account at 0.1 %).
    pub max_complaint_rate: f64,
    /// Days the announcement waits for a core customer whose account
    /// manager has not told them 1:1 yet (their task is escalated); then
    /// it goes anyway. 0: it never waits.
    pub outreach_hold_days: u32,
}

impl Default for Delivery {
    fn default() -> Self {
        Self {
            send_hour: 10,
            brief_days_before_announce: 10,
            portal_url: Url::parse("http://127.0.0.1:8080").expect("valid default URL"),
            allow_short_notice: false,
            late_grace_hours: 48,
            max_bounce_rate: 0.05,
            max_complaint_rate: 0.001,
            outreach_hold_days: 7,
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
    pub sms: SmsSettings,
    #[serde(default)]
    pub segmentation: SegmentationPolicy,
    /// Who gets which notice on which channel (`domain::audience`); the
    /// guide's rules unless the campaign gives its own.
    #[serde(default)]
    pub rules: Rules,
    /// The campaign's own templates over the built-in ones, by name
    /// (`email/announcement.core.zh-CN`): checked when the campaign is
    /// saved.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub templates: BTreeMap<String, String>,
}

/// A campaign file that cannot be used, with the field at fault.
#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    #[error("campaign file: {0}")]
    Syntax(String),
    #[error("campaign field `{field}`: {reason}")]
    Field { field: String, reason: String },
}

/// A campaign file that did not deserialize: the field at fault when the
/// error has one (a value of the wrong kind, a missing or unknown key),
/// else a syntax error at `place`. Never a quote of the file's lines.
fn deserialize_error(at: &str, message: &str, place: String) -> CampaignError {
    let named = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .map(str::to_owned)
    };
    // serde_path_to_error's path ends at the parent for a missing key and
    // at the key itself for an unknown one.
    let join = |key: String| {
        if at.is_empty() || at == "." {
            key
        } else if at == key || at.ends_with(&format!(".{key}")) {
            at.to_owned()
        } else {
            format!("{at}.{key}")
        }
    };
    if let Some(key) = named("missing field `") {
        return field(&join(key), "is required");
    }
    if let Some(key) = named("unknown field `") {
        return field(&join(key), "is not a campaign setting (a typo?)");
    }
    if at.is_empty() || at == "." {
        return CampaignError::Syntax(format!("{place}{message}"));
    }
    field(at, message)
}

/// Longest text of a paragraph (the reason), per locale, in characters.
const LONG_TEXT: usize = 2000;
/// Longest text of a line or two (an offer), per locale.
const SHORT_TEXT: usize = 500;

/// A one-line text: not empty, no control character, at most `max`
/// characters (a megabyte product name is refused, not mailed).
fn single_line(name: &str, text: &str, max: usize) -> Result<(), CampaignError> {
    if text.trim().is_empty() {
        return Err(field(name, "must not be empty"));
    }
    if text.chars().any(char::is_control) {
        return Err(field(name, "must be a single line (no control characters)"));
    }
    let chars = text.chars().count();
    if chars > max {
        return Err(field(
            name,
            format!("is {chars} characters long; at most {max} are allowed"),
        ));
    }
    Ok(())
}

fn field(field: &str, reason: impl Into<String>) -> CampaignError {
    CampaignError::Field {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

impl Campaign {
    pub fn from_toml(text: &str) -> Result<Campaign, CampaignError> {
        let campaign: Campaign = serde_path_to_error::deserialize(toml::Deserializer::new(text))
            .map_err(|e| {
                let at = e.path().to_string();
                let inner = e.into_inner();
                let place = inner.span().map(|span| {
                    let before = &text[..span.start.min(text.len())];
                    let line = before.matches('\n').count() + 1;
                    let column = before.len() - before.rfind('\n').map_or(0, |n| n + 1) + 1;
                    format!("line {line}, column {column}: ")
                });
                deserialize_error(&at, inner.message(), place.unwrap_or_default())
            })?;
        campaign.validate()?;
        Ok(campaign)
    }

    pub fn from_json(text: &str) -> Result<Campaign, CampaignError> {
        let mut de = serde_json::Deserializer::from_str(text);
        let campaign: Campaign = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let at = e.path().to_string();
            let inner = e.into_inner();
            let place = format!("line {}, column {}: ", inner.line(), inner.column());
            let message = inner.to_string();
            // serde_json appends the place; it is given once, in front.
            let message = message
                .rsplit_once(" at line ")
                .map_or(message.as_str(), |(m, _)| m);
            deserialize_error(&at, message, place)
        })?;
        campaign.validate()?;
        Ok(campaign)
    }

    /// The rules that span fields.
    pub fn validate(&self) -> Result<(), CampaignError> {
        let d = &self.dates;
        single_line("product", &self.product, 200)?;
        self.reason
            .validate(LONG_TEXT)
            .map_err(|e| field("reason", e.0))?;
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
        if let Some(date) = d.staff_briefing {
            check_year(date, CAMPAIGN_YEARS).map_err(|e| field("dates.staff_briefing", e.0))?;
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
        if let Some(earliest) = self.earliest_service_end()
            && d.service_end < earliest
            && !self.delivery.allow_short_notice
        {
            return Err(field(
                "dates.service_end",
                format!(
                    "gives {notice_days} days of notice; {} notices need at least {} months \
                     (a service end on {earliest} or later; set delivery.allow_short_notice = true \
                     to accept less)",
                    self.notice.as_str(),
                    self.notice.notice_months().0
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
        let warnings = self
            .reminders
            .days_before_deletion
            .as_deref()
            .unwrap_or_default();
        for (i, &n) in warnings.iter().enumerate() {
            let fail = |reason: String| Err(field("reminders.days_before_deletion", reason));
            if n == 0 {
                return fail("offsets must be at least 1 day".into());
            }
            if warnings[..i].contains(&n) {
                return fail(format!("{n} is listed twice"));
            }
            // After the service-ended notice (the day after the last day
            // of service), before the deadline.
            // (In days, not dates: a huge offset is no date at all.)
            if i64::from(n) + 1 >= (d.export_deadline - d.service_end).num_days() {
                return fail(format!(
                    "the {n}-day warning would fall on or before the day after the service \
                     ends; the export deadline is {} days after it",
                    (d.export_deadline - d.service_end).num_days()
                ));
            }
        }
        self.rules
            .validate(offsets)
            .map_err(|e| field(&e.field, e.reason))?;
        if let Some(id) = &self.sms.sender_id {
            let letters = id.chars().any(|c| c.is_ascii_alphabetic());
            if !(3..=11).contains(&id.len())
                || !id.chars().all(|c| c.is_ascii_alphanumeric())
                || !letters
            {
                return Err(field(
                    "sms.sender_id",
                    "must be 3 to 11 letters and digits, at least one a letter (carriers refuse others)",
                ));
            }
        }
        if self.segmentation.usage_max == 0 {
            return Err(field("segmentation.usage_max", "must be at least 1"));
        }
        for (name, rate) in [
            ("delivery.max_bounce_rate", self.delivery.max_bounce_rate),
            (
                "delivery.max_complaint_rate",
                self.delivery.max_complaint_rate,
            ),
        ] {
            if !(rate > 0.0 && rate <= 1.0) {
                return Err(field(
                    name,
                    "must be a share above 0 and at most 1 (0.05 is 5 %)",
                ));
            }
        }
        if self.delivery.late_grace_hours > 24 * 14 {
            return Err(field(
                "delivery.late_grace_hours",
                "must be at most 336 (two weeks): a reminder later than that misleads",
            ));
        }
        if self.delivery.outreach_hold_days > 30 {
            return Err(field(
                "delivery.outreach_hold_days",
                "must be at most 30: a customer is never left untold for longer",
            ));
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
            single_line(&format!("alternatives[{i}].name"), &alt.name, 200)?;
            if let Some(code) = &alt.discount_code {
                single_line(&format!("alternatives[{i}].discount_code"), code, 64)?;
            }
            if let Some(offer) = &alt.offer {
                offer
                    .validate(SHORT_TEXT)
                    .map_err(|e| field(&format!("alternatives[{i}].offer"), e.0))?;
            }
            if let Some(offer) = &alt.core_offer {
                offer
                    .validate(SHORT_TEXT)
                    .map_err(|e| field(&format!("alternatives[{i}].core_offer"), e.0))?;
            }
        }
        if let Some(hours) = &self.support.hours {
            hours
                .validate(200)
                .map_err(|e| field("support.hours", e.0))?;
        }
        for (tag, local) in &self.support.local {
            Locale::parse(tag).map_err(|e| field(&format!("support.local.{tag}"), e.0))?;
            if let Some(hours) = &local.hours {
                single_line(&format!("support.local.{tag}.hours"), hours, 200)?;
            }
        }
        // Last: the templates are tried on messages built from the fields
        // checked above.
        if let Err(e) = crate::services::notice::check_templates(self) {
            return Err(field(&format!("templates.{}", e.name), e.reason));
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

    /// Every notice a wave sends, in the order they come: the announcement,
    /// the reminders, that the service ended, the deletion warnings.
    pub fn notices(&self) -> Vec<super::Milestone> {
        use super::Milestone;
        std::iter::once(Milestone::Announcement)
            .chain(self.reminder_offsets().into_iter().map(Milestone::Reminder))
            .chain(std::iter::once(Milestone::ServiceEnded))
            .chain(
                self.deletion_warning_offsets()
                    .into_iter()
                    .map(Milestone::DeletionWarning),
            )
            .collect()
    }

    /// The deletion warnings' offsets, the earliest first: the campaign's,
    /// else a week before the deadline when the service-ended notice comes
    /// earlier than that.
    pub fn deletion_warning_offsets(&self) -> Vec<u32> {
        const DEFAULT: u32 = 7;
        let window = (self.dates.export_deadline - self.dates.service_end).num_days();
        let mut offsets = match &self.reminders.days_before_deletion {
            Some(offsets) => offsets.clone(),
            None if i64::from(DEFAULT) + 1 < window => vec![DEFAULT],
            None => Vec::new(),
        };
        offsets.sort_unstable_by(|a, b| b.cmp(a));
        offsets
    }

    pub fn deletion_warning_date(&self, days_before_deadline: u32) -> NaiveDate {
        self.dates.export_deadline - chrono::Days::new(u64::from(days_before_deadline))
    }

    /// The first service end the notice policy allows: the announcement
    /// plus the policy's minimum months (`None` past chrono's range).
    pub fn earliest_service_end(&self) -> Option<NaiveDate> {
        self.dates
            .announce
            .checked_add_months(chrono::Months::new(self.notice.notice_months().0))
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

    /// Whether a wave of `milestone` run late must still go out, however
    /// late: the announcement and the last reminder.
    pub fn always_sent_late(&self, milestone: super::Milestone) -> bool {
        match milestone {
            super::Milestone::Announcement => true,
            super::Milestone::Reminder(n) => self.reminder_offsets().last() == Some(&n),
            _ => false,
        }
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
        let mut example = Campaign::from_toml(EXAMPLE).unwrap();
        // The example also shows the optional help channels and core offer.
        example.support.hours = None;
        example.support.local.clear();
        example.alternatives[0].core_offer = None;
        example.dates.staff_briefing = None;
        assert_eq!(
            c, example,
            "examples/orbit-crm.toml only spells out the defaults and shows the optional fields"
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

    /// Each bad value names its field, with a reason and no quote of the
    /// file (before, these were syntax errors quoting the TOML line).
    #[test]
    fn every_bad_value_names_its_field() {
        let cases: [(&str, &str, &str); 8] = [
            (
                "timezone = \"Europe/Berlin\"",
                "timezone = \"Mars/Olympus\"",
                "timezone",
            ),
            (
                "faq = \"https://orbit.example/sunset/faq\"",
                "faq = \"ftp://orbit.example/faq\"",
                "links.faq",
            ),
            (
                "faq = \"https://orbit.example/sunset/faq\"",
                "",
                "links.faq",
            ),
            ("id = \"orbit-crm-2027\"", "id = \"Orbit CRM!\"", "id"),
            (
                "from = \"Orbit <no-reply@orbit.example>\"",
                "from = \"Orbit\\r\\nBcc: x@evil.example <no-reply@orbit.example>\"",
                "sender.from",
            ),
            (
                "product = \"Orbit CRM\"",
                "product = \"Orbit CRM\"\ncolour = \"red\"",
                "colour",
            ),
            ("policy = \"prorata\"", "policy = \"half\"", "refund.policy"),
            (
                "send_hour = 10",
                "send_hour = \"ten\"",
                "delivery.send_hour",
            ),
        ];
        for (from, to, expected) in cases {
            assert!(EXAMPLE.contains(from), "{from}");
            let text = EXAMPLE.replacen(from, to, 1);
            match Campaign::from_toml(&text) {
                Err(CampaignError::Field { field, reason }) => {
                    assert_eq!(field, expected, "{reason}");
                    assert!(!reason.contains('|'), "no quote of the file: {reason}");
                }
                other => panic!("{to}: {other:?}"),
            }
        }
        let big = EXAMPLE.replace(
            "product = \"Orbit CRM\"",
            &format!("product = \"{}\"", "x".repeat(1 << 20)),
        );
        match Campaign::from_toml(&big) {
            Err(CampaignError::Field { field, reason }) => {
                assert_eq!(field, "product");
                assert!(reason.contains("at most 200"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        let code = EXAMPLE.replace(
            "discount_code = \"CRM2SUITE\"",
            &format!("discount_code = \"{}\"", "Z".repeat(1 << 20)),
        );
        assert!(matches!(
            Campaign::from_toml(&code),
            Err(CampaignError::Field { field, .. }) if field == "alternatives[0].discount_code"
        ));
        // JSON names fields the same way.
        let mut json: serde_json::Value =
            serde_json::to_value(Campaign::from_toml(EXAMPLE).unwrap()).unwrap();
        json["links"]["faq"] = "mailto:x@y.example".into();
        assert!(matches!(
            Campaign::from_json(&json.to_string()),
            Err(CampaignError::Field { field, .. }) if field == "links.faq"
        ));
        // A file that is not TOML at all is a syntax error with its place.
        match Campaign::from_toml("id = \"x\"\nproduct = ") {
            Err(CampaignError::Syntax(s)) => assert!(s.starts_with("line 2"), "{s}"),
            other => panic!("{other:?}"),
        }
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
