//! Milestones of a sunset and the plan that puts them on the calendar.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::campaign::Campaign;
use super::export::ExportId;
use super::ids::{CampaignId, CustomerId, InvalidValue};

/// A message (or step) of the sunset. The name is stable: it appears in the
/// `X-Sunset-Milestone` header, ledger keys, schedule names and the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Milestone {
    /// To each account manager: their core customers, 1-2 weeks ahead.
    OutreachBrief,
    Announcement,
    /// `days_before_end` days before the service ends.
    Reminder(u32),
    /// The day after the last day of service: it has ended; the data is
    /// kept until the export deadline.
    ServiceEnded,
    /// This many days before the export deadline: the data is about to
    /// be deleted.
    DeletionWarning(u32),
    /// Sent at the purge, before the customer's address is erased: their
    /// data was deleted.
    DeletionDone,
    /// A requested export bundle is ready to download.
    ExportReady,
    /// The customer's last day moved (an extension, a legal hold released).
    Deadline,
    /// Not a message: deletion after the export deadline.
    Purge,
}

impl Milestone {
    pub fn name(self) -> String {
        self.to_string()
    }

    /// Whether a wave sends it to customers on its day, zone by zone.
    pub fn is_notice(self) -> bool {
        matches!(
            self,
            Milestone::Announcement
                | Milestone::Reminder(_)
                | Milestone::ServiceEnded
                | Milestone::DeletionWarning(_)
        )
    }
}

impl fmt::Display for Milestone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Milestone::OutreachBrief => f.write_str("outreach-brief"),
            Milestone::Announcement => f.write_str("announcement"),
            Milestone::Reminder(n) => write!(f, "reminder-{n}"),
            Milestone::ServiceEnded => f.write_str("service-ended"),
            Milestone::DeletionWarning(n) => write!(f, "deletion-warning-{n}"),
            Milestone::DeletionDone => f.write_str("deletion-done"),
            Milestone::ExportReady => f.write_str("export-ready"),
            Milestone::Deadline => f.write_str("deadline"),
            Milestone::Purge => f.write_str("purge"),
        }
    }
}

impl FromStr for Milestone {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, InvalidValue> {
        Ok(match s {
            "outreach-brief" => Milestone::OutreachBrief,
            "announcement" => Milestone::Announcement,
            "export-ready" => Milestone::ExportReady,
            "deadline" => Milestone::Deadline,
            "purge" => Milestone::Purge,
            "service-ended" => Milestone::ServiceEnded,
            "deletion-done" => Milestone::DeletionDone,
            _ => {
                let days = |prefix| s.strip_prefix(prefix).map(str::parse::<u32>);
                match (days("reminder-"), days("deletion-warning-")) {
                    (Some(Ok(n)), _) if n > 0 => Milestone::Reminder(n),
                    (_, Some(Ok(n))) if n > 0 => Milestone::DeletionWarning(n),
                    _ => return Err(InvalidValue(format!("'{s}' is not a milestone"))),
                }
            }
        })
    }
}

impl TryFrom<String> for Milestone {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, InvalidValue> {
        s.parse()
    }
}

impl From<Milestone> for String {
    fn from(m: Milestone) -> String {
        m.to_string()
    }
}

/// Work the scheduler runs at a time. The same payload is what an
/// EventBridge schedule delivers to a Lambda function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "kebab-case")]
pub enum Job {
    /// Segment the customers, run the preflight and plan the schedule.
    Segment { campaign: CampaignId },
    /// Send the account managers their 1:1 briefs.
    OutreachBriefs { campaign: CampaignId },
    /// Remind the owners of core customers not yet told 1:1, a few days
    /// before the announcement.
    OutreachReminders { campaign: CampaignId },
    /// Send the announcement or a reminder to the customers in one zone,
    /// at the local send hour of the milestone's day there.
    Notice {
        campaign: CampaignId,
        milestone: Milestone,
        timezone: Tz,
        /// Set on a continuation: where the wave goes on from.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<Resume>,
    },
    /// Build a requested export bundle and mail its link. The customer is
    /// part of the job so the request is looked up as theirs, not by id
    /// alone.
    BuildExport {
        campaign: CampaignId,
        customer: CustomerId,
        request: ExportId,
    },
    /// Tell a customer their last day moved, with fresh links valid to it.
    DeadlineNotice {
        campaign: CampaignId,
        customer: CustomerId,
    },
    /// Purge every customer whose effective deadline has passed.
    Purge { campaign: CampaignId },
    /// Send the announcement to customers imported after it went out in
    /// their zone (at most 50 a job, so the payload stays small).
    CatchUp {
        campaign: CampaignId,
        customers: Vec<CustomerId>,
    },
}

/// A wave's continuation: its part number (the first run is part 0) and
/// the last customer the wave had finished with, in the order waves list
/// customers (`None`: from the start).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resume {
    pub part: u32,
    pub after: Option<CustomerId>,
}

/// The job name of a zone's wave of a notice; a continuation adds its
/// part.
pub fn notice_job_name(campaign: &CampaignId, milestone: Milestone, zone: Tz) -> String {
    format!("{campaign}.{milestone}.{}", zone_slug(zone))
}

/// The name of a wave's part `part`: one name per part, so every delivery
/// of the same run schedules the same continuation, and a continuation
/// that just fired is never the one being moved.
pub fn continuation_name(
    campaign: &CampaignId,
    milestone: Milestone,
    zone: Tz,
    part: u32,
) -> String {
    format!("{}.part{part}", notice_job_name(campaign, milestone, zone))
}

impl Job {
    pub fn campaign(&self) -> &CampaignId {
        match self {
            Job::Segment { campaign }
            | Job::OutreachBriefs { campaign }
            | Job::OutreachReminders { campaign }
            | Job::Notice { campaign, .. }
            | Job::BuildExport { campaign, .. }
            | Job::DeadlineNotice { campaign, .. }
            | Job::Purge { campaign }
            | Job::CatchUp { campaign, .. } => campaign,
        }
    }

    /// Whether the job tells someone about the sunset (a customer, or an
    /// account manager in their brief): what a cancelled campaign no
    /// longer runs. Exports asked for, and the purge, still run.
    pub fn tells(&self) -> bool {
        match self {
            Job::OutreachBriefs { .. }
            | Job::OutreachReminders { .. }
            | Job::Notice { .. }
            | Job::DeadlineNotice { .. }
            | Job::CatchUp { .. } => true,
            Job::Segment { .. } | Job::BuildExport { .. } | Job::Purge { .. } => false,
        }
    }
}

/// A job with its time and a name derived from what it does, so planning
/// again replaces a schedule instead of adding a second one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledJob {
    pub name: String,
    pub due: DateTime<Utc>,
    pub job: Job,
}

/// `date` at `time` in `zone`, as an instant. A time that does not exist
/// (a spring-forward gap) moves an hour later; an ambiguous one takes the
/// earlier instant.
pub fn local_instant(date: NaiveDate, time: NaiveTime, zone: Tz) -> DateTime<Utc> {
    let naive = date.and_time(time);
    zone.from_local_datetime(&naive)
        .earliest()
        .or_else(|| {
            zone.from_local_datetime(&(naive + chrono::Duration::hours(1)))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&naive))
}

/// The day a customer-facing milestone falls on, in local dates.
pub fn milestone_date(campaign: &Campaign, milestone: Milestone) -> Option<NaiveDate> {
    match milestone {
        Milestone::OutreachBrief => Some(campaign.brief_date()),
        Milestone::Announcement => Some(campaign.dates.announce),
        Milestone::Reminder(n) => Some(campaign.reminder_date(n)),
        Milestone::ServiceEnded => campaign.dates.service_end.succ_opt(),
        Milestone::DeletionWarning(n) => Some(campaign.deletion_warning_date(n)),
        Milestone::ExportReady
        | Milestone::Deadline
        | Milestone::Purge
        | Milestone::DeletionDone => None,
    }
}

/// The instant a last day ends for someone in `zone`: the start of the next
/// day there. A deadline is the customer's whole last day wherever they
/// live.
pub fn day_ends(day: NaiveDate, zone: Tz) -> DateTime<Utc> {
    local_instant(day + chrono::Days::new(1), NaiveTime::MIN, zone)
}

/// When the purge of the customers whose deadline is `deadline` runs: once
/// that day has ended in every zone they live in (the campaign's too).
pub fn purge_time(campaign: &Campaign, zones: &[Tz], deadline: NaiveDate) -> DateTime<Utc> {
    zones
        .iter()
        .chain(std::iter::once(&campaign.timezone))
        .map(|&zone| day_ends(deadline, zone))
        .max()
        .unwrap_or_else(|| day_ends(deadline, campaign.timezone))
}

/// The end of the last day anywhere on Earth (UTC-12): a purge scheduled
/// then finds every customer with that deadline due, whatever their zone.
pub fn day_ends_everywhere(day: NaiveDate) -> DateTime<Utc> {
    day_ends(day, chrono_tz::Etc::GMTPlus12)
}

fn zone_slug(zone: Tz) -> String {
    zone.name().replace('/', "_")
}

/// Days before the announcement that the owners of core customers not yet
/// told 1:1 are reminded.
pub const OUTREACH_REMINDER_DAYS: u64 = 3;

/// Every scheduled job of a campaign, given the zones its customers live in
/// and the extended deadlines granted so far.
pub fn plan(
    campaign: &Campaign,
    zones: &[Tz],
    extended_deadlines: &BTreeSet<NaiveDate>,
) -> Vec<ScheduledJob> {
    let id = &campaign.id;
    let mut jobs = vec![ScheduledJob {
        name: format!("{id}.outreach-brief"),
        due: local_instant(
            campaign.brief_date(),
            NaiveTime::from_hms_opt(9, 0, 0).expect("valid"),
            campaign.timezone,
        ),
        job: Job::OutreachBriefs {
            campaign: id.clone(),
        },
    }];
    // Three days before the announcement, after the brief.
    let reminder_day = campaign.dates.announce - chrono::Days::new(OUTREACH_REMINDER_DAYS);
    if reminder_day > campaign.brief_date() {
        jobs.push(ScheduledJob {
            name: format!("{id}.outreach-reminder"),
            due: local_instant(
                reminder_day,
                NaiveTime::from_hms_opt(9, 0, 0).expect("valid"),
                campaign.timezone,
            ),
            job: Job::OutreachReminders {
                campaign: id.clone(),
            },
        });
    }
    for milestone in campaign.notices() {
        let date = milestone_date(campaign, milestone).expect("notice milestones have dates");
        for &zone in zones {
            jobs.push(ScheduledJob {
                name: notice_job_name(id, milestone, zone),
                due: local_instant(date, campaign.send_time(), zone),
                job: Job::Notice {
                    campaign: id.clone(),
                    milestone,
                    timezone: zone,
                    resume: None,
                },
            });
        }
    }
    let deadlines = std::iter::once(campaign.dates.export_deadline).chain(
        extended_deadlines
            .iter()
            .copied()
            .filter(|d| *d > campaign.dates.export_deadline),
    );
    for deadline in deadlines {
        jobs.push(ScheduledJob {
            name: format!("{id}.purge.{deadline}"),
            due: purge_time(campaign, zones, deadline),
            job: Job::Purge {
                campaign: id.clone(),
            },
        });
    }
    jobs.sort_by(|a, b| a.due.cmp(&b.due).then_with(|| a.name.cmp(&b.name)));
    jobs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::campaign::tests::EXAMPLE;

    #[test]
    fn milestone_names_round_trip() {
        for m in [
            Milestone::OutreachBrief,
            Milestone::Announcement,
            Milestone::Reminder(60),
            Milestone::ExportReady,
            Milestone::Purge,
            Milestone::ServiceEnded,
            Milestone::DeletionWarning(7),
            Milestone::DeletionDone,
        ] {
            assert_eq!(m.name().parse::<Milestone>().unwrap(), m);
        }
        assert!("reminder-0".parse::<Milestone>().is_err());
        assert!("deletion-warning-0".parse::<Milestone>().is_err());
        assert!("deletion-warning-x".parse::<Milestone>().is_err());
    }

    #[test]
    fn plan_sends_at_local_hour_in_each_zone_and_purges_after_the_deadline() {
        let c = Campaign::from_toml(EXAMPLE).unwrap();
        let zones = [chrono_tz::Asia::Shanghai, chrono_tz::Europe::Berlin];
        let jobs = plan(&c, &zones, &BTreeSet::new());
        // brief + outreach reminder + (announcement + 5 reminders +
        // service ended + deletion warning) x 2 zones + purge
        assert_eq!(jobs.len(), 2 + 8 * 2 + 1);
        let warning = jobs
            .iter()
            .find(|j| j.name == "orbit-crm-2027.deletion-warning-7.Europe_Berlin")
            .unwrap();
        // 24 October 2027, 10:00 in Berlin (summer time).
        assert_eq!(warning.due.to_rfc3339(), "2027-10-24T08:00:00+00:00");
        let ended = jobs
            .iter()
            .find(|j| j.name == "orbit-crm-2027.service-ended.Asia_Shanghai")
            .unwrap();
        assert_eq!(ended.due.to_rfc3339(), "2027-10-01T02:00:00+00:00");
        let shanghai_60 = jobs
            .iter()
            .find(|j| j.name == "orbit-crm-2027.reminder-60.Asia_Shanghai")
            .unwrap();
        assert_eq!(shanghai_60.due.to_rfc3339(), "2027-08-01T02:00:00+00:00");
        let brief = &jobs[0];
        assert_eq!(brief.name, "orbit-crm-2027.outreach-brief");
        assert!(brief.due.date_naive() <= c.dates.announce - chrono::Days::new(7));
        let purge = jobs.last().unwrap();
        assert_eq!(purge.due.to_rfc3339(), "2027-10-31T23:00:00+00:00");
    }

    #[test]
    fn spring_forward_gap_moves_later() {
        let t = local_instant(
            "2027-03-28".parse().unwrap(),
            NaiveTime::from_hms_opt(2, 30, 0).unwrap(),
            chrono_tz::Europe::Berlin,
        );
        assert_eq!(t.to_rfc3339(), "2027-03-28T01:30:00+00:00");
    }
}
