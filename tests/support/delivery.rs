//! Delivery under faults, the same scenarios on both adapter sets: events
//! delivered three times at once, a crash at each step, throttling and a
//! used-up quota, an invocation's deadline mid-wave, late waves. Each
//! checks what customers actually received — the outbox's files, or the
//! messages the emulator's SES recorded — not what the code believes.

use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sunset::clock::SimulatedClock;
use sunset::domain::ledger::LEASE;
use sunset::domain::tier::{Tier, TierDecision};
use sunset::domain::{Campaign, CampaignId, CustomerRecord, Job, Milestone};
use sunset::ports::Deps;
use sunset::services::jobs::{self, Budget, JobOutcome};

use crate::contract;
use crate::faults::{CRASH, Faults, FaultyHttp, FaultyLedger, FaultyMailer, Step};

/// Messages a run has with the provider at once (`dispatch::send`): the
/// most a crash can leave accepted but unmarked, so sent twice.
pub const IN_FLIGHT: usize = 16;

/// A runtime with faults to inject and a clock to move.
pub struct Rig {
    pub deps: Deps,
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
            faults,
            clock,
            outbox: Some(dir),
        }
    }

    /// The AWS adapters on the emulator, every client's HTTP through the
    /// fault plan; SES's limits come from the plan's `GetAccount`.
    pub async fn aws() -> Self {
        let config = sunset::adapters::aws::sdk_config().await;
        let mut settings = crate::aws_settings(&config).await;
        settings.pacing.cap = Some(500.0);
        let faults = Faults::default();
        let faulty = FaultyHttp::wrap(&config, &faults);
        let clock = Arc::new(SimulatedClock::new(start()));
        let deps = settings.deps_observed(&faulty, None, clock.clone());
        Self {
            deps,
            faults,
            clock,
            outbox: None,
        }
    }

    /// A campaign of its own (so the emulator's shared SES record can be
    /// told apart) with `n` customers in Berlin and Shanghai, segmented.
    pub async fn campaign(&self, n: usize) -> Campaign {
        let mut c = contract::campaign();
        c.id = CampaignId::parse(&format!("d{:08x}", rand_u32())).unwrap();
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

fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    h.finish() as u32
}

/// (recipient, milestone) of every message the emulator's SES recorded
/// for `campaign`.
fn emulator_mail(campaign: &CampaignId) -> Vec<(String, String)> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("set by tests/run.sh");
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(
        s,
        "GET /moto-api/data.json HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    s.read_to_end(&mut response).unwrap();
    let start = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP response")
        + 4;
    let data: serde_json::Value =
        serde_json::from_slice(&response[start..]).expect("the emulator's data is JSON");
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

pub fn notice(campaign: &Campaign, milestone: Milestone, zone: Tz) -> Job {
    Job::Notice {
        campaign: campaign.id.clone(),
        milestone,
        timezone: zone,
        resume: None,
    }
}

const ZONES: [Tz; 2] = [chrono_tz::Europe::Berlin, chrono_tz::Asia::Shanghai];

/// Checks every one of `n` customers received `milestone` at least once;
/// returns how many received it more than once (extra copies).
fn everyone_received(
    received: &BTreeMap<(String, String), usize>,
    n: usize,
    milestone: &str,
) -> usize {
    let mut extra = 0;
    for i in 0..n {
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
    assert_eq!(everyone_received(&received, n, "announcement"), 0);
    assert_eq!(received.values().sum::<usize>(), n);
    let tallies = rig.deps.ledger.tallies(&c.id).await.unwrap();
    assert_eq!(tallies["announcement"].sent, n as u64);
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
    let mut extra = 0;
    for i in (0..n).step_by(2) {
        let to = format!("c{i:04}@example.com");
        let got = received
            .get(&(to.clone(), "announcement".to_owned()))
            .copied()
            .unwrap_or(0);
        assert!(
            got >= 1,
            "{to} never received the announcement after a crash at {step:?}"
        );
        extra += got - 1;
    }
    assert!(
        extra <= IN_FLIGHT,
        "{extra} sent twice after a crash at {step:?}"
    );
    let tallies = rig.deps.ledger.tallies(&c.id).await.unwrap();
    assert_eq!(tallies["announcement"].sent, berlin as u64);
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
    let mut extra = 0;
    for i in (0..n).step_by(2) {
        let to = format!("c{i:04}@example.com");
        let got = received
            .get(&(to.clone(), "announcement".to_owned()))
            .copied()
            .unwrap_or(0);
        assert_eq!(got, 1, "{to} received the announcement {got} times");
        extra += got.saturating_sub(1);
    }
    assert_eq!(extra, 0);
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
        let JobOutcome::Wave(w) = jobs::run(&rig.deps, &next.job, rig.clock.now_utc(), &short())
            .await
            .unwrap()
        else {
            panic!("a wave")
        };
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
    let JobOutcome::Wave(w) = jobs::run(
        &rig.deps,
        &notice(&c, Milestone::Reminder(60), zone),
        late,
        &Budget::unlimited(),
    )
    .await
    .unwrap() else {
        panic!("a wave")
    };
    let berlin = n.div_ceil(2) as u64;
    assert!(w.late);
    assert_eq!(w.sent, berlin - 1, "everyone but the migrated customer");
    // Reminder 30 (31 August) run three days late: past the grace.
    let past = "2027-09-03T12:00:00Z".parse().unwrap();
    rig.clock.advance_to(past);
    let JobOutcome::Wave(w) = jobs::run(
        &rig.deps,
        &notice(&c, Milestone::Reminder(30), zone),
        past,
        &Budget::unlimited(),
    )
    .await
    .unwrap() else {
        panic!("a wave")
    };
    assert_eq!(w.state, sunset::services::dispatch::WaveState::Missed);
    assert_eq!((w.sent, w.missed), (0, berlin - 1));
    // The last reminder (1 day before the end, 29 September) always goes
    // out, however late.
    let very_late = "2027-09-29T23:30:00Z".parse().unwrap();
    rig.clock.advance_to(very_late);
    let JobOutcome::Wave(w) = jobs::run(
        &rig.deps,
        &notice(&c, Milestone::Reminder(1), zone),
        very_late,
        &Budget::unlimited(),
    )
    .await
    .unwrap() else {
        panic!("a wave")
    };
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
