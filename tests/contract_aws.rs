//! The port contracts on the AWS adapters, against the local emulator that
//! `tests/run.sh` starts. Each test has its own table.

use sunset_e2e::{aws_deps, contract};

macro_rules! contracts {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $name() {
            let dir = tempfile::tempdir().unwrap();
            let deps = aws_deps(dir.path()).await;
            contract::$name(&deps).await;
        }
    )*};
}

// The DynamoDB slice: campaigns and the delivery ledger.
contracts!(
    campaigns_round_trip_and_replace,
    a_delivery_is_claimed_once_until_released
);
