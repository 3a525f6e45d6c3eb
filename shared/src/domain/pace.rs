//! The send timeline's rule, the same in every adapter: slots `interval`
//! apart, handed out in order, never two in the same slot and never one in
//! the past. Whoever reserves next starts where the last reservation ended,
//! or now if that is past: no burst builds up while nobody sends, so no
//! second ever holds more sends than the rate allows.

use std::time::{Duration, SystemTime};

/// Reserves `count` slots on a timeline whose next free slot is
/// `next_free` (`None`: never used); returns the first slot and the
/// timeline's new next free slot.
pub fn reserve(
    next_free: Option<SystemTime>,
    now: SystemTime,
    count: u32,
    interval: Duration,
) -> (SystemTime, SystemTime) {
    let first = next_free.map_or(now, |t| t.max(now));
    (first, first + interval * count)
}

/// Milliseconds since the epoch, as stored.
pub fn to_millis(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub fn from_millis(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// However reservations interleave in time, their slots never
        /// overlap and none starts before it was asked for.
        #[test]
        fn slots_never_overlap_or_start_in_the_past(
            asks in proptest::collection::vec((0u64..2_000, 1u32..20), 1..50)
        ) {
            let interval = Duration::from_millis(10);
            let mut next = None;
            let mut now = SystemTime::UNIX_EPOCH;
            let mut last_end = SystemTime::UNIX_EPOCH;
            for (gap, count) in asks {
                now += Duration::from_millis(gap);
                let (first, end) = reserve(next, now, count, interval);
                prop_assert!(first >= now);
                prop_assert!(first >= last_end);
                prop_assert_eq!(end, first + interval * count);
                last_end = end;
                next = Some(end);
            }
        }
    }
}
