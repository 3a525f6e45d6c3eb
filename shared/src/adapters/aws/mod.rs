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
pub use s3::S3BlobStore;
pub use scheduler::{EventBridgeScheduler, ScheduleTargets};
pub use ses::SesMailer;

/// The SDK configuration from the environment, loaded once per process.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}
