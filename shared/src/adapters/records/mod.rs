//! What the stores write, as their own types with a version: a domain type
//! may be renamed or reshaped during a months-long campaign; a stored
//! record keeps the shape it was written in, and each version is read by
//! its own type into today's domain type. A record of a version this build
//! does not know is an error that names it, never a silent default.

mod audit;
mod job;
mod standing;

pub use audit::{audit_from_json, audit_to_json};
pub use job::{job_from_json, job_from_value, job_to_json};
pub use standing::{
    cancellation_from_json, cancellation_to_json, pause_from_json, pause_to_json,
    tier_override_from_json, tier_override_to_json,
};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::bounds::Amount;
use crate::domain::customer::Prepaid;
use crate::domain::event::{CustomerEvent, CustomerEventKind};
use crate::domain::export::{ExportId, ExportRequest, ExportStatus};
use crate::domain::ids::{Currency, DisplayName, Phone};
use crate::domain::outreach::{OutreachNote, OutreachState, OutreachTask};
use crate::domain::{Campaign, CampaignId, Customer, CustomerId, EmailAddress};
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

// ---------------------------------------------------------------- events

/// A customer event as stored before records carried a version (every
/// store written up to the release that added versions): the domain's
/// JSON of that time, frozen here.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventV0 {
    at: DateTime<Utc>,
    customer: String,
    kind: KindV0,
}

#[derive(Deserialize)]
#[serde(tag = "event", content = "detail", rename_all = "snake_case")]
enum KindV0 {
    Migrated,
    ExportRequested,
    ExportDownloaded,
    Declined(String),
    TicketOpened(String),
    TicketResolved(String),
    LegalHold(String),
    LegalHoldReleased(String),
    Extension(NaiveDate),
    ApprovePurge(String),
}

impl KindV0 {
    /// The event's name and detail, as version 1 keeps them.
    fn flat(self) -> (&'static str, String) {
        match self {
            KindV0::Migrated => ("migrated", String::new()),
            KindV0::ExportRequested => ("export_requested", String::new()),
            KindV0::ExportDownloaded => ("export_downloaded", String::new()),
            KindV0::Declined(d) => ("declined", d),
            KindV0::TicketOpened(d) => ("ticket_opened", d),
            KindV0::TicketResolved(d) => ("ticket_resolved", d),
            KindV0::LegalHold(d) => ("legal_hold", d),
            KindV0::LegalHoldReleased(d) => ("legal_hold_released", d),
            KindV0::Extension(d) => ("extension", d.to_string()),
            KindV0::ApprovePurge(d) => ("approve_purge", d),
        }
    }
}

/// A customer event, version 1: the event's name and its detail as text,
/// as the events file writes them, read back by the same parser.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventV1 {
    v: u32,
    at: DateTime<Utc>,
    customer: String,
    event: String,
    detail: String,
}

pub fn event_to_json(e: &CustomerEvent) -> PortResult<String> {
    serde_json::to_string(&EventV1 {
        v: 1,
        at: e.at,
        customer: e.customer.to_string(),
        event: e.kind.name().to_owned(),
        detail: e.kind.detail(),
    })
    .map_err(PortError::permanent)
}

fn event_of(
    at: DateTime<Utc>,
    customer: &str,
    event: &str,
    detail: &str,
) -> PortResult<CustomerEvent> {
    let bad = |what: &str, e: String| {
        PortError::permanent(anyhow::anyhow!("a stored customer event's {what}: {e}"))
    };
    Ok(CustomerEvent {
        at,
        customer: CustomerId::parse(customer).map_err(|e| bad("customer", e.0))?,
        kind: CustomerEventKind::parse(event, detail).map_err(|e| bad(e.field, e.reason))?,
    })
}

/// A stored event of any version this build reads: version 1, or the
/// unversioned JSON of earlier releases.
pub fn event_from_json(json: &str) -> PortResult<CustomerEvent> {
    match versioned(json)? {
        None => {
            let r: EventV0 = serde_json::from_str(json)
                .map_err(|e| decode_err("a customer event (unversioned)", e))?;
            let (event, detail) = r.kind.flat();
            event_of(r.at, &r.customer, event, &detail)
        }
        Some(1) => {
            let r: EventV1 = serde_json::from_str(json)
                .map_err(|e| decode_err("a customer event (version 1)", e))?;
            event_of(r.at, &r.customer, &r.event, &r.detail)
        }
        Some(other) => Err(unknown_version("a customer event", other)),
    }
}

// ---------------------------------------------------------- export requests

/// An export request, version 1; before records carried a version it was
/// stored in the same shape without `v`, which this type reads too.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportV1 {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    v: Option<u32>,
    id: String,
    campaign: String,
    customer: String,
    requested_at: DateTime<Utc>,
    /// requested, ready.
    status: String,
    ready_at: Option<DateTime<Utc>>,
    bundle_key: Option<String>,
    bundle_bytes: Option<u64>,
    bundle_files: Option<u64>,
    bundle_sha256: Option<String>,
}

pub fn export_to_json(r: &ExportRequest) -> PortResult<String> {
    serde_json::to_string(&ExportV1 {
        v: Some(1),
        id: r.id.to_string(),
        campaign: r.campaign.to_string(),
        customer: r.customer.to_string(),
        requested_at: r.requested_at,
        status: match r.status {
            ExportStatus::Requested => "requested",
            ExportStatus::Ready => "ready",
        }
        .to_owned(),
        ready_at: r.ready_at,
        bundle_key: r.bundle_key.clone(),
        bundle_bytes: r.bundle_bytes,
        bundle_files: r.bundle_files,
        bundle_sha256: r.bundle_sha256.clone(),
    })
    .map_err(PortError::permanent)
}

/// A stored export request of any version this build reads.
pub fn export_from_json(json: &str) -> PortResult<ExportRequest> {
    let r: ExportV1 = match versioned(json)? {
        None | Some(1) => {
            serde_json::from_str(json).map_err(|e| decode_err("an export request", e))?
        }
        Some(other) => return Err(unknown_version("an export request", other)),
    };
    let bad = |what: &str, e: String| {
        PortError::permanent(anyhow::anyhow!("a stored export request's {what}: {e}"))
    };
    Ok(ExportRequest {
        id: ExportId::parse(&r.id).map_err(|e| bad("id", e.0))?,
        campaign: CampaignId::parse(&r.campaign).map_err(|e| bad("campaign", e.0))?,
        customer: CustomerId::parse(&r.customer).map_err(|e| bad("customer", e.0))?,
        requested_at: r.requested_at,
        status: match r.status.as_str() {
            "requested" => ExportStatus::Requested,
            "ready" => ExportStatus::Ready,
            other => {
                return Err(bad(
                    "status",
                    format!("'{other}' is not requested or ready"),
                ));
            }
        },
        ready_at: r.ready_at,
        bundle_key: r.bundle_key,
        bundle_bytes: r.bundle_bytes,
        bundle_files: r.bundle_files,
        bundle_sha256: r.bundle_sha256,
    })
}

// -------------------------------------------------------------- campaigns

/// A campaign, version 1: under `campaign`, the campaign document itself —
/// the JSON `POST /v1/campaigns` takes and `GET` returns, the public format
/// operators write, which every release reads as the earlier ones wrote
/// it. Before versions it was stored bare.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CampaignRecordV1 {
    v: u32,
    campaign: serde_json::Value,
}

pub fn campaign_to_json(c: &Campaign) -> PortResult<String> {
    serde_json::to_string(&CampaignRecordV1 {
        v: 1,
        campaign: serde_json::to_value(c).map_err(PortError::permanent)?,
    })
    .map_err(PortError::permanent)
}

/// A stored campaign of any version this build reads. It is not checked
/// again as on create: a campaign saved under an earlier rule stays
/// readable (the preflight says what it now lacks).
pub fn campaign_from_json(json: &str) -> PortResult<Campaign> {
    match versioned(json)? {
        None => serde_json::from_str(json).map_err(|e| decode_err("a campaign (unversioned)", e)),
        Some(1) => {
            let r: CampaignRecordV1 =
                serde_json::from_str(json).map_err(|e| decode_err("a campaign (version 1)", e))?;
            serde_json::from_value(r.campaign).map_err(|e| decode_err("a campaign (version 1)", e))
        }
        Some(other) => Err(unknown_version("a campaign", other)),
    }
}

// ------------------------------------------------------ customer profiles

/// A customer's profile (their personal data), with its field names
/// frozen: version 1 keeps it under `profile`; before versions it was
/// stored bare, in the same shape. The values are the domain's own value
/// types, each stored as the text it parses from.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileV1 {
    id: CustomerId,
    name: Option<DisplayName>,
    contact_name: Option<DisplayName>,
    email: EmailAddress,
    locale: Option<String>,
    timezone: Option<chrono_tz::Tz>,
    contract_value: Option<Amount>,
    currency: Option<Currency>,
    customer_since: Option<NaiveDate>,
    usage_score: Option<f64>,
    strategic: bool,
    account_manager: Option<EmailAddress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    account_manager_name: Option<DisplayName>,
    phone: Option<Phone>,
    prepaid: Option<PrepaidV1>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PrepaidV1 {
    from: NaiveDate,
    until: NaiveDate,
    amount: Amount,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileRecordV1 {
    v: u32,
    profile: ProfileV1,
}

pub fn profile_to_json(c: &Customer) -> PortResult<String> {
    let c = c.clone();
    serde_json::to_string(&ProfileRecordV1 {
        v: 1,
        profile: ProfileV1 {
            id: c.id,
            name: c.name,
            contact_name: c.contact_name,
            email: c.email,
            locale: c.locale,
            timezone: c.timezone,
            contract_value: c.contract_value,
            currency: c.currency,
            customer_since: c.customer_since,
            usage_score: c.usage_score,
            strategic: c.strategic,
            account_manager: c.account_manager,
            account_manager_name: c.account_manager_name,
            phone: c.phone,
            prepaid: c.prepaid.map(|p| PrepaidV1 {
                from: p.from,
                until: p.until,
                amount: p.amount,
            }),
        },
    })
    .map_err(PortError::permanent)
}

/// A stored profile of any version this build reads.
pub fn profile_from_json(json: &str) -> PortResult<Customer> {
    let p = match versioned(json)? {
        None => serde_json::from_str::<ProfileV1>(json)
            .map_err(|e| decode_err("a customer profile (unversioned)", e))?,
        Some(1) => {
            serde_json::from_str::<ProfileRecordV1>(json)
                .map_err(|e| decode_err("a customer profile (version 1)", e))?
                .profile
        }
        Some(other) => return Err(unknown_version("a customer profile", other)),
    };
    Ok(Customer {
        id: p.id,
        name: p.name,
        contact_name: p.contact_name,
        email: p.email,
        locale: p.locale,
        timezone: p.timezone,
        contract_value: p.contract_value,
        currency: p.currency,
        customer_since: p.customer_since,
        usage_score: p.usage_score,
        strategic: p.strategic,
        account_manager: p.account_manager,
        account_manager_name: p.account_manager_name,
        phone: p.phone,
        prepaid: p.prepaid.map(|p| Prepaid {
            from: p.from,
            until: p.until,
            amount: p.amount,
        }),
    })
}

/// The version a record carries, `None` for the unversioned JSON written
/// before versions.
fn versioned(json: &str) -> PortResult<Option<u32>> {
    #[derive(Deserialize)]
    struct Maybe {
        v: Option<u32>,
    }
    serde_json::from_str::<Maybe>(json)
        .map(|m| m.v)
        .map_err(|e| decode_err("a stored record", e))
}

/// The version a JSON value carries (`None`: from before versions); an
/// error when it is not an object or its `v` is not a whole number.
fn versioned_value(value: &serde_json::Value) -> Result<Option<u32>, String> {
    let object = value
        .as_object()
        .ok_or_else(|| "the payload is not a JSON object".to_owned())?;
    match object.get("v") {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .map(Some)
            .ok_or_else(|| format!("its version `v` is {v}, not a whole number")),
    }
}

fn unknown_version(what: &str, v: u32) -> PortError {
    PortError::permanent(anyhow::anyhow!(
        "{what} of version {v}, which this build does not read; run the newer sunset that wrote it"
    ))
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

    /// Rows as the release before versions wrote them (copied from a
    /// store it left): each reads, and writes back as version 1.
    #[test]
    fn events_and_exports_written_before_versions_read() {
        for (v0, name, detail) in [
            (
                r#"{"at":"2027-02-03T10:00:00Z","customer":"c1","kind":{"event":"migrated"}}"#,
                "migrated",
                "",
            ),
            (
                r#"{"at":"2027-02-03T10:00:00Z","customer":"c1","kind":{"event":"declined","detail":"too expensive"}}"#,
                "declined",
                "too expensive",
            ),
            (
                r#"{"at":"2027-02-03T10:00:00Z","customer":"c1","kind":{"event":"extension","detail":"2027-12-01"}}"#,
                "extension",
                "2027-12-01",
            ),
        ] {
            let e = event_from_json(v0).unwrap();
            assert_eq!((e.kind.name(), e.kind.detail().as_str()), (name, detail));
            let v1 = event_to_json(&e).unwrap();
            assert!(v1.starts_with(r#"{"v":1,"#), "{v1}");
            assert_eq!(event_from_json(&v1).unwrap(), e);
        }
        let v0 = r#"{"id":"x1","campaign":"c","customer":"c1","requested_at":"2027-02-03T10:00:00Z",
            "status":"ready","ready_at":"2027-02-03T10:05:00Z","bundle_key":"exports/c/c1/x1.zip",
            "bundle_bytes":1200,"bundle_files":4,"bundle_sha256":"ab"}"#;
        let r = export_from_json(v0).unwrap();
        assert_eq!(r.status, ExportStatus::Ready);
        assert_eq!(r.bundle_files, Some(4));
        assert_eq!(export_from_json(&export_to_json(&r).unwrap()).unwrap(), r);
        let future = r#"{"v":2,"id":"x1"}"#;
        assert!(
            export_from_json(future)
                .unwrap_err()
                .to_string()
                .contains("version 2")
        );
        assert!(
            event_from_json(future)
                .unwrap_err()
                .to_string()
                .contains("version 2")
        );
    }

    /// A profile as the release before versions stored it (bare), and one
    /// with every optional field: each reads, and round-trips as version 1.
    #[test]
    fn profiles_written_before_versions_read() {
        let v0 = r#"{"id":"c02","name":"王小明","contact_name":null,"email":"xiaoming@wang.example",
            "locale":"zh-CN","timezone":"Asia/Shanghai","contract_value":"250000","currency":"CNY",
            "customer_since":"2015-03-01","usage_score":90.0,"strategic":true,
            "account_manager":"am.li@orbit.example","account_manager_name":"Li Wei",
            "phone":"+86 138 0013 8000","prepaid":{"from":"2027-01-01","until":"2028-01-01","amount":"365.00"}}"#;
        let c = profile_from_json(v0).unwrap();
        assert_eq!(c.email.as_str(), "xiaoming@wang.example");
        assert_eq!(
            c.prepaid.as_ref().unwrap().amount.get().to_string(),
            "365.00"
        );
        let v1 = profile_to_json(&c).unwrap();
        assert!(v1.starts_with(r#"{"v":1,"profile":{"#), "{v1}");
        assert_eq!(profile_from_json(&v1).unwrap(), c);
        let bare = r#"{"id":"c1","name":null,"contact_name":null,"email":"a@b.example","locale":null,
            "timezone":null,"contract_value":null,"currency":null,"customer_since":null,
            "usage_score":null,"strategic":false,"account_manager":null,"phone":null,"prepaid":null}"#;
        assert_eq!(profile_from_json(bare).unwrap().id.as_str(), "c1");
    }

    /// The example campaign stored bare (before versions) and as version 1.
    #[test]
    fn campaigns_written_before_versions_read() {
        let c = Campaign::from_toml(crate::app::demo::CAMPAIGN).unwrap();
        let bare = serde_json::to_string(&c).unwrap();
        assert_eq!(campaign_from_json(&bare).unwrap(), c);
        let v1 = campaign_to_json(&c).unwrap();
        assert!(v1.starts_with(r#"{"v":1,"campaign":{"#), "{}", &v1[..40]);
        assert_eq!(campaign_from_json(&v1).unwrap(), c);
        assert!(campaign_from_json(r#"{"v":3,"campaign":{}}"#).is_err());
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
