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

// So far: DynamoDB campaigns, ledger, exports and audit; SES v2 mail.
contracts!(
    campaigns_round_trip_and_replace,
    a_delivery_is_claimed_once_until_released,
    export_requests_round_trip,
    the_audit_trail_is_a_chain_per_campaign,
    the_mailer_answers_each_message_in_order,
);
