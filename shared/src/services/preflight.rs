//! The preflight is the guide's preparation checklist (its §二 table, and
//! the first two steps of §三), checked against the campaign and its
//! customers before anything is sent: one item per task, each pass, warn
//! or fail with the reason. A launch is refused while an item fails,
//! unless the operator overrides it, naming who and why (audited).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveTime, Utc};
use serde::Serialize;

use crate::domain::audience::RuleLine;
use crate::domain::ledger::Channel;
use crate::domain::milestone::local_instant;
use crate::domain::{Campaign, CampaignId, Customer, CustomerId, CustomerRecord, EmailAddress};
use crate::domain::{Locale, Tier};
use crate::ports::{Deps, PortError, SenderCheck};

use super::{export, lint, notice};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckState {
    Pass,
    Warn,
    Fail,
}

impl CheckState {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckState::Pass => "pass",
            CheckState::Warn => "warn",
            CheckState::Fail => "fail",
        }
    }
}

/// One item of the checklist.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Its stable name: `tiers`, `notices`, `test_export`, `materials`,
    /// `notice_period`, `core_owners`, `brief_lead_time`,
    /// `sender_identity`, `staff_briefing`.
    pub item: &'static str,
    /// What the guide asks, in a line.
    pub title: &'static str,
    pub state: CheckState,
    /// Why it stands so, and what to do when it does not pass.
    pub reason: String,
    /// The cases behind a warning or failure (at most `MAX_DETAILS`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

/// Most cases one item lists; the reason counts them all.
const MAX_DETAILS: usize = 20;

/// One notice on one channel: the rule, and how many it reaches today.
#[derive(Debug, Clone, Serialize)]
pub struct Audience {
    #[serde(flatten)]
    pub rule: RuleLine,
    pub customers: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Preflight {
    pub campaign: CampaignId,
    pub as_of: DateTime<Utc>,
    /// The worst item's state: a launch is refused on `fail`.
    pub result: CheckState,
    pub items: Vec<Check>,
    /// Who gets which notice on which channel under the campaign's rules,
    /// and how many of its customers that is today (their status now; on
    /// a channel that can reach them).
    pub audience: Vec<Audience>,
}

impl Preflight {
    /// The items that fail (and so hold a launch).
    pub fn failing(&self) -> impl Iterator<Item = &Check> {
        self.items.iter().filter(|c| c.state == CheckState::Fail)
    }

    /// The failing items in a line each: `item: reason`.
    pub fn failures(&self) -> Vec<String> {
        self.failing()
            .map(|c| format!("{}: {}", c.item, c.reason))
            .collect()
    }
}

fn check(item: &'static str, title: &'static str, state: CheckState, reason: String) -> Check {
    Check {
        item,
        title,
        state,
        reason,
        details: Vec::new(),
    }
}

/// What one walk over the customers finds.
#[derive(Default)]
struct Walk {
    live: u64,
    /// Per tier, as stored.
    tiers: BTreeMap<&'static str, u64>,
    /// Customers not tiered yet, per tier the saved rules would give them.
    untiered: BTreeMap<&'static str, u64>,
    core: u64,
    core_without_owner: Vec<CustomerId>,
    not_textable: u64,
    reached: BTreeMap<(String, Channel), u64>,
    /// The first live customer: whom the test export is for.
    sample: Option<CustomerRecord>,
}

/// Checks the campaign and its customers as of `now`.
pub async fn preflight(
    deps: &Deps,
    campaign: &Campaign,
    now: DateTime<Utc>,
) -> Result<Preflight, PortError> {
    let walk = walk(deps, campaign, now).await?;
    let status = deps
        .campaigns
        .status(&campaign.id)
        .await?
        .unwrap_or_default();
    let items = vec![
        tiers(campaign, &walk),
        notices(deps, campaign, &walk),
        test_export(deps, campaign, &walk, now).await?,
        materials(campaign),
        notice_period(campaign),
        core_owners(campaign, &walk),
        brief_lead_time(campaign, &walk, status.launched_at, now),
        sender_identity(deps, &campaign.sender.from.address).await,
        staff_briefing(campaign),
    ];
    let audience = campaign
        .rules
        .describe(&campaign.notices())
        .into_iter()
        .map(|rule| {
            let customers = walk
                .reached
                .get(&(rule.notice.clone(), rule.channel))
                .copied()
                .unwrap_or_default();
            Audience { rule, customers }
        })
        .collect();
    Ok(Preflight {
        campaign: campaign.id.clone(),
        as_of: now,
        result: items
            .iter()
            .map(|c| c.state)
            .max()
            .unwrap_or(CheckState::Pass),
        items,
        audience,
    })
}

async fn walk(deps: &Deps, campaign: &Campaign, now: DateTime<Utc>) -> Result<Walk, PortError> {
    let today = now.with_timezone(&campaign.timezone).date_naive();
    let notices = campaign.notices();
    let texts = notices
        .iter()
        .any(|&m| campaign.rules.uses(m, Channel::Sms));
    let mut w = Walk::default();
    let mut pages = super::paging::Pages::new(1000);
    while let Some(page) = pages.next(deps.customers.as_ref(), &campaign.id).await? {
        for r in page {
            let Some(profile) = r.profile.as_ref() else {
                continue;
            };
            w.live += 1;
            let tier = match &r.tier {
                Some(t) => {
                    *w.tiers.entry(t.tier.as_str()).or_default() += 1;
                    t.tier
                }
                None => {
                    let t = campaign.segmentation.decide(profile, today).tier;
                    *w.untiered.entry(t.as_str()).or_default() += 1;
                    t
                }
            };
            if tier == Tier::Core {
                w.core += 1;
                if profile.account_manager.is_none() {
                    w.core_without_owner.push(r.id.clone());
                }
            }
            let phone = profile.phone.as_ref();
            let mobile = phone.and_then(|p| p.mobile()).is_some();
            if texts && phone.is_some() && !mobile {
                w.not_textable += 1;
            }
            for &m in &notices {
                for channel in campaign.rules.channels(m, tier, r.status) {
                    let reachable = match channel {
                        Channel::Email => r.mailable().is_some(),
                        Channel::Sms => mobile,
                    };
                    if reachable {
                        *w.reached.entry((m.name(), channel)).or_default() += 1;
                    }
                }
            }
            if w.sample.is_none() {
                w.sample = Some(r);
            }
        }
    }
    Ok(w)
}

fn counts(by_tier: &BTreeMap<&'static str, u64>) -> String {
    by_tier
        .iter()
        .map(|(t, n)| format!("{t} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn tiers(campaign: &Campaign, w: &Walk) -> Check {
    const TITLE: &str = "Every customer tiered, by tier rules saved with the campaign";
    let p = &campaign.segmentation;
    let rules = format!(
        "core from score {}, standard from {}, full value at {}",
        p.core_score, p.standard_score, p.full_value
    );
    if w.live == 0 {
        return check(
            "tiers",
            TITLE,
            CheckState::Fail,
            "the campaign has no customers; import them first".into(),
        );
    }
    let untiered: u64 = w.untiered.values().sum();
    let reason = if untiered == 0 {
        format!("{} customers: {} ({rules})", w.live, counts(&w.tiers))
    } else {
        format!(
            "{} customers; {untiered} not tiered yet, whom the saved rules ({rules}) make {} at launch",
            w.live,
            counts(&w.untiered)
        )
    };
    check("tiers", TITLE, CheckState::Pass, reason)
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

/// Every notice, for every tier and locale, on every channel the rules
/// use, renders with the guide's five elements.
fn notices(deps: &Deps, campaign: &Campaign, w: &Walk) -> Check {
    const TITLE: &str =
        "Notices for every tier, channel and locale carry the five elements of a notice";
    let mut problems = Vec::new();
    let mut rendered_count = 0u32;
    for locale in Locale::ALL {
        let customer = sample(locale);
        for tier in Tier::ALL {
            let mut record = CustomerRecord::new(customer.clone(), campaign.timezone);
            record.tier = Some(crate::domain::tier::TierDecision {
                tier,
                score: 0,
                explanation: "preflight sample".into(),
            });
            let tier = tier.as_str();
            for m in campaign.notices() {
                if campaign.rules.uses(m, Channel::Sms) {
                    rendered_count += 1;
                    if let Err(e) =
                        notice::render_sms(campaign, &record, &customer, m, &deps.signer)
                    {
                        problems.push(format!(
                            "the {locale} {m} text to a {tier} customer does not render: {e}"
                        ));
                    }
                }
                rendered_count += 1;
                match notice::render_notice(campaign, &record, &customer, m, &deps.signer) {
                    Ok(rendered) => {
                        let kind = notice::Message::notice(m).kind();
                        for missing in lint::check(campaign, &record, &customer, kind, &rendered) {
                            problems.push(format!(
                                "the {locale} {m} notice to a {tier} customer ({}) lacks {missing}",
                                rendered.template
                            ));
                        }
                    }
                    Err(e) => problems.push(format!(
                        "the {locale} {m} notice to a {tier} customer does not render: {e}"
                    )),
                }
            }
        }
    }
    let mut c = if problems.is_empty() {
        check(
            "notices",
            TITLE,
            CheckState::Pass,
            format!(
                "{rendered_count} messages rendered ({} locales × {} tiers × each notice on each channel the rules use), each with title, thanks and reason, dates, data export and alternatives",
                Locale::ALL.len(),
                Tier::ALL.len()
            ),
        )
    } else {
        check(
            "notices",
            TITLE,
            CheckState::Fail,
            format!(
                "{} of {rendered_count} messages fall short; fix their templates or the campaign's text",
                problems.len()
            ),
        )
    };
    c.details = problems.into_iter().take(MAX_DETAILS).collect();
    if w.not_textable > 0 {
        c.state = c.state.max(CheckState::Warn);
        c.details.push(format!(
            "{} customers have a phone number without its country code (+…): the rules send \
             texts, and none can reach them",
            w.not_textable
        ));
    }
    c
}

async fn test_export(
    deps: &Deps,
    campaign: &Campaign,
    w: &Walk,
    now: DateTime<Utc>,
) -> Result<Check, PortError> {
    const TITLE: &str = "A test export for a sample customer succeeds";
    let Some(sample) = &w.sample else {
        return Ok(check(
            "test_export",
            TITLE,
            CheckState::Fail,
            "no customer to try it for; import them first".into(),
        ));
    };
    Ok(
        match export::test_export(deps, campaign, sample, now).await {
            Ok(t) => check(
                "test_export",
                TITLE,
                CheckState::Pass,
                format!(
                    "the bundle of {} was built and read back: {} files, {} bytes (nothing stored or sent)",
                    t.customer, t.files, t.bytes
                ),
            ),
            // A store that failed for a moment is not a finding: the caller
            // asks again.
            Err(export::ExportError::Port(e)) if e.retryable => return Err(e),
            Err(e) => check(
                "test_export",
                TITLE,
                CheckState::Fail,
                format!(
                    "the bundle of {} could not be built: {e}; customers could not take their data",
                    sample.id
                ),
            ),
        },
    )
}

fn materials(campaign: &Campaign) -> Check {
    const TITLE: &str =
        "Alternatives with offer codes, migration guide, FAQ and support contacts set";
    let links = format!(
        "guide {}, FAQ {}, support {}{}",
        campaign.links.migration_guide,
        campaign.links.faq,
        campaign.support.email,
        campaign
            .support
            .phone
            .as_ref()
            .map_or(String::new(), |p| format!(" / {}", p.as_str()))
    );
    if campaign.alternatives.is_empty() {
        return check(
            "materials",
            TITLE,
            CheckState::Fail,
            format!(
                "no alternative: name your successor product, or one or two others customers can move to ({links})"
            ),
        );
    }
    let without: Vec<String> = campaign
        .alternatives
        .iter()
        .filter(|a| a.discount_code.is_none())
        .map(|a| format!("{} has no offer code", a.name))
        .collect();
    let mut c = check(
        "materials",
        TITLE,
        if without.is_empty() {
            CheckState::Pass
        } else {
            CheckState::Warn
        },
        format!(
            "{} with an offer code of {}; {links}",
            campaign.alternatives.len() - without.len(),
            match campaign.alternatives.len() {
                1 => "1 alternative".to_owned(),
                n => format!("{n} alternatives"),
            }
        ),
    );
    c.details = without;
    c
}

fn notice_period(campaign: &Campaign) -> Check {
    const TITLE: &str = "The notice period meets the policy (b2b 6–12 months, b2c 3–6)";
    let d = &campaign.dates;
    let kind = campaign.notice;
    let (min, max) = kind.notice_months();
    let days = (d.service_end - d.announce).num_days();
    let months = |n: u32| d.announce.checked_add_months(chrono::Months::new(n));
    let period = format!(
        "{} to {}: {days} days of notice for a {} campaign",
        d.announce,
        d.service_end,
        kind.as_str()
    );
    if months(min).is_some_and(|least| d.service_end < least) {
        return if campaign.delivery.allow_short_notice {
            check(
                "notice_period",
                TITLE,
                CheckState::Warn,
                format!(
                    "{period}, under the policy's {min} months; accepted by delivery.allow_short_notice"
                ),
            )
        } else {
            check(
                "notice_period",
                TITLE,
                CheckState::Fail,
                format!(
                    "{period}, under the policy's {min} months: move dates.service_end to {} or later",
                    months(min).map_or(String::new(), |m| m.to_string())
                ),
            )
        };
    }
    if months(max).is_some_and(|most| d.service_end > most) {
        return check(
            "notice_period",
            TITLE,
            CheckState::Warn,
            format!(
                "{period}, over the policy's {max} months: a date that far off is easily forgotten"
            ),
        );
    }
    check(
        "notice_period",
        TITLE,
        CheckState::Pass,
        format!("{period}, within {min}–{max} months"),
    )
}

fn core_owners(campaign: &Campaign, w: &Walk) -> Check {
    const TITLE: &str = "Every core customer has an owner for the 1:1 conversation";
    let missing = &w.core_without_owner;
    if missing.is_empty() {
        return check(
            "core_owners",
            TITLE,
            CheckState::Pass,
            if w.core == 0 {
                "no core customers".into()
            } else {
                format!("all {} core customers have an account manager", w.core)
            },
        );
    }
    let mut c = check(
        "core_owners",
        TITLE,
        CheckState::Warn,
        format!(
            "{} of {} core customers have no account manager: their 1:1 brief goes to {}; set account_manager to give each an owner",
            missing.len(),
            w.core,
            campaign.support.email
        ),
    );
    c.details = missing
        .iter()
        .take(MAX_DETAILS)
        .map(|id| id.to_string())
        .collect();
    c
}

fn brief_lead_time(
    campaign: &Campaign,
    w: &Walk,
    launched_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Check {
    const TITLE: &str =
        "The account managers' brief still comes its lead time before the announcement";
    let lead = campaign.delivery.brief_days_before_announce;
    let due = local_instant(
        campaign.brief_date(),
        NaiveTime::from_hms_opt(9, 0, 0).expect("valid"),
        campaign.timezone,
    );
    let announced = local_instant(
        campaign.dates.announce,
        campaign.send_time(),
        campaign.timezone,
    );
    if let Some(at) = launched_at {
        return check(
            "brief_lead_time",
            TITLE,
            CheckState::Pass,
            format!(
                "launched on {}: the brief was planned then",
                at.date_naive()
            ),
        );
    }
    if w.core == 0 {
        return check(
            "brief_lead_time",
            TITLE,
            CheckState::Pass,
            "no core customers: no 1:1 brief to send".into(),
        );
    }
    if now <= due {
        return check(
            "brief_lead_time",
            TITLE,
            CheckState::Pass,
            format!(
                "the brief goes out {} ({lead} days before the announcement on {})",
                due.with_timezone(&campaign.timezone)
                    .format("%Y-%m-%d %H:%M"),
                campaign.dates.announce
            ),
        );
    }
    let left = announced - now;
    let left = if left.num_days() >= 1 {
        format!("{} days", left.num_days())
    } else {
        format!("{} hours", left.num_hours().max(0))
    };
    check(
        "brief_lead_time",
        TITLE,
        CheckState::Fail,
        format!(
            "the brief was due {}; launched now, account managers get {left} instead of {lead} days to call {} before the announcement. Move dates.announce (and the dates after it), or override",
            due.with_timezone(&campaign.timezone)
                .format("%Y-%m-%d %H:%M"),
            match w.core {
                1 => "1 core customer".to_owned(),
                n => format!("{n} core customers"),
            }
        ),
    )
}

async fn sender_identity(deps: &Deps, from: &EmailAddress) -> Check {
    const TITLE: &str = "The sender identity is verified with the mail provider";
    let (state, reason) = match deps.mailer.sender(from).await {
        Ok(SenderCheck::Verified(identity)) => (
            CheckState::Pass,
            format!("{from} may send: {identity} is verified"),
        ),
        Ok(SenderCheck::Unverified { identity, status }) => (
            CheckState::Fail,
            format!(
                "{from} may not send: {identity} is {status}. Verify the domain (or the address) with the mail provider"
            ),
        ),
        Ok(SenderCheck::NotNeeded(why)) => (CheckState::Pass, format!("{from}: {why}")),
        Ok(SenderCheck::Unknown(why)) => (
            CheckState::Warn,
            format!("{from}: {why}; send yourself a test message before launch"),
        ),
        Err(e) => (
            CheckState::Fail,
            format!("could not ask the mail provider about {from}: {e}"),
        ),
    };
    check("sender_identity", TITLE, state, reason)
}

fn staff_briefing(campaign: &Campaign) -> Check {
    const TITLE: &str = "Sales, support and success are briefed before customers hear";
    let d = &campaign.dates;
    match d.staff_briefing {
        None => check(
            "staff_briefing",
            TITLE,
            CheckState::Warn,
            "no date set: set dates.staff_briefing to the day the teams learn the reasons, the dates and the answers".into(),
        ),
        Some(day) if day > d.announce => check(
            "staff_briefing",
            TITLE,
            CheckState::Fail,
            format!(
                "{day} is after the announcement on {}: customers would ask staff who do not know yet",
                d.announce
            ),
        ),
        Some(day) if day > campaign.brief_date() => check(
            "staff_briefing",
            TITLE,
            CheckState::Warn,
            format!(
                "{day} is after the account managers' brief on {}: they would call core customers unbriefed",
                campaign.brief_date()
            ),
        ),
        Some(day) => check(
            "staff_briefing",
            TITLE,
            CheckState::Pass,
            format!(
                "{day}, before the account managers' brief on {}",
                campaign.brief_date()
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::campaign::NoticeKind;

    /// The example campaign with its notice `kind` and dates moved, not
    /// validated (a campaign stored before a policy changed is read as is).
    fn campaign(kind: NoticeKind, service_end: &str, short_ok: bool) -> Campaign {
        let mut c = Campaign::from_toml(crate::app::demo::CAMPAIGN).unwrap();
        c.notice = kind;
        c.dates.service_end = service_end.parse().unwrap();
        c.delivery.allow_short_notice = short_ok;
        c
    }

    #[test]
    fn the_notice_period_below_the_policy_fails_and_above_it_warns() {
        use CheckState::*;
        use NoticeKind::*;
        // Announced 2027-02-01.
        for (kind, end, short_ok, state) in [
            (B2b, "2027-07-31", false, Fail), // 180 days: a day short of 6 months
            (B2b, "2027-08-01", false, Pass),
            (B2b, "2027-05-01", true, Warn), // accepted short
            (B2b, "2028-02-01", false, Pass),
            (B2b, "2028-02-02", false, Warn),
            (B2c, "2027-04-30", false, Fail),
            (B2c, "2027-05-01", false, Pass),
            (B2c, "2027-08-02", false, Warn),
        ] {
            let c = notice_period(&campaign(kind, end, short_ok));
            assert_eq!(c.state, state, "{} {end}: {}", kind.as_str(), c.reason);
        }
        let fail = notice_period(&campaign(B2b, "2027-07-31", false));
        assert!(
            fail.reason.contains("move dates.service_end to 2027-08-01"),
            "{}",
            fail.reason
        );
    }

    #[test]
    fn the_staff_briefing_comes_before_anyone_outside_hears() {
        let mut c = Campaign::from_toml(crate::app::demo::CAMPAIGN).unwrap();
        // The brief to account managers is on 2027-01-22.
        for (day, state) in [
            (None, CheckState::Warn),
            (Some("2027-01-15"), CheckState::Pass),
            (Some("2027-01-25"), CheckState::Warn),
            (Some("2027-02-02"), CheckState::Fail),
        ] {
            c.dates.staff_briefing = day.map(|d| d.parse().unwrap());
            assert_eq!(staff_briefing(&c).state, state, "{day:?}");
        }
    }

    #[test]
    fn a_campaign_with_no_alternative_fails_and_one_without_a_code_warns() {
        let mut c = Campaign::from_toml(crate::app::demo::CAMPAIGN).unwrap();
        assert_eq!(materials(&c).state, CheckState::Pass);
        c.alternatives[0].discount_code = None;
        let warn = materials(&c);
        assert_eq!(warn.state, CheckState::Warn);
        assert_eq!(warn.details, ["Orbit Suite has no offer code"]);
        c.alternatives.clear();
        assert_eq!(materials(&c).state, CheckState::Fail);
    }
}
