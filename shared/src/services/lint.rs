//! The guide's five elements of a sunset notice (§四), checked on what a
//! customer reads — the subject, the plain-text part and the HTML part's
//! visible text — and named one by one when missing: when a campaign's
//! templates are saved, and at preflight.
//!
//! The announcement carries all five. A reminder says what is left and what
//! to do now: the title, the end of service and the last day to export, the
//! personal export link and the help channels.

use std::fmt;

use chrono::NaiveDate;
use serde::Serialize;

use crate::domain::campaign::RefundPolicy;
use crate::domain::locale::Language;
use crate::domain::{Campaign, Customer, CustomerRecord, Locale};
use crate::render::{Kind, Rendered, format};

/// One of the guide's five elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Element {
    /// 1. A clear title: the product and the end date.
    Title,
    /// 2. Thanks, and the reason.
    ThanksAndReason,
    /// 3. The key dates.
    KeyDates,
    /// 4. Next steps: the export, the migration guide, the alternatives
    ///    with their offer, the refund.
    NextSteps,
    /// 5. Help: FAQ, support contacts, community.
    Help,
}

impl Element {
    pub fn number(self) -> u8 {
        match self {
            Element::Title => 1,
            Element::ThanksAndReason => 2,
            Element::KeyDates => 3,
            Element::NextSteps => 4,
            Element::Help => 5,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Element::Title => "title with product and end date",
            Element::ThanksAndReason => "thanks and reason",
            Element::KeyDates => "key dates",
            Element::NextSteps => "next steps",
            Element::Help => "help channels",
        }
    }
}

/// An element a notice lacks, and what of it is missing, in which part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Missing {
    pub element: Element,
    /// `subject`, `text` or `html`.
    pub part: &'static str,
    pub what: String,
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "element {} ({}): {} missing from the {} part",
            self.element.number(),
            self.element.name(),
            self.what,
            self.part
        )
    }
}

/// Words that thank the reader, per language.
fn thanks_words(locale: Locale) -> &'static [&'static str] {
    match locale.language() {
        Language::English => &["thank"],
        Language::Chinese => &["感谢", "谢谢"],
    }
}

/// Words that speak of the prepaid fees when none are due or refunded.
fn fee_words(locale: Locale) -> &'static [&'static str] {
    match locale.language() {
        Language::English => &["refund", "prepaid", "credit", "fees"],
        Language::Chinese => &["退还", "预付", "抵扣", "费用"],
    }
}

/// The visible text of an HTML part: tags dropped, entities decoded, and
/// the link targets kept (a reader follows them).
pub fn html_text(html: &str) -> String {
    let body = html
        .split_once("<body")
        .and_then(|(_, rest)| rest.split_once('>'))
        .map_or(html, |(_, rest)| rest);
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('>') else {
            break;
        };
        let tag = &rest[start..start + end];
        if let Some(href) = tag
            .split("href=\"")
            .nth(1)
            .and_then(|h| h.split('"').next())
        {
            out.push(' ');
            out.push_str(href);
            out.push(' ');
        } else {
            out.push(' ');
        }
        rest = &rest[start + end + 1..];
    }
    decode_entities(&out)
}

/// `&amp;`, `&lt;`, `&gt;`, `&quot;`, `&apos;`, `&nbsp;` and numeric
/// references (`&#39;`, `&#x27;`), as HTML escapers write them.
fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let entity = rest[1..]
            .find(';')
            .filter(|n| *n <= 8)
            .map(|n| &rest[1..=n]);
        let decoded = entity.and_then(|e| match e {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some('\u{a0}'),
            _ => e
                .strip_prefix("#x")
                .or_else(|| e.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| e.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        });
        match (entity, decoded) {
            (Some(e), Some(c)) => {
                out.push(c);
                rest = &rest[e.len() + 2..];
            }
            _ => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// What of the five elements `rendered` lacks, for one customer: an
/// announcement or a reminder (the other notices carry what their moment
/// needs, and are not checked).
pub fn check(
    campaign: &Campaign,
    record: &CustomerRecord,
    customer: &Customer,
    kind: Kind,
    rendered: &Rendered,
) -> Vec<Missing> {
    if !matches!(kind, Kind::Announcement | Kind::Reminder) {
        return Vec::new();
    }
    let locale = customer.notice_locale(campaign.default_locale);
    let d = |date: NaiveDate| format::date(locale, date);
    let deadline = record.effective_deadline(campaign.dates.export_deadline);
    let announcement = kind == Kind::Announcement;
    let mut missing = Vec::new();
    let product = campaign.product.as_str();
    let end = d(campaign.dates.service_end);
    for (what, ok) in [
        (
            format!("the product name '{product}'"),
            rendered.subject.contains(product),
        ),
        (
            format!("the end date '{end}'"),
            rendered.subject.contains(&end),
        ),
    ] {
        if !ok {
            missing.push(Missing {
                element: Element::Title,
                part: "subject",
                what,
            });
        }
    }
    let html = html_text(&rendered.html);
    for (part, body) in [("text", rendered.text.as_str()), ("html", html.as_str())] {
        let lower = body.to_lowercase();
        let has = |s: &str| lower.contains(&s.to_lowercase());
        let mut lacks = |element: Element, what: String| {
            missing.push(Missing {
                element,
                part,
                what,
            })
        };
        if announcement {
            if !thanks_words(locale).iter().any(|w| has(w)) {
                lacks(Element::ThanksAndReason, "a thank-you".into());
            }
            let reason = campaign.reason.get(locale, campaign.default_locale);
            if !has(reason) {
                lacks(Element::ThanksAndReason, "the campaign's reason".into());
            }
        }
        let mut dates = vec![
            ("the end of service", campaign.dates.service_end),
            ("the last day to export", deadline),
        ];
        if announcement {
            dates.insert(
                0,
                (
                    "the end of sales and renewals",
                    campaign.dates.stop_renewals,
                ),
            );
            dates.insert(
                0,
                ("the end of new sign-ups", campaign.dates.stop_new_signups),
            );
        }
        for (label, date) in dates {
            if !has(&d(date)) {
                lacks(Element::KeyDates, format!("{label} ({})", d(date)));
            }
        }
        let export_link = format!(
            "{}/v1/c/{}/{}/export?",
            campaign.delivery.portal_url.as_str().trim_end_matches('/'),
            campaign.id,
            record.id
        );
        // Someone who has moved needs no export link in a reminder.
        let moved = record.status == crate::domain::MigrationStatus::Migrated;
        if !has(&export_link) && (announcement || !moved) {
            lacks(Element::NextSteps, "the customer's export link".into());
        }
        if announcement {
            if !has(campaign.links.migration_guide.as_str()) {
                lacks(Element::NextSteps, "the migration guide's link".into());
            }
            for a in &campaign.alternatives {
                if !has(a.url.as_str()) {
                    lacks(Element::NextSteps, format!("the link to {}", a.name));
                }
                if let Some(code) = a.discount_code.as_deref().filter(|c| !has(c)) {
                    lacks(
                        Element::NextSteps,
                        format!("{}'s discount code {code}", a.name),
                    );
                }
            }
            let due = match campaign.refund.policy {
                RefundPolicy::None => None,
                _ => campaign
                    .refund_for(customer.prepaid.as_ref())
                    .filter(|a| !a.is_zero())
                    .map(|a| format::money(locale, a, customer.currency.as_ref())),
            };
            match due {
                Some(amount) if !has(&amount) => {
                    lacks(Element::NextSteps, format!("the refund due ({amount})"))
                }
                None if !fee_words(locale).iter().any(|w| has(w)) => {
                    lacks(Element::NextSteps, "what happens to prepaid fees".into())
                }
                _ => {}
            }
        }
        let help = campaign.support.for_locale(locale, campaign.default_locale);
        if !has(campaign.links.faq.as_str()) {
            lacks(Element::Help, "the FAQ's link".into());
        }
        if !has(help.email.as_str()) {
            lacks(Element::Help, format!("the support address {}", help.email));
        }
        if let Some(phone) = help.phone.filter(|p| !has(p.as_str())) {
            lacks(Element::Help, format!("the support phone {phone}"));
        }
        if let Some(url) = campaign
            .links
            .community
            .as_ref()
            .filter(|u| !has(u.as_str()))
        {
            lacks(Element::Help, format!("the community's link {url}"));
        }
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::html_text;
    use crate::domain::Campaign;

    #[test]
    fn the_visible_text_of_html_decodes_what_escapers_write() {
        assert_eq!(
            html_text("<body><p>Orbit CRM&#x27;s &amp; &lt;b&gt; &#39;x&#39; &amp;amp;</p></body>")
                .trim(),
            "Orbit CRM's & <b> 'x' &amp;"
        );
        assert!(
            html_text("<body><a href=\"https://x.example/?a=1&amp;b=2\">go</a>")
                .contains("https://x.example/?a=1&b=2")
        );
    }

    /// An English announcement with the five elements and nothing more.
    const COMPLETE: &str = r#"{% extends base %}
{% block subject %}{{ product }} ends on {{ dates.service_end }}{% endblock %}
{% block body %}
Thank you for using it. {{ reason }}
{{ timeline([["Sign-ups end", dates.stop_new_signups], ["Renewals end", dates.stop_renewals], ["Service ends", dates.service_end], ["Last day", dates.export_deadline]]) }}
{{ self.export_action() }}
See {{ link(links.guide, "the guide") }}.
{% for a in alternatives %}{{ link(a.url, a.name) }}, code {{ a.code }}{% endfor %}
{{ refund.amount ~ " is refunded." if refund.amount else "No prepaid fees are due." }}
{{ self.help() }}
{% endblock %}
"#;

    fn saved(source: &str) -> Result<Campaign, String> {
        let mut text = include_str!("../../../examples/orbit-crm.toml").to_owned();
        text.push_str(&format!(
            "\n[templates]\n\"email/announcement.en\" = '''\n{source}'''\n"
        ));
        Campaign::from_toml(&text).map_err(|e| e.to_string())
    }

    #[test]
    fn a_template_with_the_five_elements_is_saved() {
        saved(COMPLETE).unwrap();
    }

    #[test]
    fn a_template_lacking_an_element_is_refused_naming_it() {
        let cases = [
            (
                "{{ product }} ends on",
                "ends on",
                "element 1 (title with product and end date)",
            ),
            (
                "Thank you for using it.",
                "We are closing it.",
                "element 2 (thanks and reason)",
            ),
            (
                " {{ reason }}",
                "",
                "element 2 (thanks and reason): the campaign's reason",
            ),
            (
                r#"["Renewals end", dates.stop_renewals], "#,
                "",
                "element 3 (key dates): the end of sales and renewals (1 April 2027)",
            ),
            (
                "{{ self.export_action() }}",
                "",
                "element 4 (next steps): the customer's export link",
            ),
            (
                r#"See {{ link(links.guide, "the guide") }}."#,
                "",
                "element 4 (next steps): the migration guide's link",
            ),
            (
                ", code {{ a.code }}",
                "",
                "element 4 (next steps): Orbit Suite's discount code CRM2SUITE",
            ),
            (
                "{{ self.help() }}",
                "",
                "element 5 (help channels): the FAQ's link",
            ),
        ];
        for (cut, with, named) in cases {
            assert!(COMPLETE.contains(cut), "{cut}");
            let err = saved(&COMPLETE.replacen(cut, with, 1)).unwrap_err();
            assert!(
                err.contains("templates.email/announcement.en") && err.contains(named),
                "cutting {cut:?}: {err}"
            );
        }
    }

    #[test]
    fn the_html_part_is_checked_too() {
        // The date only in the text part: a reader of the HTML misses it.
        let source = COMPLETE
            .replace(r#"["Renewals end", dates.stop_renewals], "#, "")
            .replace(
                "{% block body %}",
                "{% block body %}{{ dates.stop_renewals if layout is endingwith('.txt') }}",
            );
        let err = saved(&source).unwrap_err();
        assert!(err.contains("missing from the html part"), "{err}");
    }
}
