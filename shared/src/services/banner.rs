//! The in-app banner: what the retiring product shows a signed-in customer
//! — in their language, louder as the end nears (dismissible until its
//! last week), with their export link and the migration guide — and the
//! `Sunset` / `Deprecation` / `Link` header values its API sends.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::domain::customer::MigrationStatus;
use crate::domain::deprecation::{DeprecationHeaders, public_url};
use crate::domain::link::LinkPurpose;
use crate::domain::{Campaign, CustomerId, Locale};
use crate::ports::{Deps, PortError};

use super::notice::{self, RenderError};

/// How loud the banner is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// More than 30 days before the end (and for anyone who has moved).
    Info,
    /// The last 30 days.
    Warning,
    /// The last week, and after the end while the data is still kept.
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// Days before the end from which the banner warns.
pub const WARN_DAYS: u32 = 30;
/// Days before the end from which it cannot be dismissed.
pub const LAST_WEEK: u32 = 7;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Banner {
    pub campaign: String,
    pub customer: String,
    /// The language the words are in.
    pub lang: &'static str,
    /// Changes when the severity rises: a product keeps a dismissal per
    /// id, so a dismissed notice comes back louder.
    pub id: String,
    pub severity: Severity,
    pub dismissible: bool,
    pub title: String,
    pub message: String,
    pub links: Vec<BannerLink>,
    /// Whole days until the last day of service in the customer's zone (0
    /// on that day); none once it has ended.
    pub days_left: Option<u32>,
    pub service_end: NaiveDate,
    /// The customer's own last day to take their data.
    pub export_deadline: NaiveDate,
    /// What the product's API sends with every answer until then.
    pub headers: DeprecationHeaders,
    /// The template that wrote the words.
    pub template: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BannerLink {
    /// `export` (their signed link), `guide` or `announcement`.
    pub rel: &'static str,
    pub label: String,
    pub href: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BannerError {
    #[error("no customer {0} in this campaign")]
    UnknownCustomer(CustomerId),
    /// Their data is gone: there is nothing left to tell them in the app.
    #[error("the customer's data was deleted on {0}")]
    Purged(NaiveDate),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Port(#[from] PortError),
}

/// The banner for `customer` at `now`, in `lang` when the product asks for
/// its UI's language (else the customer's). `None` before the public
/// announcement: the product shows nothing yet.
pub async fn banner(
    deps: &Deps,
    campaign: &Campaign,
    customer: &CustomerId,
    lang: Option<Locale>,
    now: DateTime<Utc>,
) -> Result<Option<Banner>, BannerError> {
    let record = deps
        .customers
        .customer(&campaign.id, customer)
        .await?
        .ok_or_else(|| BannerError::UnknownCustomer(customer.clone()))?;
    let Some(profile) = record.profile.as_ref() else {
        let on = record.purged_at.unwrap_or(now).with_timezone(&record.zone);
        return Err(BannerError::Purged(on.date_naive()));
    };
    let today = now.with_timezone(&record.zone).date_naive();
    if today < campaign.dates.announce {
        return Ok(None);
    }
    let mut profile = profile.clone();
    if let Some(lang) = lang {
        profile.locale = Some(lang.tag().to_owned());
    }
    let locale = profile.notice_locale(campaign.default_locale);
    let days_left = u32::try_from((campaign.dates.service_end - today).num_days()).ok();
    let severity = if record.status == MigrationStatus::Migrated {
        Severity::Info
    } else {
        match days_left {
            None => Severity::Critical,
            Some(d) if d <= LAST_WEEK => Severity::Critical,
            Some(d) if d <= WARN_DAYS => Severity::Warning,
            Some(_) => Severity::Info,
        }
    };
    let words = notice::render_banner(campaign, &record, &profile, days_left, &deps.signer)?;
    let export = notice::signed_url(campaign, &record, &deps.signer, LinkPurpose::RequestExport)?;
    Ok(Some(Banner {
        campaign: campaign.id.to_string(),
        customer: record.id.to_string(),
        lang: locale.tag(),
        id: format!("{}.{}", campaign.id, severity.as_str()),
        severity,
        dismissible: severity != Severity::Critical,
        title: words.title,
        message: words.message,
        links: vec![
            BannerLink {
                rel: "export",
                label: words.export_label,
                href: export,
            },
            BannerLink {
                rel: "guide",
                label: words.guide_label,
                href: campaign.links.migration_guide.to_string(),
            },
            BannerLink {
                rel: "announcement",
                label: words.announcement_label,
                href: public_url(campaign, locale),
            },
        ],
        days_left,
        service_end: campaign.dates.service_end,
        export_deadline: record.effective_deadline(campaign.dates.export_deadline),
        headers: DeprecationHeaders::for_campaign(campaign, locale),
        template: words.template,
    }))
}
