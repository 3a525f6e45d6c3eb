//! Launching a campaign: segment, check everything the seed's preparation
//! checklist asks (preflight), then plan the schedule.

use chrono::{DateTime, NaiveTime, Utc};
use serde::Serialize;

use crate::domain::milestone::local_instant;

use crate::domain::audience::RuleLine;
use crate::domain::ledger::Channel;
use crate::domain::milestone::ScheduledJob;
use crate::domain::{Campaign, Customer, CustomerId, CustomerRecord, EmailAddress, Locale, Tier};
use crate::ports::{Deps, PortError};

use super::segment::{self, SegmentSummary};
use super::{lint, notice};

#[derive(Debug, Clone, Default, Serialize)]
pub struct Preflight {
    /// Launch is refused while there are errors.
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
    /// Who gets which notice on which channel under the campaign's rules,
    /// and how many of its customers that is today (their status now;
    /// on a channel that can reach them).
    pub audience: Vec<Audience>,
}

/// One notice on one channel: the rule, and how many it reaches today.
#[derive(Debug, Clone, Serialize)]
pub struct Audience {
    #[serde(flatten)]
    pub rule: RuleLine,
    pub customers: u64,
}

/// How late a first launch may come: on the announcement day or the day
/// after (the announcement then goes out at once). Later, customers would
/// get less notice than the dates promise and the countdown would be cut
/// short: the operator moves the dates instead.
pub const LAUNCH_GRACE_DAYS: u64 = 1;

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("campaign field `{field}`: {reason}")]
    TooLate { field: &'static str, reason: String },
    #[error("campaign {0} was cancelled; it is not launched again")]
    Cancelled(crate::domain::CampaignId),
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
    // Every locale × tier × notice renders with the five elements.
    for locale in Locale::ALL {
        let customer = sample(locale);
        for tier in Tier::ALL {
            let mut record = CustomerRecord::new(customer.clone(), campaign.timezone);
            record.tier = Some(crate::domain::tier::TierDecision {
                tier,
                score: 0,
                explanation: "preflight sample".into(),
            });
            for m in campaign.notices() {
                if campaign.rules.uses(m, Channel::Sms) {
                    if let Err(e) =
                        notice::render_sms(campaign, &record, &customer, m, &deps.signer)
                    {
                        p.errors.push(format!(
                            "the {locale} {m} text to a {} customer does not render: {e}",
                            tier.as_str()
                        ));
                    }
                }
                let tier = tier.as_str();
                match notice::render_notice(campaign, &record, &customer, m, &deps.signer) {
                    Ok(rendered) => {
                        let kind = notice::Message::notice(m).kind();
                        for missing in lint::check(campaign, &record, &customer, kind, &rendered) {
                            p.errors.push(format!(
                                "the {locale} {m} notice to a {tier} customer ({}) lacks {missing}",
                                rendered.template
                            ));
                        }
                    }
                    Err(e) => p.errors.push(format!(
                        "the {locale} {m} notice to a {tier} customer does not render: {e}"
                    )),
                }
            }
        }
    }
    let notices = campaign.notices();
    let mut reached: std::collections::BTreeMap<(String, Channel), u64> = Default::default();
    let texts = notices
        .iter()
        .any(|&m| campaign.rules.uses(m, Channel::Sms));
    let mut not_textable = 0u64;
    let mut pages = super::paging::Pages::new(1000);
    let (mut total, mut untiered, mut core_without_owner) = (0u64, 0u64, 0u64);
    while let Some(page) = pages.next(deps.customers.as_ref(), &campaign.id).await? {
        for r in page.iter().filter(|r| r.profile.is_some()) {
            total += 1;
            let tier = r.tier.as_ref().map_or(Tier::Standard, |t| t.tier);
            let phone = r.profile.as_ref().and_then(|c| c.phone.as_ref());
            let mobile = phone.and_then(|p| p.mobile()).is_some();
            if texts && phone.is_some() && !mobile {
                not_textable += 1;
            }
            for &m in &notices {
                for channel in campaign.rules.channels(m, tier, r.status) {
                    let reachable = match channel {
                        Channel::Email => r.mailable().is_some(),
                        Channel::Sms => mobile,
                    };
                    if reachable {
                        *reached.entry((m.name(), channel)).or_default() += 1;
                    }
                }
            }
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
    if not_textable > 0 {
        p.warnings.push(format!(
            "{not_textable} customers have a phone number without its country code (+…): \
             the rules send texts, and none can reach them"
        ));
    }
    p.audience = campaign
        .rules
        .describe(&notices)
        .into_iter()
        .map(|rule| {
            let customers = reached
                .get(&(rule.notice.clone(), rule.channel))
                .copied()
                .unwrap_or_default();
            Audience { rule, customers }
        })
        .collect();
    if core_without_owner > 0 {
        p.warnings.push(format!(
            "{core_without_owner} core customers have no account manager; their 1:1 brief goes to {}",
            campaign.support.email
        ));
    }
    Ok(p)
}

/// Refuses a first launch after the announcement day's grace has passed
/// (in the campaign's zone).
fn check_not_late(campaign: &Campaign, now: DateTime<Utc>) -> Result<(), LaunchError> {
    let last_day = campaign.dates.announce + chrono::Days::new(LAUNCH_GRACE_DAYS);
    let closes = local_instant(
        last_day + chrono::Days::new(1),
        NaiveTime::MIN,
        campaign.timezone,
    );
    if now < closes {
        return Ok(());
    }
    let today = now.with_timezone(&campaign.timezone).date_naive();
    Err(LaunchError::TooLate {
        field: "dates.announce",
        reason: format!(
            "the announcement day {} is {} days past (today is {today}); a first launch may come \
             at most {LAUNCH_GRACE_DAYS} day after it. Move the dates so that customers get the \
             notice period they are promised",
            campaign.dates.announce,
            (today - campaign.dates.announce).num_days()
        ),
    })
}

/// Segments, checks and plans the campaign. Safe to repeat: a campaign
/// launched before is planned again (a late import, a revived job); only
/// a first launch after the announcement's grace is refused.
pub async fn launch(deps: &Deps, campaign: &Campaign) -> Result<LaunchReport, LaunchError> {
    let now = deps.clock.now();
    let status = deps
        .campaigns
        .status(&campaign.id)
        .await?
        .unwrap_or_default();
    if status.cancelled.is_some() {
        return Err(LaunchError::Cancelled(campaign.id.clone()));
    }
    if status.launched_at.is_none() {
        check_not_late(campaign, now)?;
    }
    let tiers =
        segment::segment(campaign, deps.customers.as_ref(), deps.audit.as_ref(), now).await?;
    let preflight = preflight(deps, campaign).await?;
    if !preflight.errors.is_empty() {
        return Err(LaunchError::Preflight(preflight));
    }
    let jobs = super::plan::replan(
        deps,
        super::plan::PlanFor {
            campaign,
            before: None,
            notices: true,
            revive: true,
            now,
        },
    )
    .await?
    .jobs;
    deps.campaigns.mark_launched(&campaign.id, now).await?;
    Ok(LaunchReport {
        tiers,
        preflight,
        jobs,
    })
}
