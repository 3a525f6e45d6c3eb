//! Launching a campaign: segment, check everything the seed's preparation
//! checklist asks (preflight), then plan the schedule.

use std::collections::BTreeSet;

use chrono_tz::Tz;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::domain::audit::AuditEntry;
use crate::domain::milestone::{self, Job, ScheduledJob, local_instant, milestone_date};
use crate::domain::{
    Campaign, Customer, CustomerId, CustomerRecord, EmailAddress, Locale, Milestone, Tier,
};
use crate::ports::{Deps, PortError};

use super::notice;
use super::segment::{self, SegmentSummary};

#[derive(Debug, Clone, Default, Serialize)]
pub struct Preflight {
    /// Launch is refused while there are errors.
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("preflight failed: {}", .0.errors.join("; "))]
    Preflight(Preflight),
    #[error(transparent)]
    Port(#[from] PortError),
}

#[derive(Debug, Clone, Serialize)]
pub struct LaunchReport {
    pub tiers: SegmentSummary,
    pub preflight: Preflight,
    pub jobs: Vec<ScheduledJob>,
}

/// A customer with placeholder data, to render a sample notice per locale.
fn sample(locale: Locale) -> Customer {
    let mut c = Customer::new(
        CustomerId::parse("preflight-sample").expect("valid id"),
        crate::domain::ids::DisplayName::parse("Sample Customer").expect("valid name"),
        EmailAddress::parse("sample@example.com").expect("valid address"),
    );
    c.locale = Some(locale.tag().into());
    c
}

/// Checks the campaign and its customers before anything is sent.
pub async fn preflight(deps: &Deps, campaign: &Campaign) -> Result<Preflight, PortError> {
    let mut p = Preflight::default();
    // Every locale × notice renders with the five elements.
    for locale in Locale::ALL {
        let customer = sample(locale);
        let record = CustomerRecord::new(customer.clone(), campaign.timezone);
        let milestones = std::iter::once(Milestone::Announcement).chain(
            campaign
                .reminder_offsets()
                .into_iter()
                .map(Milestone::Reminder),
        );
        for m in milestones {
            match notice::render_notice(campaign, &record, &customer, m, &deps.signer) {
                Ok(rendered) => {
                    for missing in notice::missing_elements(campaign, locale, &rendered) {
                        p.errors
                            .push(format!("the {locale} {m} notice lacks element {missing}"));
                    }
                }
                Err(e) => p
                    .errors
                    .push(format!("the {locale} {m} notice does not render: {e}")),
            }
        }
    }
    let mut pages = super::paging::Pages::new(1000);
    let (mut total, mut untiered, mut core_without_owner) = (0u64, 0u64, 0u64);
    while let Some(after) = pages.start() {
        let page = deps
            .customers
            .customers_page(&campaign.id, after, 1000)
            .await?;
        if !pages.took(&page) {
            break;
        }
        for r in page.iter().filter(|r| r.profile.is_some()) {
            total += 1;
            match &r.tier {
                None => untiered += 1,
                Some(t)
                    if t.tier == Tier::Core
                        && r.profile
                            .as_ref()
                            .is_some_and(|c| c.account_manager.is_none()) =>
                {
                    core_without_owner += 1
                }
                _ => {}
            }
        }
    }
    if total == 0 {
        p.errors
            .push("the campaign has no customers; import them first".into());
    }
    if untiered > 0 {
        p.errors.push(format!("{untiered} customers have no tier"));
    }
    if core_without_owner > 0 {
        p.warnings.push(format!(
            "{core_without_owner} core customers have no account manager; their 1:1 brief goes to {}",
            campaign.support.email
        ));
    }
    Ok(p)
}

pub async fn launch(deps: &Deps, campaign: &Campaign) -> Result<LaunchReport, LaunchError> {
    let tiers = segment::segment(campaign, deps.customers.as_ref(), deps.audit.as_ref()).await?;
    let preflight = preflight(deps, campaign).await?;
    if !preflight.errors.is_empty() {
        return Err(LaunchError::Preflight(preflight));
    }
    let jobs = super::plan::plan(
        campaign,
        deps.customers.as_ref(),
        deps.events.as_ref(),
        deps.scheduler.as_ref(),
    )
    .await?;
    Ok(LaunchReport {
        tiers,
        preflight,
        jobs,
    })
}

/// What admitting a late import did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Admitted {
    pub tiers: SegmentSummary,
    /// Waves planned for zones the campaign had no waves in yet.
    pub jobs_added: usize,
    /// Newcomers whose zone has had its announcement: a catch-up job sends
    /// it to them.
    pub catch_up: usize,
}

/// Customers imported into a campaign already launched join its remaining
/// waves: they are segmented (which puts them in the waves), a zone new to
/// the campaign gets the waves still ahead, and whoever's zone has had the
/// announcement gets it from a catch-up job. Reminders already past are not
/// repeated. Before launch this does nothing: launching segments everyone.
/// The work grows with the newcomers, not with the campaign, so it fits in
/// the import's HTTP request.
pub async fn admit_late(
    deps: &Deps,
    campaign: &Campaign,
    added: &[CustomerRecord],
) -> Result<Option<Admitted>, PortError> {
    if added.is_empty() {
        return Ok(None);
    }
    let scheduled = deps.scheduler.scheduled(&campaign.id).await?;
    if scheduled.is_empty() {
        return Ok(None);
    }
    let mut tiers = SegmentSummary::default();
    for page in added.chunks(1000) {
        let page = segment::segment_these(campaign, page.to_vec(), deps.customers.as_ref()).await?;
        tiers.add(&page);
    }
    let jobs_added = plan_new_zones(deps, campaign, added, &scheduled).await?;
    let catch_up = schedule_catch_up(deps, campaign, added).await?;
    deps.audit
        .append(AuditEntry {
            at: chrono::Utc::now(),
            campaign: campaign.id.clone(),
            customer: None,
            action: "admitted-late".into(),
            detail: serde_json::json!({ "tiers": tiers, "jobs_added": jobs_added, "catch_up": catch_up }),
        })
        .await?;
    tracing::info!(campaign = %campaign.id, core = tiers.core, standard = tiers.standard, low = tiers.low, jobs_added, catch_up, "late import joined the waves");
    Ok(Some(Admitted {
        tiers,
        jobs_added,
        catch_up,
    }))
}

/// Schedules the waves still ahead in the newcomers' zones that the
/// campaign has none of; returns how many.
async fn plan_new_zones(
    deps: &Deps,
    campaign: &Campaign,
    added: &[CustomerRecord],
    scheduled: &[ScheduledJob],
) -> Result<usize, PortError> {
    let now = deps.clock.now();
    let known: BTreeSet<&str> = scheduled.iter().map(|j| j.name.as_str()).collect();
    let mut zones: Vec<Tz> = added.iter().map(|r| r.zone).collect();
    zones.sort_by_key(|z| z.name());
    zones.dedup();
    let ahead: Vec<ScheduledJob> = milestone::plan(campaign, &zones, &BTreeSet::new())
        .into_iter()
        .filter(|j| matches!(j.job, Job::Notice { .. }))
        .filter(|j| j.due > now && !known.contains(j.name.as_str()))
        .collect();
    for job in &ahead {
        deps.scheduler.upsert(job).await?;
    }
    Ok(ahead.len())
}

/// Newcomers per catch-up job: keeps a schedule's payload small.
const CATCH_UP_CHUNK: usize = 50;

/// Schedules, for now, the announcement of the newcomers whose zone has
/// already had it; returns how many.
async fn schedule_catch_up(
    deps: &Deps,
    campaign: &Campaign,
    added: &[CustomerRecord],
) -> Result<usize, PortError> {
    let now = deps.clock.now();
    let announce = milestone_date(campaign, Milestone::Announcement).expect("has a date");
    let late: Vec<CustomerId> = added
        .iter()
        .filter(|r| now >= local_instant(announce, campaign.send_time(), r.zone))
        .map(|r| r.id.clone())
        .collect();
    for chunk in late.chunks(CATCH_UP_CHUNK) {
        let mut h = Sha256::new();
        for id in chunk {
            h.update(id.as_str());
            h.update([0]);
        }
        deps.scheduler
            .upsert(&ScheduledJob {
                name: format!(
                    "{}.catch-up.{}",
                    campaign.id,
                    hex::encode(&h.finalize()[..6])
                ),
                due: now,
                job: Job::CatchUp {
                    campaign: campaign.id.clone(),
                    customers: chunk.to_vec(),
                },
            })
            .await?;
    }
    Ok(late.len())
}
