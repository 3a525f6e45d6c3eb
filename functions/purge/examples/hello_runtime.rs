//! The baseline for the init-time benchmark (`tests/bench/lambda.sh`): a
//! lambda_runtime binary that builds nothing at cold start.

use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<serde_json::Value>| async move { Ok::<_, Error>(event.payload) },
    ))
    .await
}
