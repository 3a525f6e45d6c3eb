//! Pacing: every message, whichever job sends it (a wave, a catch-up, a
//! brief, an export-ready or deadline mail), waits here for its turn.
//!
//! The rate belongs to the provider's account, not to one run: several
//! waves, catch-ups and export mails run at once, on AWS in separate
//! invocations. So the turns come from one timeline per channel that all
//! of them share ([`SendRate`]: an item in the DynamoDB table on AWS, the
//! process on the embedded runtime), reserved a block at a time so a send
//! costs a fraction of a write. The rate is a share of what the provider
//! reports (SES `GetAccount`; 90 % by default, leaving room for the
//! account's other mail), capped by configuration. When the provider
//! throttles anyway, this process slows down for a while; when the
//! day's quota is used up, sends are deferred (the caller schedules a
//! continuation for then): nothing is dropped.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};

use crate::domain::ledger::Channel;
use crate::ports::{PortError, PortResult, SendLimits, SendRate};

/// How a process paces, from its configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct PacingSettings {
    /// The share of the provider's rate to use (0 < share ≤ 1).
    pub share: f64,
    /// A rate never to exceed, messages a second, whatever the provider
    /// allows. When the provider cannot say (an emulator without
    /// `GetAccount`), this is the rate.
    pub cap: Option<f64>,
    /// How often the provider's limits are read again.
    pub refresh: Duration,
    /// How long sends wait when the day's quota is used up before the
    /// limits are read again.
    pub quota_retry: chrono::Duration,
}

impl Default for PacingSettings {
    fn default() -> Self {
        Self {
            share: 0.9,
            cap: None,
            refresh: Duration::from_secs(60),
            quota_retry: chrono::Duration::hours(1),
        }
    }
}

/// The share of a configured cap the timeline is laid out at.
const CAP_HEADROOM: f64 = 0.97;

/// A throttle lowers the pace to this share of what it was…
const SLOWDOWN: f64 = 0.75;
/// …once for all throttles within this time…
const SLOWDOWN_STEP: Duration = Duration::from_secs(1);
/// …never below this share…
const MIN_SLOWDOWN: f64 = 0.1;
/// …for this long after the last throttle.
const SLOW_FOR: Duration = Duration::from_secs(10);

/// How many times a turn that woke late takes a new slot before it goes
/// anyway.
const LATE_WAKES: usize = 4;

/// A turn's place on the timeline.
enum Slot {
    At(SystemTime, Duration),
    /// Unpaced: no rate is known or configured.
    Free,
    Defer(DateTime<Utc>),
}

/// Whether a message may go now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    Go,
    /// The quota is used up: send nothing before then.
    Defer(DateTime<Utc>),
}

/// What one process knows of a channel.
#[derive(Default)]
struct Lane {
    /// Slots this process reserved and has not used yet.
    slots: VecDeque<SystemTime>,
    /// The provider's limits and when they were read.
    limits: Option<(Instant, SendLimits)>,
    /// Sent since the limits were read (counted against the quota).
    since_read: u64,
    /// Throttled recently: this process sends at `slowdown` times its
    /// pace until then.
    slow_until: Option<Instant>,
    slowdown: f64,
    /// When the pace was last lowered (sends in flight together are
    /// throttled together: one step for them all).
    slowed_at: Option<Instant>,
    deferred_until: Option<DateTime<Utc>>,
    /// Whether the provider could not tell its limits (logged once).
    limits_unknown_logged: bool,
}

/// Messages a second and slots reserved at once for a rate.
fn plan(rate: f64) -> (Duration, u32) {
    let interval = Duration::from_secs_f64(1.0 / rate);
    // A tenth of a second's worth at once: few writes to the shared
    // timeline, and little of it wasted when a run stops.
    let block = (rate / 10.0).clamp(1.0, 50.0) as u32;
    (interval, block)
}

pub struct Pacer {
    rate: Arc<dyn SendRate>,
    settings: PacingSettings,
    lanes: tokio::sync::Mutex<HashMap<Channel, Lane>>,
}

impl Pacer {
    pub fn new(rate: Arc<dyn SendRate>, settings: PacingSettings) -> Self {
        Self {
            rate,
            settings,
            lanes: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Waits for this message's turn on `channel`, or says when to try
    /// again if the quota is used up. `now` is the campaign's clock (a
    /// deferral is a time on it); the waiting is in real time.
    pub async fn turn(&self, channel: Channel, now: DateTime<Utc>) -> PortResult<Turn> {
        // A turn that wakes more than a slot late (the process was busy)
        // would go out next to the one in the following slot: it takes a
        // new slot instead, a few times at most, so sends stay spread
        // however the process is loaded.
        for _ in 0..LATE_WAKES {
            match self.slot(channel, now).await? {
                Slot::Defer(until) => return Ok(Turn::Defer(until)),
                Slot::Free => return Ok(Turn::Go),
                Slot::At(slot, interval) => {
                    // A slot already past when handed out (the shared
                    // timeline answered slowly) goes at once: asking the
                    // slow timeline again would only make it later.
                    let Ok(wait) = slot.duration_since(SystemTime::now()) else {
                        return Ok(Turn::Go);
                    };
                    tokio::time::sleep(wait).await;
                    if SystemTime::now() <= slot + interval {
                        return Ok(Turn::Go);
                    }
                }
            }
        }
        Ok(Turn::Go)
    }

    async fn slot(&self, channel: Channel, now: DateTime<Utc>) -> PortResult<Slot> {
        let slot = {
            let mut lanes = self.lanes.lock().await;
            let lane = lanes.entry(channel).or_default();
            if let Some(until) = lane.deferred_until {
                if now < until {
                    return Ok(Slot::Defer(until));
                }
                lane.deferred_until = None;
                lane.limits = None;
            }
            let limits = self.limits(channel, lane).await?;
            if let Some(left) = limits.remaining_today {
                if lane.since_read >= left {
                    let until = now + self.settings.quota_retry;
                    lane.deferred_until = Some(until);
                    tracing::warn!(%channel, until = %until, "sending quota used up; deferring");
                    return Ok(Slot::Defer(until));
                }
            }
            lane.since_read += 1;
            let Some(rate) = self.rate_for(&limits, lane) else {
                return Ok(Slot::Free);
            };
            let (interval, block) = plan(rate);
            let wall = SystemTime::now();
            // A slot left from an earlier burst that is already past would
            // send at once, next to newer ones: dropped.
            while lane.slots.front().is_some_and(|s| *s + interval < wall) {
                lane.slots.pop_front();
            }
            if lane.slots.is_empty() {
                let first = self.rate.reserve(channel, block, interval, wall).await?;
                lane.slots.extend((0..block).map(|i| first + interval * i));
            }
            lane.slots.pop_front().map(|s| (s, interval))
        };
        Ok(match slot {
            Some((at, interval)) => Slot::At(at, interval),
            None => Slot::Free,
        })
    }

    /// The provider throttled a send: this process lowers its pace by a
    /// quarter, again for each further throttle a second or more later
    /// (down to a tenth), and goes back to the full pace after ten
    /// seconds without one; it reads the limits again (the quota may be
    /// gone). A slip of the timing costs a little pace for a little
    /// while; an account that really has less to give (other mail on it)
    /// is backed off step by step until the throttling stops.
    pub async fn throttled(&self, channel: Channel) {
        let mut lanes = self.lanes.lock().await;
        let lane = lanes.entry(channel).or_default();
        let now = Instant::now();
        let slowed = lane.slow_until.is_some_and(|t| now < t);
        if !slowed {
            lane.slowdown = SLOWDOWN;
            lane.slowed_at = Some(now);
        } else if lane
            .slowed_at
            .is_none_or(|at| now.duration_since(at) >= SLOWDOWN_STEP)
        {
            lane.slowdown = (lane.slowdown * SLOWDOWN).max(MIN_SLOWDOWN);
            lane.slowed_at = Some(now);
        }
        lane.slow_until = Some(now + SLOW_FOR);
        lane.slots.clear();
        lane.limits = None;
    }

    /// The provider says the quota is used up: nothing more goes on this
    /// channel before the returned time.
    pub async fn quota_exhausted(&self, channel: Channel, now: DateTime<Utc>) -> DateTime<Utc> {
        let mut lanes = self.lanes.lock().await;
        let lane = lanes.entry(channel).or_default();
        let until = now + self.settings.quota_retry;
        lane.deferred_until = Some(until);
        lane.slots.clear();
        until
    }

    /// The limits, read again when stale. A provider that cannot tell them
    /// is fine when a cap is configured (it is then the rate, with no
    /// quota known), an error otherwise: sending blind could get the
    /// account suspended.
    async fn limits(&self, channel: Channel, lane: &mut Lane) -> PortResult<SendLimits> {
        if let Some((read, limits)) = lane.limits {
            if read.elapsed() < self.settings.refresh {
                return Ok(limits);
            }
        }
        let limits = match self.rate.limits(channel).await {
            Ok(limits) => limits,
            Err(e) => match self.settings.cap {
                Some(cap) => {
                    if !lane.limits_unknown_logged {
                        tracing::warn!(%channel, error = %e, cap, "the provider's limits are unknown; sending at the configured cap");
                        lane.limits_unknown_logged = true;
                    }
                    SendLimits {
                        per_second: Some(cap),
                        remaining_today: None,
                    }
                }
                None => {
                    return Err(PortError {
                        retryable: e.retryable,
                        source: e.source.context(format!(
                            "cannot read the {channel} provider's sending limits (set a cap to send without them)"
                        )),
                    });
                }
            },
        };
        lane.limits = Some((Instant::now(), limits));
        lane.since_read = 0;
        Ok(limits)
    }

    fn rate_for(&self, limits: &SendLimits, lane: &mut Lane) -> Option<f64> {
        let provider = limits.per_second.map(|r| r * self.settings.share);
        // A cap is a limit never to pass, measured over any second: slots
        // 3 % apart from it leave room for a send that leaves a little
        // late beside one on time.
        let cap = self.settings.cap.map(|c| c * CAP_HEADROOM);
        let mut rate = match (provider, cap) {
            (Some(p), Some(c)) => Some(p.min(c)),
            (p, c) => p.or(c),
        }?;
        if lane.slow_until.is_some_and(|t| Instant::now() < t) {
            rate *= lane.slowdown;
        } else {
            lane.slow_until = None;
        }
        Some(rate.max(0.1))
    }
}

/// The embedded runtime's timeline: one process sends, so it lives in
/// memory; its limits are the configured rate (none: unpaced).
pub struct LocalSendRate {
    per_second: Option<f64>,
    next_free: std::sync::Mutex<HashMap<Channel, SystemTime>>,
}

impl LocalSendRate {
    pub fn new(per_second: Option<f64>) -> Self {
        Self {
            per_second,
            next_free: std::sync::Mutex::new(HashMap::new()),
        }
    }
}

#[async_trait::async_trait]
impl SendRate for LocalSendRate {
    async fn limits(&self, _channel: Channel) -> PortResult<SendLimits> {
        Ok(SendLimits {
            per_second: self.per_second,
            remaining_today: None,
        })
    }

    async fn reserve(
        &self,
        channel: Channel,
        count: u32,
        interval: Duration,
        now: SystemTime,
    ) -> PortResult<SystemTime> {
        let mut timelines = self.next_free.lock().unwrap_or_else(|p| p.into_inner());
        let next = timelines.get(&channel).copied();
        let (first, next) = crate::domain::pace::reserve(next, now, count, interval);
        timelines.insert(channel, next);
        Ok(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pacer(rate: Option<f64>, remaining: Option<u64>) -> Pacer {
        struct Fixed(SendLimits, LocalSendRate);
        #[async_trait::async_trait]
        impl SendRate for Fixed {
            async fn limits(&self, _: Channel) -> PortResult<SendLimits> {
                Ok(self.0)
            }
            async fn reserve(
                &self,
                c: Channel,
                n: u32,
                i: Duration,
                now: SystemTime,
            ) -> PortResult<SystemTime> {
                self.1.reserve(c, n, i, now).await
            }
        }
        let limits = SendLimits {
            per_second: rate,
            remaining_today: remaining,
        };
        Pacer::new(
            Arc::new(Fixed(limits, LocalSendRate::new(None))),
            PacingSettings {
                share: 1.0,
                ..PacingSettings::default()
            },
        )
    }

    fn now() -> DateTime<Utc> {
        "2027-02-01T09:00:00Z".parse().unwrap()
    }

    #[tokio::test]
    async fn turns_come_at_the_rate() {
        let p = pacer(Some(200.0), None);
        let start = Instant::now();
        for _ in 0..41 {
            assert_eq!(p.turn(Channel::Email, now()).await.unwrap(), Turn::Go);
        }
        // 40 intervals of 5 ms.
        assert!(
            start.elapsed() >= Duration::from_millis(195),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test]
    async fn a_used_up_quota_defers_instead_of_sending() {
        let p = pacer(None, Some(3));
        for _ in 0..3 {
            assert_eq!(p.turn(Channel::Email, now()).await.unwrap(), Turn::Go);
        }
        let deferred = p.turn(Channel::Email, now()).await.unwrap();
        assert_eq!(deferred, Turn::Defer(now() + chrono::Duration::hours(1)));
        // Still deferred a minute later; read again once the time comes.
        let later = now() + chrono::Duration::minutes(1);
        assert_eq!(p.turn(Channel::Email, later).await.unwrap(), deferred);
        let after = now() + chrono::Duration::hours(1);
        assert_eq!(p.turn(Channel::Email, after).await.unwrap(), Turn::Go);
    }

    /// Three turns asleep in their slots while the process is busy wake
    /// together: rather than go out at once, they take new slots and go
    /// one interval apart.
    #[tokio::test]
    async fn turns_that_wake_late_take_new_slots() {
        let p = Arc::new(pacer(Some(50.0), None));
        p.turn(Channel::Email, now()).await.unwrap();
        let turns: Vec<_> = (0..3)
            .map(|_| {
                let p = p.clone();
                tokio::spawn(async move {
                    p.turn(Channel::Email, now()).await.unwrap();
                    Instant::now()
                })
            })
            .collect();
        // Every turn takes its slot and sleeps; then the (only) thread is
        // busy well past all three.
        tokio::task::yield_now().await;
        std::thread::sleep(Duration::from_millis(150));
        let mut went = Vec::new();
        for t in turns {
            went.push(t.await.unwrap());
        }
        went.sort();
        let span = went[2].duration_since(went[0]);
        // Two intervals of 20 ms apart; at once (well under one) without.
        assert!(span >= Duration::from_millis(30), "{span:?}");
    }

    #[tokio::test]
    async fn throttles_lower_the_pace_a_step_at_a_time() {
        let p = pacer(Some(100.0), None);
        let limits = SendLimits {
            per_second: Some(100.0),
            remaining_today: None,
        };
        let rate = || async {
            let mut lanes = p.lanes.lock().await;
            let lane = lanes.entry(Channel::Email).or_default();
            p.rate_for(&limits, lane).unwrap()
        };
        assert_eq!(rate().await, 100.0);
        // Sends throttled together are one step.
        for _ in 0..5 {
            p.throttled(Channel::Email).await;
        }
        assert_eq!(rate().await, 75.0);
        // A throttle a second later is another.
        let step_back = |lane: &mut Lane| {
            lane.slowed_at = lane.slowed_at.map(|t| t - SLOWDOWN_STEP);
        };
        step_back(p.lanes.lock().await.get_mut(&Channel::Email).unwrap());
        p.throttled(Channel::Email).await;
        assert_eq!(rate().await, 56.25);
        // Ten seconds without one: the full pace again.
        {
            let mut lanes = p.lanes.lock().await;
            let lane = lanes.get_mut(&Channel::Email).unwrap();
            lane.slow_until = Some(Instant::now() - Duration::from_millis(1));
        }
        assert_eq!(rate().await, 100.0);
        // The next throttle starts from the full pace.
        p.throttled(Channel::Email).await;
        assert_eq!(rate().await, 75.0);
    }

    #[tokio::test]
    async fn no_rate_and_no_cap_is_unpaced() {
        let p = pacer(None, None);
        let start = Instant::now();
        for _ in 0..1000 {
            p.turn(Channel::Email, now()).await.unwrap();
        }
        assert!(start.elapsed() < Duration::from_secs(1));
    }
}
