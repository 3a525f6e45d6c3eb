use lambda_http::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    sunset::telemetry::init();
    let deps = sunset::adapters::embedded::Embedded::from_env()?.deps;
    lambda_http::run(export_request::app(deps)).await
}
