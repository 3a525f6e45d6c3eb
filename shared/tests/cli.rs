//! The `sunset` command as a user runs it.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn sunset() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sunset"))
}

#[test]
fn demo_runs_the_whole_lifecycle_and_says_where_to_look() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let out = sunset()
        .args(["demo", "--customers", "80", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "outreach-brief",
        "announcement",
        "reminder-60",
        "reminder-1 ",
        "purge",
        "report.json",
    ] {
        assert!(stdout.contains(needle), "{needle} missing from\n{stdout}");
    }
    assert!(
        data.join("report.json").exists()
            && data.join("outbox/new").read_dir().unwrap().next().is_some()
    );
    // One sample per tier, language and channel, and they differ by tier.
    assert!(stdout.contains("samples/index.html"), "{stdout}");
    let samples = data.join("samples");
    let index = std::fs::read_to_string(samples.join("index.html")).unwrap();
    assert!(
        !samples.join(".store").exists(),
        "the scratch store is gone"
    );
    for lang in ["en", "zh-CN"] {
        let subject = |tier: &str| {
            let file = samples.join(format!("email-announcement-{tier}-{lang}.txt"));
            let text = std::fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            text.lines().next().unwrap().to_owned()
        };
        let subjects: std::collections::BTreeSet<String> =
            ["core", "standard", "low"].map(subject).into();
        assert_eq!(subjects.len(), 3, "each tier its own subject: {subjects:?}");
        for tier in ["core", "standard", "low"] {
            let banner = samples.join(format!("in-app-banner-{tier}-{lang}.json"));
            let banner: serde_json::Value =
                serde_json::from_slice(&std::fs::read(banner).unwrap()).unwrap();
            assert!(index.contains(banner["title"].as_str().unwrap()));
        }
    }
    // Running it again replaces its own earlier output.
    let again = sunset()
        .args(["demo", "--customers", "20", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(again.status.success());
}

#[test]
fn a_bad_campaign_file_is_a_clear_error_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let campaign = dir.path().join("c.toml");
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/orbit-crm.toml"
    ))
    .unwrap();
    std::fs::write(
        &campaign,
        example.replace(
            "export_deadline = \"2027-10-31\"",
            "export_deadline = \"2027-01-01\"",
        ),
    )
    .unwrap();
    let customers = dir.path().join("c.csv");
    std::fs::write(
        &customers,
        "customer_id,name,email\nc1,Ann,ann@example.com\n",
    )
    .unwrap();
    let out = sunset()
        .args(["simulate", "--campaign"])
        .arg(&campaign)
        .arg("--customers")
        .arg(&customers)
        .arg("--data")
        .arg(dir.path().join("run"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("dates.export_deadline"), "{stderr}");
    assert!(!stderr.contains("panicked"));
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_answers_on_loopback_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let (_guard, addr) = start_serve(dir.path(), &[]);
    let started = Instant::now();
    let response = loop {
        if let Ok(mut s) = TcpStream::connect(&addr) {
            use std::io::Write;
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut body = String::new();
            s.read_to_string(&mut body).unwrap();
            break body;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        response.starts_with("HTTP/1.1 200") && response.ends_with(r#"{"status":"ok"}"#),
        "{response}"
    );
}

/// `sunset serve` on a free loopback port with these extra arguments;
/// stopped when the guard drops.
fn start_serve(dir: &std::path::Path, extra: &[&str]) -> (Killed, String) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let child = sunset()
        .args(["serve", "--addr", &addr, "--data"])
        .arg(dir)
        .args(extra)
        .env("SUNSET_ADMIN_TOKEN", "a-token-of-enough-length")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let guard = Killed(child);
    let started = Instant::now();
    while TcpStream::connect(&addr).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (guard, addr)
}

/// Reads until the server closes (or `limit` passes); what it sent.
fn read_until_closed(mut s: TcpStream, limit: Duration) -> (Vec<u8>, bool) {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (got, true),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (got, true),
            Err(_) => return (got, false),
        }
    }
}

/// A client that never finishes its headers is disconnected after the
/// header timeout, and no more than the allowed connections are served at
/// once (before, slow-header clients were held forever).
#[test]
fn serve_drops_slow_header_clients_and_limits_connections() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let (_guard, addr) = start_serve(
        dir.path(),
        &["--header-timeout", "1", "--max-connections", "2"],
    );
    let slow = || {
        let mut s = TcpStream::connect(&addr).unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .unwrap();
        s
    };
    let started = Instant::now();
    let (_, closed) = read_until_closed(slow(), Duration::from_secs(5));
    assert!(closed, "a slow-header client was not disconnected");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );

    // Two slow clients hold both connections: a third is closed at once.
    let (a, b) = (slow(), slow());
    std::thread::sleep(Duration::from_millis(200));
    let mut third = TcpStream::connect(&addr).unwrap();
    let _ = third.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let (got, closed) = read_until_closed(third, Duration::from_secs(5));
    assert!(
        closed && got.is_empty(),
        "{}",
        String::from_utf8_lossy(&got)
    );
    drop((a, b));
    // Once they are gone, a request is served again.
    std::thread::sleep(Duration::from_millis(1500));
    let mut ok = TcpStream::connect(&addr).unwrap();
    ok.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let (got, _) = read_until_closed(ok, Duration::from_secs(5));
    assert!(
        String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&got)
    );
}

/// `sunset preview` before launch, straight from the files, and on a
/// data directory; a customer who is not there is a clear error.
#[test]
fn preview_shows_one_customers_notice_from_the_files_or_a_data_directory() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/small");
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("c02.html");
    let out = sunset()
        .args(["preview", "--campaign"])
        .arg(format!("{fixture}/campaign.toml"))
        .arg("--customers")
        .arg(format!("{fixture}/customers.csv"))
        .args(["--customer", "c02", "--milestone", "reminder-30", "--html"])
        .arg(&html)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("To: xiaoming@wang.example\nSubject: 【提醒】"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Template: email/reminder.zh-CN (tier core, pending, zh-CN)"),
        "{stdout}"
    );
    assert!(
        std::fs::read_to_string(&html)
            .unwrap()
            .contains("<html lang=\"zh-CN\">")
    );

    let missing = sunset()
        .args(["preview", "--campaign"])
        .arg(format!("{fixture}/campaign.toml"))
        .arg("--customers")
        .arg(format!("{fixture}/customers.csv"))
        .args(["--customer", "c99"])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no customer c99"));

    // A simulated run's data directory: the customer as the run left them.
    let data = dir.path().join("run");
    let run = sunset()
        .args(["simulate", "--campaign"])
        .arg(format!("{fixture}/campaign.toml"))
        .arg("--customers")
        .arg(format!("{fixture}/customers.csv"))
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stdout)
    );
    let purged = sunset()
        .args([
            "preview",
            "--campaign",
            "orbit-crm-2027",
            "--customer",
            "c01",
            "--data",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!purged.status.success());
    assert!(
        String::from_utf8_lossy(&purged.stderr).contains("data was deleted"),
        "{}",
        String::from_utf8_lossy(&purged.stderr)
    );
    let nowhere = sunset()
        .args([
            "preview",
            "--campaign",
            "orbit-crm-2027",
            "--customer",
            "c01",
            "--data",
        ])
        .arg(dir.path().join("nothing-here"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&nowhere.stderr).contains("holds no sunset store"));
}
