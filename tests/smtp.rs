//! Real e-mail from the embedded runtime: the SMTP mailer against a local
//! SMTP server (aiosmtpd, from PyPI; `tests/run.sh` installs it), started
//! by each test on a free loopback port and stopped when it ends. The
//! server keeps what it receives in a Maildir, which the test reads back.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use sunset::adapters::embedded::Embedded;
use sunset::clock::SimulatedClock;
use sunset::ports::SendError;
use sunset_e2e::contract;

/// An aiosmtpd process writing to `dir`'s Maildir; killed on drop.
struct SmtpServer {
    child: Child,
    port: u16,
    maildir: PathBuf,
}

impl SmtpServer {
    fn start(dir: &Path) -> SmtpServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let maildir = dir.join("received");
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 -m aiosmtpd (pip install aiosmtpd; tests/run.sh does)");
        let mut server = SmtpServer {
            child,
            port,
            maildir,
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("aiosmtpd exited: {status}");
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = server.child.kill();
        panic!("aiosmtpd did not listen on {port}");
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received, as its raw text.
    fn received(&self) -> Vec<String> {
        let mut files: Vec<_> = std::fs::read_dir(self.maildir.join("new"))
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        files
            .iter()
            .map(|f| std::fs::read_to_string(f).unwrap())
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn embedded(dir: &Path, smtp: &str) -> Embedded {
    let clock = Arc::new(SimulatedClock::new("2027-01-01T00:00:00Z".parse().unwrap()));
    Embedded::open(&dir.join("data"), clock)
        .unwrap()
        .with_smtp(smtp)
        .unwrap()
}

/// The mailer contract the outbox and SES meet, through SMTP; each
/// message arrives whole, with the Message-ID the ledger knows.
#[tokio::test]
async fn the_smtp_mailer_delivers_each_message_to_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(dir.path());
    let emb = embedded(dir.path(), &server.url());
    contract::the_mailer_answers_each_message_in_order(&emb.deps).await;
    let received = server.received();
    assert_eq!(received.len(), 3, "{received:?}");
    let first = received
        .iter()
        .find(|m| m.contains("Subject: Message 1"))
        .expect("message 1 arrived");
    assert!(first.contains("X-RcptTo: to1@example.com"), "{first}");
    assert!(first.contains("Message-ID: <announcement.1@"), "{first}");
    assert!(first.contains("multipart/alternative"), "{first}");
}

/// A wave through SMTP: every customer gets their announcement, once,
/// even when the wave runs twice at the same instant.
#[tokio::test]
async fn a_wave_sends_through_smtp_once_per_customer() {
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(dir.path());
    let emb = embedded(dir.path(), &server.url());
    let sent = contract::an_announcement_wave_twice_at_once_tells_everyone_once(&emb.deps).await;
    let received = server.received();
    assert_eq!(received.len() as u64, sent);
    for who in ["w1", "w2", "w3"] {
        let to_them = received
            .iter()
            .filter(|m| m.contains(&format!("X-RcptTo: {who}@example.com")))
            .count();
        assert_eq!(to_them, 1, "{who}");
    }
}

/// No server: the send fails as retryable (the claim goes back and the
/// job runs again), nothing is lost.
#[tokio::test]
async fn no_server_is_a_retryable_failure() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let emb = embedded(dir.path(), &format!("smtp://127.0.0.1:{port}"));
    let mail = contract::sample_mail(1);
    match emb.deps.mailer.send(&mail).await {
        Err(SendError::Failed(e)) => assert!(e.retryable, "{e:?}"),
        other => panic!("{other:?}"),
    }
    assert!(sunset::adapters::embedded::SmtpMailer::from_url("http://mail.example").is_err());
}
