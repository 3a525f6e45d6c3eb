//! iCalendar (RFC 5545) writing: the key dates of a sunset as all-day
//! events a calendar imports, with CRLF lines folded at 75 octets and
//! TEXT values escaped.

use chrono::{DateTime, NaiveDate, Utc};

/// One all-day event.
pub struct Event<'a> {
    /// Unique and stable: importing the file again updates the event.
    pub uid: String,
    pub day: NaiveDate,
    pub summary: &'a str,
    pub description: &'a str,
    pub url: &'a str,
    /// Days before the event a calendar reminds its owner, if it should.
    pub alarm_days_before: Option<u32>,
}

/// A calendar to publish: `name` is its title in a calendar app; `stamp`
/// is when its content was made (the same content, the same bytes).
pub fn calendar(name: &str, stamp: DateTime<Utc>, events: &[Event<'_>]) -> String {
    let mut out = String::new();
    let mut line = |l: String| fold_into(&mut out, &l);
    line("BEGIN:VCALENDAR".into());
    line("VERSION:2.0".into());
    line("PRODID:-//sunset//product sunset//EN".into());
    line("CALSCALE:GREGORIAN".into());
    line("METHOD:PUBLISH".into());
    line(format!("X-WR-CALNAME:{}", text(name)));
    for e in events {
        line("BEGIN:VEVENT".into());
        line(format!("UID:{}", text(&e.uid)));
        line(format!("DTSTAMP:{}", stamp.format("%Y%m%dT%H%M%SZ")));
        line(format!("DTSTART;VALUE=DATE:{}", e.day.format("%Y%m%d")));
        let next = e.day.succ_opt().unwrap_or(e.day);
        line(format!("DTEND;VALUE=DATE:{}", next.format("%Y%m%d")));
        line(format!("SUMMARY:{}", text(e.summary)));
        line(format!("DESCRIPTION:{}", text(e.description)));
        line(format!("URL:{}", e.url));
        // An all-day marker, not a busy day.
        line("TRANSP:TRANSPARENT".into());
        if let Some(days) = e.alarm_days_before {
            line("BEGIN:VALARM".into());
            line("ACTION:DISPLAY".into());
            line(format!("TRIGGER:-P{days}D"));
            line(format!("DESCRIPTION:{}", text(e.summary)));
            line("END:VALARM".into());
        }
        line("END:VEVENT".into());
    }
    line("END:VCALENDAR".into());
    out
}

/// A TEXT value: `\`, `;`, `,` and line breaks escaped (RFC 5545 §3.3.11).
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Appends `line` folded at 75 octets (continuations start with a space),
/// never inside a UTF-8 character, ended by CRLF.
fn fold_into(out: &mut String, line: &str) {
    let mut width = 0;
    for c in line.chars() {
        if width + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unfolds and splits a calendar the way a reader does (§3.1).
    fn unfold(ics: &str) -> Vec<String> {
        ics.replace("\r\n ", "")
            .split("\r\n")
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn lines_fold_at_75_octets_on_character_boundaries_and_unfold_back() {
        let summary = "Orbit CRM 停止服务：请在 2027年10月31日 前导出您的全部数据, 之后数据将被永久删除; 详情见官网";
        let ics = calendar(
            "Orbit CRM",
            "2027-01-31T23:00:00Z".parse().unwrap(),
            &[Event {
                uid: "orbit-crm-2027.service-end@sunset".into(),
                day: "2027-09-30".parse().unwrap(),
                summary,
                description: "line one\nline two",
                url: "http://127.0.0.1:8080/v1/public/orbit-crm-2027/zh-CN",
                alarm_days_before: Some(7),
            }],
        );
        assert!(ics.ends_with("END:VCALENDAR\r\n"));
        for physical in ics.split("\r\n") {
            assert!(
                physical.len() <= 75,
                "{physical:?} is {} octets",
                physical.len()
            );
        }
        let lines = unfold(&ics);
        let value = |name: &str| {
            lines
                .iter()
                .find_map(|l| l.strip_prefix(name))
                .unwrap()
                .to_owned()
        };
        assert_eq!(
            value("SUMMARY:"),
            summary.replace(',', "\\,").replace(';', "\\;")
        );
        assert_eq!(value("DESCRIPTION:"), "line one\\nline two");
        assert_eq!(value("DTSTART;VALUE=DATE:"), "20270930");
        assert_eq!(value("DTEND;VALUE=DATE:"), "20271001");
        assert_eq!(value("DTSTAMP:"), "20270131T230000Z");
        assert_eq!(value("TRIGGER:"), "-P7D");
    }
}
