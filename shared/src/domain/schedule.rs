//! EventBridge Scheduler's one-time schedules, validated here because an
//! emulator accepts what AWS refuses: an `at(yyyy-mm-ddThh:mm:ss)`
//! expression read in an IANA zone, and a schedule name of at most 64
//! characters from `[0-9A-Za-z._-]`.

use std::fmt;

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use sha2::{Digest, Sha256};

use super::ids::InvalidValue;

const AT_FORMAT: &str = "%Y-%m-%dT%H:%M:%S";

/// A one-time schedule expression and the zone it is read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AtExpression {
    local: NaiveDateTime,
    zone: Tz,
}

impl AtExpression {
    /// The expression for `due`, written in `zone`. Where the local time is
    /// ambiguous (the repeated hour when clocks go back) and would be read
    /// as the other instant, it is written in UTC instead, so the schedule
    /// fires exactly at `due`.
    pub fn for_instant(due: DateTime<Utc>, zone: Tz) -> Self {
        // Scheduler has second precision.
        let due = due.with_nanosecond(0).unwrap_or(due);
        let local = due.with_timezone(&zone).naive_local();
        let exact = Self { local, zone };
        if exact.instant() == Some(due) {
            exact
        } else {
            Self {
                local: due.naive_utc(),
                zone: chrono_tz::UTC,
            }
        }
    }

    /// Parses an expression and zone as Scheduler would, refusing what it
    /// refuses: another format, a zone it does not know, a time that does
    /// not exist in that zone.
    pub fn parse(expression: &str, zone: &str) -> Result<Self, InvalidValue> {
        let inner = expression
            .strip_prefix("at(")
            .and_then(|s| s.strip_suffix(')'))
            .ok_or_else(|| {
                InvalidValue(format!("'{expression}' is not at(yyyy-mm-ddThh:mm:ss)"))
            })?;
        let local = NaiveDateTime::parse_from_str(inner, AT_FORMAT)
            .ok()
            .filter(|t| t.format(AT_FORMAT).to_string() == inner)
            .ok_or_else(|| InvalidValue(format!("'{inner}' is not yyyy-mm-ddThh:mm:ss")))?;
        let zone: Tz = zone
            .parse()
            .map_err(|_| InvalidValue(format!("'{zone}' is not an IANA time zone")))?;
        let parsed = Self { local, zone };
        if parsed.instant().is_none() {
            return Err(InvalidValue(format!("{inner} does not exist in {zone}")));
        }
        Ok(parsed)
    }

    /// `at(2027-08-01T10:00:00)`
    pub fn expression(&self) -> String {
        format!("at({})", self.local.format(AT_FORMAT))
    }

    /// The IANA name for `ScheduleExpressionTimezone`.
    pub fn zone(&self) -> &'static str {
        self.zone.name()
    }

    /// When it fires: the earlier instant if the local time is ambiguous,
    /// none if it does not exist.
    pub fn instant(&self) -> Option<DateTime<Utc>> {
        match self.zone.from_local_datetime(&self.local) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t.with_timezone(&Utc)),
            LocalResult::None => None,
        }
    }
}

impl fmt::Display for AtExpression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} in {}", self.expression(), self.zone.name())
    }
}

/// A Scheduler schedule name for a job name: the job name itself when it
/// fits (≤ 64 characters of `[0-9A-Za-z._-]`), else a readable prefix and
/// a hash of the whole, so different jobs never share a schedule and the
/// same job always maps to the same one.
pub fn schedule_name(job_name: &str) -> String {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if !job_name.is_empty() && job_name.len() <= 64 && job_name.chars().all(allowed) {
        return job_name.to_owned();
    }
    let hash = hex::encode(&Sha256::digest(job_name.as_bytes())[..8]);
    let prefix: String = job_name
        .chars()
        .map(|c| if allowed(c) { c } else { '_' })
        .take(64 - 1 - hash.len())
        .collect();
    format!("{prefix}-{hash}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_due_time_is_written_in_the_campaign_zone_and_read_back_exactly() {
        let at = AtExpression::for_instant(utc("2027-08-01T08:00:00Z"), chrono_tz::Europe::Berlin);
        assert_eq!(at.expression(), "at(2027-08-01T10:00:00)");
        assert_eq!(at.zone(), "Europe/Berlin");
        let back = AtExpression::parse(&at.expression(), at.zone()).unwrap();
        assert_eq!(back.instant(), Some(utc("2027-08-01T08:00:00Z")));
    }

    #[test]
    fn the_second_pass_through_a_repeated_hour_is_written_in_utc() {
        // 2027-10-31 02:30 happens twice in Berlin; 01:30Z is the second.
        let at = AtExpression::for_instant(utc("2027-10-31T01:30:00Z"), chrono_tz::Europe::Berlin);
        assert_eq!(
            (at.expression().as_str(), at.zone()),
            ("at(2027-10-31T01:30:00)", "UTC")
        );
        let first =
            AtExpression::for_instant(utc("2027-10-31T00:30:00Z"), chrono_tz::Europe::Berlin);
        assert_eq!(first.zone(), "Europe/Berlin");
    }

    #[test]
    fn malformed_expressions_and_zones_are_refused() {
        for (expr, zone) in [
            ("at(2027-08-01 10:00:00)", "Europe/Berlin"),
            ("at(2027-08-01T10:00)", "Europe/Berlin"),
            ("cron(0 10 * * ? *)", "Europe/Berlin"),
            ("at(2027-02-30T10:00:00)", "Europe/Berlin"),
            ("at(2027-08-01T10:00:00)", "Mars/Olympus"),
            ("at(2027-03-28T02:30:00)", "Europe/Berlin"),
        ] {
            assert!(AtExpression::parse(expr, zone).is_err(), "{expr} {zone}");
        }
    }

    #[test]
    fn schedule_names_fit_and_stay_distinct() {
        assert_eq!(
            schedule_name("orbit-crm-2027.reminder-60.Asia_Shanghai"),
            "orbit-crm-2027.reminder-60.Asia_Shanghai"
        );
        let long = format!("{}.export.cust:1.x20270301T000000000Z", "c".repeat(64));
        let name = schedule_name(&long);
        assert!(
            name.len() <= 64
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c)),
            "{name}"
        );
        assert_ne!(name, schedule_name(&long.replace("cust:1", "cust:2")));
        assert_eq!(name, schedule_name(&long));
    }
}
