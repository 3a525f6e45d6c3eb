use lambda_http::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    sunset::telemetry::init();
    let deps = sunset::adapters::aws::deps_from_env(export_request::NEEDS).await?;
    lambda_http::run(export_request::app(deps)).await
}
