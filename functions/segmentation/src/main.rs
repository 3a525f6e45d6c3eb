use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    sunset::telemetry::init();
    let deps = sunset::adapters::aws::deps_from_env(segmentation::NEEDS).await?;
    lambda_runtime::run(service_fn(|event| segmentation::handle(&deps, event))).await
}
