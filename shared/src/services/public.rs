//! The public announcement, from the announcement day on: a page per
//! locale, an Atom feed (an entry per language for the announcement, then
//! one as the service ends and as the data is deleted), a JSON document
//! and an iCalendar file of the key dates. Nothing in them is about any
//! customer; everything is the same for every reader, so caches keep it.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::Serialize;

use crate::domain::campaign::RefundPolicy;
use crate::domain::deprecation::{DeprecationHeaders, public_url};
use crate::domain::milestone::{day_ends_everywhere, local_instant};
use crate::domain::{Campaign, Locale};
use crate::render::{Channel, Kind, TemplateError, Templates, atom, format, ics};
use crate::services::notice::RenderError;
use crate::services::page_view;

#[derive(Debug, thiserror::Error)]
pub enum PublicError {
    /// Before the announcement day nothing is public (core customers
    /// hear it from their account manager first).
    #[error("nothing is announced yet")]
    NotYet,
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("the campaign's template {}: {}", .0.name, .0.reason)]
    Overrides(#[from] crate::render::OverrideError),
    #[error(transparent)]
    Render(#[from] RenderError),
}

/// Where a campaign's public documents are.
pub fn base_url(campaign: &Campaign) -> String {
    format!(
        "{}/v1/public/{}",
        campaign.delivery.portal_url.as_str().trim_end_matches('/'),
        campaign.id
    )
}

/// Whether the announcement is public at `now`: its day has begun in the
/// campaign's zone.
pub fn announced(campaign: &Campaign, now: DateTime<Utc>) -> bool {
    now >= start_of(campaign, campaign.dates.announce)
}

fn start_of(campaign: &Campaign, day: NaiveDate) -> DateTime<Utc> {
    local_instant(day, NaiveTime::MIN, campaign.timezone)
}

/// The languages the page is offered in: the campaign's own first.
pub fn page_locales(campaign: &Campaign) -> Vec<Locale> {
    let other = match campaign.default_locale {
        Locale::ZhCn => Locale::En,
        _ => Locale::ZhCn,
    };
    vec![campaign.default_locale, other]
}

/// The page's locale for a reader's `Accept-Language` (RFC 9110 §12.5.4:
/// the highest weight wins, ties in the order written); the campaign's
/// own when nothing matches.
pub fn best_locale(campaign: &Campaign, accept_language: Option<&str>) -> Locale {
    let mut ranked: Vec<(f32, usize, Locale)> = accept_language
        .unwrap_or("")
        .split(',')
        .enumerate()
        .filter_map(|(i, item)| {
            let mut parts = item.split(';');
            let tag = parts.next()?.trim();
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let locale = Locale::from_tag(tag)?;
            (q > 0.0).then_some((q, i, locale))
        })
        .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    ranked
        .first()
        .map_or(campaign.default_locale, |(_, _, l)| *l)
}

#[derive(Serialize)]
struct PublicView {
    layout: &'static str,
    also: &'static str,
    lang: &'static str,
    product: String,
    reason: String,
    ended: bool,
    dates: Dates,
    links: Links,
    alternatives: Vec<page_view::Alternative>,
    /// `prorata`, `credit` or `none`.
    refund: &'static str,
    help: page_view::Help,
}

#[derive(Serialize)]
struct Dates {
    announce: String,
    stop_new_signups: String,
    stop_renewals: String,
    service_end: String,
    export_deadline: String,
}

#[derive(Serialize)]
struct Links {
    guide: String,
    faq: String,
    community: Option<String>,
    feed: String,
    json: String,
    calendar: String,
    pages: Vec<PageLink>,
}

#[derive(Serialize)]
struct PageLink {
    lang: &'static str,
    name: &'static str,
    href: String,
}

fn view(campaign: &Campaign, locale: Locale, now: DateTime<Utc>) -> PublicView {
    let d = |day| format::date(locale, day);
    let text = |t: &crate::domain::locale::LocalizedText| {
        t.get(locale, campaign.default_locale).to_owned()
    };
    let base = base_url(campaign);
    PublicView {
        layout: "layout/page.html",
        also: "",
        lang: locale.tag(),
        product: campaign.product.clone(),
        reason: text(&campaign.reason),
        ended: now >= campaign.service_ended_at(),
        dates: Dates {
            announce: d(campaign.dates.announce),
            stop_new_signups: d(campaign.dates.stop_new_signups),
            stop_renewals: d(campaign.dates.stop_renewals),
            service_end: d(campaign.dates.service_end),
            export_deadline: d(campaign.dates.export_deadline),
        },
        links: Links {
            guide: campaign.links.migration_guide.to_string(),
            faq: campaign.links.faq.to_string(),
            community: campaign.links.community.as_ref().map(ToString::to_string),
            feed: format!("{base}/feed.atom"),
            json: format!("{base}/sunset.json"),
            calendar: format!("{base}/dates.ics?lang={}", locale.tag()),
            pages: page_locales(campaign)
                .into_iter()
                .map(|l| PageLink {
                    lang: l.tag(),
                    name: match l {
                        Locale::ZhCn => "中文",
                        _ => "English",
                    },
                    href: public_url(campaign, l),
                })
                .collect(),
        },
        alternatives: page_view::alternatives(campaign, locale),
        refund: match campaign.refund.policy {
            RefundPolicy::Prorata => "prorata",
            RefundPolicy::Credit => "credit",
            RefundPolicy::None => "none",
        },
        help: page_view::help(campaign, locale),
    }
}

/// The announcement page in `locale`.
pub fn page(
    campaign: &Campaign,
    locale: Locale,
    now: DateTime<Utc>,
) -> Result<String, PublicError> {
    if !announced(campaign, now) {
        return Err(PublicError::NotYet);
    }
    let templates = Templates::for_overrides(&campaign.templates)?;
    Ok(templates.page(Kind::Public, locale, &view(campaign, locale, now))?)
}

/// The key dates as a calendar in `locale`, with `deadline` as the last
/// day to take the data (a customer's own, in their announcement; the
/// campaign's on the public page). A reminder fires a week before the
/// end and before the deadline.
pub fn calendar(
    campaign: &Campaign,
    locale: Locale,
    deadline: NaiveDate,
) -> Result<String, RenderError> {
    // Words as of the announcement: the file is the same every day.
    let stamp = start_of(campaign, campaign.dates.announce);
    let mut view = view(campaign, locale, stamp);
    view.dates.export_deadline = format::date(locale, deadline);
    let templates = Templates::for_overrides(&campaign.templates)?;
    let [name, summary, signups, renewals, end, last_day] = templates
        .blocks(
            Channel::Page,
            Kind::Public,
            None,
            locale,
            &view,
            [
                "ics_name",
                "summary",
                "ics_signups",
                "ics_renewals",
                "ics_end",
                "ics_deadline",
            ],
        )?
        .1;
    // UIDs are unique by the portal's host (RFC 5545 suggests a domain).
    let host = campaign
        .delivery
        .portal_url
        .as_str()
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split(['/', ':', '?']).next())
        .filter(|h| !h.is_empty())
        .unwrap_or("sunset");
    let url = public_url(campaign, locale);
    let d = &campaign.dates;
    let steps = [
        ("stop-new-signups", d.stop_new_signups, &signups, None),
        ("stop-renewals", d.stop_renewals, &renewals, None),
        ("service-end", d.service_end, &end, Some(7)),
        ("export-deadline", deadline, &last_day, Some(7)),
    ];
    let events: Vec<ics::Event<'_>> = steps
        .into_iter()
        .map(|(what, day, title, alarm)| ics::Event {
            uid: format!("{}.{what}.{day}@{host}", campaign.id),
            day,
            summary: title,
            description: &summary,
            url: &url,
            alarm_days_before: alarm,
        })
        .collect();
    Ok(ics::calendar(&name, stamp, &events))
}

/// The feed: per language, the announcement from its day, the end of the
/// service from its day, the deletion once the last day has ended
/// everywhere.
pub fn feed(campaign: &Campaign, now: DateTime<Utc>) -> Result<String, PublicError> {
    if !announced(campaign, now) {
        return Err(PublicError::NotYet);
    }
    let templates = Templates::for_overrides(&campaign.templates)?;
    let base = base_url(campaign);
    let ended_at = campaign.service_ended_at();
    let deleted_at = day_ends_everywhere(campaign.dates.export_deadline);
    let mut entries = Vec::new();
    for locale in page_locales(campaign) {
        let view = view(campaign, locale, now);
        let [title, summary, ended, deleted] = templates
            .blocks(
                Channel::Page,
                Kind::Public,
                None,
                locale,
                &view,
                ["title", "summary", "feed_ended", "feed_deleted"],
            )?
            .1;
        let href = public_url(campaign, locale);
        let mut entry = |what: &str, title: String, at: DateTime<Utc>| {
            entries.push(atom::Entry {
                id: format!("{href}#{what}"),
                lang: locale.tag(),
                title,
                summary: summary.clone(),
                href: href.clone(),
                published: at,
            })
        };
        entry(
            "announcement",
            title,
            start_of(campaign, campaign.dates.announce),
        );
        if now >= ended_at {
            entry("service-ended", ended, ended_at);
        }
        if now >= deleted_at {
            entry("data-deleted", deleted, deleted_at);
        }
    }
    let help = campaign
        .support
        .for_locale(campaign.default_locale, campaign.default_locale);
    Ok(atom::feed(&atom::Feed {
        id: &base,
        self_href: &format!("{base}/feed.atom"),
        alternate: &public_url(campaign, campaign.default_locale),
        title: &campaign.product,
        author: &campaign.product,
        author_email: help.email.as_str(),
        entries,
    }))
}

/// The announcement as data, for a status page or another program.
#[derive(Debug, Serialize)]
pub struct Document {
    pub campaign: String,
    pub product: String,
    /// `announced`, `ended` (the service) or `deleted` (the data).
    pub state: &'static str,
    pub timezone: String,
    pub dates: DocumentDates,
    /// Per page language.
    pub reason: BTreeMap<&'static str, String>,
    pub pages: BTreeMap<&'static str, String>,
    pub feed: String,
    pub calendar: String,
    pub migration_guide: String,
    pub faq: String,
    pub alternatives: Vec<DocumentAlternative>,
    pub support_email: String,
    /// What the product's API sends (`Sunset`, `Deprecation`, `Link`).
    pub headers: DeprecationHeaders,
}

#[derive(Debug, Serialize)]
pub struct DocumentDates {
    pub announce: NaiveDate,
    pub stop_new_signups: NaiveDate,
    pub stop_renewals: NaiveDate,
    pub service_end: NaiveDate,
    pub export_deadline: NaiveDate,
}

#[derive(Debug, Serialize)]
pub struct DocumentAlternative {
    pub name: String,
    pub url: String,
    pub discount_code: Option<String>,
    pub offer: BTreeMap<&'static str, String>,
}

pub fn document(campaign: &Campaign, now: DateTime<Utc>) -> Result<Document, PublicError> {
    if !announced(campaign, now) {
        return Err(PublicError::NotYet);
    }
    let locales = page_locales(campaign);
    let per_locale = |t: &crate::domain::locale::LocalizedText| {
        locales
            .iter()
            .map(|l| (l.tag(), t.get(*l, campaign.default_locale).to_owned()))
            .collect::<BTreeMap<_, _>>()
    };
    let base = base_url(campaign);
    let d = &campaign.dates;
    Ok(Document {
        campaign: campaign.id.to_string(),
        product: campaign.product.clone(),
        state: if now >= day_ends_everywhere(d.export_deadline) {
            "deleted"
        } else if now >= campaign.service_ended_at() {
            "ended"
        } else {
            "announced"
        },
        timezone: campaign.timezone.name().to_owned(),
        dates: DocumentDates {
            announce: d.announce,
            stop_new_signups: d.stop_new_signups,
            stop_renewals: d.stop_renewals,
            service_end: d.service_end,
            export_deadline: d.export_deadline,
        },
        reason: per_locale(&campaign.reason),
        pages: locales
            .iter()
            .map(|l| (l.tag(), public_url(campaign, *l)))
            .collect(),
        feed: format!("{base}/feed.atom"),
        calendar: format!("{base}/dates.ics"),
        migration_guide: campaign.links.migration_guide.to_string(),
        faq: campaign.links.faq.to_string(),
        alternatives: campaign
            .alternatives
            .iter()
            .map(|a| DocumentAlternative {
                name: a.name.clone(),
                url: a.url.to_string(),
                discount_code: a.discount_code.clone(),
                offer: a.offer.as_ref().map(per_locale).unwrap_or_default(),
            })
            .collect(),
        support_email: campaign.support.email.to_string(),
        headers: DeprecationHeaders::for_campaign(campaign, campaign.default_locale),
    })
}
