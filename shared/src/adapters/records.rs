//! What the stores write, as their own types with a version: a domain type
//! may be renamed or reshaped during a months-long campaign; a stored
//! record keeps the shape it was written in, and each version is read by
//! its own type into today's domain type. A record of a version this build
//! does not know is an error that names it, never a silent default.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::outreach::{OutreachNote, OutreachState, OutreachTask};
use crate::domain::{CampaignId, CustomerId, EmailAddress};
use crate::ports::{PortError, PortResult};

/// The version every record carries first (`"v": 1`).
#[derive(Deserialize)]
struct Version {
    v: u32,
}

fn version(json: &str) -> PortResult<u32> {
    serde_json::from_str::<Version>(json)
        .map(|v| v.v)
        .map_err(|e| decode_err("a stored record without its version", e))
}

fn decode_err(what: &str, e: serde_json::Error) -> PortError {
    PortError::permanent(anyhow::Error::new(e).context(format!("{what} cannot be read")))
}

/// An outreach task as stored, version 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutreachV1 {
    v: u32,
    campaign: String,
    customer: String,
    owner: Option<String>,
    /// todo, scheduled, done, escalated.
    state: String,
    scheduled_for: Option<NaiveDate>,
    notes: Vec<NoteV1>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    done_at: Option<DateTime<Utc>>,
    escalated_at: Option<DateTime<Utc>>,
    revision: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteV1 {
    at: DateTime<Utc>,
    by: String,
    text: String,
}

/// The newest record of a task, as JSON.
pub fn outreach_to_json(t: &OutreachTask) -> PortResult<String> {
    let record = OutreachV1 {
        v: 1,
        campaign: t.campaign.to_string(),
        customer: t.customer.to_string(),
        owner: t.owner.as_ref().map(|o| o.as_str().to_owned()),
        state: t.state.as_str().to_owned(),
        scheduled_for: t.scheduled_for,
        notes: t
            .notes
            .iter()
            .map(|n| NoteV1 {
                at: n.at,
                by: n.by.clone(),
                text: n.text.clone(),
            })
            .collect(),
        created_at: t.created_at,
        updated_at: t.updated_at,
        done_at: t.done_at,
        escalated_at: t.escalated_at,
        revision: t.revision,
    };
    serde_json::to_string(&record).map_err(PortError::permanent)
}

/// A stored task, of any version this build reads.
pub fn outreach_from_json(json: &str) -> PortResult<OutreachTask> {
    match version(json)? {
        1 => {
            let r: OutreachV1 = serde_json::from_str(json)
                .map_err(|e| decode_err("an outreach task (version 1)", e))?;
            let field = |what: &str, e: String| {
                PortError::permanent(anyhow::anyhow!("a stored outreach task's {what}: {e}"))
            };
            Ok(OutreachTask {
                campaign: CampaignId::parse(&r.campaign).map_err(|e| field("campaign", e.0))?,
                customer: CustomerId::parse(&r.customer).map_err(|e| field("customer", e.0))?,
                owner: r
                    .owner
                    .map(|o| EmailAddress::parse(&o).map_err(|e| field("owner", e.0)))
                    .transpose()?,
                state: OutreachState::parse(&r.state).map_err(|e| field("state", e))?,
                scheduled_for: r.scheduled_for,
                notes: r
                    .notes
                    .into_iter()
                    .map(|n| OutreachNote {
                        at: n.at,
                        by: n.by,
                        text: n.text,
                    })
                    .collect(),
                created_at: r.created_at,
                updated_at: r.updated_at,
                done_at: r.done_at,
                escalated_at: r.escalated_at,
                revision: r.revision,
            })
        }
        other => Err(PortError::permanent(anyhow::anyhow!(
            "an outreach task of version {other}, which this build does not read (it reads 1); \
             run the newer sunset that wrote it"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_round_trips_and_a_record_written_as_version_1_reads() {
        let mut t = OutreachTask::new(
            CampaignId::parse("c").unwrap(),
            CustomerId::parse("k1").unwrap(),
            Some(EmailAddress::parse("am@orbit.example").unwrap()),
            "2027-01-01T00:00:00Z".parse().unwrap(),
        );
        t.notes.push(OutreachNote {
            at: "2027-01-02T00:00:00Z".parse().unwrap(),
            by: "am".into(),
            text: "called".into(),
        });
        assert_eq!(
            outreach_from_json(&outreach_to_json(&t).unwrap()).unwrap(),
            t
        );
        // As version 1 was written (a fixed text, not today's encoder).
        let v1 = r#"{"v":1,"campaign":"c","customer":"k1","owner":null,"state":"scheduled",
            "scheduled_for":"2027-01-20","notes":[],"created_at":"2027-01-01T00:00:00Z",
            "updated_at":"2027-01-02T00:00:00Z","done_at":null,"escalated_at":null,"revision":3}"#;
        let read = outreach_from_json(v1).unwrap();
        assert_eq!(read.state, OutreachState::Scheduled);
        assert_eq!(read.revision, 3);
    }

    #[test]
    fn an_unknown_version_or_field_is_an_error_that_says_so() {
        let v9 = r#"{"v":9,"anything":true}"#;
        let e = outreach_from_json(v9).unwrap_err().to_string();
        assert!(e.contains("version 9"), "{e}");
        let unversioned = r#"{"campaign":"c"}"#;
        assert!(outreach_from_json(unversioned).is_err());
        let extra = r#"{"v":1,"campaign":"c","customer":"k1","owner":null,"state":"todo",
            "scheduled_for":null,"notes":[],"created_at":"2027-01-01T00:00:00Z",
            "updated_at":"2027-01-01T00:00:00Z","done_at":null,"escalated_at":null,
            "revision":0,"priority":"high"}"#;
        assert!(outreach_from_json(extra).is_err());
    }
}
