//! The customer's portal: the page their signed link opens, in their
//! language — the end of service, their own last day, their copy of their
//! data (none, being built, ready, downloaded) — and the page for every
//! way a link can fail.

use chrono::{DateTime, Utc};
use minijinja::value::Value;
use serde::Serialize;

use crate::domain::event::CustomerEventKind;
use crate::domain::export::{ExportRequest, ExportStatus};
use crate::domain::link::{LinkPurpose, LinkSigner};
use crate::domain::{Campaign, Customer, CustomerId, CustomerRecord, Locale};
use crate::ports::{Deps, PortError};
use crate::render::{Kind, Templates, format};

use super::notice::{self, RenderError};
use super::page_view;

#[derive(Serialize)]
struct PortalView {
    lang: &'static str,
    product: String,
    name: Option<String>,
    ended: bool,
    dates: Dates,
    /// "in 30 days", "tomorrow"; none on the last day.
    deadline_when: Option<String>,
    export: ExportView,
    just_requested: bool,
    links: Links,
    alternatives: Vec<page_view::Alternative>,
    help: page_view::Help,
}

#[derive(Serialize)]
struct Dates {
    service_end: String,
    export_deadline: String,
}

#[derive(Serialize)]
struct ExportView {
    /// `none`, `building`, `ready` or `downloaded`.
    state: &'static str,
    requested_on: Option<String>,
    ready_on: Option<String>,
    files: u64,
    size: Option<String>,
    downloaded_on: Option<String>,
}

#[derive(Serialize)]
struct Links {
    /// Where the request form posts: the page's own signed address.
    request: String,
    download: Option<String>,
    guide: String,
    faq: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    #[error("no customer {0} in this campaign")]
    UnknownCustomer(CustomerId),
    /// Their data is gone; the day it went.
    #[error("the customer's data was deleted")]
    Purged(Option<DateTime<Utc>>),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Port(#[from] PortError),
}

/// The customer's page. `request` is the path and query their link
/// opened (the form posts back to it); `just_requested` after they asked
/// for a copy.
pub async fn page(
    deps: &Deps,
    campaign: &Campaign,
    customer: &CustomerId,
    request: &str,
    just_requested: bool,
    now: DateTime<Utc>,
) -> Result<String, PortalError> {
    let record = deps
        .customers
        .customer(&campaign.id, customer)
        .await?
        .ok_or_else(|| PortalError::UnknownCustomer(customer.clone()))?;
    let Some(profile) = record
        .profile
        .clone()
        .filter(|_| record.purged_at.is_none())
    else {
        return Err(PortalError::Purged(record.purged_at));
    };
    let exports = deps.exports.exports_of(&campaign.id, customer).await?;
    let downloaded = deps
        .events
        .events_of(&campaign.id, customer)
        .await?
        .into_iter()
        .filter(|e| e.kind == CustomerEventKind::ExportDownloaded)
        .map(|e| e.at)
        .max();
    Ok(render(
        campaign,
        &record,
        &profile,
        &exports,
        downloaded,
        request,
        just_requested,
        now,
        &deps.signer,
    )?)
}

/// The page itself, from what the store holds: their exports and when
/// they last downloaded one.
#[allow(clippy::too_many_arguments)]
pub fn render(
    campaign: &Campaign,
    record: &CustomerRecord,
    profile: &Customer,
    exports: &[ExportRequest],
    downloaded: Option<DateTime<Utc>>,
    request: &str,
    just_requested: bool,
    now: DateTime<Utc>,
    signer: &LinkSigner,
) -> Result<String, RenderError> {
    let locale = profile.notice_locale(campaign.default_locale);
    let zone = record.zone;
    let day = |at: DateTime<Utc>| format::date(locale, at.with_timezone(&zone).date_naive());
    let deadline = record.effective_deadline(campaign.dates.export_deadline);
    let today = now.with_timezone(&zone).date_naive();
    let days_left = (deadline - today).num_days();
    let building = exports.iter().find(|r| r.status == ExportStatus::Requested);
    let ready = exports
        .iter()
        .filter(|r| r.status == ExportStatus::Ready)
        .max_by_key(|r| r.ready_at);
    let downloaded =
        downloaded.filter(|at| ready.is_some_and(|r| r.ready_at.is_none_or(|ready| *at >= ready)));
    let export = ExportView {
        state: match (building, ready, downloaded) {
            (Some(_), _, _) => "building",
            (None, Some(_), Some(_)) => "downloaded",
            (None, Some(_), None) => "ready",
            (None, None, _) => "none",
        },
        requested_on: building.map(|r| day(r.requested_at)),
        ready_on: ready.and_then(|r| r.ready_at).map(day),
        files: ready.and_then(|r| r.bundle_files).unwrap_or_default(),
        size: ready.and_then(|r| r.bundle_bytes).map(format::size),
        downloaded_on: downloaded.map(day),
    };
    let download = match ready {
        Some(r) => Some(format!(
            "{}&request={}",
            notice::signed_url(campaign, record, signer, LinkPurpose::Download)?,
            r.id
        )),
        None => None,
    };
    let view = PortalView {
        lang: locale.tag(),
        product: campaign.product.clone(),
        name: profile.greeted().map(ToString::to_string),
        // The last day of service is `service_end`; it has ended after.
        ended: today > campaign.dates.service_end,
        dates: Dates {
            service_end: format::date(locale, campaign.dates.service_end),
            export_deadline: format::date(locale, deadline),
        },
        deadline_when: u32::try_from(days_left)
            .ok()
            .filter(|d| *d > 0)
            .map(|d| format::in_days(locale, d)),
        export,
        just_requested,
        links: Links {
            request: request.to_owned(),
            download,
            guide: campaign.links.migration_guide.to_string(),
            faq: campaign.links.faq.to_string(),
        },
        alternatives: page_view::alternatives(campaign, locale),
        help: page_view::help(campaign, locale),
    };
    let templates = Templates::for_overrides(&campaign.templates)?;
    Ok(templates.page(Kind::Portal, locale, &view)?)
}

/// Why a customer's link led nowhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Not a link we signed (or changed on the way), or an unknown customer.
    BadLink,
    /// Past their last day.
    Expired,
    /// A link missing part of its address.
    Incomplete,
    /// Their data was deleted (on this day, when known).
    Deleted(Option<DateTime<Utc>>),
    /// Too many copies asked for; again in this many minutes.
    TooMany(Option<i64>),
    NotReady,
    NotFound,
    /// Ours: a store that did not answer, a bug.
    Server,
}

impl Failure {
    fn kind(self) -> &'static str {
        match self {
            Failure::BadLink => "bad-link",
            Failure::Expired => "expired",
            Failure::Incomplete => "incomplete",
            Failure::Deleted(_) => "deleted",
            Failure::TooMany(_) => "too-many",
            Failure::NotReady => "not-ready",
            Failure::NotFound => "not-found",
            Failure::Server => "server",
        }
    }
}

#[derive(Serialize)]
struct ErrorView {
    lang: &'static str,
    kind: &'static str,
    product: Option<String>,
    deleted_on: Option<String>,
    deadline: Option<String>,
    retry_minutes: Option<i64>,
    help_email: Option<String>,
}

/// Every failure, for checking a campaign's own error pages.
pub const FAILURES: [Failure; 8] = [
    Failure::BadLink,
    Failure::Expired,
    Failure::Incomplete,
    Failure::Deleted(None),
    Failure::TooMany(Some(60)),
    Failure::NotReady,
    Failure::NotFound,
    Failure::Server,
];

/// The page for a failure, in the campaign's languages (the reader's is
/// not known: a bad link names nobody, a purged customer's locale is
/// gone): the campaign's default language first, then the other.
pub fn error_page(failure: Failure, campaign: Option<&Campaign>) -> String {
    try_error_page(failure, campaign).unwrap_or_else(|e| {
        // The page of last resort: a template that failed is logged, the
        // reader still gets words.
        tracing::error!(error = %e, "error page did not render");
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Something went wrong</title></head><body><p>Something went wrong on our side. Please try again in a few minutes.</p><p lang=\"zh-CN\">我们这边出了问题，请几分钟后重试。</p></body></html>".to_owned()
    })
}

pub fn try_error_page(
    failure: Failure,
    campaign: Option<&Campaign>,
) -> Result<String, RenderError> {
    let first = campaign.map_or(Locale::En, |c| c.default_locale);
    let mut locales = vec![first];
    for l in [Locale::En, Locale::ZhCn] {
        if l.language() != first.language() {
            locales.push(l);
        }
    }
    let zone = campaign.map_or(chrono_tz::UTC, |c| c.timezone);
    let views: Vec<(Locale, Value)> = locales
        .iter()
        .map(|&locale| {
            let view = ErrorView {
                lang: locale.tag(),
                kind: failure.kind(),
                product: campaign.map(|c| c.product.clone()),
                deleted_on: match failure {
                    Failure::Deleted(Some(at)) => {
                        Some(format::date(locale, at.with_timezone(&zone).date_naive()))
                    }
                    _ => None,
                },
                deadline: campaign
                    .filter(|_| failure == Failure::Expired)
                    .map(|c| format::date(locale, c.dates.export_deadline)),
                retry_minutes: match failure {
                    Failure::TooMany(m) => m,
                    _ => None,
                },
                help_email: campaign.map(|c| {
                    c.support
                        .for_locale(locale, c.default_locale)
                        .email
                        .to_string()
                }),
            };
            (locale, Value::from_serialize(&view))
        })
        .collect();
    let none = std::collections::BTreeMap::new();
    let templates = Templates::for_overrides(campaign.map_or(&none, |c| &c.templates))?;
    Ok(templates.multilingual_page(Kind::Error, &views)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn campaign() -> Campaign {
        Campaign::from_toml(include_str!("../../../examples/orbit-crm.toml")).unwrap()
    }

    #[test]
    fn every_failure_is_a_page_in_both_languages() {
        let c = campaign();
        let deleted: DateTime<Utc> = "2027-11-01T07:00:00Z".parse().unwrap();
        for failure in [
            Failure::BadLink,
            Failure::Expired,
            Failure::Incomplete,
            Failure::Deleted(Some(deleted)),
            Failure::TooMany(Some(42)),
            Failure::NotReady,
            Failure::NotFound,
            Failure::Server,
        ] {
            for campaign in [Some(&c), None] {
                let html = error_page(failure, campaign);
                assert!(html.contains("<html lang=\"en\">"), "{failure:?}: {html}");
                assert!(
                    html.contains("<section lang=\"zh-CN\">"),
                    "{failure:?}: {html}"
                );
                assert!(
                    !html.contains("Something went wrong on our side. Please try again"),
                    "{failure:?}: the page of last resort"
                );
            }
        }
        let html = error_page(Failure::Deleted(Some(deleted)), Some(&c));
        assert!(
            html.contains("Your data was deleted on 1 November 2027"),
            "{html}"
        );
        assert!(html.contains("您的数据已于 2027年11月1日 删除"), "{html}");
        let html = error_page(Failure::TooMany(Some(42)), Some(&c));
        assert!(
            html.contains("in about 42 minutes") && html.contains("约 42 分钟后"),
            "{html}"
        );
    }
}
