//! The operator's view of a campaign's customers: a filtered list paged
//! by an opaque cursor, one customer in full (tier and why, every message
//! with its state, events, exports), and the list as CSV for the account
//! team.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::domain::audit::AuditEntry;
use crate::domain::customer::{MigrationStatus, Suppression};
use crate::domain::event::CustomerEvent;
use crate::domain::export::ExportRequest;
use crate::domain::ids::Phone;
use crate::domain::ledger::{Channel, Recipient};
use crate::domain::tier::{TierDecision, TierOverride};
use crate::domain::{Campaign, CustomerId, CustomerRecord, EmailAddress, Locale, Tier};
use crate::ports::{Deps, PortError};

/// Which customers to list; every field set must match.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub tier: Option<Tier>,
    pub status: Option<MigrationStatus>,
    pub zone: Option<Tz>,
    /// The locale their notices are in.
    pub locale: Option<Locale>,
    pub account_manager: Option<EmailAddress>,
    pub has_phone: Option<bool>,
}

impl Filter {
    fn matches(&self, campaign: &Campaign, r: &CustomerRecord) -> bool {
        let profile = r.profile.as_ref();
        self.tier
            .is_none_or(|t| r.tier.as_ref().is_some_and(|d| d.tier == t))
            && self.status.is_none_or(|s| r.status == s)
            && self.zone.is_none_or(|z| r.zone == z)
            && self.locale.is_none_or(|l| {
                profile.is_some_and(|p| p.notice_locale(campaign.default_locale) == l)
            })
            && self
                .account_manager
                .as_ref()
                .is_none_or(|m| profile.is_some_and(|p| p.account_manager.as_ref() == Some(m)))
            && self
                .has_phone
                .is_none_or(|want| profile.is_some_and(|p| p.phone.is_some()) == want)
    }
}

/// Where a listing goes on: after this customer, in the store's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(pub CustomerId);

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0.as_str())
    }

    pub fn decode(raw: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(raw).ok()?;
        let id = String::from_utf8(bytes).ok()?;
        CustomerId::parse(&id).ok().map(Cursor)
    }
}

/// One customer in a list.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    pub id: CustomerId,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub zone: String,
    pub locale: Option<String>,
    pub tier: Option<String>,
    pub status: MigrationStatus,
    pub account_manager: Option<String>,
    pub legal_hold: bool,
    pub extended_until: Option<NaiveDate>,
    pub suppressed: bool,
    pub purged_at: Option<DateTime<Utc>>,
}

impl Listed {
    fn of(campaign: &Campaign, r: &CustomerRecord) -> Self {
        let p = r.profile.as_ref();
        Self {
            id: r.id.clone(),
            name: p
                .and_then(|p| p.name.as_ref())
                .map(|n| n.as_str().to_owned()),
            email: p.map(|p| p.email.as_str().to_owned()),
            phone: p
                .and_then(|p| p.phone.as_ref())
                .map(|n| n.as_str().to_owned()),
            zone: r.zone.name().to_owned(),
            locale: p.map(|p| p.notice_locale(campaign.default_locale).tag().to_owned()),
            tier: r.tier.as_ref().map(|t| t.tier.as_str().to_owned()),
            status: r.status,
            account_manager: p
                .and_then(|p| p.account_manager.as_ref())
                .map(|m| m.as_str().to_owned()),
            legal_hold: r.legal_hold,
            extended_until: r.extended_until,
            suppressed: r.suppressed.is_some(),
            purged_at: r.purged_at,
        }
    }
}

/// A page of a listing.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    pub customers: Vec<Listed>,
    /// Where the next page starts; `None` at the end.
    pub next: Option<String>,
    /// Stored customers read for this page (the filter's cost).
    pub read: u64,
}

/// Most customers a page lists.
pub const MAX_LIMIT: usize = 1000;
/// Customers read per store page.
const READ_PAGE: usize = 500;
/// Most customers one call reads: a filter that matches few answers in
/// bounded time with a cursor to go on from.
const READ_BUDGET: u64 = 20_000;

/// Up to `limit` customers matching `filter`, after `cursor`.
pub async fn list(
    deps: &Deps,
    campaign: &Campaign,
    filter: &Filter,
    cursor: Option<&Cursor>,
    limit: usize,
) -> Result<Page, PortError> {
    let limit = limit.clamp(1, MAX_LIMIT);
    let mut after = cursor.map(|c| c.0.clone());
    let mut out = Vec::new();
    let mut read = 0u64;
    loop {
        // Never more than the page still needs: a customer read past the
        // page's end would be read again by the next page.
        let want = (limit - out.len()).min(READ_PAGE);
        let page = deps
            .customers
            .customers_page(&campaign.id, after.as_ref(), want)
            .await?;
        let last_page = page.len() < want;
        for r in &page {
            read += 1;
            after = Some(r.id.clone());
            if filter.matches(campaign, r) {
                out.push(Listed::of(campaign, r));
                if out.len() == limit {
                    // More may follow (unless this was the store's last).
                    let at_end = last_page && r.id == page.last().expect("non-empty").id;
                    return Ok(Page {
                        customers: out,
                        next: (!at_end).then(|| Cursor(r.id.clone()).encode()),
                        read,
                    });
                }
            }
        }
        if last_page {
            return Ok(Page {
                customers: out,
                next: None,
                read,
            });
        }
        if read >= READ_BUDGET {
            return Ok(Page {
                customers: out,
                next: after.map(|id| Cursor(id).encode()),
                read,
            });
        }
    }
}

/// A message to the customer, as the ledger has it.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub notice: String,
    pub channel: Channel,
    pub state: &'static str,
    pub claimed_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub message_id: Option<String>,
}

/// One customer in full.
#[derive(Debug, Clone, Serialize)]
pub struct Detail {
    #[serde(flatten)]
    pub listed: Listed,
    pub contact_name: Option<String>,
    pub account_manager_name: Option<String>,
    /// The tier and why (the score's explanation, or the operator's
    /// override and its reason).
    pub tier_decision: Option<TierDecision>,
    /// The operator's tier, with who and why, when they set one.
    pub tier_override: Option<TierOverride>,
    pub status_at: Option<DateTime<Utc>>,
    pub suppression: Option<Suppression>,
    pub purge_without_notice: bool,
    pub messages: Vec<Message>,
    pub events: Vec<CustomerEvent>,
    pub exports: Vec<ExportRequest>,
}

/// Everything about one customer; `None` when the campaign has no such
/// customer.
pub async fn detail(
    deps: &Deps,
    campaign: &Campaign,
    id: &CustomerId,
) -> Result<Option<Detail>, PortError> {
    let Some(r) = deps.customers.customer(&campaign.id, id).await? else {
        return Ok(None);
    };
    let messages = deps
        .ledger
        .deliveries_to(&campaign.id, id)
        .await?
        .into_iter()
        .filter(|d| matches!(d.key.recipient, Recipient::Customer(_)))
        .map(|d| Message {
            notice: d.key.milestone.name(),
            channel: d.key.channel,
            state: if d.sent_at.is_some() {
                "sent"
            } else if d.lease_until.is_some() {
                "claimed"
            } else {
                "missed"
            },
            claimed_at: d.claimed_at,
            sent_at: d.sent_at,
            message_id: d.message_id,
        })
        .collect();
    let p = r.profile.as_ref();
    Ok(Some(Detail {
        listed: Listed::of(campaign, &r),
        contact_name: p
            .and_then(|p| p.contact_name.as_ref())
            .map(|n| n.as_str().to_owned()),
        account_manager_name: p
            .and_then(|p| p.account_manager_name.as_ref())
            .map(|n| n.as_str().to_owned()),
        tier_decision: r.tier.clone(),
        tier_override: r.tier_override.clone(),
        status_at: r.status_at,
        suppression: r.suppressed.clone(),
        purge_without_notice: r.purge_without_notice,
        messages,
        events: deps.events.events_of(&campaign.id, id).await?,
        exports: deps.exports.exports_of(&campaign.id, id).await?,
    }))
}

/// A page as CSV for the account team: one row per customer, a header
/// first. A value a spreadsheet would run as a formula is quoted with `'`.
pub fn csv(page: &Page) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "id",
        "name",
        "email",
        "phone",
        "zone",
        "locale",
        "tier",
        "status",
        "account_manager",
        "legal_hold",
        "extended_until",
    ])?;
    let cell = |v: Option<&str>| -> String {
        let v = v.unwrap_or("");
        if v.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            format!("'{v}")
        } else {
            v.to_owned()
        }
    };
    for c in &page.customers {
        let extended = c.extended_until.map(|d| d.to_string());
        w.write_record([
            cell(Some(c.id.as_str())),
            cell(c.name.as_deref()),
            cell(c.email.as_deref()),
            cell(c.phone.as_deref()),
            cell(Some(&c.zone)),
            cell(c.locale.as_deref()),
            cell(c.tier.as_deref()),
            cell(Some(c.status.as_str())),
            cell(c.account_manager.as_deref()),
            cell(Some(if c.legal_hold { "yes" } else { "no" })),
            cell(extended.as_deref()),
        ])?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

#[derive(Debug, thiserror::Error)]
pub enum OverrideError {
    #[error("no customer {0} in this campaign")]
    UnknownCustomer(CustomerId),
    #[error("customer {0} was purged; their tier no longer matters")]
    Purged(CustomerId),
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Sets a customer's tier by the operator's decision, recorded with who
/// and why in the audit trail; segmentation run again leaves it. A
/// launched campaign's waves read it when they send.
pub async fn override_tier(
    deps: &Deps,
    campaign: &Campaign,
    id: &CustomerId,
    over: TierOverride,
) -> Result<Detail, OverrideError> {
    let before = deps
        .customers
        .customer(&campaign.id, id)
        .await?
        .ok_or_else(|| OverrideError::UnknownCustomer(id.clone()))?;
    if before.purged_at.is_some() {
        return Err(OverrideError::Purged(id.clone()));
    }
    if !deps
        .customers
        .override_tier(&campaign.id, id, &over)
        .await?
    {
        return Err(OverrideError::UnknownCustomer(id.clone()));
    }
    deps.audit
        .append(AuditEntry {
            at: over.at,
            campaign: campaign.id.clone(),
            customer: Some(id.clone()),
            action: "tier-overridden".into(),
            detail: serde_json::json!({
                "from": before.tier.as_ref().map(|t| t.tier.as_str()),
                "to": over.tier.as_str(),
                "by": over.by,
                "reason": over.reason,
            }),
        })
        .await?;
    tracing::info!(campaign = %campaign.id, customer = %id, tier = over.tier.as_str(), "tier set by the operator");
    detail(deps, campaign, id)
        .await?
        .ok_or_else(|| OverrideError::UnknownCustomer(id.clone()))
}

/// New contact details for a customer; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ContactChange {
    pub email: Option<EmailAddress>,
    /// `Some(None)` removes the number.
    pub phone: Option<Option<Phone>>,
    pub locale: Option<Locale>,
    pub timezone: Option<Tz>,
}

#[derive(Debug, thiserror::Error)]
pub enum ContactError {
    #[error("no customer {0} in this campaign")]
    UnknownCustomer(CustomerId),
    #[error("customer {0} was purged; there is no contact left to change")]
    Purged(CustomerId),
    #[error(transparent)]
    Port(#[from] PortError),
}

/// What a contact change did.
#[derive(Debug, Clone, Serialize)]
pub struct ContactChanged {
    pub customer: Detail,
    /// The fields that changed (names only: the values are personal).
    pub changed: Vec<&'static str>,
    /// A new address lifts the old one's suppression.
    pub suppression_lifted: bool,
    /// The campaign's schedules re-planned for a zone it did not have.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replanned: Option<super::plan::Replanned>,
}

/// Changes a customer's e-mail, phone, locale or zone. A new address is
/// mailed again (its old one's bounce no longer applies); a new zone
/// moves the customer to that zone's waves (planned if the campaign had
/// none there). Audited by field name, never by value.
pub async fn update_contact(
    deps: &Deps,
    campaign: &Campaign,
    id: &CustomerId,
    change: ContactChange,
    now: DateTime<Utc>,
) -> Result<ContactChanged, ContactError> {
    let mut record = deps
        .customers
        .customer(&campaign.id, id)
        .await?
        .ok_or_else(|| ContactError::UnknownCustomer(id.clone()))?;
    let Some(profile) = record
        .profile
        .as_mut()
        .filter(|_| record.purged_at.is_none())
    else {
        return Err(ContactError::Purged(id.clone()));
    };
    let mut changed = Vec::new();
    let mut suppression_lifted = false;
    if let Some(email) = change.email {
        if email != profile.email {
            profile.email = email;
            changed.push("email");
            suppression_lifted = record.suppressed.take().is_some();
        }
    }
    if let Some(phone) = change.phone {
        if phone != profile.phone {
            profile.phone = phone;
            changed.push("phone");
        }
    }
    if let Some(locale) = change.locale {
        if profile.locale.as_deref().and_then(Locale::from_tag) != Some(locale) {
            profile.locale = Some(locale.tag().to_owned());
            changed.push("locale");
        }
    }
    let mut new_zone = false;
    if let Some(zone) = change.timezone {
        if profile.timezone != Some(zone) || record.zone != zone {
            profile.timezone = Some(zone);
            new_zone = record.zone != zone;
            record.zone = zone;
            changed.push("timezone");
        }
    }
    if changed.is_empty() {
        let customer = detail(deps, campaign, id)
            .await?
            .ok_or_else(|| ContactError::UnknownCustomer(id.clone()))?;
        return Ok(ContactChanged {
            customer,
            changed,
            suppression_lifted,
            replanned: None,
        });
    }
    if !deps.customers.update_contact(&campaign.id, &record).await? {
        return Err(ContactError::Purged(id.clone()));
    }
    let status = deps
        .campaigns
        .status(&campaign.id)
        .await?
        .unwrap_or_default();
    let replanned = if new_zone && status.launched_at.is_some() {
        Some(
            super::plan::replan(
                deps,
                super::plan::PlanFor {
                    campaign,
                    before: Some(campaign),
                    notices: status.cancelled.is_none(),
                    revive: false,
                    now,
                },
            )
            .await?,
        )
    } else {
        None
    };
    deps.audit
        .append(AuditEntry {
            at: now,
            campaign: campaign.id.clone(),
            customer: Some(id.clone()),
            action: "contact-updated".into(),
            detail: serde_json::json!({
                "fields": changed,
                "suppression_lifted": suppression_lifted,
            }),
        })
        .await?;
    tracing::info!(campaign = %campaign.id, customer = %id, fields = ?changed, "contact updated");
    let customer = detail(deps, campaign, id)
        .await?
        .ok_or_else(|| ContactError::UnknownCustomer(id.clone()))?;
    Ok(ContactChanged {
        customer,
        changed,
        suppression_lifted,
        replanned,
    })
}

/// Why customers said no to the alternatives: each reason as they gave
/// it, with how many gave it, most given first; and who, when. A purged
/// customer's reason (their own words) reads `[purged]`.
#[derive(Debug, Clone, Serialize)]
pub struct Declines {
    pub total: u64,
    pub reasons: Vec<DeclineReason>,
    pub declines: Vec<Decline>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeclineReason {
    pub reason: String,
    pub customers: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Decline {
    pub customer: CustomerId,
    pub at: DateTime<Utc>,
    pub reason: String,
}

pub async fn declines(deps: &Deps, campaign: &Campaign) -> Result<Declines, PortError> {
    use crate::domain::event::CustomerEventKind;
    let declines: Vec<Decline> = deps
        .events
        .events(&campaign.id)
        .await?
        .into_iter()
        .filter_map(|e| match e.kind {
            CustomerEventKind::Declined(reason) => Some(Decline {
                customer: e.customer,
                at: e.at,
                reason,
            }),
            _ => None,
        })
        .collect();
    // Reasons that differ only in case or spacing are one reason.
    let mut counted: std::collections::BTreeMap<String, (String, u64)> = Default::default();
    for d in &declines {
        let key = d
            .reason
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase();
        counted
            .entry(key)
            .or_insert_with(|| (d.reason.trim().to_owned(), 0))
            .1 += 1;
    }
    let mut reasons: Vec<DeclineReason> = counted
        .into_values()
        .map(|(reason, customers)| DeclineReason { reason, customers })
        .collect();
    reasons.sort_by(|a, b| {
        b.customers
            .cmp(&a.customers)
            .then_with(|| a.reason.cmp(&b.reason))
    });
    Ok(Declines {
        total: declines.len() as u64,
        reasons,
        declines,
    })
}
