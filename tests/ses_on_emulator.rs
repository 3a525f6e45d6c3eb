//! What the SES adapter hands to SES, as the emulator recorded it.

use sunset::domain::ids::Mailbox;
use sunset::domain::{EmailAddress, Milestone};
use sunset::ports::OutgoingEmail;
use sunset_e2e::aws_deps;
use sunset_e2e::contract::campaign;

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
        attachments: Vec::new(),
    };
    let id = deps.mailer.send(&email).await.unwrap();
    assert!(!id.is_empty());
    // The raw messages are JSON strings there: addresses and header lines
    // read the same.
    let recorded = sunset_e2e::emulator_data().to_string();
    let ours = recorded.split(&to).count() - 1;
    assert!(ours >= 1, "the emulator recorded no message to {to}");
    assert!(
        recorded.contains("X-Sunset-Milestone: reminder-30"),
        "the raw MIME message reached SES"
    );
}
