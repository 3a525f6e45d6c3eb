//! EventBridge Scheduler: every job is a one-time `at()` schedule in the
//! campaign's zone, in one schedule group, deleted after it fires, retried
//! by Scheduler and dead-lettered when that fails. Its payload is the job
//! itself (JSON), so the function it invokes gets exactly what the
//! embedded scheduler runs. Names derive from the job, so planning again
//! updates a schedule instead of adding one.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_scheduler::Client;
use aws_sdk_scheduler::types::{
    ActionAfterCompletion, DeadLetterConfig, FlexibleTimeWindow, FlexibleTimeWindowMode,
    RetryPolicy, Target,
};

use super::ScheduleTargets;
use crate::adapters::records;
use crate::domain::milestone::{Job, ScheduledJob};
use crate::domain::schedule::{AtExpression, schedule_name};
use crate::domain::{Campaign, CampaignId};
use crate::ports::{CampaignStore, Clock, PortError, PortResult, Scheduler};

impl ScheduleTargets {
    fn arn_for(&self, job: &Job) -> &str {
        match job {
            Job::Segment { .. } => &self.segmentation_arn,
            Job::OutreachBriefs { .. }
            | Job::OutreachReminders { .. }
            | Job::Notice { .. }
            | Job::BuildExport { .. }
            | Job::DeadlineNotice { .. }
            | Job::CatchUp { .. } => &self.reminder_dispatch_arn,
            Job::Purge { .. } => &self.purge_arn,
        }
    }
}

pub struct EventBridgeScheduler {
    client: Client,
    targets: ScheduleTargets,
    /// Where the campaign's zone comes from.
    campaigns: Arc<dyn CampaignStore>,
    /// What "now" is when a job is due at once.
    clock: Arc<dyn Clock>,
}

fn sdk_err<E, R>(e: aws_sdk_dynamodb::error::SdkError<E, R>) -> PortError
where
    E: std::error::Error + aws_sdk_dynamodb::error::ProvideErrorMetadata + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    super::classify(
        e,
        "EventBridge Scheduler",
        &["ThrottlingException", "InternalServerException"],
    )
}

impl EventBridgeScheduler {
    pub fn new(
        client: Client,
        targets: ScheduleTargets,
        campaigns: Arc<dyn CampaignStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            client,
            targets,
            campaigns,
            clock,
        }
    }

    async fn campaign(&self, id: &CampaignId) -> PortResult<Campaign> {
        self.campaigns.campaign(id).await?.ok_or_else(|| {
            PortError::permanent(anyhow::anyhow!("no campaign {id} to schedule for"))
        })
    }

    fn target(&self, job: &ScheduledJob) -> PortResult<Target> {
        let input = records::job_to_json(&job.job)?;
        Target::builder()
            .arn(self.targets.arn_for(&job.job))
            .role_arn(&self.targets.role_arn)
            .input(input)
            .retry_policy(
                RetryPolicy::builder()
                    .maximum_retry_attempts(10)
                    .maximum_event_age_in_seconds(6 * 3600)
                    .build(),
            )
            .set_dead_letter_config(
                self.targets
                    .dead_letter_arn
                    .as_ref()
                    .map(|arn| DeadLetterConfig::builder().arn(arn).build()),
            )
            .build()
            .map_err(PortError::permanent)
    }
}

/// Creates or updates before an upsert gives up (a retryable error): each
/// try loses only to another run's create or delete of the same name.
const UPSERT_TRIES: usize = 8;

#[async_trait]
impl Scheduler for EventBridgeScheduler {
    async fn upsert(&self, job: &ScheduledJob) -> PortResult<()> {
        let campaign = self.campaign(job.job.campaign()).await?;
        // A job due now (an export request, a late joiner's catch-up) is set
        // a minute ahead: one-time schedules fire with minute precision, and
        // a time already past is not one to count on.
        let soonest = self.clock.now() + chrono::Duration::minutes(1);
        let at = AtExpression::for_instant(job.due.max(soonest), campaign.timezone);
        let name = schedule_name(&job.name);
        let window = FlexibleTimeWindow::builder()
            .mode(FlexibleTimeWindowMode::Off)
            .build()
            .map_err(PortError::permanent)?;
        let target = self.target(job)?;
        // Create, or update the one there is. Another run may delete it in
        // between (a wave finishing cancels its watchdog while a second
        // delivery of the same event upserts it): then create again.
        for _ in 0..UPSERT_TRIES {
            let created = self
                .client
                .create_schedule()
                .name(&name)
                .group_name(&self.targets.group)
                .schedule_expression(at.expression())
                .schedule_expression_timezone(at.zone())
                .flexible_time_window(window.clone())
                .target(target.clone())
                .action_after_completion(ActionAfterCompletion::Delete)
                .send()
                .await;
            match created {
                Ok(_) => return Ok(()),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_conflict_exception()) => {}
                Err(e) => return Err(sdk_err(e)),
            }
            let updated = self
                .client
                .update_schedule()
                .name(&name)
                .group_name(&self.targets.group)
                .schedule_expression(at.expression())
                .schedule_expression_timezone(at.zone())
                .flexible_time_window(window.clone())
                .target(target.clone())
                .action_after_completion(ActionAfterCompletion::Delete)
                .send()
                .await;
            match updated {
                Ok(_) => return Ok(()),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_resource_not_found_exception()) => {}
                Err(e) => return Err(sdk_err(e)),
            }
        }
        Err(PortError::retryable(anyhow::anyhow!(
            "schedule {name} was deleted under each of {UPSERT_TRIES} tries by other runs"
        )))
    }

    async fn cancel(&self, _campaign: &CampaignId, name: &str) -> PortResult<()> {
        let deleted = self
            .client
            .delete_schedule()
            .name(schedule_name(name))
            .group_name(&self.targets.group)
            .send()
            .await;
        match deleted {
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                Ok(())
            }
            other => other.map(|_| ()).map_err(sdk_err),
        }
    }

    async fn scheduled(&self, campaign: &CampaignId) -> PortResult<Vec<ScheduledJob>> {
        let mut pages = self
            .client
            .list_schedules()
            .group_name(&self.targets.group)
            .name_prefix(schedule_name(campaign.as_str()))
            .into_paginator()
            .send();
        let mut jobs = Vec::new();
        while let Some(page) = pages.next().await {
            for summary in page.map_err(sdk_err)?.schedules() {
                let Some(name) = summary.name() else { continue };
                let got = self
                    .client
                    .get_schedule()
                    .name(name)
                    .group_name(&self.targets.group)
                    .send()
                    .await
                    .map_err(sdk_err)?;
                let bad =
                    |what: &str| PortError::permanent(anyhow::anyhow!("schedule {name}: {what}"));
                let at = AtExpression::parse(
                    got.schedule_expression().unwrap_or_default(),
                    got.schedule_expression_timezone().unwrap_or("UTC"),
                )
                .map_err(|e| bad(&e.0))?;
                let input = got
                    .target()
                    .and_then(|t| t.input())
                    .ok_or_else(|| bad("no payload"))?;
                let job: Job = records::job_from_json(input).map_err(|e| bad(&e))?;
                if job.campaign() != campaign {
                    continue;
                }
                jobs.push(ScheduledJob {
                    name: name.to_owned(),
                    due: at.instant().ok_or_else(|| bad("time does not exist"))?,
                    job,
                });
            }
        }
        jobs.sort_by(|a, b| a.due.cmp(&b.due).then_with(|| a.name.cmp(&b.name)));
        Ok(jobs)
    }
}
