//! What customers and account managers read: builds each message's view
//! from the campaign and the customer (values formatted as the reader
//! writes them), and hands it to the templates ([`crate::render`]) that
//! hold the words, per kind, tier and language.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::Serialize;

use crate::domain::campaign::RefundPolicy;
use crate::domain::export::ExportRequest;
use crate::domain::link::{LinkPurpose, LinkSigner};
use crate::domain::tier::Tier;
use crate::domain::{Campaign, Customer, CustomerRecord, Locale, Milestone};
use crate::render::{self, Kind, OverrideError, TemplateError, Templates, format};

pub use crate::render::Rendered;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// Only for a campaign saved before its templates were checked: a
    /// saved campaign's templates compile.
    #[error("the campaign's template {}: {}", .0.name, .0.reason)]
    Overrides(#[from] OverrideError),
    /// This process holds no link-signing key (a function wired without
    /// one): it cannot write a notice with links.
    #[error(transparent)]
    Link(#[from] crate::domain::link::LinkError),
}

/// What a customer is told.
#[derive(Debug, Clone, Copy)]
pub enum Message<'a> {
    Announcement,
    /// This many days before the service ends.
    Reminder(u32),
    ServiceEnded,
    /// This many days before the customer's data is deleted.
    DeletionWarning(u32),
    /// Their last day moved.
    Deadline,
    ExportReady(&'a ExportRequest),
    /// Their data was deleted on this day.
    DeletionDone(NaiveDate),
    /// The in-app banner, this many days before the last day of service
    /// (none once it has ended).
    Banner(Option<u32>),
}

impl Message<'static> {
    /// The notice a wave sends for `milestone`: the announcement, a
    /// reminder, that the service ended, or a deletion warning.
    pub fn notice(milestone: Milestone) -> Self {
        match milestone {
            Milestone::Reminder(n) => Message::Reminder(n),
            Milestone::ServiceEnded => Message::ServiceEnded,
            Milestone::DeletionWarning(n) => Message::DeletionWarning(n),
            _ => Message::Announcement,
        }
    }
}

impl Message<'_> {
    pub fn kind(&self) -> Kind {
        match self {
            Message::Announcement => Kind::Announcement,
            Message::Reminder(_) => Kind::Reminder,
            Message::ServiceEnded => Kind::ServiceEnded,
            Message::DeletionWarning(_) => Kind::DeletionWarning,
            Message::Deadline => Kind::Deadline,
            Message::ExportReady(_) => Kind::ExportReady,
            Message::DeletionDone(_) => Kind::DeletionDone,
            Message::Banner(_) => Kind::Banner,
        }
    }

    /// Days until the date the message counts down to, if it counts.
    fn days(&self) -> Option<u32> {
        match self {
            Message::Reminder(n) | Message::DeletionWarning(n) => Some(*n),
            Message::Banner(days) => *days,
            _ => None,
        }
    }
}

/// Everything a customer's template can use. Every field is always there
/// (`none` when the customer has no such value), so a template that names
/// a value that does not exist fails when it is saved, not in a mail.
#[derive(Serialize)]
struct NoticeView {
    /// The reader's locale tag, for `<html lang>`.
    lang: &'static str,
    product: String,
    /// `core`, `standard` or `low` (a customer not yet segmented reads the
    /// standard notice).
    tier: &'static str,
    /// `pending`, `exported`, `declined` or `migrated`.
    status: &'static str,
    /// Whom the notice greets: the contact person, else the customer.
    name: Option<String>,
    /// The customer's (company) name.
    company: Option<String>,
    customer_id: String,
    /// The year the customer started, when known.
    customer_since: Option<i32>,
    reason: String,
    /// Days to the date the message counts down to (reminders: the end
    /// of service; deletion warnings: the customer's last day), and the
    /// same in words: "tomorrow", "in 30 days"; "30 days left".
    days: Option<u32>,
    when: Option<String>,
    left: Option<String>,
    dates: DatesView,
    links: LinksView,
    /// When the customer's personal links stop working.
    link_expires: String,
    alternatives: Vec<AlternativeView>,
    refund: RefundView,
    help: HelpView,
    /// A core customer's account manager.
    manager: Option<ManagerView>,
    export: Option<ExportView>,
}

#[derive(Serialize)]
struct DatesView {
    announce: String,
    stop_new_signups: String,
    stop_renewals: String,
    service_end: String,
    /// This customer's last day: the campaign's export deadline or their
    /// extension.
    export_deadline: String,
    deleted_on: Option<String>,
}

#[derive(Serialize)]
struct LinksView {
    guide: String,
    faq: String,
    community: Option<String>,
    /// Their signed link to request an export.
    export: String,
    /// Their signed link to download a ready export.
    download: Option<String>,
}

#[derive(Serialize)]
struct AlternativeView {
    name: String,
    url: String,
    offer: Option<String>,
    code: Option<String>,
    core_offer: Option<String>,
}

#[derive(Serialize)]
struct RefundView {
    /// `prorata`, `credit` or `none`.
    policy: &'static str,
    /// What is due to this customer, as they write money; `none` when
    /// nothing is.
    amount: Option<String>,
}

#[derive(Serialize)]
struct HelpView {
    email: String,
    phone: Option<String>,
    hours: Option<String>,
}

#[derive(Serialize)]
struct ManagerView {
    email: String,
    name: Option<String>,
}

#[derive(Serialize)]
struct ExportView {
    files: u64,
    size: Option<String>,
}

/// The instant a customer's personal links stop working: the end of their
/// effective deadline day in their own zone (its last second).
pub fn link_expiry(campaign: &Campaign, record: &CustomerRecord) -> DateTime<Utc> {
    record.deadline_ends(campaign.dates.export_deadline) - chrono::Duration::seconds(1)
}

/// `portal/v1/c/<campaign>/<customer>/export?exp=..&sig=..`
pub fn signed_url(
    campaign: &Campaign,
    record: &CustomerRecord,
    signer: &LinkSigner,
    purpose: LinkPurpose,
) -> Result<String, RenderError> {
    let expires = link_expiry(campaign, record);
    let path = match purpose {
        LinkPurpose::RequestExport => "export",
        LinkPurpose::Download => "export/download",
    };
    Ok(format!(
        "{}/v1/c/{}/{}/{path}?{}",
        campaign.delivery.portal_url.as_str().trim_end_matches('/'),
        campaign.id,
        record.id,
        signer.query(purpose, &campaign.id, &record.id, expires)?
    ))
}

/// The refund due to the customer, as they write money.
fn refund(campaign: &Campaign, customer: &Customer, locale: Locale) -> RefundView {
    let amount = match campaign.refund.policy {
        RefundPolicy::None => None,
        _ => campaign
            .refund_for(customer.prepaid.as_ref())
            .filter(|a| !a.is_zero())
            .map(|a| format::money(locale, a, customer.currency.as_ref())),
    };
    RefundView {
        policy: match campaign.refund.policy {
            RefundPolicy::Prorata => "prorata",
            RefundPolicy::Credit => "credit",
            RefundPolicy::None => "none",
        },
        amount,
    }
}

fn view(
    campaign: &Campaign,
    record: &CustomerRecord,
    customer: &Customer,
    message: &Message<'_>,
    signer: &LinkSigner,
) -> Result<NoticeView, RenderError> {
    let locale = customer.notice_locale(campaign.default_locale);
    let d = |date: NaiveDate| format::date(locale, date);
    let text = |t: &crate::domain::locale::LocalizedText| {
        t.get(locale, campaign.default_locale).to_owned()
    };
    let tier = record.tier.as_ref().map_or(Tier::Standard, |t| t.tier);
    let help = campaign.support.for_locale(locale, campaign.default_locale);
    let download = match message {
        Message::ExportReady(request) => Some(format!(
            // The link names its bundle: it downloads that one, even after
            // a newer request.
            "{}&request={}",
            signed_url(campaign, record, signer, LinkPurpose::Download)?,
            request.id
        )),
        _ => None,
    };
    let days = message.days();
    Ok(NoticeView {
        lang: locale.tag(),
        product: campaign.product.clone(),
        tier: tier.as_str(),
        status: record.status.as_str(),
        name: customer.greeted().map(ToString::to_string),
        company: customer.name.as_ref().map(ToString::to_string),
        customer_id: customer.id.to_string(),
        customer_since: customer.customer_since.map(|d| d.year()),
        reason: text(&campaign.reason),
        days,
        when: days.map(|n| format::in_days(locale, n)),
        left: days.map(|n| format::days_left(locale, n)),
        dates: DatesView {
            announce: d(campaign.dates.announce),
            stop_new_signups: d(campaign.dates.stop_new_signups),
            stop_renewals: d(campaign.dates.stop_renewals),
            service_end: d(campaign.dates.service_end),
            export_deadline: d(record.effective_deadline(campaign.dates.export_deadline)),
            deleted_on: match message {
                Message::DeletionDone(on) => Some(d(*on)),
                _ => None,
            },
        },
        links: LinksView {
            guide: campaign.links.migration_guide.to_string(),
            faq: campaign.links.faq.to_string(),
            community: campaign.links.community.as_ref().map(ToString::to_string),
            export: signed_url(campaign, record, signer, LinkPurpose::RequestExport)?,
            download,
        },
        link_expires: d(record.effective_deadline(campaign.dates.export_deadline)),
        alternatives: campaign
            .alternatives
            .iter()
            .map(|a| AlternativeView {
                name: a.name.clone(),
                url: a.url.to_string(),
                offer: a.offer.as_ref().map(text),
                code: a.discount_code.clone(),
                core_offer: a.core_offer.as_ref().map(text),
            })
            .collect(),
        refund: refund(campaign, customer, locale),
        help: HelpView {
            email: help.email.to_string(),
            phone: help.phone.map(ToString::to_string),
            hours: help.hours.map(str::to_owned),
        },
        manager: customer
            .account_manager
            .as_ref()
            .filter(|_| tier == Tier::Core)
            .map(|email| ManagerView {
                email: email.to_string(),
                name: customer
                    .account_manager_name
                    .as_ref()
                    .map(ToString::to_string),
            }),
        export: match message {
            Message::ExportReady(request) => Some(ExportView {
                files: request.bundle_files.unwrap_or_default(),
                size: request.bundle_bytes.map(format::size),
            }),
            _ => None,
        },
    })
}

/// One message for one customer, in their language and for their tier,
/// with the campaign's own templates where it has them.
pub fn render(
    campaign: &Campaign,
    record: &CustomerRecord,
    customer: &Customer,
    message: Message<'_>,
    signer: &LinkSigner,
) -> Result<Rendered, RenderError> {
    let (templates, tier, locale, view) = prepare(campaign, record, customer, &message, signer)?;
    let mut rendered = templates.email(message.kind(), tier, locale, &view)?;
    if let Message::Announcement = message {
        // The key dates for their calendar, their own last day among them.
        let deadline = record.effective_deadline(campaign.dates.export_deadline);
        rendered.attachments.push(render::Attachment {
            filename: format!("{}.ics", campaign.id),
            content_type: "text/calendar; charset=utf-8; method=PUBLISH".into(),
            bytes: super::public::calendar(campaign, locale, deadline)?.into_bytes(),
        });
    }
    Ok(rendered)
}

/// What every rendering of a message for a customer starts from: the
/// campaign's templates, the reader's tier and locale, and the view.
fn prepare(
    campaign: &Campaign,
    record: &CustomerRecord,
    customer: &Customer,
    message: &Message<'_>,
    signer: &LinkSigner,
) -> Result<(std::sync::Arc<Templates>, Option<Tier>, Locale, NoticeView), RenderError> {
    let templates = Templates::for_overrides(&campaign.templates)?;
    let locale = customer.notice_locale(campaign.default_locale);
    let tier = record.tier.as_ref().map(|t| t.tier);
    let view = view(campaign, record, customer, message, signer)?;
    Ok((templates, tier, locale, view))
}

/// The announcement or a reminder for one customer.
pub fn render_notice(
    campaign: &Campaign,
    record: &CustomerRecord,
    customer: &Customer,
    milestone: Milestone,
    signer: &LinkSigner,
) -> Result<Rendered, RenderError> {
    render(
        campaign,
        record,
        customer,
        Message::notice(milestone),
        signer,
    )
}

/// The announcement or a reminder as a text message: at most two
/// segments (a template that writes more fails here, and when saved).
pub fn render_sms(
    campaign: &Campaign,
    record: &CustomerRecord,
    customer: &Customer,
    milestone: Milestone,
    signer: &LinkSigner,
) -> Result<render::Text, RenderError> {
    let message = Message::notice(milestone);
    let (templates, tier, locale, view) = prepare(campaign, record, customer, &message, signer)?;
    Ok(templates.sms(message.kind(), tier, locale, &view)?)
}

/// The in-app banner's words: a title, a message and its two links'
/// labels, one line each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BannerText {
    pub template: String,
    pub title: String,
    pub message: String,
    pub export_label: String,
    pub guide_label: String,
    pub announcement_label: String,
}

/// The banner for one customer, `days_to_end` days before the service ends
/// (none once it has ended).
pub fn render_banner(
    campaign: &Campaign,
    record: &CustomerRecord,
    customer: &Customer,
    days_to_end: Option<u32>,
    signer: &LinkSigner,
) -> Result<BannerText, RenderError> {
    let message = Message::Banner(days_to_end);
    let (templates, tier, locale, view) = prepare(campaign, record, customer, &message, signer)?;
    let (
        template,
        [
            title,
            message,
            export_label,
            guide_label,
            announcement_label,
        ],
    ) = templates.blocks(
        render::Channel::InApp,
        Kind::Banner,
        tier,
        locale,
        &view,
        [
            "title",
            "message",
            "export_label",
            "guide_label",
            "announcement_label",
        ],
    )?;
    Ok(BannerText {
        template,
        title,
        message,
        export_label,
        guide_label,
        announcement_label,
    })
}

/// The notice that a customer's last day moved (an extension, a legal hold
/// released): the new day, and a fresh export link valid to its end in
/// their zone.
pub fn render_deadline(
    campaign: &Campaign,
    record: &CustomerRecord,
    customer: &Customer,
    signer: &LinkSigner,
) -> Result<Rendered, RenderError> {
    render(campaign, record, customer, Message::Deadline, signer)
}

pub fn render_export_ready(
    campaign: &Campaign,
    record: &CustomerRecord,
    customer: &Customer,
    request: &ExportRequest,
    signer: &LinkSigner,
) -> Result<Rendered, RenderError> {
    render(
        campaign,
        record,
        customer,
        Message::ExportReady(request),
        signer,
    )
}

/// One core customer in an account manager's brief.
#[derive(Serialize)]
pub struct BriefLine {
    pub name: String,
    pub id: String,
    pub contract: String,
    pub refund: String,
    pub locale: String,
    pub why: String,
    /// Where their outreach task stands: "to do", "call set for 20
    /// January 2027", "done", "escalated".
    pub task: String,
}

#[derive(Serialize)]
struct BriefView<'a> {
    lang: &'static str,
    /// The reminder a few days before the announcement (only the open
    /// tasks), not the brief.
    reminder: bool,
    /// Days the announcement waits for a core customer not yet told.
    hold_days: u32,
    /// Where an owner records a call: the task's API path.
    task_path: String,
    product: &'a str,
    dates: BriefDates,
    links: BriefLinks,
    alternatives: Vec<AlternativeView>,
    customers: &'a [BriefLine],
}

#[derive(Serialize)]
struct BriefDates {
    announce: String,
    service_end: String,
    export_deadline: String,
}

#[derive(Serialize)]
struct BriefLinks {
    guide: String,
}

pub fn brief_line(
    campaign: &Campaign,
    record: &CustomerRecord,
    customer: &Customer,
    task: Option<&crate::domain::outreach::OutreachTask>,
) -> BriefLine {
    use crate::domain::outreach::OutreachState;
    // Briefs are in English, for staff.
    let money = |a| format::money(Locale::En, a, customer.currency.as_ref());
    BriefLine {
        name: customer
            .name
            .as_ref()
            .map_or_else(|| customer.id.to_string(), ToString::to_string),
        id: customer.id.to_string(),
        contract: customer
            .contract_value
            .map_or("-".into(), |v| money(v.get())),
        refund: campaign
            .refund_for(customer.prepaid.as_ref())
            .map_or("-".into(), money),
        locale: customer.notice_locale(campaign.default_locale).to_string(),
        why: record
            .tier
            .as_ref()
            .map_or(String::new(), |t| t.explanation.clone()),
        task: match task {
            None => "no task yet".into(),
            Some(t) => match (t.state, t.scheduled_for) {
                (OutreachState::Scheduled, Some(day)) if day >= campaign.dates.announce => format!(
                    "call set for {}, after the announcement: theirs waits for the call",
                    format::date(Locale::En, day)
                ),
                (OutreachState::Scheduled, Some(day)) => {
                    format!("call set for {}", format::date(Locale::En, day))
                }
                (state, _) => match state {
                    OutreachState::Todo => "to do".into(),
                    OutreachState::Scheduled => "call set".into(),
                    OutreachState::Done => "done".into(),
                    OutreachState::Escalated => "escalated: announcement held".into(),
                },
            },
        },
    }
}

/// An account manager's brief, in English: it is for staff.
pub fn render_brief(
    campaign: &Campaign,
    lines: &[BriefLine],
    reminder: bool,
) -> Result<Rendered, RenderError> {
    let d = |date| format::date(Locale::En, date);
    let text = |t: &crate::domain::locale::LocalizedText| {
        t.get(Locale::En, campaign.default_locale).to_owned()
    };
    let view = BriefView {
        lang: "en",
        reminder,
        hold_days: campaign.delivery.outreach_hold_days,
        task_path: format!("/v1/campaigns/{}/outreach/<customer id>", campaign.id),
        product: &campaign.product,
        dates: BriefDates {
            announce: d(campaign.dates.announce),
            service_end: d(campaign.dates.service_end),
            export_deadline: d(campaign.dates.export_deadline),
        },
        links: BriefLinks {
            guide: campaign.links.migration_guide.to_string(),
        },
        alternatives: campaign
            .alternatives
            .iter()
            .map(|a| AlternativeView {
                name: a.name.clone(),
                url: a.url.to_string(),
                offer: a.offer.as_ref().map(text),
                code: a.discount_code.clone(),
                core_offer: a.core_offer.as_ref().map(text),
            })
            .collect(),
        customers: lines,
    };
    let templates = Templates::for_overrides(&campaign.templates)?;
    Ok(templates.email(Kind::Brief, None, Locale::En, &view)?)
}

/// Renders every message a campaign's own templates write, for sample
/// customers of every tier, standing and locale, with and without the
/// optional values: a template that fails for any of them is refused when
/// the campaign is saved, naming it and why.
pub fn check_templates(campaign: &Campaign) -> Result<(), OverrideError> {
    let templates = Templates::with_overrides(&campaign.templates)?;
    let signer = LinkSigner::new(vec![0; 32]);
    // Texts are checked whoever wrote them: the built-in ones too run
    // over two segments with a long enough product name.
    check_texts(campaign, &templates, &signer)?;
    if campaign.templates.is_empty() {
        return Ok(());
    }
    let request = samples::export_request(campaign);
    let messages = [
        Message::Announcement,
        Message::Reminder(30),
        Message::Reminder(1),
        Message::ServiceEnded,
        Message::DeletionWarning(7),
        Message::Deadline,
        Message::ExportReady(&request),
        Message::DeletionDone(
            campaign
                .dates
                .export_deadline
                .succ_opt()
                .unwrap_or(campaign.dates.export_deadline),
        ),
    ];
    for (record, customer) in samples::customers(campaign) {
        let locale = customer.notice_locale(campaign.default_locale);
        let tier = record.tier.as_ref().map(|t| t.tier);
        for message in &messages {
            let fail = |e: &dyn std::fmt::Display| OverrideError {
                name: templates
                    .resolve(render::Channel::Email, message.kind(), tier, locale)
                    .unwrap_or_default(),
                reason: e.to_string(),
            };
            let view =
                view(campaign, &record, &customer, message, &signer).map_err(|e| fail(&e))?;
            let rendered = templates
                .email(message.kind(), tier, locale, &view)
                .map_err(|e| match e {
                    TemplateError::Render { source, .. } => fail(&render::describe(&source)),
                    other => fail(&other),
                })?;
            let missing =
                super::lint::check(campaign, &record, &customer, message.kind(), &rendered);
            if let Some(first) = missing.first() {
                // The campaign's template at fault: the notice's own, else
                // the base it extends.
                let name = if templates.is_override(&rendered.template) {
                    rendered.template.clone()
                } else {
                    templates
                        .resolve(render::Channel::Email, Kind::Base, None, locale)
                        .unwrap_or_default()
                };
                return Err(OverrideError {
                    name,
                    reason: format!(
                        "the {} {} for a {} customer lacks {first}",
                        locale,
                        message.kind(),
                        record.tier.as_ref().map_or("standard", |t| t.tier.as_str())
                    ),
                });
            }
        }
    }
    // The banner, far from the end, on its eve and after it.
    for (record, customer) in samples::customers(campaign) {
        for days in [Some(90), Some(1), None] {
            render_banner(campaign, &record, &customer, days, &signer).map_err(|e| {
                let locale = customer.notice_locale(campaign.default_locale);
                OverrideError {
                    name: templates
                        .resolve(
                            render::Channel::InApp,
                            Kind::Banner,
                            record.tier.as_ref().map(|t| t.tier),
                            locale,
                        )
                        .unwrap_or_default(),
                    reason: why(e),
                }
            })?;
        }
    }
    // The customer's pages: their portal with no copy and with one, and
    // every failure's page.
    let page_error = |kind: Kind, locale: Locale, e: RenderError| OverrideError {
        name: templates
            .resolve(render::Channel::Page, kind, None, locale)
            .unwrap_or_default(),
        reason: why(e),
    };
    let now = request.requested_at;
    for (record, customer) in samples::customers(campaign).into_iter().step_by(2) {
        let locale = customer.notice_locale(campaign.default_locale);
        for exports in [&[][..], std::slice::from_ref(&request)] {
            super::portal::render(
                campaign,
                &record,
                &customer,
                exports,
                None,
                "?exp=0&sig=00",
                false,
                now,
                &signer,
            )
            .map_err(|e| page_error(Kind::Portal, locale, e))?;
        }
    }
    for failure in super::portal::FAILURES {
        super::portal::try_error_page(failure, Some(campaign))
            .map_err(|e| page_error(Kind::Error, campaign.default_locale, e))?;
    }
    // The public announcement in each language, and the feed made from
    // its blocks: on the announcement day, and once the data is deleted.
    let announced = crate::domain::milestone::local_instant(
        campaign.dates.announce,
        campaign.send_time(),
        campaign.timezone,
    );
    let deleted = crate::domain::milestone::day_ends_everywhere(campaign.dates.export_deadline);
    for locale in super::public::page_locales(campaign) {
        // The feed reads every language's page: the template at fault is
        // the one the error names.
        let public = |e: super::public::PublicError| match e {
            super::public::PublicError::Template(TemplateError::Render { template, source }) => {
                OverrideError {
                    name: template,
                    reason: render::describe(&source),
                }
            }
            other => OverrideError {
                name: templates
                    .resolve(render::Channel::Page, Kind::Public, None, locale)
                    .unwrap_or_default(),
                reason: other.to_string(),
            },
        };
        for at in [announced, deleted] {
            super::public::page(campaign, locale, at).map_err(public)?;
            super::public::feed(campaign, at).map_err(public)?;
        }
        super::public::calendar(campaign, locale, campaign.dates.export_deadline)
            .map_err(|e| page_error(Kind::Public, locale, e))?;
    }
    let line = BriefLine {
        name: "Sample GmbH".into(),
        id: "sample".into(),
        contract: "-".into(),
        refund: "-".into(),
        locale: "en".into(),
        why: "strategic".into(),
        task: "to do".into(),
    };
    for reminder in [false, true] {
        render_brief(campaign, std::slice::from_ref(&line), reminder).map_err(|e| {
            OverrideError {
                name: "email/brief.en".into(),
                reason: why(e),
            }
        })?;
    }
    Ok(())
}

/// Why a message did not render, as the operator saving the template
/// reads it: the template's line and the value at fault.
fn why(e: RenderError) -> String {
    match e {
        RenderError::Template(TemplateError::Render { source, .. }) => render::describe(&source),
        other => other.to_string(),
    }
}

/// Every text the campaign's rules send, for every sample customer: each
/// renders, in at most two segments.
fn check_texts(
    campaign: &Campaign,
    templates: &Templates,
    signer: &LinkSigner,
) -> Result<(), OverrideError> {
    use crate::domain::ledger::Channel as Push;
    let notices = campaign.notices();
    for milestone in notices
        .into_iter()
        .filter(|&m| campaign.rules.uses(m, Push::Sms))
    {
        let message = Message::notice(milestone);
        for (record, customer) in samples::customers(campaign) {
            let locale = customer.notice_locale(campaign.default_locale);
            let tier = record.tier.as_ref().map(|t| t.tier);
            let fail = |reason: String| OverrideError {
                name: templates
                    .resolve(render::Channel::Sms, message.kind(), tier, locale)
                    .unwrap_or_default(),
                reason,
            };
            let view = view(campaign, &record, &customer, &message, signer)
                .map_err(|e| fail(e.to_string()))?;
            templates
                .sms(message.kind(), tier, locale, &view)
                .map_err(|e| match e {
                    TemplateError::Render { source, .. } => fail(render::describe(&source)),
                    TemplateError::TooLong {
                        segments,
                        units,
                        encoding,
                        ..
                    } => fail(format!(
                        "the {milestone} text for a {} {locale} customer takes {segments} \
                         segments ({units} {encoding} units); keep it to 2 (306 characters, \
                         or 134 when it holds Chinese) — a shorter product name or template",
                        tier.map_or("standard", Tier::as_str),
                    )),
                    other => fail(other.to_string()),
                })?;
        }
    }
    Ok(())
}

/// The customers a campaign's templates are tried on.
mod samples {
    use chrono::NaiveTime;

    use crate::domain::customer::{MigrationStatus, Prepaid};
    use crate::domain::export::{ExportId, ExportRequest, ExportStatus};
    use crate::domain::ids::{Currency, CustomerId, DisplayName, EmailAddress, Phone};
    use crate::domain::tier::{Tier, TierDecision};
    use crate::domain::{Campaign, Customer, CustomerRecord, Locale};

    pub(super) fn customers(campaign: &Campaign) -> Vec<(CustomerRecord, Customer)> {
        let mut out = Vec::new();
        for locale in Locale::ALL {
            for tier in Tier::ALL {
                for status in [
                    MigrationStatus::Pending,
                    MigrationStatus::Exported,
                    MigrationStatus::Declined,
                    MigrationStatus::Migrated,
                ] {
                    for full in [true, false] {
                        let mut c = Customer::new(
                            CustomerId::parse("sample").expect("valid id"),
                            DisplayName::parse("Sample GmbH").expect("valid name"),
                            EmailAddress::parse("sample@example.com").expect("valid address"),
                        );
                        c.locale = Some(locale.tag().into());
                        if full {
                            c.contact_name = DisplayName::parse("Ann Sample").ok();
                            c.customer_since = "2019-05-01".parse().ok();
                            c.account_manager = EmailAddress::parse("am@example.com").ok();
                            c.account_manager_name = DisplayName::parse("Li Wei").ok();
                            c.phone = Phone::parse("+4930123456").ok();
                            c.currency = Currency::parse("EUR").ok();
                            c.prepaid = Some(Prepaid {
                                from: campaign.dates.stop_renewals,
                                until: campaign.dates.service_end + chrono::Days::new(365),
                                amount: crate::domain::bounds::Amount::new(
                                    rust_decimal::Decimal::new(120_000, 2),
                                )
                                .expect("a small amount"),
                            });
                        } else {
                            c.name = None;
                        }
                        let mut r = CustomerRecord::new(c.clone(), campaign.timezone);
                        r.status = status;
                        r.tier = Some(TierDecision {
                            tier,
                            score: 50,
                            explanation: "sample".into(),
                        });
                        out.push((r, c));
                    }
                }
            }
        }
        out
    }

    pub(super) fn export_request(campaign: &Campaign) -> ExportRequest {
        let mut r = ExportRequest::new(
            ExportId::generate(),
            campaign.id.clone(),
            CustomerId::parse("sample").expect("valid id"),
            campaign.dates.announce.and_time(NaiveTime::MIN).and_utc(),
        );
        r.status = ExportStatus::Ready;
        r.bundle_files = Some(4);
        r.bundle_bytes = Some(2_400_000);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::customer::{MigrationStatus, Prepaid};
    use crate::domain::ids::{Currency, CustomerId, DisplayName, EmailAddress};

    fn campaign() -> Campaign {
        Campaign::from_toml(include_str!("../../../examples/orbit-crm.toml")).unwrap()
    }

    /// A customer with a year prepaid from 2027-01-01, in `currency`.
    fn customer(locale: &str, currency: &str) -> (CustomerRecord, Customer) {
        let mut c = Customer::new(
            CustomerId::parse("c1").unwrap(),
            DisplayName::parse("Ada").unwrap(),
            EmailAddress::parse("ada@example.com").unwrap(),
        );
        c.locale = Some(locale.into());
        c.currency = Some(Currency::parse(currency).unwrap());
        c.prepaid = Some(Prepaid {
            from: "2027-01-01".parse().unwrap(),
            until: "2028-01-01".parse().unwrap(),
            amount: crate::domain::bounds::Amount::new(rust_decimal::Decimal::new(1_752_000, 2))
                .unwrap(),
        });
        (CustomerRecord::new(c.clone(), chrono_tz::Europe::Berlin), c)
    }

    fn render(locale: &str, currency: &str, milestone: Milestone) -> Rendered {
        let (record, c) = customer(locale, currency);
        render_notice(
            &campaign(),
            &record,
            &c,
            milestone,
            &LinkSigner::new(vec![7; 32]),
        )
        .unwrap()
    }

    #[test]
    fn a_us_reader_gets_us_dates_and_dollars() {
        let n = render("en-US", "USD", Milestone::Announcement);
        assert!(n.subject.contains("September 30, 2027"), "{}", n.subject);
        // 17,520.00 × 93 days after the end / 365.
        assert!(n.text.contains("The $4,464.00 you paid for"), "{}", n.text);
        assert!(n.html.contains("lang=\"en-US\""));
    }

    #[test]
    fn a_british_reader_gets_day_month_year() {
        let n = render("en-GB", "GBP", Milestone::Announcement);
        assert!(n.subject.contains("30 September 2027"), "{}", n.subject);
        assert!(n.text.contains("£4,464.00"), "{}", n.text);
    }

    #[test]
    fn a_chinese_reader_gets_chinese_dates_and_yuan() {
        let n = render("zh-CN", "CNY", Milestone::Announcement);
        assert!(n.subject.contains("2027年9月30日"), "{}", n.subject);
        assert!(n.text.contains("¥4,464.00"), "{}", n.text);
    }

    #[test]
    fn a_customer_who_declined_is_told_the_deadline_not_to_finish_moving() {
        let (mut record, c) = customer("en", "EUR");
        record.status = MigrationStatus::Declined;
        let signer = LinkSigner::new(vec![7; 32]);
        let n = render_notice(&campaign(), &record, &c, Milestone::Reminder(30), &signer).unwrap();
        assert!(!n.text.contains("not finished moving"), "{}", n.text);
        assert!(
            n.text
                .contains("You told us you will not be moving to our alternatives")
                && n.text.contains("by 31 October 2027"),
            "{}",
            n.text
        );
        let (mut record, mut c) = customer("zh-CN", "CNY");
        record.status = MigrationStatus::Declined;
        c.locale = Some("zh-CN".into());
        let n = render_notice(&campaign(), &record, &c, Milestone::Reminder(30), &signer).unwrap();
        assert!(!n.text.contains("尚未完成迁移"), "{}", n.text);
        assert!(n.text.contains("2027年10月31日 前导出"), "{}", n.text);
    }

    #[test]
    fn the_day_before_says_tomorrow_never_1_days() {
        for (locale, word) in [("en", "tomorrow"), ("zh-CN", "明天")] {
            let n = render(locale, "EUR", Milestone::Reminder(1));
            assert!(n.text.contains(word), "{locale}: {}", n.text);
            assert!(!n.text.contains("1 days") && !n.subject.contains("1 days"));
        }
        let n = render("en", "EUR", Milestone::Reminder(30));
        assert!(
            n.text.contains("ends in 30 days, on 30 September 2027"),
            "{}",
            n.text
        );
        assert!(n.subject.contains("(30 days left)"), "{}", n.subject);
    }
}

#[cfg(test)]
mod template_tests {
    use super::*;

    fn campaign_with(name: &str, source: &str) -> Result<Campaign, String> {
        let mut text = include_str!("../../../examples/orbit-crm.toml").to_owned();
        text.push_str(&format!("\n[templates]\n\"{name}\" = '''\n{source}'''\n"));
        Campaign::from_toml(&text).map_err(|e| e.to_string())
    }

    #[test]
    fn a_campaign_template_replaces_the_built_in_one_for_its_tier_and_locale() {
        let c = campaign_with(
            "email/reminder.core.en",
            "{% extends base %}\n{% block subject %}{{ product }}: {{ left }} to {{ dates.service_end }}{% endblock %}\n{% block body %}\n{{ self.greeting() }}\n\nA word from your team: it ends on {{ dates.service_end }}, your data is kept until {{ dates.export_deadline }}.\n{{ self.export_action() }}\n{{ self.help() }}\n{% endblock %}\n",
        )
        .unwrap();
        let signer = LinkSigner::new(vec![7; 32]);
        let mut customer = Customer::new(
            crate::domain::CustomerId::parse("c1").unwrap(),
            crate::domain::ids::DisplayName::parse("Ada").unwrap(),
            crate::domain::EmailAddress::parse("ada@example.com").unwrap(),
        );
        customer.locale = Some("en-US".into());
        let mut record = CustomerRecord::new(customer.clone(), chrono_tz::Europe::Berlin);
        let mut tiered = |tier| {
            record.tier = Some(crate::domain::tier::TierDecision {
                tier,
                score: 1,
                explanation: String::new(),
            });
            render(&c, &record, &customer, Message::Reminder(30), &signer).unwrap()
        };
        let core = tiered(Tier::Core);
        assert_eq!(
            core.subject,
            "Orbit CRM: 30 days left to September 30, 2027"
        );
        assert!(
            core.text.contains("A word from your team:"),
            "{}",
            core.text
        );
        assert!(core.html.contains("A word from your team:"));
        let standard = tiered(Tier::Standard);
        assert!(
            standard.subject.starts_with("Reminder:"),
            "{}",
            standard.subject
        );
    }

    #[test]
    fn a_broken_campaign_template_is_refused_naming_it_and_the_line() {
        let unknown = campaign_with(
            "email/announcement.zh-CN",
            "{% extends base %}\n{% block subject %}{{ product }}{% endblock %}\n{% block body %}\n{{ prodcut }}\n{% endblock %}\n",
        )
        .unwrap_err();
        assert!(
            unknown.contains("templates.email/announcement.zh-CN") && unknown.contains("line 4"),
            "{unknown}"
        );
        assert!(unknown.contains("undefined"), "{unknown}");
        let syntax = campaign_with(
            "email/reminder.en",
            "{% block body %}{% if %}{% endblock %}",
        )
        .unwrap_err();
        assert!(
            syntax.contains("templates.email/reminder.en") && syntax.contains("line 1"),
            "{syntax}"
        );
        let script = campaign_with(
            "email/reminder.en",
            "{% extends base %}{% block subject %}x{% endblock %}{% block body %}{{ link('javascript:alert(1)', 'x') }}{% endblock %}",
        )
        .unwrap_err();
        assert!(script.contains("is not an http(s)"), "{script}");
        let page = campaign_with(
            "page/portal.en",
            "{% extends layout %}{% block title %}x{% endblock %}{% block body %}{{ export.status }}{% endblock %}",
        )
        .unwrap_err();
        assert!(
            page.contains("templates.page/portal.en") && page.contains("status"),
            "{page}"
        );
        campaign_with(
            "page/portal.en",
            "{% extends layout %}{% block title %}Your data{% endblock %}{% block body %}{{ export.state }}{% endblock %}",
        )
        .unwrap();
        // The public page and the banner are the campaign's to word too,
        // and checked the same way.
        let public = campaign_with(
            "page/public.zh-CN",
            "{% extends layout %}{% block title %}x{% endblock %}{% block body %}{{ customer_id }}{% endblock %}",
        )
        .unwrap_err();
        assert!(
            public.contains("templates.page/public.zh-CN") && public.contains("customer_id"),
            "{public}"
        );
        let banner = campaign_with(
            "in-app/banner.low.en",
            "{% block title %}{{ product }}{% endblock %}{% block message %}{{ dates.last_day }}{% endblock %}",
        )
        .unwrap_err();
        assert!(
            banner.contains("templates.in-app/banner.low.en"),
            "{banner}"
        );
        let name = campaign_with("email/reminder.fr", "x").unwrap_err();
        assert!(name.contains("locale 'fr'"), "{name}");
        // A manager's name in a template that forgets a customer may have none.
        let optional = campaign_with(
            "email/announcement.core.en",
            "{% extends base %}{% block subject %}x{% endblock %}{% block body %}{{ manager.name }}{% endblock %}",
        )
        .unwrap_err();
        assert!(
            optional.contains("email/announcement.core.en"),
            "{optional}"
        );
    }
}
