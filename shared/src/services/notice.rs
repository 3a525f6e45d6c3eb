//! Renders the e-mails: customer notices (announcement, reminders), the
//! export-ready mail and account managers' briefs. Views are built in Rust
//! from the campaign and the customer, templates only lay them out, and the
//! HTML templates escape every value.

use std::sync::OnceLock;

use chrono::{DateTime, NaiveDate, Utc};
use minijinja::Environment;
use serde::Serialize;

use crate::domain::campaign::RefundPolicy;
use crate::domain::customer::MigrationStatus;
use crate::domain::link::{LinkPurpose, LinkSigner};
use crate::domain::{Campaign, Customer, CustomerRecord, Locale, Milestone};

use super::texts::{self, fill};

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        // `.html` names turn on HTML auto-escaping; `.txt` stays as written.
        for (name, source) in [
            ("notice.txt", include_str!("../templates/notice.txt")),
            ("notice.html", include_str!("../templates/notice.html")),
            (
                "export_ready.txt",
                include_str!("../templates/export_ready.txt"),
            ),
            (
                "export_ready.html",
                include_str!("../templates/export_ready.html"),
            ),
            ("brief.txt", include_str!("../templates/brief.txt")),
            ("brief.html", include_str!("../templates/brief.html")),
            ("page.html", include_str!("../templates/page.html")),
            ("deadline.txt", include_str!("../templates/deadline.txt")),
            ("deadline.html", include_str!("../templates/deadline.html")),
        ] {
            env.add_template(name, source)
                .expect("built-in templates parse");
        }
        env
    })
}

/// A page a customer's browser shows (their link's pages, its errors).
#[derive(Debug, Clone, Serialize)]
pub struct PageView {
    pub lang: &'static str,
    pub title: String,
    pub paragraphs: Vec<Paragraph>,
    pub form: Option<PageForm>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Paragraph {
    /// Set when the paragraph is in another language than the page.
    pub lang: Option<&'static str>,
    pub text: String,
}

impl Paragraph {
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            lang: None,
            text: text.into(),
        }
    }
}

/// A button that posts to `action`.
#[derive(Debug, Clone, Serialize)]
pub struct PageForm {
    pub action: String,
    pub button: String,
}

/// Renders a page with the same engine as every notice, HTML-escaped.
pub fn render_page(view: &PageView) -> Result<String, RenderError> {
    env()
        .get_template("page.html")
        .and_then(|t| t.render(view))
        .map_err(|source| RenderError::Template {
            template: "page.html",
            source,
        })
}

/// A rendered message body pair and its subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("template {template} failed: {source}")]
    Template {
        template: &'static str,
        #[source]
        source: minijinja::Error,
    },
    /// This process holds no link-signing key (a function wired without
    /// one): it cannot write a notice with links.
    #[error(transparent)]
    Link(#[from] crate::domain::link::LinkError),
}

fn render_pair<S: Serialize>(
    base: &'static str,
    subject: String,
    view: &S,
) -> Result<Rendered, RenderError> {
    let render = |template: &'static str| {
        env()
            .get_template(template)
            .and_then(|t| t.render(view))
            .map_err(|source| RenderError::Template { template, source })
    };
    let (txt, html) = match base {
        "notice" => ("notice.txt", "notice.html"),
        "export_ready" => ("export_ready.txt", "export_ready.html"),
        "deadline" => ("deadline.txt", "deadline.html"),
        _ => ("brief.txt", "brief.html"),
    };
    Ok(Rendered {
        subject,
        text: render(txt)?,
        html: render(html)?,
    })
}

#[derive(Serialize)]
struct DateLine {
    label: String,
    date: String,
}

#[derive(Serialize)]
struct AlternativeView {
    name: String,
    url: String,
    offer: Option<String>,
    discount: Option<String>,
}

#[derive(Serialize)]
struct NoticeView<'a> {
    lang: &'static str,
    colon: &'static str,
    subject: &'a str,
    greeting: String,
    thanks: String,
    lead: String,
    reason_title: &'static str,
    reason: &'a str,
    timeline_title: &'static str,
    dates: Vec<DateLine>,
    next_title: &'static str,
    guide: &'static str,
    guide_url: &'a str,
    export_link: &'static str,
    export_url: String,
    link_note: String,
    alternatives_title: &'static str,
    alternatives: Vec<AlternativeView>,
    refund_title: &'static str,
    refund: String,
    help_title: &'static str,
    faq: &'static str,
    faq_url: &'a str,
    support_email: String,
    support_phone: Option<String>,
    community: &'static str,
    community_url: Option<&'a str>,
    signoff: String,
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

pub fn subject(campaign: &Campaign, milestone: Milestone, locale: Locale) -> String {
    let t = texts::texts(locale);
    let date = texts::date(locale, campaign.dates.service_end);
    let product = campaign.product.as_str();
    match milestone {
        Milestone::Reminder(1) => fill(
            t.subject_last_reminder,
            &[("product", product), ("date", &date)],
        ),
        Milestone::Reminder(n) => fill(
            t.subject_reminder,
            &[
                ("product", product),
                ("date", &date),
                ("left", &texts::days_left(locale, n)),
            ],
        ),
        Milestone::ExportReady => fill(t.subject_export_ready, &[("product", product)]),
        _ => fill(
            t.subject_announcement,
            &[("product", product), ("date", &date)],
        ),
    }
}

fn refund_line(campaign: &Campaign, customer: &Customer, locale: Locale) -> String {
    let t = texts::texts(locale);
    let money = |a| texts::money(locale, a, customer.currency.as_ref());
    match (
        campaign.refund.policy,
        campaign.refund_for(customer.prepaid.as_ref()),
    ) {
        (RefundPolicy::None, _) => t.refund_none.to_owned(),
        (_, None) => t.refund_nothing_prepaid.to_owned(),
        (_, Some(a)) if a.is_zero() => t.refund_nothing_prepaid.to_owned(),
        (RefundPolicy::Prorata, Some(a)) => fill(t.refund_prorata, &[("amount", &money(a))]),
        (RefundPolicy::Credit, Some(a)) => fill(t.refund_credit, &[("amount", &money(a))]),
    }
}

/// The announcement or a reminder for one customer.
pub fn render_notice(
    campaign: &Campaign,
    record: &CustomerRecord,
    customer: &Customer,
    milestone: Milestone,
    signer: &LinkSigner,
) -> Result<Rendered, RenderError> {
    let locale = customer.notice_locale(campaign.default_locale);
    let t = texts::texts(locale);
    let d = |date: NaiveDate| texts::date(locale, date);
    let product = campaign.product.as_str();
    let end = d(campaign.dates.service_end);
    let subject = subject(campaign, milestone, locale);
    let deadline = record.effective_deadline(campaign.dates.export_deadline);
    let lead = match milestone {
        Milestone::Reminder(n) => {
            let lead = match record.status {
                MigrationStatus::Declined => t.lead_reminder_declined,
                MigrationStatus::Pending | MigrationStatus::Migrated => t.lead_reminder,
            };
            fill(
                lead,
                &[
                    ("product", product),
                    ("date", &end),
                    ("when", &texts::in_days(locale, n)),
                    ("deadline", &d(deadline)),
                ],
            )
        }
        _ => fill(t.lead_announcement, &[("product", product), ("date", &end)]),
    };
    let view = NoticeView {
        lang: locale.tag(),
        colon: t.colon,
        subject: &subject,
        greeting: texts::greeting(t, customer.greeted()),
        thanks: fill(t.thanks, &[("product", product)]),
        lead,
        reason_title: t.reason_title,
        reason: campaign.reason.get(locale, campaign.default_locale),
        timeline_title: t.timeline_title,
        dates: vec![
            DateLine {
                label: t.label_stop_new_signups.into(),
                date: d(campaign.dates.stop_new_signups),
            },
            DateLine {
                label: t.label_stop_renewals.into(),
                date: d(campaign.dates.stop_renewals),
            },
            DateLine {
                label: t.label_service_end.into(),
                date: end.clone(),
            },
            DateLine {
                label: t.label_export_deadline.into(),
                date: d(deadline),
            },
        ],
        next_title: t.next_title,
        guide: t.guide,
        guide_url: campaign.links.migration_guide.as_str(),
        export_link: t.export_link,
        export_url: signed_url(campaign, record, signer, LinkPurpose::RequestExport)?,
        link_note: fill(t.link_note, &[("date", &d(deadline))]),
        alternatives_title: t.alternatives_title,
        alternatives: campaign
            .alternatives
            .iter()
            .map(|a| AlternativeView {
                name: a.name.clone(),
                url: a.url.to_string(),
                offer: a
                    .offer
                    .as_ref()
                    .map(|o| o.get(locale, campaign.default_locale).to_owned()),
                discount: a
                    .discount_code
                    .as_ref()
                    .map(|c| fill(t.discount, &[("code", c)])),
            })
            .collect(),
        refund_title: t.refund_title,
        refund: refund_line(campaign, customer, locale),
        help_title: t.help_title,
        faq: t.faq,
        faq_url: campaign.links.faq.as_str(),
        support_email: fill(
            t.support_email,
            &[("email", campaign.support.email.as_str())],
        ),
        support_phone: campaign
            .support
            .phone
            .as_ref()
            .map(|p| fill(t.support_phone, &[("phone", p.as_str())])),
        community: t.community,
        community_url: campaign.links.community.as_ref().map(|u| u.as_str()),
        signoff: fill(t.signoff, &[("product", product)]),
    };
    render_pair("notice", subject.clone(), &view)
}

#[derive(Serialize)]
struct DeadlineView<'a> {
    lang: &'static str,
    colon: &'static str,
    subject: &'a str,
    greeting: String,
    lead: String,
    body: &'static str,
    export_link: &'static str,
    export_url: String,
    link_note: String,
    help_title: &'static str,
    faq: &'static str,
    faq_url: &'a str,
    support_email: String,
    signoff: String,
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
    let locale = customer.notice_locale(campaign.default_locale);
    let t = texts::texts(locale);
    let product = campaign.product.as_str();
    let last_day = texts::date(
        locale,
        record.effective_deadline(campaign.dates.export_deadline),
    );
    let subject = fill(
        t.subject_deadline,
        &[("product", product), ("date", &last_day)],
    );
    let view = DeadlineView {
        lang: locale.tag(),
        colon: t.colon,
        subject: &subject,
        greeting: texts::greeting(t, customer.greeted()),
        lead: fill(
            t.deadline_lead,
            &[("product", product), ("date", &last_day)],
        ),
        body: t.deadline_body,
        export_link: t.export_link,
        export_url: signed_url(campaign, record, signer, LinkPurpose::RequestExport)?,
        link_note: fill(t.link_note, &[("date", &last_day)]),
        help_title: t.help_title,
        faq: t.faq,
        faq_url: campaign.links.faq.as_str(),
        support_email: fill(
            t.support_email,
            &[("email", campaign.support.email.as_str())],
        ),
        signoff: fill(t.signoff, &[("product", product)]),
    };
    render_pair("deadline", subject.clone(), &view)
}

#[derive(Serialize)]
struct ExportReadyView<'a> {
    lang: &'static str,
    colon: &'static str,
    subject: &'a str,
    greeting: String,
    lead: String,
    contents: String,
    download: &'static str,
    download_url: String,
    link_note: String,
    help_title: &'static str,
    faq: &'static str,
    faq_url: &'a str,
    support_email: String,
    signoff: String,
}

pub fn render_export_ready(
    campaign: &Campaign,
    record: &CustomerRecord,
    customer: &Customer,
    request: &crate::domain::export::ExportId,
    files: usize,
    signer: &LinkSigner,
) -> Result<Rendered, RenderError> {
    let locale = customer.notice_locale(campaign.default_locale);
    let t = texts::texts(locale);
    let product = campaign.product.as_str();
    let subject = subject(campaign, Milestone::ExportReady, locale);
    let deadline = record.effective_deadline(campaign.dates.export_deadline);
    let view = ExportReadyView {
        lang: locale.tag(),
        colon: t.colon,
        subject: &subject,
        greeting: texts::greeting(t, customer.greeted()),
        lead: fill(t.export_ready_lead, &[("product", product)]),
        contents: fill(t.export_ready_contents, &[("files", &files.to_string())]),
        download: t.download,
        // The link names its bundle: it downloads that one, even after a
        // newer request.
        download_url: format!(
            "{}&request={request}",
            signed_url(campaign, record, signer, LinkPurpose::Download)?
        ),
        link_note: fill(t.link_note, &[("date", &texts::date(locale, deadline))]),
        help_title: t.help_title,
        faq: t.faq,
        faq_url: campaign.links.faq.as_str(),
        support_email: fill(
            t.support_email,
            &[("email", campaign.support.email.as_str())],
        ),
        signoff: fill(t.signoff, &[("product", product)]),
    };
    render_pair("export_ready", subject.clone(), &view)
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
}

#[derive(Serialize)]
struct BriefView<'a> {
    subject: &'a str,
    product: &'a str,
    announce: String,
    service_end: String,
    export_deadline: String,
    guide_url: &'a str,
    alternatives: Vec<AlternativeView>,
    customers: &'a [BriefLine],
}

pub fn brief_line(campaign: &Campaign, record: &CustomerRecord, customer: &Customer) -> BriefLine {
    // Briefs are in English, for staff.
    let money = |a| texts::money(Locale::En, a, customer.currency.as_ref());
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
    }
}

/// An account manager's brief, in English: it is for staff.
pub fn render_brief(campaign: &Campaign, lines: &[BriefLine]) -> Result<Rendered, RenderError> {
    let d = |date| texts::date(Locale::En, date);
    let subject = fill(
        texts::EN.subject_brief,
        &[
            ("product", campaign.product.as_str()),
            ("date", &d(campaign.dates.announce)),
            ("count", &lines.len().to_string()),
        ],
    );
    let view = BriefView {
        subject: &subject,
        product: &campaign.product,
        announce: d(campaign.dates.announce),
        service_end: d(campaign.dates.service_end),
        export_deadline: d(campaign.dates.export_deadline),
        guide_url: campaign.links.migration_guide.as_str(),
        alternatives: campaign
            .alternatives
            .iter()
            .map(|a| AlternativeView {
                name: a.name.clone(),
                url: a.url.to_string(),
                offer: None,
                discount: a.discount_code.clone(),
            })
            .collect(),
        customers: lines,
    };
    render_pair("brief", subject.clone(), &view)
}

/// The seed's five elements (§四), checked on a rendered notice. Returns
/// what is missing; preflight refuses to launch a campaign whose notices
/// miss any.
pub fn missing_elements(
    campaign: &Campaign,
    locale: Locale,
    rendered: &Rendered,
) -> Vec<&'static str> {
    let t = texts::texts(locale);
    let d = |date| texts::date(locale, date);
    let text = &rendered.text;
    let mut missing = Vec::new();
    if !(rendered.subject.contains(campaign.product.as_str())
        && rendered.subject.contains(&d(campaign.dates.service_end)))
    {
        missing.push("1. title with product and end date");
    }
    let thanks = fill(t.thanks, &[("product", &campaign.product)]);
    if !(text.contains(&thanks)
        && text.contains(campaign.reason.get(locale, campaign.default_locale)))
    {
        missing.push("2. thanks and reason");
    }
    let dates = [
        campaign.dates.stop_new_signups,
        campaign.dates.stop_renewals,
        campaign.dates.service_end,
        campaign.dates.export_deadline,
    ];
    if !dates.iter().all(|x| text.contains(&d(*x))) {
        missing.push("3. the four key dates");
    }
    let alternatives_ok = campaign.alternatives.iter().all(|a| {
        text.contains(a.url.as_str())
            && a.discount_code
                .as_ref()
                .is_none_or(|c| text.contains(c.as_str()))
    });
    let refund_ok = text.contains(t.refund_title);
    if !(text.contains(campaign.links.migration_guide.as_str()) && alternatives_ok && refund_ok) {
        missing.push("4. next steps: migration guide, alternatives, prepaid refund");
    }
    let community_ok = campaign
        .links
        .community
        .as_ref()
        .is_none_or(|u| text.contains(u.as_str()));
    if !(text.contains(campaign.links.faq.as_str())
        && text.contains(campaign.support.email.as_str())
        && community_ok)
    {
        missing.push("5. help: FAQ, support contact, community");
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::customer::Prepaid;
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
        assert!(n.text.contains("$4,464.00 paid for"), "{}", n.text);
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
