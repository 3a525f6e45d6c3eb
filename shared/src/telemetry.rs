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
