//! The operator's hand on a campaign once written: new content and dates
//! (its schedules re-planned), pause and resume, cancel; the list of
//! campaigns.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::domain::audit::AuditEntry;
use crate::domain::lifecycle::{CampaignStatus, Cancellation, Phase};
use crate::domain::reputation::Pause;
use crate::domain::{Campaign, CampaignId};
use crate::ports::{Deps, PortError};

use super::delivery_events;
use super::plan::{self, PlanFor, Replanned};

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error("no campaign {0}")]
    NotFound(CampaignId),
    #[error("campaign field `{field}`: {reason}")]
    Field { field: String, reason: String },
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Port(#[from] PortError),
}

/// A campaign in the operator's list.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    pub id: CampaignId,
    pub product: String,
    pub phase: Phase,
    pub announce: NaiveDate,
    pub service_end: NaiveDate,
    pub export_deadline: NaiveDate,
    #[serde(flatten)]
    pub status: CampaignStatus,
}

/// Every campaign, with where it stands.
pub async fn list(deps: &Deps) -> Result<Vec<Listed>, PortError> {
    let mut out = Vec::new();
    for id in deps.campaigns.campaign_ids().await? {
        let (Some(c), Some(status)) = (
            deps.campaigns.campaign(&id).await?,
            deps.campaigns.status(&id).await?,
        ) else {
            continue;
        };
        out.push(Listed {
            id,
            product: c.product,
            phase: status.phase(),
            announce: c.dates.announce,
            service_end: c.dates.service_end,
            export_deadline: c.dates.export_deadline,
            status,
        });
    }
    Ok(out)
}

async fn status(deps: &Deps, id: &CampaignId) -> Result<CampaignStatus, LifecycleError> {
    deps.campaigns
        .status(id)
        .await?
        .ok_or_else(|| LifecycleError::NotFound(id.clone()))
}

/// What an update did.
#[derive(Debug, Clone, Serialize)]
pub struct Updated {
    pub id: CampaignId,
    pub phase: Phase,
    /// The key dates that changed: `[before, after]` by field.
    pub dates_changed: std::collections::BTreeMap<&'static str, [NaiveDate; 2]>,
    /// What re-planning did to the schedules (a launched campaign).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replanned: Option<Replanned>,
}

fn key_dates(c: &Campaign) -> [(&'static str, NaiveDate); 5] {
    let d = &c.dates;
    [
        ("dates.announce", d.announce),
        ("dates.stop_new_signups", d.stop_new_signups),
        ("dates.stop_renewals", d.stop_renewals),
        ("dates.service_end", d.service_end),
        ("dates.export_deadline", d.export_deadline),
    ]
}

/// Which date changes a running campaign may take, `today` being the
/// campaign's day now: a date that has come stays (the announcement went
/// out, the service ended), and none moves into the past (its notice
/// would be skipped, or its data purged at once).
fn check_moves(old: &Campaign, new: &Campaign, today: NaiveDate) -> Result<(), LifecycleError> {
    for ((field, was), (_, is)) in key_dates(old).into_iter().zip(key_dates(new)) {
        if was == is {
            continue;
        }
        if was <= today {
            return Err(LifecycleError::Field {
                field: field.into(),
                reason: format!(
                    "was {was}, which has come (today is {today} in {}); a date that has \
                     come stays",
                    old.timezone
                ),
            });
        }
        if is < today {
            return Err(LifecycleError::Field {
                field: field.into(),
                reason: format!(
                    "is {is}, before today ({today} in {}); a running campaign's dates move \
                     to today or later",
                    old.timezone
                ),
            });
        }
    }
    Ok(())
}

/// Replaces the campaign's content and dates (validated as on create);
/// once launched, its schedules are re-planned: moved where the dates
/// moved, deleted where no longer needed, none doubled.
pub async fn update(
    deps: &Deps,
    new: Campaign,
    now: DateTime<Utc>,
) -> Result<Updated, LifecycleError> {
    let id = new.id.clone();
    let old = deps
        .campaigns
        .campaign(&id)
        .await?
        .ok_or_else(|| LifecycleError::NotFound(id.clone()))?;
    let status = status(deps, &id).await?;
    let launched = status.launched_at.is_some();
    if launched {
        check_moves(&old, &new, now.with_timezone(&old.timezone).date_naive())?;
    }
    deps.campaigns.put_campaign(&new).await?;
    let replanned = if launched {
        Some(
            plan::replan(
                deps,
                PlanFor {
                    campaign: &new,
                    before: Some(&old),
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
    let dates_changed: std::collections::BTreeMap<_, _> = key_dates(&old)
        .into_iter()
        .zip(key_dates(&new))
        .filter(|((_, was), (_, is))| was != is)
        .map(|((field, was), (_, is))| (field, [was, is]))
        .collect();
    deps.audit
        .append(AuditEntry {
            at: now,
            campaign: id.clone(),
            customer: None,
            action: "campaign-updated".into(),
            detail: serde_json::json!({
                "dates_changed": dates_changed,
                "schedules": replanned.as_ref().map(|r| serde_json::json!({
                    "added": r.added, "moved": r.moved, "removed": r.removed,
                })),
            }),
        })
        .await?;
    tracing::info!(campaign = %id, launched, dates_changed = dates_changed.len(), "campaign updated");
    Ok(Updated {
        id,
        phase: status.phase(),
        dates_changed,
        replanned,
    })
}

/// An operator's pause: the waves due wait (each looks again hourly) and
/// nothing is lost; `resume` sends them on at once.
pub async fn pause(
    deps: &Deps,
    id: &CampaignId,
    by: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<CampaignStatus, LifecycleError> {
    let status = status(deps, id).await?;
    if status.cancelled.is_some() {
        return Err(LifecycleError::Conflict(format!(
            "campaign {id} is cancelled; there is nothing to pause"
        )));
    }
    if status.paused.is_some() {
        return Ok(status);
    }
    let pause = Pause {
        at: now,
        reason: format!("paused by {by}: {reason}"),
    };
    deps.campaigns.set_paused(id, Some(&pause)).await?;
    deps.audit
        .append(AuditEntry {
            at: now,
            campaign: id.clone(),
            customer: None,
            action: "campaign-paused".into(),
            detail: serde_json::json!({ "by": by, "reason": reason }),
        })
        .await?;
    tracing::warn!(campaign = %id, "campaign paused by the operator");
    Ok(CampaignStatus {
        paused: Some(pause),
        ..status
    })
}

/// Resumes a paused campaign: its waiting waves run at once.
pub async fn resume(
    deps: &Deps,
    id: &CampaignId,
    by: &str,
) -> Result<delivery_events::Resumed, LifecycleError> {
    let status = status(deps, id).await?;
    if status.cancelled.is_some() {
        return Err(LifecycleError::Conflict(format!(
            "campaign {id} is cancelled; it sends no further notices"
        )));
    }
    Ok(delivery_events::resume(deps, id, by).await?)
}

/// What a cancellation did.
#[derive(Debug, Clone, Serialize)]
pub struct Cancelled {
    pub cancellation: Cancellation,
    /// Scheduled notices, briefs and catch-ups deleted.
    pub schedules_removed: usize,
    /// Purges still scheduled: the data is deleted as the campaign said.
    pub purges_kept: usize,
}

/// Cancels a campaign: no further notice or brief goes out (a wave under
/// way stops at its next checkpoint); the export deadline and the purge
/// stay, unless the dates are changed. Cancelling again changes nothing.
pub async fn cancel(
    deps: &Deps,
    id: &CampaignId,
    by: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Cancelled, LifecycleError> {
    let before = status(deps, id).await?;
    let first = before.cancelled.is_none();
    if first {
        let cancellation = Cancellation {
            at: now,
            by: by.to_owned(),
            reason: reason.to_owned(),
        };
        deps.campaigns.cancel(id, &cancellation).await?;
    }
    let cancellation = status(deps, id)
        .await?
        .cancelled
        .ok_or_else(|| PortError::permanent(anyhow::anyhow!("campaign {id}: cancel not kept")))?;
    let mut removed = 0;
    let mut purges_kept = 0;
    for job in deps.scheduler.scheduled(id).await? {
        if job.job.tells() {
            deps.scheduler.cancel(id, &job.name).await?;
            removed += 1;
        } else if matches!(job.job, crate::domain::Job::Purge { .. }) {
            purges_kept += 1;
        }
    }
    if first {
        deps.audit
            .append(AuditEntry {
                at: now,
                campaign: id.clone(),
                customer: None,
                action: "campaign-cancelled".into(),
                detail: serde_json::json!({
                    "by": by, "reason": reason, "schedules_removed": removed,
                }),
            })
            .await?;
        tracing::warn!(campaign = %id, removed, "campaign cancelled by the operator");
    }
    Ok(Cancelled {
        cancellation,
        schedules_removed: removed,
        purges_kept,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::campaign::tests::EXAMPLE;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_running_campaign_moves_future_dates_to_today_or_later_and_keeps_the_rest() {
        let old = Campaign::from_toml(EXAMPLE).unwrap();
        let today = old.dates.announce + chrono::Days::new(3);
        let mut new = old.clone();
        new.dates.export_deadline = old.dates.export_deadline + chrono::Days::new(30);
        assert!(check_moves(&old, &new, today).is_ok());
        let mut new = old.clone();
        new.dates.announce = old.dates.announce + chrono::Days::new(7);
        match check_moves(&old, &new, today) {
            Err(LifecycleError::Field { field, reason }) => {
                assert_eq!(field, "dates.announce");
                assert!(reason.contains("has come"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        let mut new = old.clone();
        new.dates.service_end = today - chrono::Days::new(1);
        match check_moves(&old, &new, today) {
            Err(LifecycleError::Field { field, reason }) => {
                assert_eq!(field, "dates.service_end");
                assert!(reason.contains("before today"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert!(check_moves(&old, &old, day("2099-01-01")).is_ok());
    }
}
