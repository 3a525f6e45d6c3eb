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
    if count == 0 || std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_none() {
        return;
    }
    let line = serde_json::json!({
        "_aws": {
            "Timestamp": chrono::Utc::now().timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": "Sunset",
                "Dimensions": [["Campaign"], []],
                "Metrics": [{ "Name": "MissedNotices", "Unit": "Count" }],
            }],
        },
        "Campaign": campaign.as_str(),
        "Milestone": milestone.name(),
        "MissedNotices": count,
    });
    println!("{line}");
}
