//! Values as the reader writes them: dates, days, money and sizes per
//! locale. The words around them are in the templates.

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;

use crate::domain::Locale;
use crate::domain::ids::Currency;
use crate::domain::locale::Language;

/// A date as people in the locale write it.
pub fn date(locale: Locale, d: NaiveDate) -> String {
    match locale {
        Locale::EnUs => d.format("%B %-d, %Y").to_string(),
        Locale::En | Locale::EnGb => d.format("%-d %B %Y").to_string(),
        Locale::ZhCn => format!("{}年{}月{}日", d.year(), d.month(), d.day()),
    }
}

/// A phone number as a `tel:` URI's digits: `+` and digits only.
pub fn tel_uri(number: &str) -> String {
    number
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '+')
        .collect()
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

/// A file size: "840 KB", "2.3 MB" (decimal units, as download pages
/// show them).
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 999.95 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if value < 10.0 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
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
    fn sizes_read_as_download_pages_show_them() {
        assert_eq!(size(512), "512 B");
        assert_eq!(size(840_000), "840 KB");
        assert_eq!(size(2_345_678), "2.3 MB");
        assert_eq!(size(999_999), "1.0 MB");
        assert_eq!(size(12_600_000_000), "13 GB");
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
