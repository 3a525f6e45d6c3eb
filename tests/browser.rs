//! The e-mails as their readers see them: each kind of notice, per tier and
//! language, rendered by sunset and opened in headless Chromium at a
//! desktop width (800 px) and a phone's (390 px). The screenshots are kept
//! in `target/screenshots/` (one PNG per notice and width, beside the HTML
//! it shows) for a person to look at; the test checks what a machine can:
//! nothing is wider than the screen, the action is a visible button, and
//! the page's language is the reader's.
//!
//! Needs Chromium (`SUNSET_CHROMIUM`, else `chromium` on the PATH);
//! `tests/run.sh` installs Debian's.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sunset::domain::customer::{MigrationStatus, Prepaid};
use sunset::domain::export::{ExportId, ExportRequest, ExportStatus};
use sunset::domain::ids::{Currency, CustomerId, DisplayName, EmailAddress, Phone};
use sunset::domain::link::LinkSigner;
use sunset::domain::tier::{Tier, TierDecision};
use sunset::domain::{Campaign, Customer, CustomerRecord, Locale};
use sunset::services::notice::{self, Message};

fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("SUNSET_CHROMIUM") {
        return p.into();
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join("chromium"))
                .find(|p| p.is_file())
        })
        .expect("Chromium is needed to check the e-mails: run tests/run.sh (it installs Debian's) or set SUNSET_CHROMIUM")
}

fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir.canonicalize().unwrap()
}

/// Runs headless Chromium on a file and returns what it printed; stopped
/// after a minute whatever happens.
fn chromium_on(page: &Path, width: u32, height: u32, extra: &[String]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--window-size={width},{height}"))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("Chromium starts");
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().ok();
            child.wait().ok();
            panic!(
                "Chromium did not finish with {} in a minute",
                page.display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    out
}

/// What the page measures at `width`: its full height, whether anything
/// sticks out to the right, and the action button's width.
struct Measure {
    height: u32,
    overflows: bool,
    button_width: u32,
}

fn measure(html: &str, dir: &Path, name: &str, width: u32, button: &str) -> Measure {
    let probe = html.replace(
        "</body>",
        &format!(
            "<script>addEventListener('load', () => {{ const d = document.documentElement; \
         const b = document.querySelector('{button}'); \
         document.body.dataset.measure = [d.scrollHeight, d.scrollWidth > innerWidth, \
         b ? Math.round(b.getBoundingClientRect().width) : 0].join(' '); }});</script></body>"
        ),
    );
    let path = dir.join(format!("{name}.probe.html"));
    std::fs::write(&path, probe).unwrap();
    let dom = chromium_on(
        &path,
        width,
        900,
        &["--dump-dom".into(), "--virtual-time-budget=2000".into()],
    );
    std::fs::remove_file(&path).ok();
    let values = dom
        .split("data-measure=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("{name} at {width} px was not measured: {dom}"))
        .split(' ')
        .map(str::to_owned)
        .collect::<Vec<_>>();
    Measure {
        height: values[0].parse().unwrap(),
        overflows: values[1] == "true",
        button_width: values[2].parse().unwrap(),
    }
}

fn customer(locale: &str, tier: Tier, status: MigrationStatus) -> (CustomerRecord, Customer) {
    let mut c = Customer::new(
        CustomerId::parse("C000042").unwrap(),
        DisplayName::parse(if locale == "zh-CN" {
            "上海星辰科技有限公司"
        } else {
            "Fischer Logistics GmbH"
        })
        .unwrap(),
        EmailAddress::parse("it@customer.example").unwrap(),
    );
    c.locale = Some(locale.into());
    c.contact_name = DisplayName::parse(if locale == "zh-CN" {
        "王经理"
    } else {
        "Sofia Fischer"
    })
    .ok();
    c.customer_since = "2018-03-01".parse().ok();
    c.currency = Currency::parse(if locale == "zh-CN" { "CNY" } else { "USD" }).ok();
    c.phone = Phone::parse("+49 30 1234567").ok();
    if tier == Tier::Core {
        c.account_manager = EmailAddress::parse("li.wei@orbit.example").ok();
        c.account_manager_name = DisplayName::parse(if locale == "zh-CN" {
            "李伟"
        } else {
            "Li Wei"
        })
        .ok();
    }
    c.prepaid = Some(Prepaid {
        from: "2027-01-01".parse().unwrap(),
        until: "2028-01-01".parse().unwrap(),
        amount: "17520.00".parse().unwrap(),
    });
    let mut r = CustomerRecord::new(c.clone(), chrono_tz::Europe::Berlin);
    r.status = status;
    r.tier = Some(TierDecision {
        tier,
        score: 80,
        explanation: "test".into(),
    });
    (r, c)
}

/// Opens `html` at 800 and 390 px: checks its language, that nothing is
/// wider than the screen and that the `button` (a CSS selector) is there
/// and wide enough to tap; keeps the HTML and a full-height screenshot.
fn shoot(dir: &Path, name: &str, locale: &str, html: &str, button: Option<&str>) {
    assert!(
        html.contains(&format!("<html lang=\"{locale}\">")),
        "{name}: the page is not marked as {locale}"
    );
    let html_path = dir.join(format!("{name}.html"));
    std::fs::write(&html_path, html).unwrap();
    for width in [800, 390] {
        let m = measure(html, dir, name, width, button.unwrap_or(".button a"));
        assert!(!m.overflows, "{name} is wider than a {width} px screen");
        if button.is_some() {
            assert!(
                m.button_width >= 120,
                "{name} at {width} px: the action button is {} px wide",
                m.button_width
            );
        }
        let png = dir.join(format!("{name}-{width}.png"));
        std::fs::remove_file(&png).ok();
        chromium_on(
            &html_path,
            width,
            m.height.clamp(400, 6000),
            &[format!("--screenshot={}", png.display())],
        );
        let size = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
        assert!(
            size > 10_000,
            "{name} at {width} px: no screenshot ({size} bytes)"
        );
    }
}

#[test]
fn every_notice_fits_a_phone_and_a_desktop() {
    let campaign = Campaign::from_toml(include_str!("../examples/orbit-crm.toml")).unwrap();
    let signer = LinkSigner::new(vec![7; 32]);
    let mut request = ExportRequest::new(
        ExportId::generate(),
        campaign.id.clone(),
        CustomerId::parse("C000042").unwrap(),
        chrono::Utc::now(),
    );
    request.status = ExportStatus::Ready;
    request.bundle_files = Some(4);
    request.bundle_bytes = Some(2_345_678);
    use MigrationStatus::*;
    let samples: Vec<(&str, &str, Tier, MigrationStatus, Message)> = vec![
        (
            "announcement-core-zh-CN",
            "zh-CN",
            Tier::Core,
            Pending,
            Message::Announcement,
        ),
        (
            "announcement-core-en-US",
            "en-US",
            Tier::Core,
            Pending,
            Message::Announcement,
        ),
        (
            "announcement-standard-en-GB",
            "en-GB",
            Tier::Standard,
            Pending,
            Message::Announcement,
        ),
        (
            "announcement-low-zh-CN",
            "zh-CN",
            Tier::Low,
            Pending,
            Message::Announcement,
        ),
        (
            "reminder-30-pending-en-US",
            "en-US",
            Tier::Standard,
            Pending,
            Message::Reminder(30),
        ),
        (
            "reminder-1-declined-zh-CN",
            "zh-CN",
            Tier::Standard,
            Declined,
            Message::Reminder(1),
        ),
        (
            "reminder-15-exported-en",
            "en",
            Tier::Low,
            Exported,
            Message::Reminder(15),
        ),
        (
            "service-ended-zh-CN",
            "zh-CN",
            Tier::Standard,
            Pending,
            Message::ServiceEnded,
        ),
        (
            "deletion-warning-en-US",
            "en-US",
            Tier::Standard,
            Pending,
            Message::DeletionWarning(7),
        ),
        (
            "deadline-en-GB",
            "en-GB",
            Tier::Standard,
            Pending,
            Message::Deadline,
        ),
        (
            "export-ready-zh-CN",
            "zh-CN",
            Tier::Standard,
            Exported,
            Message::ExportReady(&request),
        ),
        (
            "deletion-done-en-US",
            "en-US",
            Tier::Standard,
            Pending,
            Message::DeletionDone(campaign.dates.export_deadline.succ_opt().unwrap()),
        ),
    ];
    let dir = screenshots();
    for (name, locale, tier, status, message) in samples {
        let (record, c) = customer(locale, tier, status);
        let rendered = notice::render(&campaign, &record, &c, message, &signer).unwrap();
        std::fs::write(
            dir.join(format!("{name}.txt")),
            format!("Subject: {}\n\n{}", rendered.subject, rendered.text),
        )
        .unwrap();
        let button = if matches!(message, Message::DeletionDone(_)) {
            None
        } else {
            Some(".button a")
        };
        shoot(&dir, name, locale, &rendered.html, button);
    }
    eprintln!("screenshots of every notice: {}", dir.display());
}

/// The customer's pages behind their link: their page through the life of
/// their copy, in both languages, and the page for a failure.
#[tokio::test]
async fn the_customers_pages_fit_a_phone_and_a_desktop() {
    use std::sync::Arc;
    use sunset::adapters::embedded::Embedded;
    use sunset::clock::SimulatedClock;
    use sunset::services::{export, portal};

    let scratch = tempfile::tempdir().unwrap();
    let clock = Arc::new(SimulatedClock::new("2027-03-01T09:00:00Z".parse().unwrap()));
    let emb = Embedded::open(scratch.path(), clock.clone()).unwrap();
    let deps = &emb.deps;
    let campaign = Campaign::from_toml(include_str!("../examples/orbit-crm.toml")).unwrap();
    deps.campaigns.put_campaign(&campaign).await.unwrap();
    let dir = screenshots();
    for locale in ["zh-CN", "en-US"] {
        let (mut record, mut c) = customer(locale, Tier::Standard, MigrationStatus::Pending);
        let id = CustomerId::parse(&format!("C-{locale}")).unwrap();
        c.id = id.clone();
        record.id = id.clone();
        record.profile = Some(c);
        deps.customers
            .insert_customers(&campaign.id, &[record])
            .await
            .unwrap();
        let now = sunset::ports::Clock::now(clock.as_ref());
        let html = portal::page(deps, &campaign, &id, "?exp=1&sig=00", false, now)
            .await
            .unwrap();
        shoot(
            &dir,
            &format!("portal-none-{locale}"),
            locale,
            &html,
            Some("form .button"),
        );
        export::request_export(deps, &campaign, &id, now)
            .await
            .unwrap();
        let html = portal::page(deps, &campaign, &id, "?exp=1&sig=00", true, now)
            .await
            .unwrap();
        shoot(
            &dir,
            &format!("portal-building-{locale}"),
            locale,
            &html,
            None,
        );
        let open = deps
            .exports
            .exports_of(&campaign.id, &id)
            .await
            .unwrap()
            .remove(0);
        export::build_export(deps, &campaign, &id, &open.id, now)
            .await
            .unwrap();
        export::download(deps, &campaign, &id, None, now)
            .await
            .unwrap();
        let html = portal::page(deps, &campaign, &id, "?exp=1&sig=00", false, now)
            .await
            .unwrap();
        assert!(html.contains("status downloaded"), "{html}");
        shoot(
            &dir,
            &format!("portal-downloaded-{locale}"),
            locale,
            &html,
            Some("a.button"),
        );
    }
    let deleted = portal::error_page(
        portal::Failure::Deleted(Some("2027-11-01T07:00:00Z".parse().unwrap())),
        Some(&campaign),
    );
    shoot(&dir, "page-deleted", "en", &deleted, None);
    shoot(
        &dir,
        "page-bad-link",
        "en",
        &portal::error_page(portal::Failure::BadLink, None),
        None,
    );
}

/// The public announcement, in both languages, at both widths.
#[test]
fn the_public_announcement_fits_a_phone_and_a_desktop() {
    use sunset::services::public;
    let campaign = Campaign::from_toml(include_str!("../examples/orbit-crm.toml")).unwrap();
    let now = "2027-03-01T09:00:00Z".parse().unwrap();
    let dir = screenshots();
    for locale in ["zh-CN", "en-GB"] {
        let html = public::page(&campaign, Locale::parse(locale).unwrap(), now).unwrap();
        shoot(&dir, &format!("public-{locale}"), locale, &html, None);
    }
}
