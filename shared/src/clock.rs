//! Clocks: the system's, and a simulated one the runner moves forward.
//! Every service and adapter of both runtimes takes the time from the
//! [`Clock`] it was given — never from `Utc::now()` — so a simulated run
//! writes simulated times everywhere, the audit trail included.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};

use crate::ports::Clock;

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told, at millisecond resolution.
pub struct SimulatedClock {
    millis: AtomicI64,
}

impl SimulatedClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            millis: AtomicI64::new(start.timestamp_millis()),
        }
    }

    /// Moves the clock to `t` if that is later; time never runs backwards.
    pub fn advance_to(&self, t: DateTime<Utc>) {
        self.millis
            .fetch_max(t.timestamp_millis(), Ordering::SeqCst);
    }
}

impl Clock for SimulatedClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.millis.load(Ordering::SeqCst)).unwrap_or_default()
    }
}
