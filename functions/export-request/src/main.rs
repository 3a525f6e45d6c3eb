use lambda_http::Error;
use sunset::adapters::aws::{AwsSettings, product_signing_key, sdk_config};
use sunset::http::SigningKey;

#[tokio::main]
async fn main() -> Result<(), Error> {
    sunset::telemetry::init();
    let config = sdk_config().await;
    let deps = AwsSettings::from_env(&config, export_request::NEEDS)
        .await?
        .deps(&config);
    let signing = SigningKey::new(product_signing_key(&config).await?)?;
    lambda_http::run(export_request::app(deps, signing)).await
}
