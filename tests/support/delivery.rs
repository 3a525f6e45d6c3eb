//! Delivery under faults, the same scenarios on both adapter sets: events
//! delivered three times at once, a crash at each step, throttling and a
//! used-up quota, an invocation's deadline mid-wave, late waves. Each
//! checks what customers actually received — the outbox's files, or the
//! messages the emulator's SES recorded — not what the code believes.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sunset::clock::SimulatedClock;
use sunset::domain::ledger::{Channel, LEASE};
use sunset::domain::tier::{Tier, TierDecision};
use sunset::domain::{Campaign, CampaignId, CustomerRecord, Job, Milestone};
use sunset::ports::Deps;
use sunset::services::dispatch::WaveReport;
use sunset::services::jobs::{self, Budget, JobOutcome};

use crate::contract;
use crate::faults::{CRASH, Faults, FaultyHttp, FaultyLedger, FaultyMailer, Step};

/// Messages a run has with the provider at once (`dispatch::send`): the
/// most a crash can leave accepted but unmarked, so sent twice.
pub const IN_FLIGHT: usize = 16;

/// A runtime with faults to inject and a clock to move.
pub struct Rig {
    pub deps: Deps,
    /// The table's name on the emulator (AWS only).
    pub table: Option<String>,
    pub faults: Faults,
    pub clock: Arc<SimulatedClock>,
    /// Where the embedded outbox is; `None` on AWS.
    outbox: Option<tempfile::TempDir>,
}

fn start() -> DateTime<Utc> {
    // The announcement's day, after its send hour in Berlin and Shanghai.
    "2027-02-01T09:00:00Z".parse().unwrap()
}

impl Rig {
    /// The embedded adapters, paced at 500 messages a second.
    pub fn embedded() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(SimulatedClock::new(start()));
        let emb = sunset::adapters::embedded::Embedded::open(dir.path(), clock.clone())
            .unwrap()
            .with_send_rate(Some(500.0));
        let faults = Faults::default();
        let mut deps = emb.deps;
        deps.mailer = Arc::new(FaultyMailer {
            inner: deps.mailer,
            faults: faults.clone(),
        });
        deps.ledger = Arc::new(FaultyLedger {
            inner: deps.ledger,
            faults: faults.clone(),
        });
        Self {
            deps,
            table: None,
            faults,
            clock,
            outbox: Some(dir),
        }
    }

    /// The AWS adapters on the emulator, every client's HTTP through the
    /// fault plan; SES's limits come from the plan's `GetAccount`.
    pub async fn aws() -> Self {
        Self::aws_observed(None, 500.0).await
    }

    /// The same, sending at most `rate` a second, with an interceptor on
    /// every client (a benchmark's meter).
    pub async fn aws_observed(
        observer: Option<aws_sdk_dynamodb::config::SharedInterceptor>,
        rate: f64,
    ) -> Self {
        let config = sunset::adapters::aws::sdk_config().await;
        let mut settings = crate::aws_settings(&config).await;
        if let Some(ses) = settings.ses.as_mut() {
            ses.pacing.cap = Some(rate);
        }
        let faults = Faults::default();
        let faulty = FaultyHttp::wrap(&config, &faults);
        let clock = Arc::new(SimulatedClock::new(start()));
        let table = Some(settings.table.clone());
        let deps = settings.deps_observed(&faulty, observer, clock.clone());
        Self {
            deps,
            table,
            faults,
            clock,
            outbox: None,
        }
    }

    /// A campaign of its own (so the emulator's shared SES record can be
    /// told apart) with `n` customers in Berlin and Shanghai, segmented.
    pub async fn campaign(&self, n: usize) -> Campaign {
        let mut c = contract::campaign();
        c.id = CampaignId::parse(&crate::unique("d")).unwrap();
        self.deps.campaigns.put_campaign(&c).await.unwrap();
        let records: Vec<CustomerRecord> = (0..n)
            .map(|i| {
                let zone = if i % 2 == 0 {
                    chrono_tz::Europe::Berlin
                } else {
                    chrono_tz::Asia::Shanghai
                };
                contract::record(&format!("c{i:04}"), zone)
            })
            .collect();
        self.deps
            .customers
            .insert_customers(&c.id, &records)
            .await
            .unwrap();
        let segmented: Vec<_> = records
            .into_iter()
            .map(|r| {
                let d = TierDecision {
                    tier: Tier::Standard,
                    score: 50,
                    explanation: "test".into(),
                };
                (r, d)
            })
            .collect();
        for chunk in segmented.chunks(100) {
            self.deps.customers.set_tiers(&c.id, chunk).await.unwrap();
        }
        c
    }

    /// What each (recipient, milestone) of `campaign` received, read from
    /// the provider: the outbox's files, or the emulator's SES record.
    pub fn received(&self, campaign: &CampaignId) -> BTreeMap<(String, String), usize> {
        let mails: Vec<(String, String)> = match &self.outbox {
            Some(dir) => crate::read_outbox(dir.path())
                .into_iter()
                .filter(|m| m.campaign == campaign.as_str())
                .map(|m| (m.to, m.milestone))
                .collect(),
            None => emulator_mail(campaign),
        };
        let mut counts = BTreeMap::new();
        for m in mails {
            *counts.entry(m).or_default() += 1;
        }
        counts
    }

    /// Runs every scheduled job of the campaign due by `until` that has
    /// not run yet, in order, moving the clock to each; as many rounds as
    /// jobs schedule others. Returns what they came to.
    pub async fn drain(&self, campaign: &Campaign, until: DateTime<Utc>) -> Vec<JobOutcome> {
        let mut ran: HashSet<(String, DateTime<Utc>)> = HashSet::new();
        let mut outcomes = Vec::new();
        for _ in 0..200 {
            let scheduled = self.deps.scheduler.scheduled(&campaign.id).await.unwrap();
            let Some(next) = scheduled
                .into_iter()
                .filter(|j| j.due <= until && !ran.contains(&(j.name.clone(), j.due)))
                .min_by_key(|j| j.due)
            else {
                return outcomes;
            };
            ran.insert((next.name.clone(), next.due));
            if next.due > self.clock.now_utc() {
                self.clock.advance_to(next.due);
            }
            let now = self.clock.now_utc();
            outcomes.push(
                jobs::run(&self.deps, &next.job, now, &Budget::unlimited())
                    .await
                    .unwrap_or_else(|e| panic!("{} failed: {e:#}", next.name)),
            );
        }
        panic!("jobs kept scheduling jobs");
    }
}

trait ClockExt {
    fn now_utc(&self) -> DateTime<Utc>;
}

impl ClockExt for SimulatedClock {
    fn now_utc(&self) -> DateTime<Utc> {
        sunset::ports::Clock::now(self)
    }
}

/// (recipient, milestone) of every message the emulator's SES recorded
/// for `campaign`.
fn emulator_mail(campaign: &CampaignId) -> Vec<(String, String)> {
    let data = crate::emulator_data();
    let marker = format!("X-Sunset-Campaign: {campaign}\r\n");
    data["ses"]["RawMessage"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["raw_data"].as_str())
        .filter(|raw| raw.contains(&marker))
        .map(|raw| {
            let msg = mail_parser::MessageParser::default()
                .parse(raw.as_bytes())
                .expect("a MIME message");
            let to = msg
                .to()
                .and_then(|a| a.first())
                .and_then(|a| a.address())
                .expect("a recipient")
                .to_owned();
            let milestone = msg
                .header_raw("X-Sunset-Milestone")
                .expect("a milestone")
                .trim()
                .to_owned();
            (to, milestone)
        })
        .collect()
}

/// Runs `job` (a wave) at `at`, within `budget`; what the wave came to.
async fn run_wave(rig: &Rig, job: &Job, at: DateTime<Utc>, budget: &Budget) -> WaveReport {
    match jobs::run(&rig.deps, job, at, budget).await.unwrap() {
        JobOutcome::Wave(w) => w,
        other => panic!("not a wave: {other:?}"),
    }
}

pub fn notice(campaign: &Campaign, milestone: Milestone, zone: Tz) -> Job {
    Job::Notice {
        campaign: campaign.id.clone(),
        milestone,
        timezone: zone,
        resume: None,
    }
}

const ZONES: [Tz; 2] = [chrono_tz::Europe::Berlin, chrono_tz::Asia::Shanghai];

/// Checks each of these customers (by number) received `milestone` at least once;
/// returns how many received it more than once (extra copies).
fn everyone_received(
    received: &BTreeMap<(String, String), usize>,
    customers: impl Iterator<Item = usize>,
    milestone: &str,
) -> usize {
    let mut extra = 0;
    for i in customers {
        let to = format!("c{i:04}@example.com");
        let got = received
            .get(&(to.clone(), milestone.to_owned()))
            .copied()
            .unwrap_or(0);
        assert!(got >= 1, "{to} never received the {milestone}");
        extra += got - 1;
    }
    extra
}

/// Every schedule event delivered three times, the three at once: each
/// customer gets each notice once.
pub async fn every_event_three_times_at_once_sends_each_notice_once(rig: &Rig, n: usize) {
    let c = rig.campaign(n).await;
    let now = rig.clock.now_utc();
    let runs: Vec<Job> = ZONES
        .iter()
        .flat_map(|&zone| std::iter::repeat_n(notice(&c, Milestone::Announcement, zone), 3))
        .collect();
    let budget = Budget::unlimited();
    let outcomes = futures::future::join_all(
        runs.iter()
            .map(|job| jobs::run(&rig.deps, job, now, &budget)),
    )
    .await;
    for o in outcomes {
        o.unwrap();
    }
    // A run that met another's claims scheduled a part for when their
    // leases end: it finds them sent.
    rig.drain(&c, now + LEASE * 2).await;
    let received = rig.received(&c.id);
    assert_eq!(everyone_received(&received, 0..n, "announcement"), 0);
    assert_eq!(received.values().sum::<usize>(), n);
    let tallies = rig.deps.ledger.tallies(&c.id).await.unwrap();
    assert_eq!(tallies[&Channel::Email]["announcement"].sent, n as u64);
}

/// A run dies right after its `after`-th claim, send or mark: once the
/// leases end, the wave's next part (its watchdog) sends everyone what
/// they have not had; a copy twice only for a message accepted but not
/// marked, at most the messages in flight.
pub async fn a_crash_at_any_step_loses_no_notice(rig: &Rig, n: usize, step: Step, after: usize) {
    let c = rig.campaign(n).await;
    let now = rig.clock.now_utc();
    rig.faults.crash_after(step, after);
    let deps = rig.deps.clone();
    let job = notice(&c, Milestone::Announcement, chrono_tz::Europe::Berlin);
    let crashed =
        tokio::spawn(async move { jobs::run(&deps, &job, now, &Budget::unlimited()).await }).await;
    let panic = crashed.expect_err("the run crashed").into_panic();
    let what = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default();
    assert!(what.starts_with(CRASH), "{what}");
    let before = rig.received(&c.id).values().sum::<usize>();
    assert!(before < n / 2, "the crash came mid-wave ({before} sent)");
    rig.drain(&c, now + LEASE * 3).await;
    let received = rig.received(&c.id);
    let berlin = n.div_ceil(2);
    let extra = everyone_received(&received, (0..n).step_by(2), "announcement");
    assert!(
        extra <= IN_FLIGHT,
        "{extra} sent twice after a crash at {step:?}"
    );
    let tallies = rig.deps.ledger.tallies(&c.id).await.unwrap();
    assert_eq!(tallies[&Channel::Email]["announcement"].sent, berlin as u64);
}

/// 30 % of sends throttled, then the day's quota used up mid-wave: the
/// wave defers to when the quota is back, and everything goes out then,
/// once.
pub async fn throttling_and_a_used_up_quota_defer_and_lose_nothing(rig: &Rig, n: usize) {
    let c = rig.campaign(n).await;
    let now = rig.clock.now_utc();
    rig.faults.throttle(3);
    rig.faults.quota(Some((n / 4) as u64));
    let berlin = notice(&c, Milestone::Announcement, chrono_tz::Europe::Berlin);
    let outcome = jobs::run(&rig.deps, &berlin, now, &Budget::unlimited())
        .await
        .unwrap();
    let JobOutcome::Wave(wave) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(wave.state, sunset::services::dispatch::WaveState::Deferred);
    let later = wave.next_part_at.expect("a next part");
    assert!(later > now, "deferred to {later}");
    assert!(rig.faults.throttled() > 0);
    let sent_before = rig.received(&c.id).values().sum::<usize>();
    assert!(sent_before <= n / 4, "{sent_before} sent past the quota");
    // The quota is back the next time the limits are read.
    rig.faults.throttle(0);
    rig.faults.quota(None);
    rig.drain(&c, later).await;
    let received = rig.received(&c.id);
    let extra = everyone_received(&received, (0..n).step_by(2), "announcement");
    assert_eq!(extra, 0, "{extra} sent twice");
}

/// The invocation's time runs out mid-wave: the wave schedules its next
/// part and stops; the parts, each with as little time, finish it.
pub async fn a_deadline_mid_wave_is_continued_to_the_end(rig: &Rig, n: usize) {
    let c = rig.campaign(n).await;
    let now = rig.clock.now_utc();
    let job = notice(&c, Milestone::Announcement, chrono_tz::Europe::Berlin);
    let short = || Budget::for_next(std::time::Duration::from_millis(150));
    let first = jobs::run(&rig.deps, &job, now, &short()).await.unwrap();
    let JobOutcome::Wave(first) = first else {
        panic!("{first:?}")
    };
    assert_eq!(
        first.state,
        sunset::services::dispatch::WaveState::Continued,
        "{first:?}"
    );
    let mut parts = 1;
    let mut sent = first.sent;
    let mut last = first;
    // Each part runs with the same short budget, as each invocation would,
    // when its continuation is due.
    while last.state == sunset::services::dispatch::WaveState::Continued {
        let scheduled = rig.deps.scheduler.scheduled(&c.id).await.unwrap();
        let next = scheduled
            .iter()
            .find(|j| matches!(&j.job, Job::Notice { resume: Some(r), .. } if r.part == parts))
            .expect("a continued wave schedules its next part");
        rig.clock.advance_to(next.due);
        let w = run_wave(rig, &next.job, rig.clock.now_utc(), &short()).await;
        sent += w.sent;
        parts += 1;
        assert!(parts < 500, "the wave does not end");
        last = w;
    }
    assert_eq!(last.state, sunset::services::dispatch::WaveState::Done);
    assert!(parts > 1, "the wave needed more than one part");
    let berlin = n.div_ceil(2) as u64;
    assert_eq!(sent, berlin);
    let received = rig.received(&c.id);
    assert_eq!(received.values().sum::<usize>() as u64, berlin);
    assert!(received.values().all(|&k| k == 1));
}

/// A reminder run late within its grace goes out; one past its grace is
/// recorded as missed and counted; a migrated customer gets no reminder.
pub async fn late_waves_send_within_grace_and_record_misses_past_it(rig: &Rig, n: usize) {
    use sunset::domain::event::{CustomerEvent, CustomerEventKind};
    let c = rig.campaign(n).await;
    let zone = chrono_tz::Europe::Berlin;
    // c0000 migrates before the reminders.
    sunset::services::events::apply(
        &rig.deps,
        &c,
        &CustomerEvent {
            at: "2027-05-01T10:00:00Z".parse().unwrap(),
            customer: sunset::domain::CustomerId::parse("c0000").unwrap(),
            kind: CustomerEventKind::Migrated,
        },
    )
    .await
    .unwrap();
    // Reminder 60 (1 August) run a day late: within the 48 hours.
    let late = "2027-08-02T12:00:00Z".parse().unwrap();
    rig.clock.advance_to(late);
    let w = run_wave(
        rig,
        &notice(&c, Milestone::Reminder(60), zone),
        late,
        &Budget::unlimited(),
    )
    .await;
    let berlin = n.div_ceil(2) as u64;
    assert!(w.late);
    assert_eq!(w.sent, berlin - 1, "everyone but the migrated customer");
    // Reminder 30 (31 August) run three days late: past the grace.
    let past = "2027-09-03T12:00:00Z".parse().unwrap();
    rig.clock.advance_to(past);
    let w = run_wave(
        rig,
        &notice(&c, Milestone::Reminder(30), zone),
        past,
        &Budget::unlimited(),
    )
    .await;
    assert_eq!(w.state, sunset::services::dispatch::WaveState::Missed);
    assert_eq!((w.sent, w.missed), (0, berlin - 1));
    // The last reminder (1 day before the end, 29 September) always goes
    // out, however late.
    let very_late = "2027-09-29T23:30:00Z".parse().unwrap();
    rig.clock.advance_to(very_late);
    let w = run_wave(
        rig,
        &notice(&c, Milestone::Reminder(1), zone),
        very_late,
        &Budget::unlimited(),
    )
    .await;
    assert_eq!(w.sent, berlin - 1);
    let received = rig.received(&c.id);
    assert!(
        !received
            .keys()
            .any(|(to, m)| to == "c0000@example.com" && m.starts_with("reminder")),
        "a migrated customer gets no reminder"
    );
    assert!(!received.keys().any(|(_, m)| m == "reminder-30"));
    let report = sunset::services::report::report(&rig.deps, &c, very_late)
        .await
        .unwrap();
    assert_eq!(report.milestones["reminder-30"].missed, berlin - 1);
    assert_eq!(report.channels["email"].missed, berlin - 1);
    assert_eq!(report.milestones["reminder-60"].sent, berlin - 1);
}

/// An SES event from `tests/fixtures/ses-events/{name}.json`, about the
/// message of `key` that SES accepted as `message_id`, to `address`.
pub fn ses_event(
    name: &str,
    key: &sunset::domain::ledger::DeliveryKey,
    message_id: &str,
    address: &str,
) -> serde_json::Value {
    let text =
        std::fs::read_to_string(crate::fixture("ses-events").join(format!("{name}.json"))).unwrap();
    let tags: serde_json::Map<String, serde_json::Value> = key
        .tags()
        .into_iter()
        .map(|(n, v)| (n.to_owned(), serde_json::json!([v])))
        .collect();
    let filled = text
        .replace("{{tags}}", &serde_json::Value::Object(tags).to_string())
        .replace("{{message_id}}", message_id)
        .replace("{{address}}", address);
    serde_json::from_str(&filled).unwrap()
}

/// Delivers an SES event to the `delivery-events` function, as
/// EventBridge does.
pub async fn deliver_event(rig: &Rig, event: serde_json::Value) -> serde_json::Value {
    delivery_events::handle(
        &rig.deps,
        lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default()),
    )
    .await
    .unwrap()
}

/// The key and provider message id of the announcement sent to `customer`.
async fn announced(
    rig: &Rig,
    c: &Campaign,
    customer: &str,
) -> (sunset::domain::ledger::DeliveryKey, String) {
    let id = sunset::domain::CustomerId::parse(customer).unwrap();
    let sent = rig.deps.ledger.deliveries_to(&c.id, &id).await.unwrap();
    let d = sent
        .into_iter()
        .find(|d| d.key.milestone == Milestone::Announcement)
        .expect("the announcement was sent");
    (d.key, d.message_id.expect("a message id"))
}

/// SES events (bounces, a complaint, a delivery, an open, a click), each
/// delivered twice: counted once; a hard bounce and a complaint suppress
/// the address (the campaign's list and SES's), and it is never mailed
/// again; a soft bounce suppresses nothing; an event for a message never
/// sent changes nothing.
pub async fn delivery_events_are_counted_and_suppress_what_bounced(rig: &Rig) {
    let n = 20;
    let c = rig.campaign(n).await;
    let now = rig.clock.now_utc();
    let zone = chrono_tz::Europe::Berlin;
    jobs::run(
        &rig.deps,
        &notice(&c, Milestone::Announcement, zone),
        now,
        &Budget::unlimited(),
    )
    .await
    .unwrap();
    let events = [
        ("c0000", "bounce-permanent"),
        ("c0002", "complaint"),
        ("c0004", "bounce-transient"),
        ("c0006", "delivery"),
        ("c0006", "open"),
        ("c0006", "click"),
    ];
    for (customer, fixture) in events {
        let (key, message_id) = announced(rig, &c, customer).await;
        let event = ses_event(
            fixture,
            &key,
            &message_id,
            &format!("{customer}@example.com"),
        );
        let first = deliver_event(rig, event.clone()).await;
        assert_eq!(first["recorded"], "first", "{fixture}: {first}");
        let again = deliver_event(rig, event).await;
        assert_eq!(again["recorded"], "again", "{fixture}: {again}");
        assert_eq!(again["suppressed"], false);
        let suppresses = matches!(fixture, "bounce-permanent" | "complaint");
        assert_eq!(first["suppressed"], suppresses, "{fixture}: {first}");
    }
    // A bounce for a message this campaign never sent suppresses nobody.
    let (key, _) = announced(rig, &c, "c0008").await;
    let forged = ses_event(
        "bounce-permanent",
        &key,
        "not-our-message",
        "c0008@example.com",
    );
    let answer = deliver_event(rig, forged).await;
    assert_eq!(answer["recorded"], "no-such-message", "{answer}");
    // An event that is not SES's is refused, naming the field.
    let answer = deliver_event(rig, serde_json::json!({ "detail": { "mail": {} } })).await;
    assert_eq!(answer["status"], "rejected", "{answer}");
    assert!(
        answer["reason"].as_str().unwrap().contains("eventType"),
        "{answer}"
    );

    // The next reminder skips the suppressed addresses, and only them.
    let reminder = "2027-08-01T08:00:00Z".parse().unwrap();
    rig.clock.advance_to(reminder);
    let w = run_wave(
        rig,
        &notice(&c, Milestone::Reminder(60), zone),
        reminder,
        &Budget::unlimited(),
    )
    .await;
    assert_eq!((w.sent, w.suppressed), (n as u64 / 2 - 2, 2), "{w:?}");
    let received = rig.received(&c.id);
    for gone in ["c0000@example.com", "c0002@example.com"] {
        assert!(
            !received.contains_key(&(gone.to_owned(), "reminder-60".to_owned())),
            "{gone} was mailed after it bounced or complained"
        );
    }
    assert!(received.contains_key(&("c0004@example.com".to_owned(), "reminder-60".to_owned())));
    if rig.outbox.is_none() {
        let mut listed = rig.faults.suppressed();
        listed.sort();
        assert_eq!(listed, ["c0000@example.com", "c0002@example.com"]);
    }
    let report = sunset::services::report::report(&rig.deps, &c, reminder)
        .await
        .unwrap();
    let a = report.milestones["announcement"];
    assert_eq!(
        (
            a.sent,
            a.delivered,
            a.bounced,
            a.soft_bounced,
            a.complained,
            a.opened,
            a.clicked
        ),
        (n as u64 / 2, 1, 1, 1, 1, 1, 1),
        "{a:?}"
    );
    assert_eq!(report.delivery_counts.hard_bounces, 1);
    assert_eq!(report.delivery_counts.complaints, 1);
    assert!(report.paused.is_none(), "2 of 10 is no sample to judge by");
}

/// Hard bounces past 5 % of what went out pause the remaining waves; the
/// operator's resume sends them.
pub async fn a_bounce_rate_past_its_limit_pauses_the_waves_until_resumed(rig: &Rig) {
    let n = 240;
    let c = rig.campaign(n).await;
    let now = rig.clock.now_utc();
    jobs::run(
        &rig.deps,
        &notice(&c, Milestone::Announcement, chrono_tz::Europe::Berlin),
        now,
        &Budget::unlimited(),
    )
    .await
    .unwrap();
    // 120 sent; the 7th hard bounce (5.8 %) passes 5 %.
    let mut paused = Vec::new();
    for i in 0..7 {
        let customer = format!("c{:04}", i * 2);
        let (key, id) = announced(rig, &c, &customer).await;
        let event = ses_event(
            "bounce-permanent",
            &key,
            &id,
            &format!("{customer}@example.com"),
        );
        paused.push(deliver_event(rig, event).await["paused"].clone());
    }
    assert!(paused[..6].iter().all(|p| p.is_null()), "{paused:?}");
    assert!(
        paused[6]
            .as_str()
            .unwrap()
            .starts_with("bounce rate 5.83 %"),
        "{paused:?}"
    );
    let w = run_wave(
        rig,
        &notice(&c, Milestone::Announcement, chrono_tz::Asia::Shanghai),
        now,
        &Budget::unlimited(),
    )
    .await;
    assert_eq!(w.state, sunset::services::dispatch::WaveState::Paused);
    assert_eq!(w.sent, 0);
    let report = sunset::services::report::report(&rig.deps, &c, now)
        .await
        .unwrap();
    assert!(report.paused.is_some());
    let resumed = sunset::services::delivery_events::resume(&rig.deps, &c.id, "operator")
        .await
        .unwrap();
    assert!(resumed.was_paused);
    assert_eq!(resumed.waves, 1);
    rig.drain(&c, now + chrono::Duration::minutes(5)).await;
    let received = rig.received(&c.id);
    // The resumed wave reached everyone in Shanghai.
    everyone_received(&received, (1..n).step_by(2), "announcement");
    let trail = rig.deps.audit.entries(&c.id).await.unwrap();
    let actions: Vec<&str> = trail.iter().map(|e| e.entry.action.as_str()).collect();
    assert!(actions.contains(&"campaign-paused") && actions.contains(&"campaign-resumed"));
}

/// The provider's quota runs out during the purge: every customer is
/// deleted all the same; those whose farewell did not go out are recorded
/// as missed (nobody can send it later), and none is sent twice.
pub async fn a_used_up_quota_at_the_purge_costs_farewells_not_deletions(rig: &Rig, n: usize) {
    use sunset::domain::ledger::{DeliveryKey, Lease, Recipient};
    use sunset::domain::milestone::day_ends_everywhere;
    let c = rig.campaign(n).await;
    // Everyone was told (the purge deletes only the told).
    let keys: Vec<DeliveryKey> = (0..n)
        .map(|i| {
            DeliveryKey::once(
                &c.id,
                Recipient::Customer(
                    sunset::domain::CustomerId::parse(&format!("c{i:04}")).unwrap(),
                ),
                Milestone::Announcement,
            )
        })
        .collect();
    let now = rig.clock.now_utc();
    rig.deps
        .ledger
        .claim(&keys, Lease::starting(now))
        .await
        .unwrap();
    let sent: Vec<_> = keys
        .iter()
        .map(|k| (k.clone(), "told".to_owned()))
        .collect();
    rig.deps.ledger.mark_sent(&sent, now).await.unwrap();
    let quota = (n / 4) as u64;
    rig.faults.quota(Some(quota));
    let due = day_ends_everywhere(c.dates.export_deadline) + chrono::Duration::minutes(1);
    rig.clock.advance_to(due);
    let first = sunset::services::purge::purge_due(&rig.deps, &c, due)
        .await
        .unwrap();
    assert_eq!(first.purged, n as u64, "{first:?}");
    assert_eq!(first.farewells_sent + first.farewells_missed, n as u64);
    assert!(first.farewells_sent <= quota, "{first:?}");
    assert!(first.farewells_missed >= n as u64 - quota, "{first:?}");
    rig.faults.quota(None);
    let again = sunset::services::purge::purge_due(&rig.deps, &c, due)
        .await
        .unwrap();
    assert_eq!((again.purged, again.farewells_sent), (0, 0), "{again:?}");
    let farewells: usize = rig
        .received(&c.id)
        .iter()
        .filter(|((_, milestone), _)| milestone == "deletion-done")
        .map(|(_, times)| {
            assert_eq!(*times, 1, "a farewell sent twice");
            *times
        })
        .sum();
    assert_eq!(farewells as u64, first.farewells_sent);
}
