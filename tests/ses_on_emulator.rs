//! What the SES adapter hands to SES, as the emulator recorded it.

use std::io::{Read, Write};

use sunset::domain::ids::Mailbox;
use sunset::domain::{EmailAddress, Milestone};
use sunset::ports::OutgoingEmail;
use sunset_e2e::aws_deps;
use sunset_e2e::contract::campaign;

/// GET a path of the emulator's own API over plain HTTP on loopback.
fn emulator_get(path: &str) -> String {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("set by tests/run.sh");
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    body
}

#[tokio::test]
async fn ses_receives_the_same_mime_message_with_sender_recipient_and_headers() {
    let deps = aws_deps().await;
    let to = format!("ses-check-{}@example.com", std::process::id());
    let email = OutgoingEmail {
        from: Mailbox::parse("Orbit <no-reply@orbit.example>").unwrap(),
        reply_to: Some(EmailAddress::parse("sunset@orbit.example").unwrap()),
        to: EmailAddress::parse(&to).unwrap(),
        subject: "【重要通知】Orbit CRM".into(),
        text: "text".into(),
        html: "<p>html</p>".into(),
        date: "2027-02-01T09:00:00Z".parse().unwrap(),
        key: sunset::domain::ledger::DeliveryKey::once(
            &campaign().id,
            sunset::domain::ledger::Recipient::Customer(
                sunset::domain::CustomerId::parse("c1").unwrap(),
            ),
            Milestone::Reminder(30),
        ),
        message_id: "reminder-30.check".into(),
    };
    let id = deps.mailer.send(&email).await.unwrap();
    assert!(!id.is_empty());
    let recorded = emulator_get("/moto-api/data.json");
    let ours = recorded.split(&to).count() - 1;
    assert!(ours >= 1, "the emulator recorded no message to {to}");
    assert!(
        recorded.contains("X-Sunset-Milestone: reminder-30"),
        "the raw MIME message reached SES"
    );
}
