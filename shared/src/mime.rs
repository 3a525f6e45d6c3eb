//! RFC 5322 / MIME rendering of an [`OutgoingEmail`]: multipart/alternative
//! with a plain-text and an HTML part, RFC 2047 encoded words for non-ASCII
//! headers. Used by the Maildir outbox and by raw-message senders.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest, Sha256};

use crate::domain::ids::Mailbox;
use crate::ports::OutgoingEmail;

/// Last guard against header injection: the domain types already refuse
/// CR/LF, but a header value is never written with a control character.
fn clean(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn needs_encoding(s: &str) -> bool {
    !s.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// Encodes `text` as RFC 2047 `B` encoded words of at most 75 characters,
/// split on character boundaries and folded onto continuation lines.
pub fn encode_words(text: &str) -> String {
    let text = clean(text);
    if !needs_encoding(&text) && text.len() <= 900 {
        return text;
    }
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in text.chars() {
        // 45 bytes of UTF-8 become 60 base64 characters: 72 with the wrapper.
        if chunk.len() + c.len_utf8() > 45 {
            words.push(format!("=?UTF-8?B?{}?=", B64.encode(chunk.as_bytes())));
            chunk.clear();
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(format!("=?UTF-8?B?{}?=", B64.encode(chunk.as_bytes())));
    }
    words.join("\r\n ")
}

fn mailbox(m: &Mailbox) -> String {
    match &m.name {
        None => m.address.to_string(),
        Some(name) if needs_encoding(name) => format!("{} <{}>", encode_words(name), m.address),
        Some(name) => {
            let escaped = clean(name).replace('\\', "\\\\").replace('"', "\\\"");
            format!("\"{escaped}\" <{}>", m.address)
        }
    }
}

fn base64_lines(body: &[u8]) -> String {
    let encoded = B64.encode(body);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 76 * 2 + 2);
    for line in encoded.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push_str("\r\n");
    }
    out
}

/// The full message, CRLF line endings.
pub fn render(email: &OutgoingEmail) -> Vec<u8> {
    let domain = email
        .from
        .address
        .as_str()
        .rsplit_once('@')
        .map_or("sunset.invalid", |(_, d)| d);
    let boundary = {
        let digest = Sha256::digest(email.message_id.as_bytes());
        format!("=_sunset_{}", hex::encode(&digest[..12]))
    };
    let mut m = String::with_capacity(email.text.len() * 2 + email.html.len() * 2 + 1024);
    let mut header = |name: &str, value: &str| {
        m.push_str(name);
        m.push_str(": ");
        m.push_str(value);
        m.push_str("\r\n");
    };
    header("Date", &email.date.to_rfc2822());
    header("From", &mailbox(&email.from));
    if let Some(reply_to) = &email.reply_to {
        header("Reply-To", reply_to.as_str());
    }
    header("To", email.to.as_str());
    header("Subject", &encode_words(&email.subject));
    header(
        "Message-ID",
        &format!("<{}@{domain}>", clean(&email.message_id)),
    );
    header("MIME-Version", "1.0");
    header("Auto-Submitted", "auto-generated");
    header("X-Sunset-Campaign", email.key.campaign.as_str());
    header("X-Sunset-Milestone", &email.key.milestone.name());
    // With files: multipart/mixed around the two bodies, then each file.
    let mixed = (!email.attachments.is_empty()).then(|| format!("{boundary}_mixed"));
    if let Some(mixed) = &mixed {
        header(
            "Content-Type",
            &format!("multipart/mixed; boundary=\"{mixed}\""),
        );
        m.push_str(&format!("\r\n--{mixed}\r\n"));
    }
    m.push_str(&format!(
        "Content-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\n"
    ));
    for (kind, body) in [("text/plain", &email.text), ("text/html", &email.html)] {
        m.push_str(&format!(
            "--{boundary}\r\nContent-Type: {kind}; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        ));
        m.push_str(&base64_lines(body.as_bytes()));
    }
    m.push_str(&format!("--{boundary}--\r\n"));
    if let Some(mixed) = &mixed {
        for file in &email.attachments {
            let name = clean(&file.filename).replace(['"', '\\'], "");
            m.push_str(&format!(
                "--{mixed}\r\nContent-Type: {}; name=\"{name}\"\r\n\
                 Content-Disposition: attachment; filename=\"{name}\"\r\n\
                 Content-Transfer-Encoding: base64\r\n\r\n",
                clean(&file.content_type)
            ));
            m.push_str(&base64_lines(&file.bytes));
        }
        m.push_str(&format!("--{mixed}--\r\n"));
    }
    m.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ledger::{DeliveryKey, Recipient};
    use crate::domain::{CampaignId, CustomerId, EmailAddress, Milestone};

    fn email(subject: &str) -> OutgoingEmail {
        OutgoingEmail {
            from: Mailbox::parse("Orbit 团队 <no-reply@orbit.example>").unwrap(),
            reply_to: Some(EmailAddress::parse("help@orbit.example").unwrap()),
            to: EmailAddress::parse("li@example.com").unwrap(),
            subject: subject.into(),
            text: "你好 <b>".into(),
            html: "<p>你好 &lt;b&gt;</p>".into(),
            date: "2027-02-01T09:00:00Z".parse().unwrap(),
            key: DeliveryKey::once(
                &CampaignId::parse("orbit").unwrap(),
                Recipient::Customer(CustomerId::parse("c1").unwrap()),
                Milestone::Reminder(30),
            ),
            message_id: "abc".into(),
            attachments: Vec::new(),
        }
    }

    #[test]
    fn a_long_chinese_subject_round_trips_through_a_mail_parser() {
        let subject =
            "【重要通知】关于 Orbit CRM 服务将于 2027年9月30日 终止的公告,请尽快导出您的数据";
        let raw = render(&email(subject));
        let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
        assert_eq!(parsed.subject(), Some(subject));
        assert_eq!(parsed.body_text(0).unwrap(), "你好 <b>");
        assert_eq!(parsed.body_html(0).unwrap(), "<p>你好 &lt;b&gt;</p>");
        assert_eq!(
            parsed.header_raw("X-Sunset-Milestone").unwrap().trim(),
            "reminder-30"
        );
        for line in String::from_utf8(raw).unwrap().split("\r\n") {
            assert!(line.len() <= 998);
        }
    }

    #[test]
    fn a_calendar_travels_as_an_attachment_beside_both_bodies() {
        use mail_parser::MimeHeaders;
        let mut mail = email("Orbit CRM 停止服务");
        let ics = "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n";
        mail.attachments.push(crate::render::Attachment {
            filename: "orbit.ics".into(),
            content_type: "text/calendar; charset=utf-8; method=PUBLISH".into(),
            bytes: ics.as_bytes().to_vec(),
        });
        let raw = render(&mail);
        let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
        assert_eq!(parsed.body_text(0).unwrap(), "你好 <b>");
        assert_eq!(parsed.body_html(0).unwrap(), "<p>你好 &lt;b&gt;</p>");
        assert_eq!(parsed.attachment_count(), 1);
        let file = parsed.attachment(0).unwrap();
        assert_eq!(file.attachment_name(), Some("orbit.ics"));
        assert_eq!(file.contents(), ics.as_bytes());
        let ct = file.content_type().unwrap();
        assert_eq!((ct.ctype(), ct.subtype()), ("text", Some("calendar")));
    }

    #[test]
    fn control_characters_never_reach_a_header() {
        let raw = String::from_utf8(render(&email("Hi\r\nBcc: evil@example.com"))).unwrap();
        assert!(!raw.contains("\r\nBcc:"));
    }
}
