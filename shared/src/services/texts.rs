//! The built-in notice texts, per locale. Placeholders in `{braces}` are
//! filled by [`fill`]; the result is plain text that templates escape.

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;

use crate::domain::Locale;
use crate::domain::ids::Currency;
use crate::domain::locale::Language;

pub struct Texts {
    /// The colon after a heading or label.
    pub colon: &'static str,
    pub subject_announcement: &'static str,
    pub subject_reminder: &'static str,
    pub subject_last_reminder: &'static str,
    pub subject_export_ready: &'static str,
    pub subject_brief: &'static str,
    pub greeting: &'static str,
    /// The greeting when the customer's file gave no usable name.
    pub greeting_unnamed: &'static str,
    pub thanks: &'static str,
    pub lead_announcement: &'static str,
    pub lead_reminder: &'static str,
    /// The reminder's lead for a customer who said they will not move to
    /// the alternatives: the facts of the deadline, not "finish moving".
    pub lead_reminder_declined: &'static str,
    pub reason_title: &'static str,
    pub timeline_title: &'static str,
    pub label_stop_new_signups: &'static str,
    pub label_stop_renewals: &'static str,
    pub label_service_end: &'static str,
    pub label_export_deadline: &'static str,
    pub next_title: &'static str,
    pub guide: &'static str,
    pub export_link: &'static str,
    pub link_note: &'static str,
    pub alternatives_title: &'static str,
    pub discount: &'static str,
    pub refund_title: &'static str,
    pub refund_prorata: &'static str,
    pub refund_credit: &'static str,
    pub refund_none: &'static str,
    pub refund_nothing_prepaid: &'static str,
    pub help_title: &'static str,
    pub faq: &'static str,
    pub support_email: &'static str,
    pub support_phone: &'static str,
    pub community: &'static str,
    pub signoff: &'static str,
    pub export_ready_lead: &'static str,
    pub export_ready_contents: &'static str,
    pub download: &'static str,
    pub subject_deadline: &'static str,
    pub deadline_lead: &'static str,
    pub deadline_body: &'static str,
}

pub const EN: Texts = Texts {
    colon: ": ",
    subject_announcement: "Action Required: {product} Sunsetting on {date}",
    subject_reminder: "Reminder: {product} ends on {date} ({left})",
    subject_last_reminder: "Last reminder: {product} ends on {date}",
    subject_export_ready: "Your {product} data export is ready",
    subject_brief: "Before the {product} announcement on {date}: 1:1 calls with {count} core customers",
    greeting: "Dear {name},",
    greeting_unnamed: "Dear customer,",
    thanks: "Thank you for the trust you have placed in {product}.",
    lead_announcement: "We are writing to tell you that {product} will be retired. The service ends on {date}.",
    lead_reminder: "{product} ends {when}, on {date}, and you have not finished moving off it yet.",
    lead_reminder_declined: "{product} ends {when}, on {date}. You told us you will not be moving to our alternatives, and we respect that: please take a copy of your data by {deadline}. After that day it is deleted for good.",
    reason_title: "Why we are doing this",
    timeline_title: "Key dates",
    label_stop_new_signups: "New sign-ups end",
    label_stop_renewals: "Sales and renewals end",
    label_service_end: "Service ends",
    label_export_deadline: "Last day to export your data",
    next_title: "What to do next",
    guide: "Migration guide (how to export and move your data)",
    export_link: "Request a complete export of your data",
    link_note: "This link is personal to you; please do not forward it. It works until {date}.",
    alternatives_title: "Where to go next",
    discount: "Discount code: {code}",
    refund_title: "Prepaid fees",
    refund_prorata: "{amount} paid for the time after the service ends will be refunded to you.",
    refund_credit: "{amount} paid for the time after the service ends will be credited toward your new plan.",
    refund_none: "Fees already paid are not refunded.",
    refund_nothing_prepaid: "You have no prepaid fees for the time after the service ends.",
    help_title: "Help and support",
    faq: "Frequently asked questions",
    support_email: "Write to us: {email}",
    support_phone: "Call us: {phone}",
    community: "Community forum",
    signoff: "Thank you, and we are sorry for the disruption.\nThe {product} team",
    export_ready_lead: "The export of your {product} data you asked for is ready.",
    export_ready_contents: "The archive holds {files} files: your product data, what we hold about you (JSON and CSV) and a manifest with a SHA-256 checksum of each file.",
    download: "Download your data",
    subject_deadline: "Your {product} data is kept until {date}",
    deadline_lead: "Your last day to export your {product} data is now {date}.",
    deadline_body: "Until the end of that day you can still download everything we hold about you with the link below; after it, your data is deleted for good. Links you received before keep working until then too.",
};

pub const ZH_CN: Texts = Texts {
    colon: "：",
    subject_announcement: "【重要通知】关于 {product} 服务将于 {date} 终止的公告",
    subject_reminder: "【提醒】{product} 将于 {date} 终止服务，{left}",
    subject_last_reminder: "【最后提醒】{product} 将于 {date} 终止服务",
    subject_export_ready: "您的 {product} 数据导出已就绪",
    subject_brief: "{product} 公告（{date}）前：请与 {count} 位核心客户一对一沟通",
    greeting: "尊敬的 {name}：",
    greeting_unnamed: "尊敬的客户：",
    thanks: "衷心感谢您一直以来对 {product} 的信任与支持。",
    lead_announcement: "我们在此通知您，{product} 将停止服务，服务终止日期为 {date}。",
    lead_reminder: "{product} 将在{when}（{date}）终止服务，您尚未完成迁移。",
    lead_reminder_declined: "{product} 将在{when}（{date}）终止服务。您已告知我们不迁移至替代产品，我们尊重您的决定：请在 {deadline} 前导出您的数据副本，此后数据将被永久删除。",
    reason_title: "退市原因",
    timeline_title: "关键时间线",
    label_stop_new_signups: "停止新用户注册",
    label_stop_renewals: "停止销售/续费",
    label_service_end: "服务正式终止",
    label_export_deadline: "数据导出截止",
    next_title: "后续方案与指引",
    guide: "数据迁移指南（如何导出和迁移您的数据）",
    export_link: "申请导出您的全部数据",
    link_note: "此链接为您的专属链接，请勿转发，有效期至 {date}。",
    alternatives_title: "替代产品推荐",
    discount: "专属优惠码：{code}",
    refund_title: "预付费用",
    refund_prorata: "服务终止后未到期的 {amount} 将按比例退还给您。",
    refund_credit: "服务终止后未到期的 {amount} 将按比例转为新产品的抵扣额度。",
    refund_none: "已支付的费用不予退还。",
    refund_nothing_prepaid: "您没有服务终止后仍未到期的预付费用。",
    help_title: "帮助与支持",
    faq: "常见问题解答",
    support_email: "专属客服邮箱：{email}",
    support_phone: "客服热线：{phone}",
    community: "社区论坛",
    signoff: "再次感谢您的支持，给您带来不便，敬请谅解。\n{product} 团队",
    export_ready_lead: "您申请的 {product} 数据导出已就绪。",
    export_ready_contents: "压缩包内共 {files} 个文件：您的产品数据、我们保存的您的信息（JSON 和 CSV）以及包含每个文件 SHA-256 校验值的清单。",
    download: "下载您的数据",
    subject_deadline: "您的 {product} 数据保留至 {date}",
    deadline_lead: "您导出 {product} 数据的最后期限已调整为 {date}。",
    deadline_body: "在当天结束前，您仍可通过下方链接下载我们保存的您的全部数据；此后您的数据将被永久删除。您之前收到的链接在此之前同样有效。",
};

pub fn texts(locale: Locale) -> &'static Texts {
    match locale.language() {
        Language::English => &EN,
        Language::Chinese => &ZH_CN,
    }
}

/// Replaces `{name}` placeholders.
/// The greeting of a customer, by name when there is one.
pub fn greeting(t: &Texts, name: Option<&crate::domain::ids::DisplayName>) -> String {
    match name {
        Some(n) => fill(t.greeting, &[("name", n.as_str())]),
        None => t.greeting_unnamed.to_owned(),
    }
}

pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

/// A date as people in the locale write it.
pub fn date(locale: Locale, d: NaiveDate) -> String {
    match locale {
        Locale::EnUs => d.format("%B %-d, %Y").to_string(),
        Locale::En | Locale::EnGb => d.format("%-d %B %Y").to_string(),
        Locale::ZhCn => format!("{}年{}月{}日", d.year(), d.month(), d.day()),
    }
}

/// When something happens, counted in whole days from today: "today",
/// "tomorrow", "in 30 days" (the reader never sees "1 days").
pub fn in_days(locale: Locale, days: u32) -> String {
    match (locale.language(), days) {
        (Language::English, 0) => "today".into(),
        (Language::English, 1) => "tomorrow".into(),
        (Language::English, n) => format!("in {n} days"),
        (Language::Chinese, 0) => "今天".into(),
        (Language::Chinese, 1) => "明天".into(),
        (Language::Chinese, n) => format!("{n}天后"),
    }
}

/// How many days are left, for a subject line: "30 days left", "1 day
/// left".
pub fn days_left(locale: Locale, days: u32) -> String {
    match (locale.language(), days) {
        (Language::English, 0) => "last day".into(),
        (Language::English, 1) => "1 day left".into(),
        (Language::English, n) => format!("{n} days left"),
        (Language::Chinese, 0) => "最后一天".into(),
        (Language::Chinese, n) => format!("还剩 {n} 天"),
    }
}

/// An amount of money as the reader writes it: the currency's symbol as
/// their locale shows it (`¥4,452.32` to a Chinese reader, `CN¥4,452.32`
/// to an English one, who would read `¥` as yen), digits grouped by
/// thousands, the currency's minor units (none for yen). A currency
/// without a known symbol is written by its code: `1,250.00 CHF`. No
/// currency: the number alone.
pub fn money(locale: Locale, amount: Decimal, currency: Option<&Currency>) -> String {
    let code = currency.map(|c| c.as_str());
    let decimals = match code {
        Some("JPY" | "KRW" | "VND" | "CLP" | "ISK") => 0,
        _ => 2,
    };
    let number = grouped(amount, decimals);
    let chinese = locale.language() == Language::Chinese;
    let symbol = match code {
        Some("CNY") if chinese => Some("¥"),
        Some("CNY") => Some("CN¥"),
        Some("JPY") if chinese => Some("JP¥"),
        Some("JPY") => Some("¥"),
        Some("USD") if locale == Locale::EnUs => Some("$"),
        Some("USD") => Some("US$"),
        Some("EUR") => Some("€"),
        Some("GBP") => Some("£"),
        Some("HKD") => Some("HK$"),
        _ => None,
    };
    match (symbol, code) {
        (Some(sym), _) => format!("{sym}{number}"),
        (None, Some(code)) => format!("{number} {code}"),
        (None, None) => number,
    }
}

/// `amount` rounded to `decimals` places (half away from zero, as
/// invoices do), thousands separated by commas.
fn grouped(amount: Decimal, decimals: u32) -> String {
    let rounded = amount.round_dp_with_strategy(
        decimals,
        rust_decimal::RoundingStrategy::MidpointAwayFromZero,
    );
    let text = format!("{:.*}", decimals as usize, rounded.abs());
    let (whole, fraction) = text
        .split_once('.')
        .map_or((text.as_str(), None), |(w, f)| (w, Some(f)));
    let mut out = String::with_capacity(text.len() + whole.len() / 3);
    if rounded.is_sign_negative() && !rounded.is_zero() {
        out.push('-');
    }
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(f) = fraction {
        out.push('.');
        out.push_str(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn dates_follow_the_readers_conventions() {
        let end = d("2027-09-30");
        assert_eq!(date(Locale::EnUs, end), "September 30, 2027");
        assert_eq!(date(Locale::EnGb, end), "30 September 2027");
        assert_eq!(date(Locale::En, end), "30 September 2027");
        assert_eq!(date(Locale::ZhCn, end), "2027年9月30日");
    }

    #[test]
    fn days_read_as_people_say_them() {
        assert_eq!(in_days(Locale::En, 1), "tomorrow");
        assert_eq!(in_days(Locale::EnUs, 0), "today");
        assert_eq!(in_days(Locale::En, 30), "in 30 days");
        assert_eq!(in_days(Locale::ZhCn, 1), "明天");
        assert_eq!(in_days(Locale::ZhCn, 7), "7天后");
        assert_eq!(days_left(Locale::En, 1), "1 day left");
        assert_eq!(days_left(Locale::En, 15), "15 days left");
        assert_eq!(days_left(Locale::ZhCn, 15), "还剩 15 天");
    }

    #[test]
    fn money_reads_as_the_reader_writes_it() {
        let m = |locale, amount: &str, code: Option<&str>| {
            let currency = code.map(|c| Currency::parse(c).unwrap());
            money(
                locale,
                Decimal::from_str(amount).unwrap(),
                currency.as_ref(),
            )
        };
        assert_eq!(m(Locale::ZhCn, "4452.32", Some("CNY")), "¥4,452.32");
        assert_eq!(m(Locale::En, "4452.32", Some("CNY")), "CN¥4,452.32");
        assert_eq!(m(Locale::EnUs, "57000", Some("USD")), "$57,000.00");
        assert_eq!(m(Locale::EnGb, "57000", Some("USD")), "US$57,000.00");
        assert_eq!(m(Locale::EnGb, "1234567.5", Some("GBP")), "£1,234,567.50");
        assert_eq!(m(Locale::En, "1234.5", Some("JPY")), "¥1,235");
        assert_eq!(m(Locale::ZhCn, "1234.5", Some("JPY")), "JP¥1,235");
        assert_eq!(m(Locale::En, "1250", Some("CHF")), "1,250.00 CHF");
        assert_eq!(m(Locale::En, "594", None), "594.00");
        assert_eq!(m(Locale::En, "0.005", Some("EUR")), "€0.01");
        assert_eq!(m(Locale::En, "999.999", Some("EUR")), "€1,000.00");
    }
}
