//! Launching a campaign: segment, check everything the seed's preparation
//! checklist asks (preflight), then plan the schedule.

use serde::Serialize;

use crate::domain::milestone::ScheduledJob;
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
    let tiers = segment::segment(
        campaign,
        deps.customers.as_ref(),
        deps.audit.as_ref(),
        deps.clock.now(),
    )
    .await?;
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
