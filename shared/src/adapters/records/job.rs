//! A scheduled job's payload as stored: what the embedded scheduler keeps
//! and what an EventBridge schedule delivers to a function. Schedules are
//! made months before they fire, so a function reads the payloads of the
//! release that made them. Version 1 adds `v` to the payload; version 0 is
//! the same without it (and what an operator types: `{"job": "segment",
//! "campaign": "…"}`).

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::{unknown_version, versioned_value};
use crate::domain::export::ExportId;
use crate::domain::milestone::{Job, Milestone, Resume};
use crate::domain::{CampaignId, CustomerId};
use crate::ports::{PortError, PortResult};

#[derive(Serialize, Deserialize)]
struct JobRecordV1 {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    v: Option<u32>,
    #[serde(flatten)]
    job: JobV1,
}

/// The kinds of job of version 1, with their fields as text, each read by
/// the domain's parser.
#[derive(Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "kebab-case")]
enum JobV1 {
    Segment {
        campaign: String,
    },
    OutreachBriefs {
        campaign: String,
    },
    OutreachReminders {
        campaign: String,
    },
    Notice {
        campaign: String,
        milestone: String,
        timezone: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<ResumeV1>,
    },
    BuildExport {
        campaign: String,
        customer: String,
        request: String,
    },
    DeadlineNotice {
        campaign: String,
        customer: String,
    },
    Purge {
        campaign: String,
    },
    CatchUp {
        campaign: String,
        customers: Vec<String>,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResumeV1 {
    part: u32,
    after: Option<String>,
}

fn record(job: &Job) -> JobRecordV1 {
    let c = |id: &CampaignId| id.to_string();
    let job = match job {
        Job::Segment { campaign } => JobV1::Segment {
            campaign: c(campaign),
        },
        Job::OutreachBriefs { campaign } => JobV1::OutreachBriefs {
            campaign: c(campaign),
        },
        Job::OutreachReminders { campaign } => JobV1::OutreachReminders {
            campaign: c(campaign),
        },
        Job::Notice {
            campaign,
            milestone,
            timezone,
            resume,
        } => JobV1::Notice {
            campaign: c(campaign),
            milestone: milestone.to_string(),
            timezone: timezone.name().to_owned(),
            resume: resume.as_ref().map(|r| ResumeV1 {
                part: r.part,
                after: r.after.as_ref().map(ToString::to_string),
            }),
        },
        Job::BuildExport {
            campaign,
            customer,
            request,
        } => JobV1::BuildExport {
            campaign: c(campaign),
            customer: customer.to_string(),
            request: request.as_str().to_owned(),
        },
        Job::DeadlineNotice { campaign, customer } => JobV1::DeadlineNotice {
            campaign: c(campaign),
            customer: customer.to_string(),
        },
        Job::Purge { campaign } => JobV1::Purge {
            campaign: c(campaign),
        },
        Job::CatchUp {
            campaign,
            customers,
        } => JobV1::CatchUp {
            campaign: c(campaign),
            customers: customers.iter().map(ToString::to_string).collect(),
        },
    };
    JobRecordV1 { v: Some(1), job }
}

/// The payload of the newest version, as JSON text.
pub fn job_to_json(job: &Job) -> PortResult<String> {
    serde_json::to_string(&record(job)).map_err(PortError::permanent)
}

pub fn job_from_json(json: &str) -> Result<Job, String> {
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("the payload is not JSON: {e}"))?;
    job_from_value(value)
}

/// A payload of any version this build reads; the error says what is
/// wrong with it (the function answers it, since retrying cannot help).
pub fn job_from_value(value: serde_json::Value) -> Result<Job, String> {
    match versioned_value(&value) {
        Ok(None | Some(1)) => {}
        Ok(Some(v)) => return Err(unknown_version("a job", v).to_string()),
        Err(e) => return Err(e),
    }
    let r: JobRecordV1 =
        serde_json::from_value(value).map_err(|e| format!("the payload is not a job: {e}"))?;
    let campaign = |raw: &str| CampaignId::parse(raw).map_err(|e| format!("campaign: {}", e.0));
    let customer = |raw: &str| CustomerId::parse(raw).map_err(|e| format!("customer: {}", e.0));
    Ok(match r.job {
        JobV1::Segment { campaign: id } => Job::Segment {
            campaign: campaign(&id)?,
        },
        JobV1::OutreachBriefs { campaign: id } => Job::OutreachBriefs {
            campaign: campaign(&id)?,
        },
        JobV1::OutreachReminders { campaign: id } => Job::OutreachReminders {
            campaign: campaign(&id)?,
        },
        JobV1::Notice {
            campaign: id,
            milestone,
            timezone,
            resume,
        } => Job::Notice {
            campaign: campaign(&id)?,
            milestone: milestone
                .parse::<Milestone>()
                .map_err(|e| format!("milestone: {}", e.0))?,
            timezone: timezone
                .parse::<Tz>()
                .map_err(|_| format!("timezone: '{timezone}' is not an IANA time zone"))?,
            resume: resume
                .map(|r| {
                    Ok::<_, String>(Resume {
                        part: r.part,
                        after: r.after.as_deref().map(customer).transpose()?,
                    })
                })
                .transpose()?,
        },
        JobV1::BuildExport {
            campaign: id,
            customer: who,
            request,
        } => Job::BuildExport {
            campaign: campaign(&id)?,
            customer: customer(&who)?,
            request: ExportId::parse(&request).map_err(|e| format!("request: {}", e.0))?,
        },
        JobV1::DeadlineNotice {
            campaign: id,
            customer: who,
        } => Job::DeadlineNotice {
            campaign: campaign(&id)?,
            customer: customer(&who)?,
        },
        JobV1::Purge { campaign: id } => Job::Purge {
            campaign: campaign(&id)?,
        },
        JobV1::CatchUp {
            campaign: id,
            customers,
        } => Job::CatchUp {
            campaign: campaign(&id)?,
            customers: customers
                .iter()
                .map(|c| customer(c))
                .collect::<Result<_, _>>()?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn every_kind() -> Vec<Job> {
        let campaign = CampaignId::parse("orbit-crm-2027").unwrap();
        let customer = CustomerId::parse("C000001").unwrap();
        vec![
            Job::Segment {
                campaign: campaign.clone(),
            },
            Job::OutreachBriefs {
                campaign: campaign.clone(),
            },
            Job::OutreachReminders {
                campaign: campaign.clone(),
            },
            Job::Notice {
                campaign: campaign.clone(),
                milestone: "reminder-30".parse().unwrap(),
                timezone: Tz::Asia__Shanghai,
                resume: Some(Resume {
                    part: 2,
                    after: Some(customer.clone()),
                }),
            },
            Job::Notice {
                campaign: campaign.clone(),
                milestone: Milestone::Announcement,
                timezone: Tz::Europe__Berlin,
                resume: None,
            },
            Job::BuildExport {
                campaign: campaign.clone(),
                customer: customer.clone(),
                request: ExportId::parse("0123456789abcdef0123456789abcdef").unwrap(),
            },
            Job::DeadlineNotice {
                campaign: campaign.clone(),
                customer: customer.clone(),
            },
            Job::Purge {
                campaign: campaign.clone(),
            },
            Job::CatchUp {
                campaign,
                customers: vec![customer],
            },
        ]
    }

    #[test]
    fn every_kind_of_job_round_trips_as_version_1() {
        for job in every_kind() {
            let text = job_to_json(&job).unwrap();
            assert!(text.starts_with(r#"{"v":1,"job":"#), "{text}");
            assert_eq!(job_from_json(&text).unwrap(), job);
            let value: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(job_from_value(value).unwrap(), job);
        }
    }

    /// Payloads as the release before versions put them on its schedules
    /// (the domain enum's JSON, fixed here as text) still run.
    #[test]
    fn payloads_written_before_versions_read() {
        for (v0, job) in [
            json!({"job": "segment", "campaign": "orbit-crm-2027"}),
            json!({"job": "outreach-briefs", "campaign": "orbit-crm-2027"}),
            json!({"job": "outreach-reminders", "campaign": "orbit-crm-2027"}),
            json!({"job": "notice", "campaign": "orbit-crm-2027", "milestone": "reminder-30",
                   "timezone": "Asia/Shanghai", "resume": {"part": 2, "after": "C000001"}}),
            json!({"job": "notice", "campaign": "orbit-crm-2027", "milestone": "announcement",
                   "timezone": "Europe/Berlin"}),
            json!({"job": "build-export", "campaign": "orbit-crm-2027", "customer": "C000001",
                   "request": "0123456789abcdef0123456789abcdef"}),
            json!({"job": "deadline-notice", "campaign": "orbit-crm-2027", "customer": "C000001"}),
            json!({"job": "purge", "campaign": "orbit-crm-2027"}),
            json!({"job": "catch-up", "campaign": "orbit-crm-2027", "customers": ["C000001"]}),
        ]
        .into_iter()
        .zip(every_kind())
        {
            assert_eq!(job_from_value(v0).unwrap(), job);
        }
    }

    #[test]
    fn a_bad_payload_says_what_is_wrong() {
        let e = job_from_value(json!({"v": 2, "job": "segment", "campaign": "c"})).unwrap_err();
        assert!(e.contains("version 2"), "{e}");
        let e = job_from_value(
            json!({"job": "notice", "campaign": "c", "milestone": "reminder-30",
            "timezone": "Mars/Olympus"}),
        )
        .unwrap_err();
        assert!(e.contains("timezone"), "{e}");
        let e = job_from_value(json!({"job": "launch", "campaign": "c"})).unwrap_err();
        assert!(e.contains("not a job"), "{e}");
        assert!(job_from_value(json!([1, 2])).is_err());
    }
}
