//! AWS adapters: the same ports on DynamoDB (and, next, SES v2,
//! EventBridge Scheduler and S3). Endpoints come from the SDK's own
//! configuration (`AWS_ENDPOINT_URL` for the tests' emulator); no adapter
//! knows whether it talks to AWS or to an emulator.

pub mod customers;
pub mod dynamo;
pub mod s3;
pub mod scheduler;
pub mod ses;

pub use dynamo::DynamoStore;
pub use s3::{S3BlobStore, S3ProductData};
pub use scheduler::{EventBridgeScheduler, ScheduleTargets};
pub use ses::SesMailer;

/// Sorts an SDK failure into retryable (time-outs, dropped connections,
/// unreadable responses, and the service's own throttling or internal
/// error codes, given per service) or permanent. Matched on the error's
/// type and code, never its text.
pub(crate) fn classify<E, R>(
    e: aws_sdk_dynamodb::error::SdkError<E, R>,
    service: &str,
    retry_codes: &[&str],
) -> crate::ports::PortError
where
    E: std::error::Error + aws_sdk_dynamodb::error::ProvideErrorMetadata + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    use aws_sdk_dynamodb::error::SdkError;
    let retryable = matches!(
        e,
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_)
    ) || matches!(&e, SdkError::ServiceError(s) if retry_codes.contains(&s.err().code().unwrap_or_default()));
    let source = anyhow::Error::new(e).context(format!("{service} request failed"));
    if retryable {
        crate::ports::PortError::retryable(source)
    } else {
        crate::ports::PortError::permanent(source)
    }
}

/// The SDK configuration from the environment, loaded once per process.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

use std::sync::Arc;

use anyhow::Context;
use aws_sdk_dynamodb::config::SharedInterceptor;

use crate::adapters::embedded::SystemClock;
use crate::domain::link::LinkSigner;
use crate::ports::Deps;

fn env(name: &str) -> anyhow::Result<String> {
    std::env::var(name).with_context(|| format!("environment variable {name} is not set"))
}

fn env_opt(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Where everything lives on AWS; every field has its environment
/// variable (README, "Environment").
#[derive(Debug, Clone)]
pub struct AwsSettings {
    pub table: String,
    pub export_bucket: String,
    pub product_data_bucket: String,
    pub product_data_prefix: String,
    /// Path-style S3 addressing, for emulators that serve every bucket on one host.
    pub s3_force_path_style: bool,
    pub ses_configuration_set: Option<String>,
    pub targets: ScheduleTargets,
    /// The link-signing key, at least 32 bytes.
    pub link_key: Vec<u8>,
}

impl AwsSettings {
    pub fn from_env() -> anyhow::Result<Self> {
        let link_key =
            hex::decode(env("SUNSET_LINK_KEY")?).context("SUNSET_LINK_KEY must be hex")?;
        anyhow::ensure!(
            link_key.len() >= 32,
            "SUNSET_LINK_KEY must hold at least 32 bytes (64 hex digits)"
        );
        Ok(Self {
            table: env("SUNSET_TABLE")?,
            export_bucket: env("SUNSET_EXPORT_BUCKET")?,
            product_data_bucket: env("SUNSET_PRODUCT_DATA_BUCKET")?,
            product_data_prefix: env_opt("SUNSET_PRODUCT_DATA_PREFIX")
                .unwrap_or_else(|| "product-data/".into()),
            s3_force_path_style: env_opt("SUNSET_S3_FORCE_PATH_STYLE").is_some_and(|v| v == "true"),
            ses_configuration_set: env_opt("SUNSET_SES_CONFIGURATION_SET"),
            targets: ScheduleTargets {
                group: env("SUNSET_SCHEDULE_GROUP")?,
                role_arn: env("SUNSET_SCHEDULER_ROLE_ARN")?,
                segmentation_arn: env("SUNSET_SEGMENTATION_ARN")?,
                reminder_dispatch_arn: env("SUNSET_REMINDER_DISPATCH_ARN")?,
                purge_arn: env("SUNSET_PURGE_ARN")?,
                dead_letter_arn: env_opt("SUNSET_SCHEDULE_DLQ_ARN"),
            },
            link_key,
        })
    }

    /// Every port on AWS. Clients are built once, here, at cold start.
    pub fn deps(self, config: &aws_config::SdkConfig) -> Deps {
        self.deps_observed(config, None)
    }

    /// The same, with an interceptor on every client: how the tests see
    /// which AWS actions each function calls (and check its role grants
    /// them).
    pub fn deps_observed(
        self,
        config: &aws_config::SdkConfig,
        observer: Option<SharedInterceptor>,
    ) -> Deps {
        // Each SDK has its own config builder; the interceptor type is shared.
        macro_rules! observed {
            ($builder:expr) => {{
                let mut b = $builder;
                if let Some(o) = &observer {
                    b.push_interceptor(o.clone());
                }
                b.build()
            }};
        }
        let dynamo = Arc::new(DynamoStore::new(
            aws_sdk_dynamodb::Client::from_conf(observed!(
                aws_sdk_dynamodb::config::Builder::from(config)
            )),
            self.table,
        ));
        let s3 = aws_sdk_s3::Client::from_conf(observed!(
            aws_sdk_s3::config::Builder::from(config).force_path_style(self.s3_force_path_style)
        ));
        let scheduler = aws_sdk_scheduler::Client::from_conf(observed!(
            aws_sdk_scheduler::config::Builder::from(config)
        ));
        let ses = aws_sdk_sesv2::Client::from_conf(observed!(
            aws_sdk_sesv2::config::Builder::from(config)
        ));
        Deps {
            campaigns: dynamo.clone(),
            customers: dynamo.clone(),
            ledger: dynamo.clone(),
            events: dynamo.clone(),
            exports: dynamo.clone(),
            audit: dynamo.clone(),
            scheduler: Arc::new(EventBridgeScheduler::new(scheduler, self.targets, dynamo)),
            mailer: Arc::new(SesMailer::new(ses, self.ses_configuration_set)),
            blobs: Arc::new(S3BlobStore::new(s3.clone(), self.export_bucket)),
            product_data: Arc::new(S3ProductData::new(
                s3,
                self.product_data_bucket,
                self.product_data_prefix,
            )),
            clock: Arc::new(SystemClock),
            signer: LinkSigner::new(self.link_key),
        }
    }
}

/// Every port on AWS, configured from the environment.
pub async fn deps_from_env() -> anyhow::Result<Deps> {
    let settings = AwsSettings::from_env()?;
    Ok(settings.deps(&sdk_config().await))
}
