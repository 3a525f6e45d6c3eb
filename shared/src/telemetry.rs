//! Logging setup: structured fields, level from `RUST_LOG` (default
//! `info`), JSON on Lambda (`AWS_LAMBDA_FUNCTION_NAME` set), text elsewhere.

use tracing_subscriber::EnvFilter;

pub fn init() {
    init_with_default("info");
}

pub fn init_with_default(level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        builder.json().without_time().try_init()
    } else {
        builder.with_target(false).try_init()
    };
}

/// A campaign paused by its reputation guard, as the CloudWatch metric
/// `Sunset/CampaignPaused` the template's alarm watches (see
/// [`missed_notices`] for the format).
pub fn campaign_paused(campaign: &crate::domain::CampaignId) {
    emit_metric("CampaignPaused", 1, campaign, None);
}

/// Counts notices recorded as missed (a wave past its grace) as a
/// CloudWatch metric, `Sunset/MissedNotices`, in all and by campaign (the
/// template's alarm watches the total): a log line in
/// the embedded metric format, which CloudWatch Logs turns into the metric
/// the alarm reads. Written on Lambda only, to stdout, where
/// its log capture reads the line whole; elsewhere the caller's log says
/// the same.
pub fn missed_notices(
    campaign: &crate::domain::CampaignId,
    milestone: crate::domain::Milestone,
    count: u64,
) {
    if count > 0 {
        emit_metric("MissedNotices", count, campaign, Some(milestone));
    }
}

fn emit_metric(
    name: &str,
    count: u64,
    campaign: &crate::domain::CampaignId,
    milestone: Option<crate::domain::Milestone>,
) {
    if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_none() {
        return;
    }
    let mut line = serde_json::json!({
        "_aws": {
            "Timestamp": chrono::Utc::now().timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": "Sunset",
                "Dimensions": [["Campaign"], []],
                "Metrics": [{ "Name": name, "Unit": "Count" }],
            }],
        },
        "Campaign": campaign.as_str(),
    });
    line[name] = count.into();
    if let Some(m) = milestone {
        line["Milestone"] = m.name().into();
    }
    println!("{line}");
}
