use lambda_http::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    sunset::telemetry::init();
    let deps = sunset::adapters::aws::deps_from_env(intake::NEEDS).await?;
    lambda_http::run(intake::app(deps)).await
}
