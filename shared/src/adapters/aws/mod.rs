//! AWS adapters: the same ports on DynamoDB, SES v2, EventBridge Scheduler
//! and S3. Endpoints come from the SDK's own configuration
//! (`AWS_ENDPOINT_URL` for the tests' emulator); no adapter knows whether
//! it talks to AWS or to an emulator.

pub mod customers;
pub mod dynamo;
mod outreach;
#[cfg(feature = "aws-s3")]
pub mod s3;
#[cfg(feature = "aws-scheduler")]
pub mod scheduler;
#[cfg(feature = "aws-ses")]
pub mod ses;
#[cfg(feature = "aws-sns")]
pub mod sns;

pub use dynamo::DynamoStore;
#[cfg(feature = "aws-s3")]
pub use s3::{S3BlobStore, S3ProductData};
#[cfg(feature = "aws-scheduler")]
pub use scheduler::EventBridgeScheduler;
#[cfg(feature = "aws-ses")]
pub use ses::{SesMailer, SesSendRate};
#[cfg(feature = "aws-sns")]
pub use sns::SnsTexter;

/// Where each kind of job goes, and how Scheduler may deliver it.
#[derive(Debug, Clone)]
pub struct ScheduleTargets {
    pub group: String,
    /// The role Scheduler assumes to invoke the functions.
    pub role_arn: String,
    pub segmentation_arn: String,
    pub reminder_dispatch_arn: String,
    pub purge_arn: String,
    pub dead_letter_arn: Option<String>,
}

/// Awaits every future with at most 32 in flight; results in input order.
pub(crate) async fn join_all<F: std::future::Future>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    use futures::StreamExt;
    futures::stream::iter(futures).buffered(32).collect().await
}

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
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(client) = amazon_roots_client() {
        loader = loader.http_client(client);
    }
    loader.load().await
}

/// The roots every AWS service endpoint's certificate chains to (Amazon
/// Trust Services: Amazon Root CA 1–4 and the Starfield Services G2 root
/// that cross-signs them; fingerprints in `shared/certs/README.md`, checked
/// by a test).
const AMAZON_TRUST_SERVICES: &[u8] = include_bytes!("../../../certs/amazon-trust-services.pem");

/// Which certificates the functions trust, from `SUNSET_TLS_ROOTS`:
/// `amazon` (the default on AWS) or `system` (the platform's store, the
/// default whenever `AWS_ENDPOINT_URL` points the SDK elsewhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TlsRoots {
    Amazon,
    System,
}

impl TlsRoots {
    fn choose(setting: Option<&str>, custom_endpoint: bool) -> Self {
        match setting {
            Some("system") => TlsRoots::System,
            Some("amazon") => TlsRoots::Amazon,
            _ if custom_endpoint => TlsRoots::System,
            _ => TlsRoots::Amazon,
        }
    }
}

/// An HTTPS client that trusts only Amazon's roots, or `None` for the
/// SDK's default (the platform's store). Reading the platform's store —
/// a bundle and a directory of ~150 certificates — was 2.3 of the 5.6 ms
/// a function took to start (BENCHMARKS.md); five compiled-in roots cost
/// next to nothing, and trusting only them is also the narrower trust.
fn amazon_roots_client() -> Option<aws_sdk_dynamodb::config::SharedHttpClient> {
    use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
    let roots = TlsRoots::choose(
        env_opt("SUNSET_TLS_ROOTS").as_deref(),
        env_opt("AWS_ENDPOINT_URL").is_some(),
    );
    if roots == TlsRoots::System {
        return None;
    }
    let context = TlsContext::builder()
        .with_trust_store(TrustStore::empty().with_pem_certificate(AMAZON_TRUST_SERVICES))
        .build()
        .expect("the compiled-in roots are valid");
    Some(
        aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::AwsLc,
            ))
            .tls_context(context)
            .build_https(),
    )
}

use std::sync::Arc;

use anyhow::Context;
use aws_sdk_dynamodb::config::SharedInterceptor;

use super::unwired::Unwired;
use crate::clock::SystemClock;
use crate::domain::link::LinkSigner;
use crate::ports::{BlobStore, Clock, Deps, Mailer, ProductData, Scheduler, Texter};
use crate::services::pacing::{Pacer, PacingSettings};

fn env(name: &str) -> anyhow::Result<String> {
    std::env::var(name).with_context(|| format!("environment variable {name} is not set"))
}

fn env_opt(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Which ports a function wires. Each Lambda names what it uses; the
/// rest are [`Unwired`]: no client is built for them, none of their
/// environment variables is read, and its role needs none of their
/// permissions. The matching cargo features (`aws-s3`, `aws-ses`,
/// `aws-sns`, `aws-scheduler`, `aws-secrets`) keep the unused SDKs out of
/// its binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    /// Export bundles and the product's data.
    pub s3: bool,
    /// Sending mail (paced to the account's limits) and SES's
    /// suppression list.
    pub ses: bool,
    /// Sending texts through SNS.
    pub sns: bool,
    /// Scheduling jobs (continuations, follow-ups, export builds).
    pub scheduler: bool,
    /// Signing or checking customers' links.
    pub link_key: bool,
}

impl Needs {
    /// Every port (the tests, and tools that do everything).
    pub const ALL: Needs = Needs {
        s3: true,
        ses: true,
        sns: true,
        scheduler: true,
        link_key: true,
    };
}

/// Where the export bundles and the product's data live.
#[derive(Debug, Clone)]
pub struct S3Settings {
    pub export_bucket: String,
    pub product_data_bucket: String,
    pub product_data_prefix: String,
    /// Path-style addressing, for emulators that serve every bucket on one host.
    pub force_path_style: bool,
}

/// How mail goes out through SES.
#[derive(Debug, Clone)]
pub struct SesSettings {
    /// Publishes every message's events (to `delivery-events`).
    pub configuration_set: Option<String>,
    /// How sends are paced to the account's limits.
    pub pacing: PacingSettings,
}

/// How texts go out through SNS.
#[derive(Debug, Clone)]
pub struct SnsSettings {
    /// Texts a second (`SUNSET_SMS_RATE`, default 20: SNS's default
    /// account limit); SNS reports no rate to pace by.
    pub per_second: f64,
}

/// Where everything a function uses lives on AWS; every field has its
/// environment variable (README, "Environment"), read only when the
/// function needs that part (`None`: not wired).
#[derive(Debug, Clone)]
pub struct AwsSettings {
    pub table: String,
    pub s3: Option<S3Settings>,
    pub ses: Option<SesSettings>,
    pub sns: Option<SnsSettings>,
    pub scheduler: Option<ScheduleTargets>,
    /// The link-signing key, at least 32 bytes.
    pub link_key: Option<Vec<u8>>,
}

/// Reads a key: 64 or more hex digits (32 bytes or more).
fn key_from_hex(hex_key: &str, from: &str) -> anyhow::Result<Vec<u8>> {
    let key = hex::decode(hex_key.trim()).with_context(|| format!("{from} must be hex"))?;
    anyhow::ensure!(
        key.len() >= 32,
        "{from} must hold at least 32 bytes (64 hex digits)"
    );
    Ok(key)
}

/// A key from Secrets Manager when `{variable}_SECRET` names a secret (how
/// the template deploys it: the key never appears in the functions'
/// configuration), else from `{variable}` in hex (local use).
async fn secret_key(config: &aws_config::SdkConfig, variable: &str) -> anyhow::Result<Vec<u8>> {
    let secret_variable = format!("{variable}_SECRET");
    let Some(secret) = env_opt(&secret_variable) else {
        return key_from_hex(
            &env(variable).with_context(|| {
                format!("set {secret_variable} (a Secrets Manager secret) or {variable} (hex)")
            })?,
            variable,
        );
    };
    key_from_secret(config, &secret, &secret_variable).await
}

#[cfg(feature = "aws-secrets")]
async fn key_from_secret(
    config: &aws_config::SdkConfig,
    secret: &str,
    _: &str,
) -> anyhow::Result<Vec<u8>> {
    let value = aws_sdk_secretsmanager::Client::new(config)
        .get_secret_value()
        .secret_id(secret)
        .send()
        .await
        .with_context(|| format!("cannot read the key in secret {secret}"))?;
    let text = value
        .secret_string()
        .with_context(|| format!("secret {secret} holds no string"))?;
    key_from_hex(text, &format!("secret {secret}"))
}

#[cfg(not(feature = "aws-secrets"))]
async fn key_from_secret(
    _: &aws_config::SdkConfig,
    secret: &str,
    variable: &str,
) -> anyhow::Result<Vec<u8>> {
    anyhow::bail!(
        "{variable} names {secret}, but this function was built without the `aws-secrets` feature"
    )
}

/// The key the retiring product signs its migration reports with
/// (`SUNSET_PRODUCT_SIGNING_KEY_SECRET`, or `SUNSET_PRODUCT_SIGNING_KEY`
/// in hex).
pub async fn product_signing_key(config: &aws_config::SdkConfig) -> anyhow::Result<Vec<u8>> {
    secret_key(config, "SUNSET_PRODUCT_SIGNING_KEY").await
}

impl AwsSettings {
    /// What `needs` asks for, from the environment; the link key may take
    /// one call to Secrets Manager.
    pub async fn from_env(config: &aws_config::SdkConfig, needs: Needs) -> anyhow::Result<Self> {
        let s3 = needs
            .s3
            .then(|| -> anyhow::Result<S3Settings> {
                Ok(S3Settings {
                    export_bucket: env("SUNSET_EXPORT_BUCKET")?,
                    product_data_bucket: env("SUNSET_PRODUCT_DATA_BUCKET")?,
                    product_data_prefix: env_opt("SUNSET_PRODUCT_DATA_PREFIX")
                        .unwrap_or_else(|| "product-data/".into()),
                    force_path_style: env_opt("SUNSET_S3_FORCE_PATH_STYLE")
                        .is_some_and(|v| v == "true"),
                })
            })
            .transpose()?;
        let ses = needs
            .ses
            .then(|| -> anyhow::Result<SesSettings> {
                Ok(SesSettings {
                    configuration_set: env_opt("SUNSET_SES_CONFIGURATION_SET"),
                    pacing: pacing_from_env()?,
                })
            })
            .transpose()?;
        let sns = needs
            .sns
            .then(|| -> anyhow::Result<SnsSettings> {
                Ok(SnsSettings {
                    per_second: positive_number("SUNSET_SMS_RATE")?.unwrap_or(20.0),
                })
            })
            .transpose()?;
        let scheduler = needs
            .scheduler
            .then(|| -> anyhow::Result<ScheduleTargets> {
                Ok(ScheduleTargets {
                    group: env("SUNSET_SCHEDULE_GROUP")?,
                    role_arn: env("SUNSET_SCHEDULER_ROLE_ARN")?,
                    segmentation_arn: env("SUNSET_SEGMENTATION_ARN")?,
                    reminder_dispatch_arn: env("SUNSET_REMINDER_DISPATCH_ARN")?,
                    purge_arn: env("SUNSET_PURGE_ARN")?,
                    dead_letter_arn: env_opt("SUNSET_SCHEDULE_DLQ_ARN"),
                })
            })
            .transpose()?;
        let link_key = match needs.link_key {
            true => Some(secret_key(config, "SUNSET_LINK_KEY").await?),
            false => None,
        };
        Ok(Self {
            table: env("SUNSET_TABLE")?,
            s3,
            ses,
            sns,
            scheduler,
            link_key,
        })
    }

    /// Every port on AWS. Clients are built once, here, at cold start.
    pub fn deps(self, config: &aws_config::SdkConfig) -> Deps {
        self.deps_observed(config, None, Arc::new(SystemClock))
    }

    /// The same, with an interceptor on every client (how the tests see
    /// which AWS actions each function calls, and check its role grants
    /// them) and the clock every port and service reads (a simulated one
    /// in tests).
    pub fn deps_observed(
        self,
        config: &aws_config::SdkConfig,
        observer: Option<SharedInterceptor>,
        clock: Arc<dyn Clock>,
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
        let unwired = |what: &'static str| Arc::new(Unwired(what));
        let (blobs, product_data): (Arc<dyn BlobStore>, Arc<dyn ProductData>) = match self.s3 {
            #[cfg(feature = "aws-s3")]
            Some(s3) => {
                let client = aws_sdk_s3::Client::from_conf(observed!(
                    aws_sdk_s3::config::Builder::from(config).force_path_style(s3.force_path_style)
                ));
                (
                    Arc::new(S3BlobStore::new(client.clone(), s3.export_bucket)),
                    Arc::new(S3ProductData::new(
                        client,
                        s3.product_data_bucket,
                        s3.product_data_prefix,
                    )),
                )
            }
            _ => (
                unwired("S3 (export bundles)"),
                unwired("S3 (the product's data)"),
            ),
        };
        let scheduler: Arc<dyn Scheduler> = match self.scheduler {
            #[cfg(feature = "aws-scheduler")]
            Some(targets) => Arc::new(EventBridgeScheduler::new(
                aws_sdk_scheduler::Client::from_conf(observed!(
                    aws_sdk_scheduler::config::Builder::from(config)
                )),
                targets,
                dynamo.clone(),
                clock.clone(),
            )),
            _ => unwired("EventBridge Scheduler"),
        };
        let (mailer, pacer): (Arc<dyn Mailer>, Arc<Pacer>) = match self.ses {
            #[cfg(feature = "aws-ses")]
            Some(ses) => {
                // No retries inside the SDK: a throttled send tries again
                // through the pacer, which a retry of the SDK's own would
                // pass by, bunching sends just when SES asked for fewer.
                let client = aws_sdk_sesv2::Client::from_conf(observed!(
                    aws_sdk_sesv2::config::Builder::from(config)
                        .retry_config(aws_sdk_sesv2::config::retry::RetryConfig::disabled())
                ));
                let sms_rate = self.sns.as_ref().map(|s| s.per_second);
                (
                    Arc::new(SesMailer::new(client.clone(), ses.configuration_set)),
                    Arc::new(Pacer::new(
                        Arc::new(
                            SesSendRate::new(client, (*dynamo).clone()).with_sms_rate(sms_rate),
                        ),
                        ses.pacing,
                    )),
                )
            }
            _ => (
                unwired("SES"),
                Arc::new(Pacer::new(
                    Arc::new(crate::services::pacing::LocalSendRate::new(None)),
                    PacingSettings::default(),
                )),
            ),
        };
        let texter: Arc<dyn Texter> = match self.sns {
            #[cfg(feature = "aws-sns")]
            Some(_) => {
                // As for SES: a throttled text tries again through the pacer.
                let client = aws_sdk_sns::Client::from_conf(observed!(
                    aws_sdk_sns::config::Builder::from(config)
                        .retry_config(aws_sdk_sns::config::retry::RetryConfig::disabled())
                ));
                Arc::new(SnsTexter::new(client))
            }
            _ => unwired("SNS"),
        };
        Deps {
            texter,
            campaigns: dynamo.clone(),
            customers: dynamo.clone(),
            ledger: dynamo.clone(),
            events: dynamo.clone(),
            exports: dynamo.clone(),
            outreach: dynamo.clone(),
            audit: dynamo,
            scheduler,
            mailer,
            pacer,
            blobs,
            product_data,
            clock,
            signer: self
                .link_key
                .map_or_else(LinkSigner::unwired, LinkSigner::new),
        }
    }
}

/// `SUNSET_EMAIL_RATE` (a cap, messages a second) and
/// `SUNSET_EMAIL_RATE_SHARE` (of SES's rate, default 0.9).
fn positive_number(name: &str) -> anyhow::Result<Option<f64>> {
    env_opt(name)
        .map(|v| {
            v.parse::<f64>()
                .ok()
                .filter(|n| n.is_finite() && *n > 0.0)
                .with_context(|| format!("{name} must be a positive number, not '{v}'"))
        })
        .transpose()
}

fn pacing_from_env() -> anyhow::Result<PacingSettings> {
    let number = positive_number;
    let share = number("SUNSET_EMAIL_RATE_SHARE")?.unwrap_or(0.9);
    anyhow::ensure!(share <= 1.0, "SUNSET_EMAIL_RATE_SHARE must be at most 1");
    Ok(PacingSettings {
        share,
        cap: number("SUNSET_EMAIL_RATE")?,
        ..PacingSettings::default()
    })
}

/// The ports a function needs on AWS, configured from the environment;
/// the rest unwired.
pub async fn deps_from_env(needs: Needs) -> anyhow::Result<Deps> {
    let config = sdk_config().await;
    let settings = AwsSettings::from_env(&config, needs).await?;
    Ok(settings.deps(&config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_key_is_at_least_32_bytes_of_hex() {
        assert_eq!(key_from_hex(&"ab".repeat(32), "k").unwrap().len(), 32);
        assert_eq!(
            key_from_hex(&format!(" {}\n", "0f".repeat(40)), "k")
                .unwrap()
                .len(),
            40
        );
        let short = key_from_hex(&"ab".repeat(31), "k").unwrap_err();
        assert!(short.to_string().contains("at least 32 bytes"), "{short}");
        assert!(key_from_hex("zz".repeat(32).as_str(), "k").is_err());
    }

    #[test]
    fn amazon_roots_unless_told_or_pointed_elsewhere() {
        assert_eq!(TlsRoots::choose(None, false), TlsRoots::Amazon);
        assert_eq!(TlsRoots::choose(None, true), TlsRoots::System);
        assert_eq!(TlsRoots::choose(Some("system"), false), TlsRoots::System);
        assert_eq!(TlsRoots::choose(Some("amazon"), true), TlsRoots::Amazon);
    }

    #[test]
    fn the_compiled_in_roots_are_the_five_amazon_trust_services_roots() {
        use rustls_pki_types::CertificateDer;
        use rustls_pki_types::pem::PemObject;
        use sha2::{Digest, Sha256};
        // The fingerprints shared/certs/README.md lists, as amazontrust.com does.
        let expected = [
            "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e",
            "1ba5b2aa8c65401a82960118f80bec4f62304d83cec4713a19c39c011ea46db4",
            "18ce6cfe7bf14e60b2e347b8dfe868cb31d02ebb3ada271569f50343b46db3a4",
            "e35d28419ed02025cfa69038cd623962458da5c695fbdea3c22b0bfb25897092",
            "568d6905a2c88708a4b3025190edcfedb1974a606a13c6e5290fcb2ae63edab5",
        ];
        let found: Vec<String> = CertificateDer::pem_slice_iter(AMAZON_TRUST_SERVICES)
            .map(|der| hex::encode(Sha256::digest(der.expect("valid PEM").as_ref())))
            .collect();
        assert_eq!(found, expected);
    }
}
