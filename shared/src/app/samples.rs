//! The demo's samples: for each tier and language, what one customer gets
//! on every channel — the announcement and a reminder by e-mail, the
//! reminder as a text, the in-app banner — written to `DIR/samples/` and
//! laid side by side in `samples/index.html`. The customers are the
//! generated ones, imported and segmented in a scratch store exactly as
//! the launch does, so each sample is what that customer is sent.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, NaiveTime, Utc};
use minijinja::{AutoEscape, Environment, context};
use serde::Serialize;

use crate::adapters::embedded::Embedded;
use crate::clock::SimulatedClock;
use crate::domain::customer::MigrationStatus;
use crate::domain::ledger::Channel;
use crate::domain::locale::Language;
use crate::domain::milestone::local_instant;
use crate::domain::tier::Tier;
use crate::domain::{Campaign, CustomerRecord};
use crate::services::preview::{self, Previewed};
use crate::services::{banner, import, segment};

use super::simulate::Inputs;

const INDEX: &str = include_str!("../templates/demo/samples.html");

#[derive(Serialize)]
struct Sample {
    tier: &'static str,
    lang: &'static str,
    customer: String,
    name: String,
    announcement: Mail,
    reminder: Mail,
    text: Option<Text>,
    banner: Option<Banner>,
}

#[derive(Serialize)]
struct Mail {
    subject: String,
    file: String,
    template: String,
}

#[derive(Serialize)]
struct Text {
    body: String,
    segments: u32,
    template: String,
}

#[derive(Serialize)]
struct Banner {
    severity: &'static str,
    title: String,
    message: String,
    template: String,
}

/// Writes the samples under `dir/samples/`; returns the index's path.
pub async fn write(dir: &Path, inputs: &Inputs) -> anyhow::Result<PathBuf> {
    let out = dir.join("samples");
    let scratch = out.join(".store");
    std::fs::create_dir_all(&scratch)?;
    let campaign = &inputs.campaign;
    let announced = local_instant(campaign.dates.announce, NaiveTime::MIN, campaign.timezone);
    let clock = Arc::new(SimulatedClock::new(announced));
    // The reminder a month out (the first from T-30 on, when texts start).
    let reminder = campaign
        .reminder_offsets()
        .into_iter()
        .find(|d| *d <= 30)
        .or(campaign.reminder_offsets().first().copied())
        .context("the demo campaign sends reminders")?;
    let samples = {
        let emb = Embedded::open(&scratch, clock.clone())?;
        emb.deps.campaigns.put_campaign(campaign).await?;
        let file = if inputs.customers_are_json {
            import::parse_json(&inputs.customers)
        } else {
            import::parse_csv(&inputs.customers)
        }
        .context("the generated customers")?;
        let deps = &emb.deps;
        import::import(
            campaign,
            file,
            deps.customers.as_ref(),
            deps.audit.as_ref(),
            announced,
            import::ImportOptions::default(),
        )
        .await?;
        segment::segment(
            campaign,
            deps.customers.as_ref(),
            deps.audit.as_ref(),
            announced,
        )
        .await?;
        let chosen = choose(deps, campaign).await?;
        let before_end = local_instant(
            campaign.dates.service_end - chrono::Days::new(u64::from(reminder)),
            campaign.send_time(),
            campaign.timezone,
        );
        let mut samples = Vec::new();
        for ((tier, language), record) in chosen {
            samples.push(
                sample(
                    deps, campaign, &record, tier, language, reminder, before_end, &out,
                )
                .await?,
            );
        }
        samples
    };
    std::fs::remove_dir_all(&scratch).ok();
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    env.add_template("samples.html", INDEX)?;
    let html = env.get_template("samples.html")?.render(context! {
        product => &campaign.product,
        reminder => reminder,
        samples => samples,
    })?;
    let index = out.join("index.html");
    std::fs::write(&index, html)?;
    Ok(index)
}

/// A pending customer of each tier and language: the first who shows the
/// most of it — a core customer's account manager, a mobile number for
/// the text.
async fn choose(
    deps: &crate::ports::Deps,
    campaign: &Campaign,
) -> anyhow::Result<BTreeMap<(Tier, Language), CustomerRecord>> {
    let shows = |r: &CustomerRecord| {
        let profile = r.profile.as_ref();
        let managed = profile.is_some_and(|p| p.account_manager.is_some());
        let mobile = profile
            .and_then(|p| p.phone.as_ref())
            .and_then(|p| p.mobile())
            .is_some();
        (managed, mobile)
    };
    let mut chosen: BTreeMap<(Tier, Language), CustomerRecord> = BTreeMap::new();
    let mut after = None;
    loop {
        let page = deps
            .customers
            .customers_page(&campaign.id, after.as_ref(), 500)
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        for record in page {
            let (Some(profile), Some(tier)) = (&record.profile, &record.tier) else {
                continue;
            };
            if record.status != MigrationStatus::Pending {
                continue;
            }
            let key = (
                tier.tier,
                profile.notice_locale(campaign.default_locale).language(),
            );
            if chosen
                .get(&key)
                .is_none_or(|had| shows(&record) > shows(had))
            {
                chosen.insert(key, record);
            }
        }
    }
    Ok(chosen)
}

#[allow(clippy::too_many_arguments)]
async fn sample(
    deps: &crate::ports::Deps,
    campaign: &Campaign,
    record: &CustomerRecord,
    tier: Tier,
    language: Language,
    reminder: u32,
    before_end: DateTime<Utc>,
    out: &Path,
) -> anyhow::Result<Sample> {
    let lang = language.tag();
    let stem = |what: &str| format!("{what}-{}-{lang}", tier.as_str());
    let mail = |message: Previewed, what: &str, now| {
        let stem = stem(what);
        async move {
            let p =
                preview::preview(deps, campaign, &record.id, message, Channel::Email, now).await?;
            std::fs::write(out.join(format!("{stem}.html")), &p.html)?;
            std::fs::write(
                out.join(format!("{stem}.txt")),
                format!("Subject: {}\n\n{}", p.subject, p.text),
            )?;
            anyhow::Ok(Mail {
                subject: p.subject,
                file: format!("{stem}.html"),
                template: p.template,
            })
        }
    };
    let at_announcement = local_instant(
        campaign.dates.announce,
        campaign.send_time(),
        campaign.timezone,
    );
    let announcement = mail(
        Previewed::Announcement,
        "email-announcement",
        at_announcement,
    )
    .await?;
    let reminder_mail = mail(
        Previewed::Reminder(reminder),
        &format!("email-reminder-{reminder}"),
        before_end,
    )
    .await?;
    let text = match preview::preview(
        deps,
        campaign,
        &record.id,
        Previewed::Reminder(reminder),
        Channel::Sms,
        before_end,
    )
    .await
    {
        Ok(p) => {
            std::fs::write(
                out.join(format!("{}.txt", stem(&format!("sms-reminder-{reminder}")))),
                &p.text,
            )?;
            Some(Text {
                body: p.text,
                segments: p.segments.unwrap_or(1),
                template: p.template,
            })
        }
        // No mobile number in this tier and language.
        Err(preview::PreviewError::NoMobile(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let banner = banner::banner(deps, campaign, &record.id, None, before_end)
        .await?
        .map(|b| {
            let json = serde_json::to_vec_pretty(&b)?;
            std::fs::write(out.join(format!("{}.json", stem("in-app-banner"))), json)?;
            anyhow::Ok(Banner {
                severity: b.severity.as_str(),
                title: b.title,
                message: b.message,
                template: b.template,
            })
        })
        .transpose()?;
    let profile = record
        .profile
        .as_ref()
        .context("a sample customer has a profile")?;
    Ok(Sample {
        tier: tier.as_str(),
        lang,
        customer: record.id.to_string(),
        name: profile
            .name
            .as_ref()
            .map_or_else(|| record.id.to_string(), ToString::to_string),
        announcement,
        reminder: reminder_mail,
        text,
        banner,
    })
}
